"""Colour transfer: make an image's colours (or, in gray, its brightness and contrast) follow a reference.

`color_transfer(mode, img, ref, img_mask=None, ref_mask=None)` works on float32 images in [0, 1] with 1 or 3
channels (HxW, HxWx1 or HxWx3; `img` and `ref` may differ in size) and returns `img` adjusted, same shape,
clipped to [0, 1]. Masks (HxW or HxWx1, >= 0.5 counts as inside) choose the pixels whose statistics are
matched; the resulting mapping is applied to every pixel of `img`.

Modes (`COLOR_TRANSFERS`):
  rct  Reinhard: per-channel mean/std in CIE-Lab (3 ch) or on the gray level (1 ch).
  lct  linear transfer through the covariance square roots (PCA); in gray: mean/std (brightness/contrast).
  mkl  Monge-Kantorovich linear mapping between the two Gaussians; in gray: mean/std.
  idt  iterative distribution transfer (Pitie): 1-D histogram matching along random rotations.
  sot  sliced optimal transport along random directions, the displacement then smoothed spatially;
       in gray: exact histogram (brightness/contrast/tone) matching.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

MASK_CUTOFF = 0.5
BGR_LUMA = (0.114, 0.587, 0.299)  # OpenCV's BGR -> gray weights (Y of YCrCb), as gray facesets are made
_EPS = 1e-6


# ------------------------------------------------------------------------------------------------ helpers ---

def _as_hwc(img: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(img, np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(f"{name} must be HxW, HxWx1 or HxWx3, got shape {img.shape}")
    return img


def _mask_index(mask: np.ndarray | None, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    """Flat indices of the pixels inside `mask` (None = all pixels)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != shape[:2]:
        raise ValueError(f"{name} shape {mask.shape} does not match its image {shape[:2]}")
    return np.flatnonzero(mask.reshape(-1) >= MASK_CUTOFF)


