"""Merge masks: the mask-mode registry (which mask says where the new face goes) and the erode/blur shaping.

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


def _xseg(value: np.ndarray | None, mode: str) -> np.ndarray:
    if value is None:
        raise UserError(f"mask mode {mode} needs XSeg masks, but this merge has no trained XSeg model; "
                        "choose dst or a learned-* mask mode")
    return value


MASK_BUILDERS: dict[str, Callable[[MaskSources], np.ndarray]] = {
    "full": lambda s: np.ones_like(s.dst_hull),
    "dst": lambda s: s.dst_hull,
    "learned-prd": lambda s: s.learned_prd,
    "learned-dst": lambda s: s.learned_dst,
    "learned-prd*learned-dst": lambda s: s.learned_prd * s.learned_dst,
    "learned-prd+learned-dst": lambda s: np.clip(s.learned_prd + s.learned_dst, 0.0, 1.0),
    "XSeg-prd": lambda s: _xseg(s.xseg_prd, "XSeg-prd"),
    "XSeg-dst": lambda s: _xseg(s.xseg_dst, "XSeg-dst"),
    "XSeg-prd*XSeg-dst": lambda s: _xseg(s.xseg_prd, "XSeg-prd*XSeg-dst") * _xseg(s.xseg_dst, "XSeg-prd*XSeg-dst"),
    "learned-prd*learned-dst*XSeg-prd*XSeg-dst": lambda s: (
        s.learned_prd * s.learned_dst * _xseg(s.xseg_prd, "XSeg") * _xseg(s.xseg_dst, "XSeg")),
}
XSEG_MASK_MODES = tuple(m for m in MASK_BUILDERS if "XSeg" in m)


def build_mask(mode: str, sources: MaskSources) -> np.ndarray:
    """The RxRx1 working mask of `mode`, values below 1/255 set to 0."""
    mask = np.clip(MASK_BUILDERS[mode](sources), 0.0, 1.0).astype(np.float32)
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
