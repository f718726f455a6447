"""Face detectors by name. Adding one = one module with a class offering `detect(image)` + one line here."""
from __future__ import annotations

from typing import Callable

from core.registry import lookup
from facelib.detectors.base import Detection, Detector, to_bgr


def _blazeface(**options) -> Detector:
    from facelib.detectors.blazeface import BlazeFaceDetector
    return BlazeFaceDetector(**options)


def _blazeface_small(**options) -> Detector:
    from facelib.detectors.blazeface import SmallFaceDetector
    return SmallFaceDetector(**options)


def _dlib_hog(**options) -> Detector:
    from facelib.detectors.dlib_detectors import DlibHogDetector
    return DlibHogDetector(**options)


def _dlib_cnn(**options) -> Detector:
    from facelib.detectors.dlib_detectors import DlibCnnDetector
    return DlibCnnDetector(**options)


# name → factory (imports lazily so choosing one detector never loads another's runtime)
DETECTORS: dict[str, Callable[..., Detector]] = {"blazeface": _blazeface, "blazeface-small": _blazeface_small,
                                                 "dlib": _dlib_hog, "dlib-cnn": _dlib_cnn}

# The landmarker each detector is paired with by default.
DEFAULT_LANDMARKER = {"blazeface": "facemesh", "blazeface-small": "facemesh", "dlib": "dlib", "dlib-cnn": "dlib"}

# The detector that looks again for the faces too small for a detector's whole-frame look (none: it sees them).
SMALL_FACE_DETECTOR = {"blazeface": "blazeface-small"}


def create_detector(name: str, **options) -> Detector:
    return lookup(DETECTORS, "detector", name)(**options)


__all__ = ["DEFAULT_LANDMARKER", "DETECTORS", "SMALL_FACE_DETECTOR", "Detection", "Detector", "create_detector",
           "to_bgr"]
