"""What every face detector returns, and the interface a new detector implements."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

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
        return rect_area(self.rect)

    @property
    def min_side(self) -> float:
        l, t, r, b = self.rect
        return float(min(r - l, b - t))

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
    input_size: int | None  # side the whole image is shrunk to (small faces vanish: search tiles), or None

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def tile_origins(size: int, side: int) -> list[int]:
    """Evenly spaced start offsets of the fewest squares of `side` that cover 0..size, neighbours overlapping by
    at least a fifth of a side (more than the smallest face a look at the next coarser scale finds)."""
    if size <= side:
        return [0]
    gaps = -(-(size - side) // (side - side // 5))
    return [round(k * (size - side) / gaps) for k in range(gaps + 1)]


def rect_area(rect) -> float:
    """Area of an l, t, r, b box (0 when it is empty)."""
    l, t, r, b = rect
    return float(max(r - l, 0) * max(b - t, 0))


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two l,t,r,b boxes over the smaller one's area (1.0: one lies inside the other)."""
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    smaller = min(np.prod(np.clip(a[2:] - a[:2], 0, None)), np.prod(np.clip(b[2:] - b[:2], 0, None)))
    return float(inter / max(smaller, 1e-9))


def detect_in_tiles(detector: Detector, image: np.ndarray, side: int, known: Sequence[Detection] = (),
                    min_score: float = 0.7, min_px: float = 0) -> list[Detection]:
    """Faces too small for a whole-frame look (which shrinks the frame to the detector's input): the frame in
    overlapping squares of `side`, each searched at the detector's own input size. A face cut by a tile edge is
    found whole in a neighbour; duplicates keep the best-scored box, and faces overlapping one of `known` (found
    by a coarser look) are left out. The higher `min_score` keeps the extra looks from adding false faces."""
    h, w = image.shape[:2]
    found = []
    for y in tile_origins(h, side):
        for x in tile_origins(w, side):
            shift = np.array([[1.0, 0.0, x], [0.0, 1.0, y]])
            found += [d.transformed(shift) for d in detector.detect(image[y:y + side, x:x + side])]
    return new_faces(found, known, min_score, min_px)


def new_faces(found: Sequence[Detection], known: Sequence[Detection] = (), min_score: float = 0.7,
              min_px: float = 0) -> list[Detection]:
    """The detections of an extra look that add a face: scored `min_score` or more, both sides `min_px` or more,
    best first, each overlapping neither one of `known` (found by an earlier look) nor a better one of `found` by
    half its area."""
    kept: list[Detection] = []
    for det in sorted((d for d in found if d.score >= min_score and d.min_side >= min_px), key=lambda d: -d.score):
        if all(overlap_of_smaller(det.rect, k.rect) < 0.5 for k in [*known, *kept]):
            kept.append(det)
    return kept


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
