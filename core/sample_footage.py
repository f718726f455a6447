"""Footage of several people for tests and benches, made from the two real faces the packages ship
(core/sample_media.py): head-and-shoulders cut-outs of each photo placed, moved, scaled and turned on a plain
backdrop, with the truth of where every face is in every frame.

Only two identities exist. dlib's face recognizer keeps mirrored, gray, tinted or 1.3x stretched copies of a
photo within its same-person distance of 0.6 (measured: mirror 0.16-0.21, gray 0.18, stretched 0.31-0.53, the two
photos 0.71 apart), so a clip of more people repeats the two in variants (mirrored, tinted) and every
`FaceTruth` names the identity it really has.

`CLIPS` holds the corpus (name -> `ClipSpec`); `build_clip` writes one as a video and returns its truth.
"""
from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from core.sample_media import PHOTOS


# --------------------------------------------------------------------------------------------- people ---

@dataclass(frozen=True)
class Person:
    identity: str                                  # who a face recognizer sees: a key of PHOTOS
    crop: tuple[int, int, int, int]                # y0, y1, x0, x1 of the photo: head and shoulders
    face: tuple[float, float, float, float]        # the face's landmark extent in the crop: x0, y0, x1, y1
    mirror: bool = False
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)   # BGR gain (other clothes and light)


# Face extents: dlib's 68 landmarks on the whole photos (astronaut x 179-272, y 87-178; Grace Hopper x 178-355,
# y 161-333), moved into the crops; tests/test_footage.py checks them against dlib on the cut-outs.
PEOPLE: dict[str, Person] = {
    "astronaut": Person("astronaut", (0, 300, 75, 375), (104, 87, 197, 178)),
    "hopper": Person("grace_hopper", (40, 440, 60, 460), (118, 121, 295, 293)),
    "astronaut_mirrored": Person("astronaut", (0, 300, 75, 375), (104, 87, 197, 178), mirror=True,
                                 gain=(1.15, 1.0, 0.85)),
    "hopper_mirrored": Person("grace_hopper", (40, 440, 60, 460), (118, 121, 295, 293), mirror=True,
                              gain=(0.9, 1.0, 1.1)),
    "astronaut_warm": Person("astronaut", (0, 300, 75, 375), (104, 87, 197, 178), gain=(0.8, 0.95, 1.15)),
    "hopper_cool": Person("grace_hopper", (40, 440, 60, 460), (118, 121, 295, 293), gain=(1.15, 1.05, 0.85)),
}


@lru_cache(maxsize=None)
def cutout(name: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """(BGR float32 image, alpha float32, face extent) of a person: the crop with soft edges."""
    person = PEOPLE[name]
    y0, y1, x0, x1 = person.crop
    image = PHOTOS[person.identity]()[y0:y1, x0:x1].astype(np.float32) * np.float32(person.gain)
    h, w = image.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    inset = round(0.06 * w)
    cv2.rectangle(alpha, (inset, inset), (w - 1 - inset, h + inset), 1.0, -1)   # open at the bottom (the body)
    alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=0.03 * w)
    fx0, fy0, fx1, fy1 = person.face
    if person.mirror:
        image, alpha = image[:, ::-1], alpha[:, ::-1]
        fx0, fx1 = w - 1 - fx1, w - 1 - fx0
    return np.ascontiguousarray(np.clip(image, 0, 255)), np.ascontiguousarray(alpha), (fx0, fy0, fx1, fy1)


# ---------------------------------------------------------------------------------------------- scenes ---

@dataclass(frozen=True)
class Placement:
    """One person in a frame: where the face centre is, how big the face is, how the head is turned."""

    person: str                # key of PEOPLE
    x: float                   # face centre in the frame, pixels
    y: float
    size: float                # the larger side of the face's landmark extent, pixels
    angle: float = 0.0         # roll, degrees counter-clockwise
    squash: float = 1.0        # vertical foreshortening of the head (< 1: bowed or tilted back)


@dataclass(frozen=True)
class Scene:
    """What one frame shows, back to front: a backdrop, people, then covering objects."""

    backdrop: int                                             # seed of the backdrop (a new seed: a new shot)
    people: tuple[Placement, ...] = ()
    covers: tuple[tuple[int, int, int, int], ...] = ()       # x0, y0, x1, y1 of opaque objects in front
    light: float = 1.0


