"""Measures of a merged face against the dst frame it replaced, on one frame at a time (pure functions on arrays).

`face_mask` is the region the face occupies in the frame (e.g. the hull of its landmarks), uint8 or bool HxW.
  * `laplacian_variance`: sharpness, the variance of the Laplacian inside the region (detail a model makes or
    loses; a blurry face has little);
  * `seam_energy`: gradient energy on a thin band along the merge mask's edge over that inside the face: a hard
    or misplaced seam raises it, a seamless merge keeps it near the dst frame's own value;
  * `mean_colour`: mean colour inside the region (frame-to-frame flicker is its change);
  * `untouched_difference`: the largest pixel difference far from every face (a merge must not change it).
"""
from __future__ import annotations

import cv2
import numpy as np

from core.imagelib.sharpness import to_gray


def hull_mask(shape: tuple[int, ...], points: np.ndarray, erode_px: int = 0) -> np.ndarray:
    """uint8 HxW mask (0/1) of the convex hull of `points` (frame pixels), pulled in by `erode_px`."""
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(np.asarray(points, np.float32)).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    if erode_px > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1,) * 2))
    return mask


def laplacian_variance(image: np.ndarray, face_mask: np.ndarray) -> float:
    """Variance of the Laplacian of the gray image inside `face_mask` (0 for an empty region)."""
    lap = cv2.Laplacian(to_gray(image).astype(np.float32), cv2.CV_32F, ksize=3)
    values = lap[np.asarray(face_mask) > 0]
    return float(values.var()) if values.size else 0.0


def _gradient_energy(image: np.ndarray) -> np.ndarray:
    gray = to_gray(image).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return gx * gx + gy * gy


def edge_band(merge_mask: np.ndarray, width_px: int = 3) -> np.ndarray:
    """bool HxW: the pixels within `width_px` of the merge mask's 0.5 contour."""
    inside = (np.asarray(merge_mask, np.float32) >= (0.5 if merge_mask.dtype != np.uint8 else 128)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width_px + 1,) * 2)
    return (cv2.dilate(inside, kernel) - cv2.erode(inside, kernel)) > 0


def seam_energy(image: np.ndarray, merge_mask: np.ndarray, face_mask: np.ndarray, width_px: int = 3) -> float:
    """Mean gradient energy on the band along the merge mask's edge over the mean inside the face (the face
    region minus that band). Compare a merged frame's value with the dst frame's own on the same masks."""
    energy = _gradient_energy(image)
    band = edge_band(merge_mask, width_px)
    inner = (np.asarray(face_mask) > 0) & ~band
    if not band.any() or not inner.any():
        return float("nan")
    return float(energy[band].mean() / max(float(energy[inner].mean()), 1e-6))


def mean_colour(image: np.ndarray, face_mask: np.ndarray) -> np.ndarray:
    """Mean of each channel inside `face_mask` (float64, one value per channel)."""
    pixels = image.reshape(-1, 1 if image.ndim == 2 else image.shape[2])[np.asarray(face_mask).ravel() > 0]
    return pixels.mean(axis=0) if len(pixels) else np.zeros(pixels.shape[1])


def untouched_difference(merged: np.ndarray, original: np.ndarray, near_faces: np.ndarray) -> int:
    """The largest absolute pixel difference outside `near_faces` (uint8/bool HxW: every face, generously grown)."""
    if merged.shape != original.shape:
        return 255
    far = np.asarray(near_faces) == 0
    if not far.any():
        return 0
    diff = cv2.absdiff(merged, original)
    return int(diff[far].max())
