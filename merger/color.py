"""The merger's colour matching of a predicted face to the frame's face: DFL's color transfer modes composed
from `core.imagelib.color_transfer` (the -m variants work on the face area only) in the registry
`MERGE_COLOR_TRANSFERS`, and histogram matching.

Every function takes float32 faces in [0, 1] (RxRxC, C = 1 or 3) and the binary face-area mask (RxRx1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from core.imagelib.color_transfer import color_transfer

# Fixed seed: the same frame merged twice gives the same pixels (idt and sot draw random directions).
SEED = 0
SOT_MERGE_DIRECTIONS = 30   # the merger's sot-m uses more directions per step than training's sot
MIX_SOT_DIRECTIONS = 5


def _masked(face: np.ndarray, area: np.ndarray) -> np.ndarray:
    return face * area


def _rct(prd, dst, area):
    return color_transfer("rct", prd, dst, img_mask=area, ref_mask=area)


def _lct(prd, dst, area):
    return color_transfer("lct", prd, dst)


def _mkl(prd, dst, area):
    return color_transfer("mkl", prd, dst)


def _mkl_m(prd, dst, area):
    return color_transfer("mkl", _masked(prd, area), _masked(dst, area))


def _idt(prd, dst, area):
    return color_transfer("idt", prd, dst, rng=SEED)


def _idt_m(prd, dst, area):
    return color_transfer("idt", _masked(prd, area), _masked(dst, area), rng=SEED)


def _sot_m(prd, dst, area):
    return color_transfer("sot", _masked(prd, area), _masked(dst, area), rng=SEED, steps=10,
                          batch_size=SOT_MERGE_DIRECTIONS)


# The constant lightness mix-m gives both faces while sot moves their colour: DFL writes 100 into the 8-bit L plane
# (0..255), i.e. L = 39 of 100. A mid lightness keeps every hue inside the sRGB gamut; at L = 100 all colours
# clip to white and the chroma is lost (the result turned gray-green).
MIX_CHROMA_L = 100.0 * 100.0 / 255.0


def _mix_m(prd, dst, area):
    """Lightness by lct, colour by sot: on the masked faces, L (Lab) is matched linearly; both faces get a constant
    mid L so that sot moves only their chroma; the result takes back the matched L."""
    src, ref = _masked(prd, area), _masked(dst, area)
    if src.shape[2] == 1:
        return color_transfer("lct", src, ref)
    src_lab = cv2.cvtColor(src, cv2.COLOR_BGR2LAB)
    ref_lab = cv2.cvtColor(ref, cv2.COLOR_BGR2LAB)
    light = color_transfer("lct", src_lab[..., :1] / 100.0, ref_lab[..., :1] / 100.0)[..., 0] * 100.0
    src_lab[..., 0] = MIX_CHROMA_L
    ref_lab[..., 0] = MIX_CHROMA_L
    src_chroma = np.clip(cv2.cvtColor(src_lab, cv2.COLOR_LAB2BGR), 0, 1)
    ref_chroma = np.clip(cv2.cvtColor(ref_lab, cv2.COLOR_LAB2BGR), 0, 1)
    moved = color_transfer("sot", src_chroma, ref_chroma, rng=SEED, steps=10, batch_size=MIX_SOT_DIRECTIONS)
    out_lab = cv2.cvtColor(moved, cv2.COLOR_BGR2LAB)
    out_lab[..., 0] = light
    return np.clip(cv2.cvtColor(out_lab, cv2.COLOR_LAB2BGR), 0, 1)


MergeTransfer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ColorTransfer:
    """One colour transfer mode: its name (the JSON value; its place in `MERGE_COLOR_TRANSFERS` is DFL's numeric id)
    and `match(prd, dst, area)`, None for the mode that keeps the predicted face's colours."""

    name: str
    match: MergeTransfer | None

    def apply(self, prd: np.ndarray, dst: np.ndarray, area: np.ndarray) -> np.ndarray:
        if self.match is None:
            return prd
        return np.clip(self.match(prd, dst, area), 0.0, 1.0).astype(np.float32).reshape(prd.shape)


# DFL's order (ids 0..8). A new colour transfer: its function above and one line here.
MERGE_COLOR_TRANSFERS: dict[str, ColorTransfer] = {t.name: t for t in (
    ColorTransfer("none", None),
    ColorTransfer("rct", _rct),
    ColorTransfer("lct", _lct),
    ColorTransfer("mkl", _mkl),
    ColorTransfer("mkl-m", _mkl_m),
    ColorTransfer("idt", _idt),
    ColorTransfer("idt-m", _idt_m),
    ColorTransfer("sot-m", _sot_m),
    ColorTransfer("mix-m", _mix_m),
)}


def apply_color_transfer(mode: str, prd: np.ndarray, dst: np.ndarray, area: np.ndarray) -> np.ndarray:
    """`prd` with its colours matched to `dst` by merge transfer `mode` ('none' returns `prd`)."""
    return MERGE_COLOR_TRANSFERS[mode].apply(prd, dst, area)


def _hist_match_channel(src: np.ndarray, ref: np.ndarray, threshold: int) -> np.ndarray:
    s_values, s_index, s_counts = np.unique(src.ravel(), return_inverse=True, return_counts=True)
    r_values, r_counts = np.unique(ref.ravel(), return_counts=True)
    s_quant = np.cumsum(s_counts, dtype=np.float64)
    s_quant *= threshold / s_quant[-1]
    r_quant = np.cumsum(r_counts, dtype=np.float64)
    r_quant *= 255.0 / r_quant[-1]
    mapped = np.interp(s_quant, r_quant, r_values)
    return mapped[s_index].reshape(src.shape).astype(np.float32)


def color_hist_match(src: np.ndarray, ref: np.ndarray, threshold: int = 255) -> np.ndarray:
    """Per-channel histogram matching of `src` to `ref` (HxWxC). `threshold` 255 is classic matching; lower values
    compress src's quantiles so its levels map onto darker reference levels."""
    out = np.empty_like(src, dtype=np.float32)
    for c in range(src.shape[2]):
        out[..., c] = _hist_match_channel(src[..., c], ref[..., c], threshold)
    return out


def masked_hist_match(prd: np.ndarray, dst: np.ndarray, area: np.ndarray | None, threshold: int) -> np.ndarray:
    """DFL's hist-match mode: outside the face area both faces are set to white, so only the area's levels
    decide the mapping (`area` None = whole square)."""
    hm = np.ones_like(prd[..., :1]) if area is None else area
    white = 1.0 - hm
    a = np.minimum(prd * hm + white, 1.0)
    b = dst * hm + white
    return color_hist_match(a, b, threshold)
