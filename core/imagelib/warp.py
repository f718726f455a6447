"""DFL's random sample augmentation: a smooth grid warp plus a random similarity transform and flip.

`gen_warp_params` draws the random numbers the way DeepFaceLab does (rotation, scale, shift, flip with
probability 0.4; a coarse grid of cell w/2, w/4 or w/8 whose inner nodes jitter by N(0, 0.24 cell)).
Instead of DFL's chain (full-size remap, then warpAffine, then mirror) the stages are folded into one
coordinate map per output, so an image is resampled once:

    output pixel p --mirror--> --inverse similarity--> q --grid warp--> q + D(q) --> source pixel

`sample_maps` gives the maps for one draw with and without the warp (the target and the warped input of a
training sample share everything but the warp). The warp field D is DFL's bilinearly upsampled grid; an
unjittered grid is an exact identity (DFL's upsampling leaves a half-pixel shift, corrected here).
`warp_by_params` keeps DFL's calling convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

MIN_WARP_SIZE = 64  # DFL works at 64 px for smaller images
_IDENTITY = np.array([[1.0, 0, 0], [0, 1.0, 0]])


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


@lru_cache(maxsize=32)
def _regular_grid_cached(w: int, cell: int) -> np.ndarray:
    grid = _regular_grid(w, cell)
    grid.setflags(write=False)
    return grid


def _regular_grid(w: int, cell: int) -> np.ndarray:
    count = w // cell + 1
    # DFL places the nodes at linspace(0, w); the -0.5 makes the upsampled map an exact identity.
    nodes = np.linspace(0, w, count, dtype=np.float32) - 0.5
    gx, gy = np.meshgrid(nodes, nodes)
    return np.dstack([gx, gy]).astype(np.float32)


def _rng(state) -> np.random.Generator | np.random.RandomState:
    return np.random.default_rng() if state is None else state


def gen_warp_params(w: int, flip: bool = False, rotation_range=(-10, 10), scale_range=(-0.05, 0.05),
                    tx_range=(-0.05, 0.05), ty_range=(-0.05, 0.05), rnd_state=None,
                    warp_rnd_state=None) -> WarpParams:
    """Draw DFL's random transform for a `w` x `w` image.

    rotation U(rotation_range) degrees about (w//2, w//2); scale U(1/(1-scale_min), 1+scale_max); shift
    U(tx_range)*w, U(ty_range)*w; mirror with probability 0.4 when `flip`; grid cell w/2, w/4 or w/8 with
    equal odds. `rnd_state` / `warp_rnd_state`: numpy Generator or RandomState for the transform and for the
    warp grid (so callers can share one and not the other).
    """
    size = int(w)
    w = max(size, MIN_WARP_SIZE)
    rng, wrng = _rng(rnd_state), _rng(warp_rnd_state)
    u = rng.random(5)
    rotation = rotation_range[0] + u[0] * (rotation_range[1] - rotation_range[0])
    lo = 1.0 / (1.0 - scale_range[0])
    scale = lo + u[1] * (1.0 + scale_range[1] - lo)
    tx = tx_range[0] + u[2] * (tx_range[1] - tx_range[0])
    ty = ty_range[0] + u[3] * (ty_range[1] - ty_range[0])
    do_flip = bool(flip) and u[4] < 0.4

    cell = w >> (1 + min(2, int(wrng.random() * 3)))
    grid = _regular_grid_cached(w, cell).copy()
    inner = grid.shape[0] - 2
    grid[1:-1, 1:-1] += wrng.normal(0.0, cell * 0.24, size=(inner, inner, 2)).astype(np.float32)

    rmat = cv2.getRotationMatrix2D((w // 2, w // 2), rotation, scale)
    rmat[0, 2] += tx * w
    rmat[1, 2] += ty * w
    return WarpParams(w, size, grid, cell, rmat, do_flip)


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2x3 affine `a` after `b`."""
    out = a[:, :2] @ b
    out[:, 2] += a[:, 2]
    return out


def _scale_mat(s: float) -> np.ndarray:
    """2x3 pixel-centre scaling between an image of size n and one of size n*s (cv2.resize convention)."""
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5]])


def _output_to_working(params: WarpParams, can_transform: bool, can_flip: bool, out: int) -> np.ndarray:
    """2x3: output pixel -> working-space pixel before the affine (where the warp grid is looked up)."""
    w = params.w
    m = _scale_mat(w / out)
    if can_flip and params.flip:
        m = _compose(np.array([[-1.0, 0, w - 1], [0, 1, 0]]), m)
    if can_transform:
        m = _compose(cv2.invertAffineTransform(params.rmat), m)
    return m