def _select(pixels: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    return pixels if index is None else pixels[index]


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _sqrtm(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance matrix."""
    vals, vecs = np.linalg.eigh(cov)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def _random_rotation(dims: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation (special orthogonal group); in 1-D the identity."""
    if dims == 1:
        return np.ones((1, 1))
    q, r = np.linalg.qr(rng.normal(size=(dims, dims)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _quantile_match(values: np.ndarray, index: np.ndarray | None, ref_sorted: np.ndarray) -> np.ndarray:
    """Send the pixels `values[index]` (all when None) to the reference's values of the same rank, as DFL
    does (ties are split by order); pixels outside `index` follow the same monotone curve by interpolation.
    The two samples may differ in size."""
    chosen = values if index is None else values[index]
    order = np.argsort(chosen, kind="stable")
    n = chosen.size
    if ref_sorted.size != n:
        ref_sorted = np.interp(np.linspace(0, ref_sorted.size - 1, n), np.arange(ref_sorted.size), ref_sorted)
    matched = np.empty(n, np.float64)
    matched[order] = ref_sorted
    if index is None:
        return matched
    out = np.interp(values, chosen[order], ref_sorted)
    out[index] = matched
    return out


# -------------------------------------------------------------------------------------------------- modes ---
# Each takes (img HxWxC, ref HxWxC, img_index, ref_index, rng) and returns HxWxC float32 (not yet clipped).

def rct(img, ref, img_idx, ref_idx, rng=None):
    """Reinhard et al.: match mean and standard deviation per Lab channel (gray: the single channel)."""
    colour = img.shape[2] == 3
    src = cv2.cvtColor(img, cv2.COLOR_BGR2LAB) if colour else img
    dst = cv2.cvtColor(ref, cv2.COLOR_BGR2LAB) if colour else ref
    src_px = _select(src.reshape(-1, src.shape[2]), img_idx)
    dst_px = _select(dst.reshape(-1, dst.shape[2]), ref_idx)
    mu_s, sd_s = src_px.mean(0), src_px.std(0)
    mu_d, sd_d = dst_px.mean(0), dst_px.std(0)
    out = (src - mu_s) * (sd_d / np.maximum(sd_s, _EPS)) + mu_d
    if not colour:
        return out
    lo, hi = np.array([0, -127, -127], np.float32), np.array([100, 127, 127], np.float32)
    return cv2.cvtColor(np.clip(out, lo, hi).astype(np.float32), cv2.COLOR_LAB2BGR)


def lct(img, ref, img_idx, ref_idx, rng=None, eps: float = 1e-5):
    """Linear transfer: x' = sqrt(C_ref) sqrt(C_img)^-1 (x - mu_img) + mu_ref."""
    c = img.shape[2]
    x = img.reshape(-1, c).astype(np.float64)
    xs, ys = _select(x, img_idx), _select(ref.reshape(-1, c).astype(np.float64), ref_idx)
    mu_x, mu_y = xs.mean(0), ys.mean(0)
    cov_x = (xs - mu_x).T @ (xs - mu_x) / len(xs) + eps * np.eye(c)
    cov_y = (ys - mu_y).T @ (ys - mu_y) / len(ys) + eps * np.eye(c)
    t = _sqrtm(cov_y) @ np.linalg.inv(_sqrtm(cov_x))
    return ((x - mu_x) @ t.T + mu_y).reshape(img.shape).astype(np.float32)


def mkl(img, ref, img_idx, ref_idx, rng=None):
    """Monge-Kantorovich linear map: the optimal affine transport between the two colour Gaussians."""
    c = img.shape[2]
    eps = np.finfo(np.float64).eps
    x = img.reshape(-1, c).astype(np.float64)
    xs, ys = _select(x, img_idx), _select(ref.reshape(-1, c).astype(np.float64), ref_idx)
    a = np.atleast_2d(np.cov(xs.T))
    b = np.atleast_2d(np.cov(ys.T))
    da2, ua = np.linalg.eigh(a)
    da = np.sqrt(np.clip(da2, eps, None))
    c_mat = (da[:, None] * ua.T) @ b @ (ua * da[None, :])
    dc2, uc = np.linalg.eigh(c_mat)
    dc = np.sqrt(np.clip(dc2, eps, None))
    da_inv = ua / da[None, :]
    t = da_inv @ (uc * dc[None, :]) @ uc.T @ da_inv.T
    return ((x - xs.mean(0)) @ t + ys.mean(0)).reshape(img.shape).astype(np.float32)


def idt(img, ref, img_idx, ref_idx, rng=None, bins: int = 256, n_rot: int = 20):
    """Iterative distribution transfer: repeat histogram matching along random rotations (relaxed 1/n_rot)."""
    rng = _rng(rng)
    c = img.shape[2]
    d0 = img.reshape(-1, c).T.astype(np.float64)             # C x N
    d1 = _select(ref.reshape(-1, c), ref_idx).T.astype(np.float64)
    relax = 1.0 / n_rot
    for _ in range(n_rot):
        r = _random_rotation(c, rng)
        d0r, d1r = r @ d0, r @ d1
        moved = np.empty_like(d0r)
        for j in range(c):
            s0 = d0r[j] if img_idx is None else d0r[j, img_idx]
            lo, hi = min(s0.min(), d1r[j].min()), max(s0.max(), d1r[j].max())
            if hi - lo < 1e-12:
                moved[j] = d0r[j]
                continue
            p0, edges = np.histogram(s0, bins=bins, range=(lo, hi))
            p1, _ = np.histogram(d1r[j], bins=bins, range=(lo, hi))
            cdf0 = np.cumsum(p0) / max(p0.sum(), 1)
            cdf1 = np.cumsum(p1) / max(p1.sum(), 1)
            f = np.interp(cdf0, cdf1, edges[1:])
            moved[j] = np.interp(d0r[j], edges[1:], f)
        d0 = d0 + relax * (r.T @ (moved - d0r))
    return d0.T.reshape(img.shape).astype(np.float32)


def sot(img, ref, img_idx, ref_idx, rng=None, steps: int = 10, batch_size: int = 5, reg_sigma_xy: float = 16.0):
    """Sliced optimal transport: move pixels along random directions to the reference's sorted projections;
    the total displacement is then smoothed (`smooth_displacement`) so neighbouring pixels move together."""
    rng = _rng(rng)
    h, w, c = img.shape
    src = img.reshape(-1, c).astype(np.float32)
    ref_px = _select(ref.reshape(-1, c), ref_idx).astype(np.float32)
    cur = src.copy()
    if c == 1:  # every direction is +-1: one exact quantile match is where the iterations converge
        steps = 0
        cur[:, 0] = _quantile_match(src[:, 0], img_idx, np.sort(ref_px[:, 0]))
    for _ in range(steps):
        advect = np.zeros_like(cur)
        for _ in range(batch_size):
            direction = rng.normal(size=c).astype(np.float32)
            direction /= max(float(np.linalg.norm(direction)), _EPS)
            proj = cur @ direction
            moved = _quantile_match(proj, img_idx, np.sort(ref_px @ direction))
            advect += (moved - proj)[:, None].astype(np.float32) * direction[None, :]
        cur += advect / batch_size
    out = cur.reshape(h, w, c)
    if reg_sigma_xy:
        out = img + smooth_displacement(out - img, reg_sigma_xy)
    return out


def smooth_displacement(diff: np.ndarray, sigma: float) -> np.ndarray:
    """DFL smooths the SOT displacement with `bilateralFilter(d=0, sigmaColor=5, sigmaSpace=sigma)`. For
    displacements within [-1, 1] its range weight exp(-delta^2/50) stays above 0.98, so it is a spatial Gaussian
    of radius round(1.5 sigma); the separable version below gives the same result ~100x faster."""
    radius = int(round(1.5 * sigma))
    kernel = cv2.getGaussianKernel(2 * radius + 1, sigma)
    return cv2.sepFilter2D(diff, -1, kernel, kernel).reshape(diff.shape)


TransferFn = Callable[..., np.ndarray]
COLOR_TRANSFERS: dict[str, TransferFn] = {"rct": rct, "lct": lct, "mkl": mkl, "idt": idt, "sot": sot}
GRAY_MODES = ("lct", "sot")  # the modes the SAEHDBW author recommends for one-channel faces


def color_transfer(mode: str, img: np.ndarray, ref: np.ndarray, img_mask: np.ndarray | None = None,
                   ref_mask: np.ndarray | None = None, rng=None, **kwargs) -> np.ndarray:
    """Adjust `img` toward `ref` with transfer `mode`; `none` returns a copy. See the module docstring."""
    mode = (mode or "none").lower()
    shape = np.shape(img)
    if mode == "none":
        return np.array(img, np.float32, copy=True)
    if mode not in COLOR_TRANSFERS:
        raise ValueError(f"unknown color transfer {mode!r}; use one of: none, {', '.join(COLOR_TRANSFERS)}")
    src, dst = _as_hwc(img, "img"), _as_hwc(ref, "ref")
    if src.shape[2] != dst.shape[2]:
        raise ValueError(f"img has {src.shape[2]} channels but ref has {dst.shape[2]}")
    img_idx = _mask_index(img_mask, src.shape, "img_mask")
    ref_idx = _mask_index(ref_mask, dst.shape, "ref_mask")
    if (img_idx is not None and img_idx.size < 2) or (ref_idx is not None and ref_idx.size < 2):
        return src.reshape(shape).copy()  # nothing inside a mask to match
    out = COLOR_TRANSFERS[mode](src, dst, img_idx, ref_idx, rng, **kwargs)
    return np.clip(out, 0.0, 1.0).astype(np.float32).reshape(shape)
