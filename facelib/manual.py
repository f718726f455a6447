"""Manual face placement ("Manual pass" window): a state machine fed with key and mouse events, and its driver.

`ManualState` holds everything the window shows and reacts to DFL's keys; it never touches a window, so tests
drive it with synthetic events. `run_window` is the thin OpenCV loop around it. Coordinates given to the
handlers are window pixels; `view` maps frame pixels to window pixels.

Keys: Enter accept the face and go on, Space skip the frame (no face), `,` / `.` previous / next frame,
`q` skip all remaining frames, `a` accurate landmarks on/off, `h` show/hide help. Mouse: move the square,
wheel to resize, left click lock/unlock, right click place a mean face and turn/scale it with the mouse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core.imagelib.text import put_outlined_text
from core.window import dispatch_mouse, normalize_key, opened, require_window, was_closed
from facelib import landmarks as L
from facelib import mean_face
from facelib.extractor import FoundFace
from facelib.face_type import FaceType

WINDOW_NAME = "Manual pass"
HELP_LINES = (
    "[L Mouse click] - lock/unlock selection. [Mouse wheel] - change rect",
    "[R Mouse Click] - manual face rectangle",
    "[Enter] / [Space] - confirm / skip frame",
    "[,] [.]- prev frame, next frame. [Q] - skip remaining frames",
    "[a] - accuracy on/off (more fps)",
    "[h] - hide this help",
)
INITIAL_HALF_SIZE = 100
MIN_HALF_SIZE = 5
ZOOM_BELOW = 40  # half-sizes up to this zoom the view in

LandmarkFn = Callable[[np.ndarray, tuple, bool], "np.ndarray | None"]


def mean_face_landmarks() -> np.ndarray:
    """68 points of the mean face in the unit square (jaw points at the origin, as DFL's forced mode)."""
    pts = np.zeros((68, 2), np.float32)
    pts[17:] = mean_face.MEAN_FACE_17_67
    return pts


def forced_landmarks(anchor: np.ndarray, cursor: np.ndarray) -> np.ndarray:
    """Mean face centred (nose tip) on `anchor`, turned and scaled by the vector anchor→cursor (its length = the
    distance from nose tip to the brows' centre line)."""
    pts = mean_face_landmarks()
    vec = np.asarray(cursor, np.float64) - anchor
    length = max(float(np.hypot(*vec)), 1.0)
    angle = math.atan2(vec[1], vec[0]) + math.pi / 2  # pointing up = upright face
    nose = pts[30].astype(np.float64)
    brow_to_nose = float(nose[1] - pts[17:27, 1].mean())
    k = length / brow_to_nose
    c, s = math.cos(angle) * k, math.sin(angle) * k
    rel = pts.astype(np.float64) - nose
    out = np.stack([rel[:, 0] * c - rel[:, 1] * s, rel[:, 0] * s + rel[:, 1] * c], axis=1) + anchor
    out[:17] = out[30]  # no jaw in the mean face: collapse it onto the nose tip
    return out.astype(np.float32)


@dataclass
class ManualState:
    """What the manual window shows and how it reacts to events."""

    frames: list[str]                                  # frame names, in order
    load_frame: Callable[[int], np.ndarray]            # frame index → image
    landmarker: LandmarkFn                             # (image, rect l,t,r,b, accurate) → 68x2 or None
    results: dict[str, list[FoundFace]] = field(default_factory=dict)
    face_type: FaceType = FaceType.FULL
    window_size: int = 1368
    index: int = 0
    half_size: int = INITIAL_HALF_SIZE
    cursor: np.ndarray = field(default_factory=lambda: np.zeros(2))   # frame pixels
    locked: bool = False
    accurate: bool = True
    show_help: bool = True
    force_anchor: np.ndarray | None = None             # right-click mode: nose-tip anchor in frame pixels
    landmarks: np.ndarray | None = None
    finished: bool = False
    zoom_centre: np.ndarray | None = None
    _image: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._enter_frame(self.index)

    # ------------------------------------------------------------------ geometry
    @property
    def image(self) -> np.ndarray:
        return self._image

    @property
    def rect(self) -> tuple[float, float, float, float]:
        x, y = self.cursor
        return (x - self.half_size, y - self.half_size, x + self.half_size, y + self.half_size)

    @property
    def view(self) -> np.ndarray:
        """2x3 matrix from frame pixels to window pixels (scaled to the window; zoomed in for small squares)."""
        h, w = self._image.shape[:2]
        scale = self.window_size / (h * 16 / 9)
        if self.zoom_centre is None:
            return np.array([[scale, 0, 0], [0, scale, 0]], np.float64)
        # the square fills a quarter of the window height, centred on where zooming started
        out_h = h * scale
        zoom = (out_h / 4) / (2 * self.half_size)
        cx, cy = self.zoom_centre
        return np.array([[zoom, 0, w * scale / 2 - zoom * cx], [0, zoom, out_h / 2 - zoom * cy]], np.float64)

    def window_size_px(self) -> tuple[int, int]:
        h, w = self._image.shape[:2]
        scale = self.window_size / (h * 16 / 9)
        return max(1, round(w * scale)), max(1, round(h * scale))

    def to_frame(self, x: float, y: float) -> np.ndarray:
        return L.transform_points(np.array([[x, y]], np.float64), self.view, invert=True)[0]

    # ------------------------------------------------------------------ frames
    @property
    def frame_name(self) -> str:
        return self.frames[self.index]

    def _enter_frame(self, index: int) -> None:
        self.index = index
        self._image = self.load_frame(index)
        self.zoom_centre = None
        self.force_anchor = None
        faces = self.results.get(self.frame_name) or []
        if faces:
            face = faces[0]
            l, t, r, b = face.rect
            self.cursor = np.array([(l + r) / 2, (t + b) / 2], np.float64)
            self.half_size = max(MIN_HALF_SIZE, int(round(max(r - l, b - t) / 2)))
            self.landmarks = np.asarray(face.landmarks, np.float32)
            self.locked = True
        else:
            if not self.locked:
                h, w = self._image.shape[:2]
                self.cursor = np.array([w / 2, h / 2], np.float64) if not self.cursor.any() else self.cursor
            self._update_landmarks()

    def _save_current(self) -> None:
        if self.landmarks is None:
            return
        rect = L.get_rect_from_landmarks(self.landmarks) if self.force_anchor is not None else self.rect
        self.results[self.frame_name] = [FoundFace(np.array(rect, np.float32), self.landmarks.copy(), 1.0)]

    def _go(self, step: int) -> None:
        target = self.index + step
        if target >= len(self.frames):
            self.finished = True
            return
        self._enter_frame(max(0, target))

    def _update_landmarks(self) -> None:
        if self.force_anchor is not None:
            self.landmarks = forced_landmarks(self.force_anchor, self.cursor)
        else:
            self.landmarks = self.landmarker(self._image, self.rect, self.accurate)

    # ------------------------------------------------------------------ events
    def on_mouse_move(self, x: float, y: float) -> None:
        if self.locked:
            return
        self.cursor = self.to_frame(x, y)
        self._update_landmarks()

    def on_wheel(self, up: bool) -> None:
        if self.locked:
            return
        step = 1 if self.half_size <= ZOOM_BELOW else int(np.clip(self.half_size / 10, 1, 10))
        self.half_size = max(MIN_HALF_SIZE, self.half_size + (step if up else -step))
        if self.half_size <= ZOOM_BELOW and self.zoom_centre is None:
            self.zoom_centre = self.cursor.copy()
        elif self.half_size > ZOOM_BELOW:
            self.zoom_centre = None
        self._update_landmarks()

    def on_left_click(self, x: float, y: float) -> None:
        if not self.locked:
            self.cursor = self.to_frame(x, y)
            self._update_landmarks()
        self.locked = not self.locked and self.landmarks is not None

    def on_right_click(self, x: float, y: float) -> None:
        """Toggle forced landmarks: the mean face is anchored at the click and follows the mouse."""
        self.locked = False
        if self.force_anchor is None:
            self.force_anchor = self.to_frame(x, y)
            self.cursor = self.force_anchor + (0, -self.half_size)
        else:
            self.force_anchor = None
            self.cursor = self.to_frame(x, y)
        self._update_landmarks()

    def on_key(self, key: str) -> None:
        if key in ("\r", "\n", "enter"):
            if self.landmarks is not None:
                self._save_current()
                self.locked = False
                self._go(1)
        elif key in (" ", "space"):
            self.results[self.frame_name] = []
            self.locked = False
            self._go(1)
        elif key == ",":
            if self.locked:
                self._save_current()
            self._go(-1)
        elif key == ".":
            if self.locked:
                self._save_current()
            self._go(1)
        elif key == "q":
            self.finished = True
        elif key == "a":
            self.accurate = not self.accurate
            if not self.locked:
                self._update_landmarks()
        elif key == "h":
            self.show_help = not self.show_help

    # ------------------------------------------------------------------ drawing
    def render(self) -> np.ndarray:
        """The window image: the frame, the square and landmarks, the help and a status line."""
        from facelib.detectors import to_bgr
        view = self.view
        canvas = cv2.warpAffine(to_bgr(self._image), view, self.window_size_px(), flags=cv2.INTER_LINEAR)
        if self.landmarks is not None:
            lm = L.transform_points(self.landmarks, view)
            rect = L.transform_points(np.array(self.rect, np.float64).reshape(2, 2), view).reshape(4)
            colour = (255, 255, 0) if self.locked else (0, 255, 0)
            if self.force_anchor is not None:
                L.draw_landmarks(canvas, lm, colour)
            else:
                L.draw_rect_landmarks(canvas, rect, lm, self.face_type, landmarks_color=colour)
        else:
            rect = L.transform_points(np.array(self.rect, np.float64).reshape(2, 2), view).reshape(4).astype(int)
            cv2.rectangle(canvas, tuple(rect[:2]), tuple(rect[2:]), (0, 0, 255), 1)
        lines = (list(HELP_LINES) if self.show_help else []) + [
            f"frame {self.index + 1}/{len(self.frames)} {self.frame_name}  accuracy {'on' if self.accurate else 'off'}"]
        for i, line in enumerate(lines):
            y = 18 + i * 18
            put_outlined_text(canvas, line, (6, y), 0.45)
        return canvas


# ------------------------------------------------------------------------------------------------- driver ---

def on_cv2_mouse(state: ManualState, event: int, x: int, y: int, flags: int) -> None:
    """Translate an OpenCV mouse callback into state events."""
    dispatch_mouse({"move": lambda m: state.on_mouse_move(m.x, m.y),
                    "left_down": lambda m: state.on_left_click(m.x, m.y),
                    "right_down": lambda m: state.on_right_click(m.x, m.y),
                    "wheel": lambda m: state.on_wheel(m.wheel_up)}, event, x, y, flags)


def key_name(code: int) -> str | None:
    """A `waitKey` code as the key `ManualState.on_key` takes; None for Shift with a symbol (Shift+, is not ,)."""
    pressed = normalize_key(code)
    if pressed is None or (pressed[1] and not pressed[0].isalpha()):
        return None
    return pressed[0]


def run_window(state: ManualState) -> dict[str, list[FoundFace]]:
    """Show the window until every frame is done or `q`; returns the results."""
    # AUTOSIZE without Qt's toolbar, which zooms its view on the wheel and opens a menu on right click, the two
    # gestures this window uses itself
    with opened(WINDOW_NAME, on_mouse=lambda e, x, y, f: on_cv2_mouse(state, e, x, y, f)):
        while not state.finished:
            cv2.imshow(WINDOW_NAME, state.render())
            key = key_name(cv2.waitKey(20))
            if key is not None:
                state.on_key(key)
            if was_closed(WINDOW_NAME):
                break
    return state.results


# ------------------------------------------------------------------------------------ the extract hookups ---

def _make_state(frame_paths: list[Path], results: dict, opts, window_size: int) -> ManualState:
    from facelib.extractor import FaceExtractor, read_frame
    extractor = FaceExtractor("blazeface")

    def landmarker(image, rect, accurate):
        return extractor.landmarks_in_rect(image, rect, accurate)

    return ManualState([p.name for p in frame_paths], lambda i: read_frame(frame_paths[i]), landmarker,
                       results=results, face_type=opts.face_type, window_size=window_size)


def make_manual_pass(opts, window_size: int, only_missing: bool):
    """A `manual_pass` for `run_extraction`: every pending frame (manual detector) or only faceless ones."""
    require_window("manual extraction", needs="a desktop window")

    def manual_pass(frame_paths: list[Path], results: dict[str, list[FoundFace]]) -> dict[str, list[FoundFace]]:
        todo = [p for p in frame_paths if not (only_missing and results.get(p.name))]
        todo = [p for p in todo if _readable(p)]
        if not todo:
            return results
        from core import interact
        interact.log_info(f"Manual pass over {len(todo)} frames.")
        state = _make_state(todo, dict(results), opts, window_size)
        edited = run_window(state)
        return {**results, **{name: faces for name, faces in edited.items() if name in results}}

    return manual_pass


def _readable(path: Path) -> bool:
    from facelib.extractor import read_frame
    return read_frame(path) is not None


def manual_output_debug_fix(opts, window_size: int):
    """Re-extract by hand the frames whose `aligned_debug` image was deleted (their old faces are removed)."""
    from core import interact
    from core.errors import UserError
    from core.fsio import list_images
    from facelib.extract_job import Journal, face_files, list_frames, run_extraction
    if not opts.debug_dir.is_dir():
        raise UserError(f"{opts.debug_dir}: no debug folder; extract with --output-debug first")
    kept = {p.stem for p in list_images(opts.debug_dir)}
    targets = [f for f in list_frames(opts.input_dir) if f.stem not in kept]
    if not targets:
        interact.log_info(f"No debug image is missing from {opts.debug_dir}; nothing to fix.")
        from facelib.extract_job import ExtractReport
        return ExtractReport(images_found=0)
    require_window("manual extraction", needs="a desktop window")
    for frame in targets:
        for path in face_files(opts.output_dir, frame.stem):
            path.unlink()
    Journal(opts.output_dir).forget(f.name for f in targets)
    opts.output_debug = True
    opts.detector = "manual"
    return run_extraction(opts, make_manual_pass(opts, window_size, only_missing=False), frames=targets)
