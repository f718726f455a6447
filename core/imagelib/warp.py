"""DFL's random sample augmentation: a smooth grid warp plus a random similarity transform and flip.

`gen_warp_params` draws the random numbers the way DeepFaceLab does (rotation, scale, shift, flip with
probability 0.4; a coarse grid of cell w/2, w/4 or w/8 whose inner nodes jitter by N(0, 0.24 cell)).
`warp_by_params` applies them. Instead of DFL's chain (full-size remap, then warpAffine, then mirror) every
stage here is folded into one coordinate map, so an image is resampled once:

    output pixel p  --flip-->  --inverse affine-->  --grid warp-->  source coordinate

The grid is stored small (cell_count x cell_count); its bilinear upsampling is itself an affine lookup, so the
full-resolution map comes from one `cv2.warpAffine` of the small grid. A grid with no jitter is an exact
identity (DFL's upsampling leaves a half-pixel shift; this version corrects it).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_WARP_SIZE = 64  # DFL works at 64 px for smaller images


@dataclass(frozen=True)
class WarpParams:
    """One random draw. `grid` is (cell_count, cell_count, 2) float32 source x/y in `w`-pixel coordinates."""

    w: int                  # working size (>= 64)
    size: int               # the image size these params were drawn for (may be < w)
    grid: np.ndarray
    cell_size: int
    rmat: np.ndarray        # 2x3 random similarity transform in working coordinates
    flip: bool

    @property
    def umat(self) -> np.ndarray:
        """`rmat` with its translation in units of the image size (DFL's resolution-independent form)."""
        m = self.rmat.copy()
        m[:, 2] /= self.w
        return m


def identity_params(size: int, cell_size: int | None = None) -> WarpParams:
    """Parameters that leave an image unchanged (useful for tests and previews)."""
    w = max(size, MIN_WARP_SIZE)
    cell = cell_size or w // 4
    return WarpParams(w, size, _regular_grid(w, cell), cell, np.array([[1, 0, 0], [0, 1, 0]], np.float64), False)


def _regular_grid(w: int, cell: int) -> np.ndarray:
    count = w // cell + 1
    # DFL places the nodes at linspace(0, w); the -0.5 makes the upsampled map an exact identity.
    nodes = np.linspace(0, w, count, dtype=np.float32) - 0.5
    gx, gy = np.meshgrid(nodes, nodes)
    return np.dstack([gx, gy]).astype(np.float32)


def _rng(state) -> np.random.Generator | np.random.RandomState:
    return np.random.default_rng() if state is None else state


def _randint(rng, high: int) -> int:
    return int(rng.integers(high)) if isinstance(rng, np.random.Generator) else int(rng.randint(high))


def gen_warp_params(w: int, flip: bool = False, rotation_range=(-10, 10), scale_range=(-0.05, 0.05),
                    tx_range=(-0.05, 0.05), ty_range=(-0.05, 0.05), rnd_state=None,
                    warp_rnd_state=None) -> WarpParams:
    """Draw DFL's random transform for a `w` x `w` image.

    rotation U(rotation_range) degrees about (w//2, w//2); scale U(1/(1-scale_min), 1+scale_max); shift
    U(tx_range)*w, U(ty_range)*w; mirror with probability 0.4 when `flip`. The warp grid uses its own
    random state so callers can share the transform but not the warp (or vice versa).
    """
    size = int(w)
    w = max(size, MIN_WARP_SIZE)
    rng, wrng = _rng(rnd_state), _rng(warp_rnd_state)
    rotation = rng.uniform(*rotation_range)
    scale = rng.uniform(1.0 / (1.0 - scale_range[0]), 1.0 + scale_range[1])
    tx, ty = rng.uniform(*tx_range), rng.uniform(*ty_range)
    do_flip = bool(flip) and _randint(rng, 10) < 4

    cell = w // (2 ** (1 + _randint(wrng, 3)))
    grid = _regular_grid(w, cell)
    inner = grid.shape[0] - 2
    jitter = wrng.normal(size=(inner, inner, 2)).astype(np.float32) * np.float32(cell * 0.24)
    grid[1:-1, 1:-1] += jitter

    rmat = cv2.getRotationMatrix2D((w // 2, w // 2), rotation, scale)
    rmat[:, 2] += (tx * w, ty * w)
    return WarpParams(w, size, grid, cell, rmat, do_flip)


def _h(m: np.ndarray) -> np.ndarray:
    """2x3 -> 3x3 homogeneous."""
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _scale_mat(s: float) -> np.ndarray:
    """Pixel-centre scaling between an image of size n and one of size n*s (cv2.resize convention)."""
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1.0]])


