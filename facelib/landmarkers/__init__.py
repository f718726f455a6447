"""68-point landmarkers by name. Adding one = one module with a class offering `landmarks(...)` + one line here."""
from __future__ import annotations

from typing import Callable

from core.registry import lookup
from facelib.landmarkers.base import Landmarker


def _facemesh(**options) -> Landmarker:
    from facelib.landmarkers.facemesh import FaceMeshLandmarker
    return FaceMeshLandmarker(**options)


def _dlib(**options) -> Landmarker:
    from facelib.landmarkers.dlib_shape import DlibLandmarker
    return DlibLandmarker(**options)


LANDMARKERS: dict[str, Callable[..., Landmarker]] = {"facemesh": _facemesh, "dlib": _dlib}


def create_landmarker(name: str, **options) -> Landmarker:
    return lookup(LANDMARKERS, "landmarker", name)(**options)


__all__ = ["LANDMARKERS", "Landmarker", "create_landmarker"]
