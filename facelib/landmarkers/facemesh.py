"""FaceMesh landmarker (MediaPipe's `face_landmark.tflite`): 468 mesh points, mapped to the 68 iBUG points.

The face is cropped as a rotated square ROI (1.5x the face box, turned so the eyes are level), the mesh is
predicted on the 192x192 crop and mapped back. The accurate mode runs a second pass on the ROI rebuilt from
the first mesh, which removes most of the detector box's error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facelib.detectors.base import Detection, shrink, to_bgr
from facelib.detectors.tflite_runtime import load_model
from facelib.landmarkers.mesh68 import mesh_to_68

MODEL_FILE = "face_landmark.tflite"
INPUT_SIZE = 192
ROI_SCALE = 1.5
TRUSTED_DETECTION = 0.8  # detector score above which FaceMesh's own doubt does not drop the face
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # mesh indices (image left, image right)


@dataclass(frozen=True)
class Roi:
    """A rotated square in image pixels: centre (x, y), side length, angle of its x axis (radians)."""

    cx: float
    cy: float
    size: float
    angle: float

    def crop_to_image(self, out_size: int) -> np.ndarray:
        """2x3 matrix from crop pixels (out_size square) to image pixels."""
        k = self.size / out_size
        c, s = math.cos(self.angle) * k, math.sin(self.angle) * k
        half = out_size / 2
        return np.array([[c, -s, self.cx - half * c + half * s],
                         [s, c, self.cy - half * s - half * c]], np.float64)


def _upright_box_roi(l: float, t: float, r: float, b: float, angle: float = 0.0) -> Roi:
    return Roi((l + r) / 2, (t + b) / 2, max(r - l, b - t) * ROI_SCALE, angle)


def roi_from_detection(detection: Detection) -> Roi:
    """ROI around a detector box, turned by the eye keypoints when the detector gives them."""
    angle = 0.0
    if detection.keypoints is not None and len(detection.keypoints) >= 2:
        (x0, y0), (x1, y1) = detection.keypoints[0], detection.keypoints[1]
        angle = math.atan2(y1 - y0, x1 - x0)
    return _upright_box_roi(*detection.rect, angle=angle)


def roi_from_points(points: np.ndarray, eye_right: int, eye_left: int) -> Roi:
    """ROI from a landmark set: level with the outer eye corners, 1.5x the points' extent in that frame."""
    pts = np.asarray(points, np.float64)[:, :2]
    dx, dy = pts[eye_left] - pts[eye_right]
    angle = math.atan2(dy, dx)
    c, s = math.cos(angle), math.sin(angle)
    local = pts @ np.array([[c, -s], [s, c]])  # rotate by -angle
    lo, hi = local.min(axis=0), local.max(axis=0)
    mid = (lo + hi) / 2
    centre = np.array([[c, -s], [s, c]]) @ mid
    return Roi(float(centre[0]), float(centre[1]), float(max(hi - lo)) * ROI_SCALE, angle)


def crop(image: np.ndarray, roi: Roi, out_size: int = INPUT_SIZE) -> np.ndarray:
    """The ROI resampled to out_size x out_size (zero outside the image).

    A big ROI is first cut out upright and shrunk with area averaging, then rotated: sharp, alias-free and much
    cheaper than warping the full-resolution image.
    """
    to_image = roi.crop_to_image(out_size)
    k = roi.size / out_size  # image pixels per crop pixel
    if k > 1.5:
        corners = np.array([(0, 0), (out_size, 0), (out_size, out_size), (0, out_size)], np.float64)
        pts = corners @ to_image[:, :2].T + to_image[:, 2]
        h, w = image.shape[:2]
        x0, y0 = np.clip(np.floor(pts.min(axis=0)).astype(int), 0, (w, h))
        x1, y1 = np.clip(np.ceil(pts.max(axis=0)).astype(int), 0, (w, h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return np.zeros((out_size, out_size) + image.shape[2:], image.dtype)
        sw, sh = max(1, round((x1 - x0) / k)), max(1, round((y1 - y0) / k))
        image = shrink(image[y0:y1, x0:x1], sw, sh)
        to_small = np.array([[sw / (x1 - x0), 0, 0], [0, sh / (y1 - y0), 0]], np.float64)
        to_small[:, 2] = -to_small[:, :2] @ (x0, y0)
        to_image = to_small[:, :2] @ to_image[:, :2], to_small[:, :2] @ to_image[:, 2] + to_small[:, 2]
        to_image = np.hstack([to_image[0], to_image[1][:, None]])
    return cv2.warpAffine(image, to_image, (out_size, out_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT)


class FaceMeshLandmarker:
    """Default landmarker paired with BlazeFace; also works from a plain box (dlib or a manual rectangle)."""

    name = "facemesh"

    def __init__(self, min_presence: float = 0.5, num_threads: int = 1):
        self.min_presence = min_presence
        self.model = load_model(MODEL_FILE, num_threads)

    def mesh(self, image: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """468x3 mesh points (x, y in image pixels; z in crop units) and the face-presence score."""
        patch = cv2.cvtColor(crop(to_bgr(image), roi), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        outputs = self.model.run(patch[None])
        points = next(o for o in outputs if o.size == 468 * 3).reshape(468, 3).astype(np.float64)
        flag = float(next(o for o in outputs if o.size == 1).reshape(()))
        mat = roi.crop_to_image(INPUT_SIZE)
        points[:, :2] = points[:, :2] @ mat[:, :2].T + mat[:, 2]
        return points, 1.0 / (1.0 + math.exp(-flag))

    def mesh_for(self, image: np.ndarray, detection: Detection, accurate: bool = True) -> np.ndarray | None:
        """The 468-point mesh of the detected face (refined from its own ROI when `accurate`), or None when
        FaceMesh's face-presence score stays below `min_presence`. A detection of score `TRUSTED_DETECTION` or more
        (and a box placed by hand) always gets its mesh: FaceMesh doubts strongly blurred faces (motion blur, out
        of focus) whose mesh is still usable, and DeepFaceLab's landmarker never refuses a detected face."""
        need = 0.0 if detection.score >= TRUSTED_DETECTION else self.min_presence
        points, presence = self.mesh(image, roi_from_detection(detection))
        if accurate and presence >= need:
            points, presence = self.mesh(image, roi_from_points(points, RIGHT_EYE_OUTER, LEFT_EYE_OUTER))
        return points if presence >= need else None

    def track(self, image: np.ndarray, previous_mesh: np.ndarray) -> np.ndarray | None:
        """Mesh of a face in a video frame from the previous frame's mesh (no detector), or None if lost."""
        points, presence = self.mesh(image, roi_from_points(previous_mesh, RIGHT_EYE_OUTER, LEFT_EYE_OUTER))
        return points if presence >= self.min_presence else None

    def landmarks(self, image: np.ndarray, detection: Detection, accurate: bool = True) -> np.ndarray | None:
        points = self.mesh_for(image, detection, accurate)
        return None if points is None else mesh_to_68(points)
