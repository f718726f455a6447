"""Frame → faces: detection with rotation retry, 68 landmarks, alignment per face type, and the debug overlay.

`FaceExtractor.find_faces(frame)` gives `FoundFace`s (frame-space rect + landmarks), largest first;
`align_face` turns one into the aligned image and its `FaceMeta`; `draw_debug` renders the `aligned_debug` frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.imagelib.io import read_image
from facelib import landmarks as L
from facelib.detectors import DEFAULT_LANDMARKER, SMALL_FACE_DETECTOR, Detection, create_detector, to_bgr
from facelib.detectors.base import detect_in_tiles, new_faces, rect_area
from facelib.face_type import FaceType
from facelib.landmarkers import create_landmarker
from facelib.meta import FaceMeta

# Tried in this order until one finds a face (DFL's order): upright, a quarter turn each way, upside down.
ROTATIONS = (0, 90, 270, 180)
MIN_FACE_PX = 32          # smaller detector boxes are ignored: a face whose landmarks span 40 px gets boxes of 36-50
WHOLE_LOOK_SHARE = 12     # a whole-frame look finds the faces wider than 1/12 of the frame's longer side
TILED_SEARCH_MIN_PX = 512  # frames at least this big (shorter side) are searched in tiles when no face is found
MAX_SQUARE_TO_RECT = 4.0  # a full-face square this many times larger than the detector box = bad landmarks
UPRIGHT = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # identity 2x3 map


@dataclass
class FoundFace:
    """One face in a frame: detector box (l, t, r, b) and 68 landmarks, both in frame pixels."""

    rect: np.ndarray
    landmarks: np.ndarray
    score: float = 1.0

    @property
    def area(self) -> float:
        return rect_area(self.rect)

    @property
    def landmarks_area(self) -> float:
        """Area of the box around the landmarks: how big the face is, whichever look found it (the detectors'
        boxes differ in scale and in how tight they are)."""
        return float(np.prod(np.ptp(np.asarray(self.landmarks, np.float64), axis=0)))

    def to_json(self) -> dict:
        return {"rect": np.round(np.asarray(self.rect, np.float64), 2).tolist(),
                "landmarks": np.round(np.asarray(self.landmarks, np.float64), 3).tolist(),
                "score": round(float(self.score), 4)}

    @staticmethod
    def from_json(d: dict) -> "FoundFace":
        return FoundFace(np.asarray(d["rect"], np.float32), np.asarray(d["landmarks"], np.float32).reshape(68, 2),
                         float(d.get("score", 1.0)))


def read_frame(path: str | Path) -> np.ndarray | None:
    """A frame as uint8 BGR or grayscale (HxW); 16-bit and alpha are reduced; None if unreadable."""
    image = read_image(path)
    if image is None:
        return None
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * 255.0, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def is_gray(image: np.ndarray) -> bool:
    return image.ndim == 2 or image.shape[2] == 1


def rotate(image: np.ndarray, degrees: int) -> tuple[np.ndarray, np.ndarray]:
    """(image turned clockwise by 0/90/180/270 degrees, 2x3 matrix mapping its pixels back to the original)."""
    h, w = image.shape[:2]
    forward = {
        0: UPRIGHT,
        90: np.array([[0, -1, h - 1], [1, 0, 0]], np.float64),
        180: np.array([[-1, 0, w - 1], [0, -1, h - 1]], np.float64),
        270: np.array([[0, 1, 0], [-1, 0, w - 1]], np.float64),
    }[degrees]
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    turned = image if degrees == 0 else cv2.rotate(image, codes[degrees])
    return turned, cv2.invertAffineTransform(forward)


def landmarks_are_sane(face: FoundFace) -> bool:
    """False when the full-face square implied by the landmarks is far larger than the detector box."""
    square = L.face_square(face.landmarks, FaceType.FULL)
    return L.polygon_area(square) <= MAX_SQUARE_TO_RECT * max(face.area, 1.0)


class FaceExtractor:
    """Detector + landmarker pair, created once per process (interpreters are not shared across processes)."""

    def __init__(self, detector: str = "blazeface", landmarker: str | None = None, accurate: bool = True,
                 max_faces: int = 0, rotate_retry: bool = True):
        self.detector = create_detector(detector)
        small = SMALL_FACE_DETECTOR.get(detector)
        self.small_faces = create_detector(small) if small else None
        self.landmarker = create_landmarker(landmarker or DEFAULT_LANDMARKER[detector])
        self.accurate = accurate
        self.max_faces = max_faces
        self.rotations = ROTATIONS if rotate_retry else (0,)

    def find_faces(self, image: np.ndarray) -> list[FoundFace]:
        """Faces of a frame, largest (by their landmarks) first, only the `max_faces` largest when > 0; [] when
        none at any rotation, nor (for detectors that shrink the frame) zoomed out, where an extreme close-up shows
        up, nor (on frames of 512 px and more) in tiles of half the shorter side.

        Upright, the detector's small-face partner (`SMALL_FACE_DETECTOR`) looks at the frame too, so that the
        small faces of a group (down to `MIN_FACE_PX` in 720p, ~40 px in 1080p) are found beside the big ones."""
        bgr = to_bgr(image)
        faces = []
        for degrees in self.rotations:
            turned, back = rotate(bgr, degrees)
            detections = [d for d in self.detector.detect(turned) if d.min_side >= MIN_FACE_PX]
            if degrees == 0 and self.small_faces is not None and not self._enough(detections, bgr.shape):
                detections += new_faces(self.small_faces.detect(turned), detections, min_px=MIN_FACE_PX)
            faces = self._faces(turned, detections, back)
            if faces:
                break
        if not faces and self.detector.input_size:
            faces = self._look_zoomed_out(bgr) or self._look_in_small_tiles(bgr)
        faces.sort(key=lambda f: -f.landmarks_area)
        return faces[:self.max_faces] if self.max_faces > 0 else faces

    def _look_zoomed_out(self, bgr: np.ndarray) -> list[FoundFace]:
        """An extreme close-up (the face fills the frame, chin or forehead cut off), which BlazeFace misses: the
        frame framed by black borders half its longer side wide, so the face fills a quarter of the look. The
        landmarks may reach past the frame edge, as DeepFaceLab's do for a cut face."""
        pad = max(bgr.shape[:2]) // 2
        framed = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
        return self._faces(framed, self.detector.detect(framed), np.array([[1.0, 0.0, -pad], [0.0, 1.0, -pad]]))

    def _look_in_small_tiles(self, bgr: np.ndarray) -> list[FoundFace]:
        """A lone small face of a wide shot that the small-face look missed too: frames of `TILED_SEARCH_MIN_PX`
        and more in tiles of half the shorter side, searched by the detector itself."""
        side = min(bgr.shape[:2]) // 2
        if 2 * side < TILED_SEARCH_MIN_PX:
            return []
        return self._faces(bgr, detect_in_tiles(self.detector, bgr, side, min_px=MIN_FACE_PX), UPRIGHT)

    def _enough(self, detections: list[Detection], shape: tuple[int, ...]) -> bool:
        """With `max_faces` set, whether the whole-frame look already found that many faces so big that none it
        missed (smaller than 1/`WHOLE_LOOK_SHARE` of the frame's longer side) could be among the largest."""
        sure = max(shape[:2]) / WHOLE_LOOK_SHARE
        return self.max_faces > 0 and sum(d.min_side >= sure for d in detections) >= self.max_faces

    def _faces(self, image: np.ndarray, detections: list[Detection], back: np.ndarray) -> list[FoundFace]:
        """The detections that get sane landmarks, mapped by `back` to the frame's pixels."""
        return [f for f in (self._landmark(image, d, back) for d in detections) if f]

    def _landmark(self, turned: np.ndarray, detection: Detection, back: np.ndarray) -> FoundFace | None:
        l, t, r, b = detection.rect
        if min(r - l, b - t) < MIN_FACE_PX:
            return None
        lm = self.landmarker.landmarks(turned, detection, self.accurate)
        if lm is None:
            return None
        face = FoundFace(detection.transformed(back).rect, L.transform_points(lm, back), detection.score)
        return face if landmarks_are_sane(face) else None

    def landmarks_in_rect(self, image: np.ndarray, rect, accurate: bool | None = None) -> np.ndarray | None:
        """68 landmarks for a face inside a user-drawn box (manual mode), or None."""
        detection = Detection(np.asarray(rect, np.float32), 1.0)
        return self.landmarker.landmarks(to_bgr(image), detection, self.accurate if accurate is None else accurate)


