"""Merge masks: the mask-mode registry `MASK_BUILDERS` (which mask says where the new face goes; a new mask mode is
one line there) and the erode/blur shaping.

Masks here are float32 RxRx1 in face space (R = model resolution) or 4Rx4R for shaping.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from core.errors import UserError


@dataclass
class MaskSources:
    """Everything a mask mode may combine, all RxRx1 in face space."""

    dst_hull: np.ndarray          # landmark hull of the frame's face
    learned_prd: np.ndarray       # the model's mask of the predicted (src-looking) face
    learned_dst: np.ndarray       # the model's mask of the destination face
    xseg_prd: np.ndarray | None = None   # XSeg of the predicted face (needs an XSeg model)
    xseg_dst: np.ndarray | None = None   # XSeg of the frame's face


@dataclass(frozen=True)
class MaskMode:
    """One mask mode: its name (the JSON value; its place in `MASK_BUILDERS` is DFL's numeric id) and how it
    combines the `MaskSources`; `xseg` names the XSeg masks it uses (they need a trained XSeg model)."""

    name: str
    combine: Callable[[MaskSources], np.ndarray]
    xseg: tuple[str, ...] = ()

    def build(self, sources: MaskSources) -> np.ndarray:
        if any(getattr(sources, name) is None for name in self.xseg):
            raise UserError(f"mask mode {self.name} needs XSeg masks, but this merge has no trained XSeg model; "
                            "choose dst or a learned-* mask mode")
        return self.combine(sources)


BOTH_XSEG = ("xseg_prd", "xseg_dst")
# DFL's order (ids 0..9). A new mask mode: one line here.
MASK_BUILDERS: dict[str, MaskMode] = {m.name: m for m in (
    MaskMode("full", lambda s: np.ones_like(s.dst_hull)),
    MaskMode("dst", lambda s: s.dst_hull),
    MaskMode("learned-prd", lambda s: s.learned_prd),
    MaskMode("learned-dst", lambda s: s.learned_dst),
    MaskMode("learned-prd*learned-dst", lambda s: s.learned_prd * s.learned_dst),
    MaskMode("learned-prd+learned-dst", lambda s: np.clip(s.learned_prd + s.learned_dst, 0.0, 1.0)),
    MaskMode("XSeg-prd", lambda s: s.xseg_prd, xseg=("xseg_prd",)),
    MaskMode("XSeg-dst", lambda s: s.xseg_dst, xseg=("xseg_dst",)),
    MaskMode("XSeg-prd*XSeg-dst", lambda s: s.xseg_prd * s.xseg_dst, xseg=BOTH_XSEG),
    MaskMode("learned-prd*learned-dst*XSeg-prd*XSeg-dst",
             lambda s: s.learned_prd * s.learned_dst * s.xseg_prd * s.xseg_dst, xseg=BOTH_XSEG),
)}
XSEG_MASK_MODES = tuple(name for name, m in MASK_BUILDERS.items() if m.xseg)


def build_mask(mode: str, sources: MaskSources) -> np.ndarray:
    """The RxRx1 working mask of `mode`, values below 1/255 set to 0."""
    mask = np.clip(MASK_BUILDERS[mode].build(sources), 0.0, 1.0).astype(np.float32)
    mask[mask < 1.0 / 255.0] = 0.0
    return mask


def shape_mask(mask: np.ndarray, resolution: int, erode: int, blur: int) -> np.ndarray:
    """Erode (erode > 0) or dilate (erode < 0) then feather a 4Rx4R mask, keeping it inside the face square.

    The mask is padded by R so dilation has room; a border of R + blur//2 is cleared so the blurred edge
    still fades out before the square's edge.
    """
    pad = resolution
    m = np.pad(mask.reshape(mask.shape[:2]).astype(np.float32), pad)
    if erode > 0:
        m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (erode, erode)), iterations=1)
    elif erode < 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (-erode, -erode)), iterations=1)
    clear = pad + blur // 2
    m[:clear, :] = 0
    m[-clear:, :] = 0
    m[:, :clear] = 0
    m[:, -clear:] = 0
    if blur > 0:
        k = blur + (1 - blur % 2)
        m = cv2.GaussianBlur(m, (k, k), 0)
    return np.clip(m[pad:-pad, pad:-pad], 0.0, 1.0)[..., None]