def output_to_source(params: WarpParams, can_transform: bool = True, can_flip: bool = True,
                     out_size: int | None = None, src_size: int | None = None) -> np.ndarray:
    """3x3 matrix taking an output pixel to working-space coordinates *before* the affine (i.e. the
    coordinates where the warp grid is looked up), with the input of size `src_size` and output `out_size`.

    Without warp, compose with `to_source_pixels` to reach the source image directly.
    """
    w = params.w
    out = out_size or params.size
    m = _scale_mat(w / out)                          # output pixel -> working pixel
    if can_flip and params.flip:
        m = np.array([[-1.0, 0, w - 1], [0, 1, 0], [0, 0, 1]]) @ m
    if can_transform:
        m = np.linalg.inv(_h(params.rmat)) @ m
    return m


def to_source_pixels(params: WarpParams, src_size: int | None = None) -> np.ndarray:
    """3x3 matrix from working-space pixels to source-image pixels (identity when sizes match)."""
    return _scale_mat((src_size or params.size) / params.w)


def grid_map(params: WarpParams) -> np.ndarray:
    """The full-resolution warp lookup (w x w x 2 float32): working pixel -> warped source pixel."""
    w, cell = params.w, params.cell_size
    half = cell // 2
    full = cv2.resize(params.grid, (w + cell, w + cell), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(full[half:half + w, half:half + w])


def warp_maps(params: WarpParams, can_warp: bool = True, can_transform: bool = True, can_flip: bool = True,
              out_size: int | None = None, src_size: int | None = None, pre: np.ndarray | None = None,
              border_replicate: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The composed lookup: `(map_xy, None)` for `cv2.remap` when warping, else `(None, mat2x3)` with
    `mat2x3` taking output pixels to source pixels (for `cv2.WARP_INVERSE_MAP`).

    `pre` (3x3, optional) maps source-image pixels on to the pixels of yet another image (e.g. the original
    face before a face-type re-alignment), so that chain is resampled only once too.
    """
    out = out_size or params.size
    to_src = to_source_pixels(params, src_size)
    if pre is not None:
        to_src = pre @ to_src
    head = output_to_source(params, can_transform, can_flip, out)
    if not can_warp:
        return None, (to_src @ head)[:2]
    map_xy = grid_map(params)
    if not np.allclose(head, np.eye(3)):
        inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        map_xy = cv2.warpAffine(map_xy, head[:2], (out, out), flags=inverse, borderMode=cv2.BORDER_REPLICATE)
        if not border_replicate:  # DFL fills zeros outside the transformed square (masks): point there far away
            inside = cv2.warpAffine(np.ones((params.w, params.w), np.uint8), head[:2], (out, out),
                                    flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
            map_xy[inside == 0] = -4.0 * params.w
    if not np.allclose(to_src, np.eye(3)):
        map_xy = cv2.transform(map_xy, to_src[:2].astype(np.float32))
    return map_xy, None


def apply_maps(img: np.ndarray, maps, out_size: int, border_replicate: bool = True,
               interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """Resample `img` with the result of `warp_maps`; keeps a trailing channel axis when the input had one."""
    map_xy, mat = maps
    border = cv2.BORDER_REPLICATE if border_replicate else cv2.BORDER_CONSTANT
    if map_xy is not None:
        res = cv2.remap(img, map_xy, None, interpolation, borderMode=border)
    else:
        res = cv2.warpAffine(img, mat, (out_size, out_size), flags=interpolation | cv2.WARP_INVERSE_MAP,
                             borderMode=border)
    if img.ndim == 3 and res.ndim == 2:
        res = res[..., None]
    return res


def warp_by_params(params: WarpParams, img: np.ndarray, can_warp: bool = True, can_transform: bool = True,
                   can_flip: bool = True, border_replicate: bool = True,
                   cv2_inter: int = cv2.INTER_CUBIC) -> np.ndarray:
    """Apply warp (before the affine), affine and flip to a square image of size `params.size`, in one
    resampling. Masks: pass `border_replicate=False` and `cv2.INTER_LINEAR`."""
    size = img.shape[0]
    if not (can_warp or can_transform or (can_flip and params.flip)):
        return img
    maps = warp_maps(params, can_warp, can_transform, can_flip, out_size=size, src_size=size,
                     border_replicate=border_replicate)
    return apply_maps(img, maps, size, border_replicate, cv2_inter)
