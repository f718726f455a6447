"""The interface of a 68-point landmarker."""
from __future__ import annotations

from typing import Protocol

import numpy as np

from facelib.detectors.base import Detection


class Landmarker(Protocol):
    """Places the 68 iBUG points (68x2 float32, image pixels) on the face of a detection, or returns None."""

    name: str

    def landmarks(self, image: np.ndarray, detection: Detection, accurate: bool = True) -> np.ndarray | None: ...
