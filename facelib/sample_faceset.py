"""Small real aligned facesets built from the public-domain photos, for the tests and the benchmarks.

Frames are built from `astronaut()` and `grace_hopper()` (core/sample_media.py) with in-plane roll and a
cylinder-warp head turn; dlib finds the faces and their 68 landmarks; `facelib.landmarks` aligns them (128 px JPG +
FaceMeta by default). Variants for the sort tests: Gaussian-blurred and darkened copies of real faces, and frames
holding two faces. Used by tests/fixtures_faceset.py and bench/samples.py, sort.py, train.py, xseg.py.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.sample_media import astronaut, grace_hopper
from facelib.dlib_models import dlib_module, model_path
from facelib.landmarks import get_image_hull_mask, get_transform_mat, transform_points
from facelib.meta import FaceMeta, save_face

FACE_SIZE = 128


class SampleLandmarker:
    """Real detector + 68-point predictor (dlib's HOG detector and the face_recognition_models weights)."""

    def __init__(self):
        dlib = dlib_module()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(model_path("shape68"))

    def __call__(self, image: np.ndarray, upsample: int = 0) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """[(rect l,t,r,b, landmarks 68x2 float32)] largest face first."""
        rgb = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        rects = sorted(self.detector(rgb, upsample), key=lambda r: -r.area())
        out = []
        for r in rects:
            shape = self.predictor(rgb, r)
            pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            out.append(((r.left(), r.top(), r.right(), r.bottom()), pts))
        return out

    def largest(self, image: np.ndarray, upsample: int = 1) -> np.ndarray | None:
        found = self(image, upsample)
        return found[0][1] if found else None


def roll_zoom(photo: np.ndarray, roll_deg: float, zoom: float) -> np.ndarray:
    """The photo turned by `roll_deg` and scaled by `zoom` about its centre (edges reflected)."""
    h, w = photo.shape[:2]
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), roll_deg, zoom)
    return cv2.warpAffine(photo, mat, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _cylinder_yaw(photo: np.ndarray, landmarks: np.ndarray, degrees: float) -> np.ndarray:
    """Turn the head by `degrees` as if the face were a vertical cylinder (a real-looking yaw for the pose tests)."""
    h, w = photo.shape[:2]
    cx = float(landmarks[27:36, 0].mean())
    radius = float(np.ptp(landmarks[:, 0])) * 0.75
    xs = np.arange(w, dtype=np.float32)
    phi = np.arcsin(np.clip((xs - cx) / radius, -1, 1)) - np.radians(degrees)
    src_x = np.where(np.abs(xs - cx) < radius, cx + radius * np.sin(np.clip(phi, -np.pi / 2, np.pi / 2)), xs)
    map_x = np.repeat(src_x[None].astype(np.float32), h, 0)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, 1)
    return cv2.remap(photo, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _side_by_side(a: np.ndarray, b: np.ndarray, height: int = 360) -> np.ndarray:
    a = cv2.resize(a, (int(a.shape[1] * height / a.shape[0]), height), interpolation=cv2.INTER_AREA)
    b = cv2.resize(b, (int(b.shape[1] * height / b.shape[0]), height), interpolation=cv2.INTER_AREA)
    return np.concatenate([a, b], axis=1)


@dataclass
class Faceset:
    """A built faceset: its folder and the file names of each group."""

    dir: Path
    groups: dict[str, list[str]] = field(default_factory=dict)

    def names(self, *groups: str) -> list[str]:
        """File names of `groups` (all files when none are given), each once, in group order."""
        return list(dict.fromkeys(n for g in (groups or self.groups) for n in self.groups[g]))

    def copy_to(self, target: Path, groups: tuple[str, ...] = ()) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        for name in self.names(*groups):
            shutil.copy2(self.dir / name, target / name)
        return target


def align_faces(frame: np.ndarray, frame_name: str, landmarker: SampleLandmarker, max_faces: int, size: int,
                face_type: str = "full_face") -> list[tuple[np.ndarray, FaceMeta]]:
    """The aligned faces (image, FaceMeta) of the `max_faces` largest faces dlib finds in `frame`."""
    out = []
    for rect, lm in landmarker(frame, 0)[:max_faces]:
        mat = get_transform_mat(lm, size, face_type)
        face = cv2.warpAffine(frame, mat, (size, size), flags=cv2.INTER_LANCZOS4)
        meta = FaceMeta(face_type=face_type, landmarks=transform_points(lm, mat), source_filename=frame_name,
                        source_rect=list(rect), source_landmarks=lm, image_to_face_mat=mat)
        out.append((face, meta))
    return out


def build_faceset(out_dir: Path, landmarker: SampleLandmarker | None = None, size: int = FACE_SIZE,
                  face_type: str = "full_face") -> Faceset:
    """Write the faceset into `out_dir` (names `<frame>_<k>.jpg`) and return its groups: `base` (every real face;
    also `astronaut-roll`, `astronaut-yaw`, `hopper-roll`, `hopper-yaw`), `blurred`, `dark` and `twoface`."""
    landmarker = landmarker or SampleLandmarker()
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = {"astronaut": astronaut(), "hopper": grace_hopper()}
    frames: list[tuple[str, np.ndarray]] = []
    for who, photo in photos.items():
        for roll in (-12, 0, 12):
            frames.append((f"{who}-roll", roll_zoom(photo, roll, 1.0)))
        landmarks = landmarker.largest(photo, 0)
        for degrees in (-35, -15, 15, 35):
            frames.append((f"{who}-yaw", _cylinder_yaw(photo, landmarks, degrees)))
    fs = Faceset(out_dir, {"base": [], "blurred": [], "dark": [], "twoface": []})
    base_faces = []
    index = 1
    for group, frame in frames:
        faces = align_faces(frame, f"{index:05d}.png", landmarker, 1, size, face_type)
        if faces:
            name = f"{index:05d}_0.jpg"
            save_face(out_dir / name, faces[0][0], faces[0][1], jpeg_quality=95)
            fs.groups["base"].append(name)
            fs.groups.setdefault(group, []).append(name)
            base_faces.append(faces[0])
        index += 1
    for i, (face, meta) in enumerate(base_faces[::3]):  # blurred and darkened copies of real faces
        blurred = cv2.GaussianBlur(face, (0, 0), 2.5)
        name = f"{index:05d}_0.jpg"
        save_face(out_dir / name, blurred, meta.copy(), jpeg_quality=95)
        fs.groups["blurred"].append(name)
        index += 1
        dark = (face.astype(np.float32) * 0.35).astype(np.uint8)
        name = f"{index:05d}_0.jpg"
        save_face(out_dir / name, dark, meta.copy(), jpeg_quality=95)
        fs.groups["dark"].append(name)
        index += 1
    for roll in (0, 8):  # frames with two people
        frame = _side_by_side(roll_zoom(photos["astronaut"], roll, 1.0), photos["hopper"])
        for k, (face, meta) in enumerate(align_faces(frame, f"{index:05d}.png", landmarker, 2, size, face_type)):
            name = f"{index:05d}_{k}.jpg"
            save_face(out_dir / name, face, meta, jpeg_quality=95)
            fs.groups["twoface"].append(name)
        index += 1
    return fs


def build_whole_face_set(out_dir: Path, landmarker: SampleLandmarker | None = None) -> Faceset:
    """Four real whole-face 192 px aligned faces (colour JPG) with an XSeg polygon and mask in `out_dir`, and their
    frames in `frames/` beside it."""
    landmarker = landmarker or SampleLandmarker()
    out_dir.mkdir(parents=True)
    fs = Faceset(out_dir, {"faces": []})
    frames_dir = out_dir.parent / "frames"
    frames_dir.mkdir()
    for i, (photo, roll) in enumerate([(astronaut(), 0), (astronaut(), 10), (grace_hopper(), 0),
                                       (grace_hopper(), -10)]):
        frame = roll_zoom(photo, roll, 1.0)
        cv2.imwrite(str(frames_dir / f"{i:05d}.png"), frame)
        face, meta = align_faces(frame, f"{i:05d}.png", landmarker, 1, 192, "whole_face")[0]
        hull = get_image_hull_mask(face.shape, meta.landmarks)[..., 0]
        meta.xseg_mask = cv2.resize(hull, (256, 256), interpolation=cv2.INTER_LINEAR)
        meta.xseg_polys = [{"type": 1, "pts": meta.landmarks[[36, 39, 45, 42]]}]
        name = f"{i:05d}_0.jpg"
        save_face(out_dir / name, face, meta, jpeg_quality=95)
        fs.groups["faces"].append(name)
    return fs