@dataclass(frozen=True)
class FaceTruth:
    person: str                                   # key of PEOPLE
    identity: str                                 # who it is (one of the two photos)
    box: tuple[float, float, float, float]        # landmark extent in the frame (may reach past its edges)
    visible: float                                # share of the box inside the frame and not covered

    @property
    def size(self) -> float:
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


def placement_matrix(p: Placement) -> np.ndarray:
    """3x3 matrix from the person's cut-out to the frame."""
    _, _, (fx0, fy0, fx1, fy1) = cutout(p.person)
    cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
    scale = p.size / max(fx1 - fx0, fy1 - fy0)
    a = math.radians(p.angle)
    rot = np.array([[math.cos(a), math.sin(a), 0], [-math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return (np.array([[1, 0, p.x], [0, 1, p.y], [0, 0, 1]]) @ np.diag([1.0, p.squash, 1.0]) @ rot
            @ np.diag([scale, scale, 1.0]) @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]]))


@lru_cache(maxsize=8)
def backdrop(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A plain room: a smooth colour field with two soft darker shapes (no edges a detector could take for a
    face). float32 BGR."""
    rng = np.random.default_rng(seed)
    w, h = size
    field_ = cv2.resize(rng.uniform(60, 200, (3, 4, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    shapes = np.ones((h, w), np.float32)
    for _ in range(2):
        x0, y0 = rng.uniform(0, 0.7) * w, rng.uniform(0.3, 0.8) * h
        cv2.rectangle(shapes, (int(x0), int(y0)), (int(x0 + rng.uniform(0.2, 0.4) * w), h), 0.7, -1)
    shapes = cv2.GaussianBlur(shapes, (0, 0), sigmaX=0.02 * max(w, h))
    return np.clip(field_ * shapes[..., None], 0, 255)


def _visible_share(box_pts: np.ndarray, size: tuple[int, int], front: list[tuple[np.ndarray, np.ndarray]],
                   covers) -> float:
    """Share of a grid of points on the face (its transformed extent) inside the frame and in front of every
    later cut-out and cover."""
    (x0, y0), (x1, y1) = box_pts.min(0), box_pts.max(0)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 12), np.linspace(y0, y1, 12))
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    w, h = size
    seen = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    for cx0, cy0, cx1, cy1 in covers:
        seen &= ~((pts[:, 0] >= cx0) & (pts[:, 0] < cx1) & (pts[:, 1] >= cy0) & (pts[:, 1] < cy1))
    for inv, alpha in front:
        local = pts @ inv[:2, :2].T + inv[:2, 2]
        ix, iy = np.rint(local[:, 0]).astype(int), np.rint(local[:, 1]).astype(int)
        inside = (ix >= 0) & (ix < alpha.shape[1]) & (iy >= 0) & (iy < alpha.shape[0])
        a = np.zeros(len(pts), np.float32)
        a[inside] = alpha[iy[inside], ix[inside]]
        seen &= a < 0.5
    return float(seen.mean())


def render(scene: Scene, size: tuple[int, int]) -> tuple[np.ndarray, list[FaceTruth]]:
    """The BGR uint8 frame (w, h = size) and the truth of its faces."""
    frame = backdrop(scene.backdrop, size).copy()
    mats = []
    for p in scene.people:
        image, alpha, _ = cutout(p.person)
        mat = placement_matrix(p)
        mats.append(mat)
        m = mat[:2].astype(np.float32)
        warped = cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        a = cv2.warpAffine(alpha, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
        frame = warped * a + frame * (1 - a)
    for i, (x0, y0, x1, y1) in enumerate(scene.covers):   # a book, a mug: flat colour with a darker rim
        cv2.rectangle(frame, (x0, y0), (x1 - 1, y1 - 1), (40 + 30 * i, 110, 170), -1)
        cv2.rectangle(frame, (x0, y0), (x1 - 1, y1 - 1), (25, 60, 90), max(1, (x1 - x0) // 25))
    truths = []
    for k, (p, mat) in enumerate(zip(scene.people, mats)):
        _, _, (fx0, fy0, fx1, fy1) = cutout(p.person)
        corners = np.array([[fx0, fy0, 1], [fx1, fy0, 1], [fx1, fy1, 1], [fx0, fy1, 1]], np.float64) @ mat[:2].T
        front = [(np.linalg.inv(m2), cutout(q.person)[1]) for q, m2 in zip(scene.people[k + 1:], mats[k + 1:])]
        (bx0, by0), (bx1, by1) = corners.min(0), corners.max(0)
        truths.append(FaceTruth(p.person, PEOPLE[p.person].identity, (bx0, by0, bx1, by1),
                                _visible_share(corners, size, front, scene.covers)))
    out = np.clip(frame * scene.light, 0, 255).astype(np.uint8)
    return out, truths


# ----------------------------------------------------------------------------------------------- clips ---

Layout = Callable[[int, int, tuple[int, int]], Scene]     # (frame index, frame count, size) -> Scene


@dataclass(frozen=True)
class ClipSpec:
    name: str
    layout: Layout
    size: tuple[int, int] = (480, 270)   # (w, h) as the clip is shown
    frames: int = 16
    fps: float = 25.0
    audio: bool = True
    gray: bool = False                   # a one-channel (gray8) video: FFV1 in Matroska
    rotation: int = 0                    # display-matrix rotation: frames stored turned, shown upright
    variable_rate: bool = False          # frames of irregular duration (VFR)
    suffix: str = ".mp4"
    about: str = ""


@dataclass
class Clip:
    spec: ClipSpec
    path: Path
    truths: list[list[FaceTruth]] = field(default_factory=list)   # per frame as written (shown upright)

    @property
    def size(self) -> tuple[int, int]:
        return self.spec.size

    def truth(self, k: int) -> list[FaceTruth]:
        """The faces of frame k as ffmpeg extracts it. A variable-rate clip comes out at its base rate with frames
        repeated in its gaps; its people hold still, so every frame has the first frame's faces."""
        return self.truths[0 if self.spec.variable_rate else k]


def _wave(i: int, n: int, periods: float = 1.0, phase: float = 0.0) -> float:
    return math.sin(2 * math.pi * periods * i / max(n, 1) + phase)


def _two_shot(i, n, size):
    """The larger face alternates: each person leans in while the other leans back (the faces' size order
    flips twice)."""
    w, h = size
    t = _wave(i, n)
    return Scene(1, (Placement("astronaut", 0.3 * w, 0.47 * h, 0.3 * h * (1 + 0.35 * t), 4 * t),
                     Placement("hopper", 0.7 * w, 0.47 * h, 0.3 * h * (1 - 0.35 * t), -3 * t)))


def _crossing(i, n, size):
    """Two people cross the frame in opposite directions, one higher up than the other."""
    w, h = size
    u = i / max(n - 1, 1)
    return Scene(2, (Placement("astronaut", (0.12 + 0.76 * u) * w, 0.27 * h, 0.2 * h),
                     Placement("hopper", (0.88 - 0.76 * u) * w, 0.73 * h, 0.21 * h)))


def _leave_and_return(i, n, size):
    """One person stays; the other walks out of the right edge, is gone for a while and comes back."""
    w, h = size
    u = i / max(n - 1, 1)
    out_x = 0.68 + 0.9 * min(1.0, 2.4 * min(u, 1 - u) / 0.6) if 0.15 < u < 0.85 else 0.68
    people = [Placement("astronaut", 0.28 * w + 6 * _wave(i, n), 0.47 * h, 0.32 * h)]
    if out_x * w < w + 0.3 * h:
        people.append(Placement("hopper", out_x * w, 0.47 * h, 0.3 * h))
    return Scene(3, tuple(people))


def _hard_cut(i, n, size):
    """Two shots of the same two people: after the cut each stands where the other stood (a tracker that
    follows positions across the cut would swap them)."""
    w, h = size
    drift = 4 * i
    if i < n // 2:
        return Scene(4, (Placement("astronaut", 0.3 * w + drift, 0.45 * h, 0.32 * h),
                         Placement("hopper", 0.7 * w + drift, 0.47 * h, 0.3 * h)), light=0.95)
    return Scene(5, (Placement("hopper", 0.3 * w - drift / 2, 0.5 * h, 0.33 * h, 5),
                     Placement("astronaut", 0.7 * w - drift / 2, 0.45 * h, 0.3 * h, -4)), light=1.05)


def _half_covered(i, n, size):
    """A face whose lower left half is hidden by an object held in front of it; a second face in the clear."""
    w, h = size
    x, y, s = 0.32 * w + 5 * _wave(i, n), 0.48 * h, 0.42 * h
    cover = (int(x - 0.7 * s), int(y + 0.02 * s), int(x + 0.05 * s), int(y + 1.1 * s))
    return Scene(6, (Placement("astronaut", x, y, s), Placement("hopper", 0.74 * w, 0.45 * h, 0.32 * h)),
                 covers=(cover,))


def _frame_edge(i, n, size):
    """A face cut by the left frame edge (about a third of it outside) and one in the frame."""
    w, h = size
    s = 0.45 * h
    return Scene(7, (Placement("hopper", 0.16 * s + 4 * _wave(i, n), 0.5 * h, s),
                     Placement("astronaut", 0.7 * w, 0.48 * h, 0.35 * h)))


def _small_faces(i, n, size):
    """Two faces of about 40 pixels."""
    w, h = size
    return Scene(8, (Placement("astronaut", 0.35 * w + 8 * _wave(i, n), 0.45 * h, 40),
                     Placement("hopper", 0.65 * w, 0.5 * h - 6 * _wave(i, n), 41)))


def _huge_face(i, n, size):
    """One face of about 900 pixels filling the frame."""
    w, h = size
    return Scene(9, (Placement("hopper", 0.5 * w + 10 * _wave(i, n), 0.5 * h, 900, 3 * _wave(i, n)),))


def _portrait(i, n, size):
    """A phone held upright: one person close, one behind."""
    w, h = size
    return Scene(10, (Placement("hopper_mirrored", 0.5 * w, 0.3 * h, 0.22 * h),
                      Placement("astronaut", 0.5 * w + 8 * _wave(i, n), 0.68 * h, 0.3 * w, 6 * _wave(i, n))))


def _still_pair(i, n, size):
    """Two people holding still while the light flickers (the variable frame rate and gray clips)."""
    w, h = size
    return Scene(11, (Placement("astronaut", 0.3 * w, 0.46 * h, 0.32 * h),
                      Placement("hopper", 0.7 * w, 0.48 * h, 0.3 * h)), light=1 + 0.08 * _wave(i, n, 3))


def _moving_pair(i, n, size):
    """Two people, one moving slowly (the odd-size, no-audio and long clips)."""
    w, h = size
    return Scene(12, (Placement("astronaut", 0.3 * w + 0.05 * w * _wave(i, n), 0.46 * h, 0.3 * h,
                                5 * _wave(i, n, 2)),
                      Placement("hopper", 0.7 * w, 0.48 * h + 0.03 * h * _wave(i, n, 1, 1.0), 0.28 * h)))


# Six people in two rows (720p: faces of 50-120 px). The back row is smaller, one head bowed (squashed).
GROUP_SEATS = (("astronaut", 0.22, 0.30, 62, 0, 1.0), ("hopper_mirrored", 0.5, 0.28, 54, 4, 0.78),
               ("astronaut_warm", 0.78, 0.31, 66, -6, 1.0), ("hopper", 0.14, 0.66, 104, 3, 1.0),
               ("astronaut_mirrored", 0.5, 0.7, 92, -8, 1.0), ("hopper_cool", 0.86, 0.67, 84, 0, 0.9))


def _group(i, n, size):
    """A group photo of six (three behind, three in front) filmed with a slowly panning, zooming camera."""
    w, h = size
    zoom = 1 + 0.06 * _wave(i, n)
    pan_x, pan_y = 0.03 * w * _wave(i, n, 1, 0.7), 0.02 * h * _wave(i, n, 1, 2.1)
    scale = h / 720
    seats = tuple(Placement(name, w / 2 + (fx - 0.5) * w * zoom + pan_x, h / 2 + (fy - 0.5) * h * zoom + pan_y,
                            px * scale * zoom, angle, squash)
                  for name, fx, fy, px, angle, squash in GROUP_SEATS)
    return Scene(13, seats)


CLIPS: dict[str, ClipSpec] = {c.name: c for c in (
    ClipSpec("group", _group, (1280, 720), 24, about="six people, faces of 50-120 px in 720p"),
    ClipSpec("two_shot", _two_shot, about="two people, the larger face alternates"),
    ClipSpec("crossing", _crossing, (480, 360), 20, about="two people crossing"),
    ClipSpec("leave_and_return", _leave_and_return, frames=24, about="a person leaving and coming back"),
    ClipSpec("hard_cut", _hard_cut, about="a hard cut between two shots, the people swap sides"),
    ClipSpec("half_covered", _half_covered, (320, 240), 12, about="a face half covered by an object"),
    ClipSpec("frame_edge", _frame_edge, (320, 240), 12, about="a face cut by the frame edge"),
    ClipSpec("small_faces", _small_faces, (640, 360), 12, about="faces of about 40 px"),
    ClipSpec("huge_face", _huge_face, (1000, 1000), 8, about="a face of about 900 px"),
    ClipSpec("phone_portrait", _portrait, (270, 480), 12, rotation=90,
             about="a phone clip: stored 480x270 with rotation metadata, shown 270x480"),
    ClipSpec("variable_rate", _still_pair, (320, 240), 20, fps=30, variable_rate=True,
             about="variable frame rate"),
    ClipSpec("odd_size", _moving_pair, (1281, 719), 8, about="an odd frame size (1281x719)"),
    ClipSpec("grayscale", _still_pair, (320, 240), 12, gray=True, suffix=".mkv",
             about="a one-channel (gray) video"),
    ClipSpec("no_audio", _moving_pair, (320, 240), 12, audio=False, about="a video without sound"),
    ClipSpec("long_1080p", _moving_pair, (1920, 1080), 3000, about="3,000 frames of 1080p (memory bench)"),
)}
CORPUS = tuple(name for name in CLIPS if name != "long_1080p")   # the short clips every stage must pass


# -------------------------------------------------------------------------------------------- writing ---

def clip_frames(spec: ClipSpec, frames: int | None = None) -> Iterator[tuple[np.ndarray, list[FaceTruth]]]:
    """The clip's frames as shown (upright, colour) with their truth."""
    n = spec.frames if frames is None else frames
    for i in range(n):
        yield render(spec.layout(i, n, spec.size), spec.size)


def _ffmpeg(*args: str) -> None:
    from core.ffmpeg import ffmpeg_exe
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f"ffmpeg {' '.join(args)}: {out.stderr.strip()[-300:]}")


