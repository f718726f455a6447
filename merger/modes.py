"""The merge modes: how each puts a predicted face into its frame once the mask is built (`merger.masked`), and
their registry `MERGE_MODES` with each mode's interactive key, the settings that apply to it and whether it works on
one-channel faces.

A new merge mode is a function (or a callable class) from a `FaceMerge` to a `FaceLayer` plus one registry line;
the config's choices and DFL ids, the prompts, the interactive keys and the summary all follow the registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from core import interact
from core.imagelib.filters import blursharpen, linear_motion_blur
from merger.color import MERGE_COLOR_TRANSFERS, masked_hist_match
from merger.masked import FaceLayer, FaceMerge, from_float, warp_to_face, warp_to_frame

# The settings that apply to a mode (DFL's one-time questions ask these after the mode).
RAW_OPTIONS = ("mask_mode", "output_face_scale", "sharpen_mode", "blursharpen_amount")
BLEND_OPTIONS = ("mask_mode", "erode_mask_modifier", "blur_mask_modifier", "motion_blur_power", "output_face_scale",
                 "color_transfer_mode", "sharpen_mode", "blursharpen_amount", "image_denoise_power",
                 "bicubic_degrade_power", "color_degrade_power")
HIST_OPTIONS = ("masked_hist_match", "hist_match_threshold")


@dataclass(frozen=True)
class MergeMode:
    """One merge mode: its name (the JSON value; its place in `MERGE_MODES` is DFL's numeric id), its key in the
    interactive merger, `paste` (the mode itself) and the settings that apply to it."""

    name: str
    key: str
    paste: Callable[[FaceMerge], FaceLayer]
    options: tuple[str, ...]
    raw: bool = False          # the mask is used as the model gives it: no erode / blur
    face_only: bool = False    # the output is the predicted face square itself, not a frame
    gray: bool = True          # works on one-channel (SAEHDBW) faces


def original(m: FaceMerge) -> FaceLayer:
    """The frame as it is (only the mask is written)."""
    return m.nothing()


def raw_rgb(m: FaceMerge) -> FaceLayer:
    """The whole predicted square pasted over the frame, the mask ignored."""
    res = m.prd.shape[0]
    square = warp_to_frame(np.ones((res, res, 1), np.float32), m.face.out_mat, m.size)
    return FaceLayer(m.face.roi, m.face_to_frame(m.prd), np.clip(square, 0.0, 1.0), m.frame_mask)


def raw_predict(m: FaceMerge) -> FaceLayer:
    """The predicted face itself (the frame's output is the face square, see `MergeMode.face_only`)."""
    none = np.zeros(m.frame_mask.shape, np.float32)
    return FaceLayer(m.face.roi, None, none, m.frame_mask, raw_face=m.prd, raw_mask=m.face_mask)


def seamless_clone(out: np.ndarray, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson-blend `out` into `frame` over the mask's > 0.1 area (DFL's binarised seamless mask)."""
    binary = mask[..., 0] > 0.1
    if not binary.any():
        return out
    c = out.shape[2]
    src = np.repeat(out, 3, axis=2) if c == 1 else out
    dst = np.repeat(frame, 3, axis=2) if c == 1 else frame
    m8 = binary.astype(np.uint8) * 255
    x, y, w, h = cv2.boundingRect(m8)
    try:
        cloned = cv2.seamlessClone(from_float(src, np.uint8), from_float(dst, np.uint8), m8,
                                   (int(x + w / 2), int(y + h / 2)), cv2.NORMAL_CLONE)
    except cv2.error as err:
        interact.log_warn(f"seamless blending failed, using overlay for this face: {str(err).strip()[:120]}")
        return out
    cloned = cloned.astype(np.float32) / 255.0
    return cloned[..., :1] if c == 1 else cloned


def has_region(mask: np.ndarray) -> bool:
    """DFL pastes the face only if the mask's >= 0.1 area spans at least 4 px each way."""
    ys, xs = np.nonzero(mask[..., 0] >= 0.1)
    return ys.size > 0 and min(xs.max() - xs.min(), ys.max() - ys.min()) >= 4


@dataclass(frozen=True)
class Blend:
    """The overlay family: the colour-matched predicted face blended into the frame through the mask, then DFL's
    face-space post-filters (motion blur, blur/sharpen, image degrade). `seamless` Poisson-blends the face and
    matches the colours of the blended face instead of the predicted one; `hist_match` adds histogram matching to
    the colour transfer (on the face area only with `masked_hist_match`, which seamless blending does not take)."""

    seamless: bool = False
    hist_match: bool = False

    def _match(self, face: np.ndarray, m: FaceMerge) -> np.ndarray:
        cfg = m.cfg
        face = MERGE_COLOR_TRANSFERS[cfg.color_transfer_mode].apply(face, m.dst_face, m.area)
        if self.hist_match:
            area = m.area if cfg.masked_hist_match and not self.seamless else None
            face = masked_hist_match(face, m.dst_face, area, cfg.hist_match_threshold)
        return face

    def __call__(self, m: FaceMerge) -> FaceLayer:
        if not has_region(m.frame_mask):
            return m.nothing()
        cfg, mask = m.cfg, m.frame_mask
        out = m.face_to_frame(m.prd if self.seamless else self._match(m.prd, m))
        if self.seamless:
            out = seamless_clone(out, m.frame_roi, mask)
        degrade = cfg.image_denoise_power > 0 or cfg.bicubic_degrade_power > 0
        transfer = MERGE_COLOR_TRANSFERS[cfg.color_transfer_mode]
        matched = self.seamless and (self.hist_match or transfer.match is not None)   # colours matched after blending
        if not (matched or cfg.motion_blur_power > 0 or cfg.blursharpen_amount != 0 or degrade):
            return FaceLayer(m.face.roi, out, mask, mask, blended=True)
        # Face-space post-processing of the blended result.
        blended = m.frame_roi * (1.0 - mask) + out * mask
        of = np.clip(warp_to_face(blended, m.face.face_mat, m.prd.shape[0]), 0.0, 1.0)
        if self.seamless:
            of = self._match(of, m)
        if cfg.motion_blur_power > 0 and m.motion is not None:
            k = int(m.motion.power * cfg.motion_blur_power / 100.0)
            if k >= 1:
                of = linear_motion_blur(of, int(np.clip(k + 1, 2, 50)), m.motion.deg)
        if cfg.blursharpen_amount != 0:
            of = blursharpen(of, cfg.sharpen_mode, 3, cfg.blursharpen_amount)
        image = warp_to_frame(np.ascontiguousarray(of, np.float32), m.face.face_mat, m.size)
        return FaceLayer(m.face.roi, image, mask, mask, blended=True, degrade_background=degrade)


# DFL's order (ids 0..6) and interactive keys. A new merge mode: one line here.
MERGE_MODES: dict[str, MergeMode] = {m.name: m for m in (
    MergeMode("original", "`", original, BLEND_OPTIONS),
    MergeMode("overlay", "1", Blend(), BLEND_OPTIONS),
    MergeMode("hist-match", "2", Blend(hist_match=True), HIST_OPTIONS + BLEND_OPTIONS),
    MergeMode("seamless", "3", Blend(seamless=True), BLEND_OPTIONS),
    MergeMode("seamless-hist-match", "4", Blend(seamless=True, hist_match=True),
              ("hist_match_threshold",) + BLEND_OPTIONS),
    MergeMode("raw-rgb", "5", raw_rgb, RAW_OPTIONS, raw=True),
    MergeMode("raw-predict", "6", raw_predict, RAW_OPTIONS, raw=True, face_only=True),
)}
