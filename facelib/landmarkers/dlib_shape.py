"""dlib's 68-point shape predictor (ensemble of regression trees) from `face_recognition_models`."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from facelib.detectors.base import Detection, to_bgr
from facelib.dlib_models import dlib_module, model_path


@lru_cache(maxsize=None)
def _predictor():
    return dlib_module().shape_predictor(model_path("shape68"))


class DlibLandmarker:
    """Expects a tight dlib-style box (brows to chin), as the dlib detectors give; `accurate` has no effect."""

    name = "dlib"

    def __init__(self):
        self.predictor = _predictor()

    def _fit(self, gray: np.ndarray, box) -> np.ndarray:
        l, t, r, b = (int(round(v)) for v in box)
        shape = self.predictor(gray, dlib_module().rectangle(l, t, r, b))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def landmarks(self, image: np.ndarray, detection: Detection, accurate: bool = True) -> np.ndarray | None:
        gray = cv2.cvtColor(to_bgr(image), cv2.COLOR_BGR2GRAY)
        return self._fit(gray, detection.rect)
