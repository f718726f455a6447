"""What every face detector returns, and the interface a new detector implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Detection:
    """One face found in an image: box (l, t, r, b) in pixels, confidence, optional keypoints (Kx2 pixels).

    BlazeFace keypoints are: right eye, left eye (subject's; image left then right), nose tip, mouth centre,
    right ear tragion, left ear tragion.
    """

    rect: np.ndarray
    score: float = 1.0
    keypoints: np.ndarray | None = field(default=None)

    @property
    def area(self) -> float:
        l, t, r, b = self.rect
        return float(max(r - l, 0) * max(b - t, 0))

    def transformed(self, mat: np.ndarray) -> "Detection":
        """This detection moved by a 2x3 affine map (the box becomes the bounding box of its mapped corners)."""
        l, t, r, b = self.rect
        corners = np.array([(l, t), (r, t), (r, b), (l, b)], np.float64) @ mat[:, :2].T + mat[:, 2]
        rect = np.array([*corners.min(axis=0), *corners.max(axis=0)], np.float32)
        kps = None if self.keypoints is None else (self.keypoints @ mat[:, :2].T + mat[:, 2]).astype(np.float32)
        return Detection(rect, self.score, kps)


class Detector(Protocol):
    """Finds faces in a BGR (or grayscale) uint8 image; largest first is not required (the extractor sorts)."""

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize down to (width, height) with area averaging; big reductions go through a fast bilinear step to twice
    the target first (OpenCV's area filter is slow for non-integer factors)."""
    import cv2
    h, w = image.shape[:2]
    if w > 4 * width and h > 4 * height:
        image = cv2.resize(image, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Three-channel view of a grayscale or BGRA image (detectors expect BGR)."""
    import cv2
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
