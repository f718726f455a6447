"""dlib face detectors: HOG + linear SVM (fast, frontal faces) and the CNN max-margin detector (slow, robust).

Models come from the `dlib-bin` and `face_recognition_models` packages. Large frames are shrunk first so HOG
stays usable on video; found boxes are mapped back to full-resolution pixels.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from facelib.detectors.base import Detection, to_bgr
from facelib.dlib_models import dlib_module, model_path


@lru_cache(maxsize=None)
def _hog():
    return dlib_module().get_frontal_face_detector()


@lru_cache(maxsize=None)
def _mmod():
    return dlib_module().cnn_face_detection_model_v1(model_path("mmod"))


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return image, scale


def _to_detection(rect, scale: float, score: float) -> Detection:
    box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], np.float32) / scale
    return Detection(box, float(score))


class DlibHogDetector:
    """dlib's HOG detector; upsamples once so faces down to ~40 px of the working image are found."""

    name = "dlib"
    input_size = None  # no tiled retry: it already looks at up to 960 px, and 15 more looks would take seconds

    def __init__(self, max_side: int = 960, upsample: int = 1):
        self.max_side, self.upsample = max_side, upsample
        self.detector = _hog()

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = _shrink(cv2.cvtColor(to_bgr(image), cv2.COLOR_BGR2RGB), self.max_side)
        rects, scores, _ = self.detector.run(small, self.upsample, 0.0)
        return [_to_detection(r, scale, s) for r, s in zip(rects, scores)]


class DlibCnnDetector:
    """dlib's CNN (MMOD) detector: finds turned faces HOG misses, but takes seconds per frame on a CPU."""

    name = "dlib-cnn"
    input_size = None

    def __init__(self, max_side: int = 800, upsample: int = 0):
        self.max_side, self.upsample = max_side, upsample
        self.detector = _mmod()

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, scale = _shrink(cv2.cvtColor(to_bgr(image), cv2.COLOR_BGR2RGB), self.max_side)
        return [_to_detection(d.rect, scale, d.confidence) for d in self.detector(small, self.upsample)]
