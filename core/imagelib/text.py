"""Labels that stay readable on any background: white OpenCV text with a thin black outline.

OpenCV 5 draws a thicker line as a bolder, wider font, so the old trick of drawing the text twice (thick black,
then thin white) no longer lines up and every label looked doubled. Here the outline is the glyphs' own mask,
dilated, so it always hugs the white letters. `fit_scale` shrinks a line to a width.
"""
from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX


def fit_scale(text: str, max_width: int, scale: float, thickness: int = 1, min_scale: float = 0.1) -> float:
    """The largest font scale up to `scale` at which `text` is at most `max_width` pixels wide (OpenCV 5 steps
    font sizes, so a proportional shrink can land on the same size)."""
    while scale > min_scale and cv2.getTextSize(text, FONT, scale, thickness)[0][0] > max_width:
        scale *= 0.95
    return max(scale, min_scale)


def put_outlined_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, thickness: int = 1,
                      outline: int = 1) -> np.ndarray:
    """Draw `text` in place with its baseline starting at `org` (as `cv2.putText`), white with a black outline
    `outline` pixels wide, on a 1- or 3-channel image; returns `img`."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    pad = outline + thickness + 1
    x, y = int(org[0]), int(org[1])
    left, top = max(0, x - pad), max(0, y - th - pad)
    right, bottom = min(img.shape[1], x + tw + pad), min(img.shape[0], y + base + pad)
    if right <= left or bottom <= top:
        return img
    roi = img[top:bottom, left:right]
    glyphs = np.zeros(roi.shape[:2], np.uint8)
    cv2.putText(glyphs, text, (x - left, y - top), FONT, scale, 255, thickness, cv2.LINE_AA)
    ring = cv2.dilate(glyphs, np.ones((2 * outline + 1, 2 * outline + 1), np.uint8))
    out = roi.astype(np.float32)
    white = float(np.iinfo(img.dtype).max) if np.issubdtype(img.dtype, np.integer) else 1.0
    for mask, value in ((ring, 0.0), (glyphs, white)):
        alpha = mask.astype(np.float32) * (1 / 255)
        if out.ndim == 3:
            alpha = alpha[..., None]
        out = out * (1 - alpha) + value * alpha
    roi[...] = np.round(out).astype(img.dtype) if np.issubdtype(img.dtype, np.integer) else out
    return img