def build_clip(spec: ClipSpec | str, folder: Path, frames: int | None = None) -> Clip:
    """Write the clip as `folder/<name><suffix>` (H.264 + AAC sine tone unless the spec says otherwise) and
    return it with its truth. `frames` overrides the spec's frame count (a shorter or longer take)."""
    from core.ffmpeg import write_video
    spec = CLIPS[spec] if isinstance(spec, str) else spec
    if frames is not None:
        spec = replace(spec, frames=frames)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}{spec.suffix}"
    truths: list[list[FaceTruth]] = []
    w, h = spec.size
    plain = not (spec.gray or spec.rotation or spec.variable_rate or w % 2 or h % 2)

    def stored() -> Iterator[np.ndarray]:
        for image, truth in clip_frames(spec):
            truths.append(truth)
            if spec.rotation:   # stored turned a quarter anticlockwise; the display matrix turns it back
                image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
            if w % 2 or h % 2:  # H.264 in 4:2:0 needs even sizes: padded here, cut back below
                image = cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
            yield image

    if plain:
        write_video(stored(), path, fps=spec.fps, audio=spec.audio)
        return Clip(spec, path, truths)
    tmp = folder / f".{spec.name}.plain.mp4"
    write_video(stored(), tmp, fps=spec.fps, audio=spec.audio)
    audio = ["-c:a", "copy"] if spec.audio else []
    try:
        if spec.rotation:   # DFL users' phone clips: ffmpeg turns the frames upright when it decodes them
            _ffmpeg("-display_rotation", str(-spec.rotation), "-i", str(tmp), "-c", "copy", str(path))
        elif spec.gray:
            _ffmpeg("-i", str(tmp), "-c:v", "ffv1", "-pix_fmt", "gray", *audio, str(path))
        elif spec.variable_rate:   # every third frame dropped from a third of the clip on: gaps of 2 and 1
            keep = "not(gte(n\\,{0})*eq(mod(n\\,3)\\,1))".format(spec.frames // 3)
            _ffmpeg("-i", str(tmp), "-vf", f"select='{keep}'", "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "18",
                    "-pix_fmt", "yuv420p", *audio, str(path))
            truths[:] = [t for n, t in enumerate(truths) if not (n >= spec.frames // 3 and n % 3 == 1)]
        else:   # odd size: cut the padding off and keep full chroma (4:4:4 takes odd sizes)
            _ffmpeg("-i", str(tmp), "-vf", f"format=yuv444p,crop={w}:{h}:0:0", "-c:v", "libx264", "-crf", "18",
                    "-pix_fmt", "yuv444p", *audio, str(path))
    finally:
        tmp.unlink(missing_ok=True)
    return Clip(spec, path, truths)