def source_affine(params: WarpParams, can_transform: bool = True, can_flip: bool = True,
                  out_size: int | None = None, src_size: int | None = None) -> np.ndarray:
    """2x3 matrix taking output pixels to source pixels when no warp is involved (for WARP_INVERSE_MAP or
    `affine_map`)."""
    out = out_size or params.size
    head = _output_to_working(params, can_transform, can_flip, out)
    return _compose(_scale_mat((src_size or params.size) / params.w), head)


def _upsample(nodes: np.ndarray, params: WarpParams) -> np.ndarray:
    """DFL's upsampling of a node grid: bilinear resize to w + cell, cropped by half a cell each side."""
    w, cell = params.w, params.cell_size
    half = cell // 2
    return cv2.resize(nodes, (w + cell, w + cell), interpolation=cv2.INTER_LINEAR)[half:half + w, half:half + w]


def grid_map(params: WarpParams) -> np.ndarray:
    """(w, w, 2) float32 warp lookup in working space: pixel -> warped pixel (DFL's `mapx`, `mapy`)."""
    return _upsample(params.grid, params)


@lru_cache(maxsize=32)
def _pixel_grid(n: int) -> np.ndarray:
    """(n, n, 2) float32 coordinates (x, y) of every pixel of an n x n image."""
    axis = np.arange(n, dtype=np.float32)
    gx, gy = np.meshgrid(axis, axis)
    grid = np.dstack([gx, gy]).astype(np.float32)
    grid.setflags(write=False)
    return grid


def affine_map(mat: np.ndarray, out_size: int) -> np.ndarray:
    """(out, out, 2) float32 source coordinates of every output pixel under the 2x3 `mat` (output -> source)."""
    return cv2.transform(_pixel_grid(out_size), np.asarray(mat, np.float32))


def displacement_map(params: WarpParams) -> np.ndarray:
    """(w, w, 2) float32 warp displacement in working space: `grid_map` minus each pixel's own position. It is
    zero along the border, whose grid nodes never move, and is taken as zero outside (DFL clamps there)."""
    return _upsample(params.grid - _regular_grid_cached(params.w, params.cell_size), params)


def sample_maps(params: WarpParams, out_size: int | None = None, src_size: int | None = None,
                can_transform: bool = True, can_flip: bool = True,
                with_warp: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """`cv2.remap` lookups (out, out, 2 float32, output pixel -> source pixel) for the same draw without and
    with the warp: `(affine_map, warp_map)`; `warp_map` is None when `with_warp` is False.

    The warp map is the affine position plus the warp displacement looked up there (exactly, bilinearly).
    Positions outside the working square stay outside, so `cv2.remap`'s border mode decides there: replicate
    for faces, zeros for masks, as DFL's warpAffine does.
    """
    out = out_size or params.size
    head = _output_to_working(params, can_transform, can_flip, out)
    position = affine_map(head, out)
    to_src = _scale_mat((src_size or params.size) / params.w)
    same = np.array_equal(to_src, _IDENTITY)
    plain = position if same else cv2.transform(position, to_src.astype(np.float32))
    if not with_warp:
        return plain, None
    shift = cv2.remap(displacement_map(params), position, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    warped = cv2.add(position, shift)
    return plain, (warped if same else cv2.transform(warped, to_src.astype(np.float32)))


def warp_map(params: WarpParams, can_transform: bool = True, can_flip: bool = True, out_size: int | None = None,
             src_size: int | None = None) -> np.ndarray:
    """(out, out, 2) float32 `cv2.remap` lookup: output pixel -> flip -> inverse affine -> warp -> source pixel."""
    return sample_maps(params, out_size, src_size, can_transform, can_flip)[1]


def remap(img: np.ndarray, map_xy: np.ndarray, interpolation: int = cv2.INTER_CUBIC,
          border_replicate: bool = True) -> np.ndarray:
    """`cv2.remap` that keeps a trailing channel axis when the input had one."""
    border = cv2.BORDER_REPLICATE if border_replicate else cv2.BORDER_CONSTANT
    res = cv2.remap(img, map_xy, None, interpolation, borderMode=border)
    return res[..., None] if img.ndim == 3 and res.ndim == 2 else res


def warp_by_params(params: WarpParams, img: np.ndarray, can_warp: bool = True, can_transform: bool = True,
                   can_flip: bool = True, border_replicate: bool = True,
                   cv2_inter: int = cv2.INTER_CUBIC) -> np.ndarray:
    """DFL's `warp_by_params`: warp (before the affine), affine and flip of a square image, resampled once.
    Masks: pass `border_replicate=False` and `cv2.INTER_LINEAR`."""
    size = img.shape[0]
    if not (can_warp or can_transform or (can_flip and params.flip)):
        return img
    if can_warp:
        map_xy = warp_map(params, can_transform, can_flip, size, size)
    else:
        map_xy = affine_map(source_affine(params, can_transform, can_flip, size, size), size)
    return remap(img, map_xy, cv2_inter, border_replicate)