def align_face(image: np.ndarray, face: FoundFace, face_type: FaceType, image_size: int,
               source_filename: str) -> tuple[np.ndarray, FaceMeta]:
    """The aligned face image (same channels as `image`) and its metadata; MARK_ONLY keeps the whole frame."""
    lm = np.asarray(face.landmarks, np.float32)
    rect = [int(round(v)) for v in face.rect]
    if face_type == FaceType.MARK_ONLY:
        meta = FaceMeta(face_type=face_type.to_string(), landmarks=lm, source_filename=source_filename,
                        source_rect=rect, source_landmarks=lm, image_to_face_mat=None)
        return image.copy(), meta
    mat = L.get_transform_mat(lm, image_size, face_type)
    aligned = cv2.warpAffine(image, mat, (image_size, image_size), flags=cv2.INTER_CUBIC)
    meta = FaceMeta(face_type=face_type.to_string(), landmarks=L.transform_points(lm, mat),
                    source_filename=source_filename, source_rect=rect, source_landmarks=lm, image_to_face_mat=mat)
    return aligned, meta


def draw_debug(image: np.ndarray, faces: list[FoundFace], face_type: FaceType, image_size: int) -> np.ndarray:
    """The frame (as BGR) with each face's landmarks (green), detector box (blue) and face square (red)."""
    canvas = to_bgr(image).copy()
    for face in faces:
        L.draw_rect_landmarks(canvas, face.rect, face.landmarks, face_type, image_size, transparent_mask=True)
    return canvas
