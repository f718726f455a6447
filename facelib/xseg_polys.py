"""XSeg polygons: render, transform and compare the hand-drawn include/exclude polygons of an aligned face.

Polygons are `FaceMeta.xseg_polys`: a list of ``{"type": 1 (include) | 0 (exclude), "pts": float32 (N, 2)}`` in
aligned-image pixels. They are drawn in order, as DFL's IEPolys overlay does: an include polygon fills with 1, an
exclude polygon with 0, so a later polygon wins where polygons overlap. Polygons of fewer than 3 points (one still
being drawn) cover nothing.
"""
from __future__ import annotations

import cv2
import numpy as np

from facelib.landmarks import transform_points

INCLUDE, EXCLUDE = 1, 0
_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point fraction bits: vertices are placed to 1/16 px


def _points(poly: dict) -> np.ndarray:
    return np.asarray(poly["pts"], np.float32).reshape(-1, 2)


def is_drawable(poly: dict) -> bool:
    """Whether `poly` covers an area: at least 3 points, all finite."""
    pts = _points(poly)
    return len(pts) >= 3 and bool(np.isfinite(pts).all())


def has_polys(polys: list | None) -> bool:
    """Whether any polygon of `polys` covers an area (the face counts as hand-labelled)."""
    return any(is_drawable(p) for p in polys or ())


def render_polys(polys: list | None, shape: tuple[int, ...]) -> np.ndarray:
    """float32 HxW mask in {0, 1} of `polys` drawn in order on an HxW zero image (`shape` (h, w, ...))."""
    h, w = int(shape[0]), int(shape[1])
    mask = np.zeros((h, w), np.float32)
    scale = float(1 << _SUBPIXEL_BITS)
    for poly in polys or ():
        if not is_drawable(poly):
            continue
        pts = np.clip(_points(poly), -4.0 * max(h, w), 4.0 * max(h, w))  # keep the fixed-point values in int32
        fixed = np.rint(pts * scale).astype(np.int32)
        value = 1.0 if int(poly["type"]) == INCLUDE else 0.0
        cv2.fillPoly(mask, [fixed], value, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return mask


def transform_polys(polys: list | None, mat: np.ndarray) -> list:
    """`polys` with every point mapped through the 2x3 affine `mat` (a new list; None gives [])."""
    return [{"type": int(p["type"]), "pts": transform_points(_points(p), mat)} for p in polys or ()]


def polys_equal(a: list | None, b: list | None, atol: float = 1e-3) -> bool:
    """Whether two polygon lists are the same drawing: same order, types and point counts, points within `atol`
    pixels. None and [] are equal."""
    a, b = list(a or ()), list(b or ())
    if len(a) != len(b):
        return False
    for pa, pb in zip(a, b):
        xa, xb = _points(pa), _points(pb)
        if int(pa["type"]) != int(pb["type"]) or xa.shape != xb.shape:
            return False
        if not np.allclose(xa, xb, rtol=0.0, atol=atol, equal_nan=True):
            return False
    return True
