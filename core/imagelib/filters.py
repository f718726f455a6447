"""Image filters of the merger: blur/sharpen (box, gaussian, median), linear motion blur and the degrade
filters (median denoise, bicubic down-up rescale, adaptive-palette colour reduction).

Every function takes float32 images in [0, 1] shaped HxW, HxWx1 or HxWx3 and returns the same shape.
"""
from __future__ import annotations

import cv2
import numpy as np

SHARPEN_MODES = ("none", "box", "gaussian")


def _like(result: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """OpenCV drops a trailing single channel; put it back so the output matches the input shape."""
    return result.reshape(shape)


def median_blur(img: np.ndarray) -> np.ndarray:
    """5x5 median (OpenCV supports float32 for apertures 3 and 5)."""
    return _like(cv2.medianBlur(np.ascontiguousarray(img, np.float32), 5), img.shape)


def _median_passes(img: np.ndarray, power: int, full_step: int) -> np.ndarray:
    """Repeated 5x5 medians, `power` shrinking by 10 each pass; a pass of strength below `full_step` is blended
    in by (power mod full_step)/full_step."""
    img = img.astype(np.float32)
    n = power
    while n > 0:
        med = median_blur(img)
        if n >= full_step:
            img = med
        else:
            t = (n % full_step) / full_step
            img = img * (1.0 - t) + med * t
        n -= 10
    return img


def blursharpen(img: np.ndarray, mode: str, kernel_size: int, amount: int) -> np.ndarray:
    """Sharpen (amount > 0) with a box or gaussian unsharp kernel, or soften (amount < 0) with median passes.

    `mode` is one of SHARPEN_MODES; with "none" a positive amount changes nothing.
    """
    if mode not in SHARPEN_MODES:
        raise ValueError(f"unknown sharpen mode {mode!r}; choose one of {', '.join(SHARPEN_MODES)}")
    img = img.astype(np.float32)
    if amount > 0:
        k = max(1, int(kernel_size)) | 1
        if mode == "box":
            identity = np.zeros((k, k), np.float32)
            identity[k // 2, k // 2] = 1.0
            box = np.full((k, k), 1.0 / (k * k), np.float32)
            kernel = identity + (identity - box) * amount
            return _like(cv2.filter2D(img, -1, kernel), img.shape)
        if mode == "gaussian":
            blur = _like(cv2.GaussianBlur(img, (k, k), 0), img.shape)
            return img * (1.0 + 0.5 * amount) - blur * (0.5 * amount)
        return img
    if amount < 0:
        return _median_passes(img, -amount, full_step=10)
    return img


def motion_blur_kernel(size: int, angle_deg: float) -> np.ndarray:
    """A `size`x`size` line kernel along `angle_deg` (0 = horizontal), normalised to sum 1."""
    kernel = np.zeros((size, size), np.float32)
    kernel[(size - 1) // 2, :] = 1.0
    centre = (size / 2 - 0.5, size / 2 - 0.5)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, angle_deg, 1.0), (size, size))
    total = kernel.sum()
    return kernel / total if total > 0 else kernel


def linear_motion_blur(img: np.ndarray, size: int, angle_deg: float) -> np.ndarray:
    """Blur along a straight line of `size` pixels at `angle_deg` (what a moving face smears into)."""
    if size < 2:
        return img
    return _like(cv2.filter2D(img.astype(np.float32), -1, motion_blur_kernel(size, angle_deg)), img.shape)


def denoise_degrade(img: np.ndarray, power: int) -> np.ndarray:
    """Median-filter the image `power`/10 times (power 0..500); makes a clean background match a soft face."""
    return _median_passes(img, power, full_step=100) if power > 0 else img


def bicubic_degrade(img: np.ndarray, power: int) -> np.ndarray:
    """Downscale by `power` percent (0..100) and back up with bicubic interpolation, losing fine detail."""
    if power <= 0:
        return img
    h, w = img.shape[:2]
    p = 1.0 - power / 101.0
    small = cv2.resize(img, (max(1, int(w * p)), max(1, int(h * p))), interpolation=cv2.INTER_CUBIC)
    return _like(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), img.shape)


def reduce_colors(img: np.ndarray, n_colors: int) -> np.ndarray:
    """Quantise to an adaptive palette of `n_colors` entries (Pillow's median-cut palette).

    Colour images use the palette on RGB; single-channel images get `n_colors` gray levels.
    """
    from PIL import Image

    u8 = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    gray = img.ndim == 2 or img.shape[2] == 1
    rgb = np.repeat(u8.reshape(img.shape[:2] + (1,)), 3, axis=2) if gray else u8[..., ::-1]
    pal = Image.fromarray(np.ascontiguousarray(rgb)).convert("P", palette=Image.Palette.ADAPTIVE, colors=n_colors)
    out = np.asarray(pal.convert("RGB"))
    out = out[..., :1] if gray else out[..., ::-1]
    return (out.astype(np.float32) / 255.0).reshape(img.shape)


def color_degrade(img: np.ndarray, power: int, n_colors: int = 256) -> np.ndarray:
    """Blend toward the palette-reduced image by `power` percent (0..100)."""
    if power <= 0:
        return img
    reduced = reduce_colors(img, n_colors)
    if power >= 100:
        return reduced
    t = power / 100.0
    return img * (1.0 - t) + reduced * t
