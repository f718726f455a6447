"""Colour frames out of one-channel (SAEHDBW) faces.

`gray`  the fork's behaviour: the whole output frame is grayscale.
`luma`  the frame keeps its colour: only the luminance (Y of YCrCb, the same weights as the gray faces the model
        was trained on) of the face region is replaced; the chroma planes (Cr, Cb) are the frame's own.
`precomputed` is a face *source* (see `merger.predicted`); its faces are merged like `luma` (gray faces) or
        directly (faces a colorizer turned into colour).
`colorize` the model source colours each gray face with the Colorizer model (src's colour, `models.colorizer`);
        the faces are then merged as colour faces.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.imagelib.filters import color_degrade
from merger.config import MergerConfig
from merger.masked import FacePrediction, FrameResult, Motion, PreparedFace, merge_faces, to_float, from_float

BW_OUTPUTS = ("gray", "luma", "precomputed", "colorize")
COLOR_MODES = ("color", "gray", "luma")   # how one frame is merged, see `color_mode`

Faces = list[tuple[PreparedFace, FacePrediction, Motion | None]]


def color_mode(face_channels: int, bw_output: str) -> str:
    """How faces with `face_channels` channels go into colour frames under `--bw-output`."""
    if face_channels == 3:
        return "color"
    return "gray" if bw_output == "gray" else "luma"


def to_gray(frame_bgr: np.ndarray) -> np.ndarray:
    """HxWx1 gray (OpenCV's BT.601 weights, what the grayscale facesets were made with)."""
    if frame_bgr.shape[2] == 1:
        return frame_bgr
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)[..., None]


def model_view(frame_bgr: np.ndarray, channels: int) -> np.ndarray:
    """The frame as the model sees it: BGR for colour models, gray for one-channel models."""
    return to_gray(frame_bgr) if channels == 1 else frame_bgr


def _union_box(faces: Faces, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if not faces:
        return 0, 0, 0, 0
    rois = np.array([face.roi for face, _, _ in faces])
    return int(rois[:, 0].min()), int(rois[:, 1].min()), int(rois[:, 2].max()), int(rois[:, 3].max())


def merge_luma(frame_bgr: np.ndarray, faces: Faces, cfg: MergerConfig) -> FrameResult:
    """Merge gray faces into the luminance of a colour frame, keeping its chroma."""
    whole = cfg.image_denoise_power > 0 or cfg.bicubic_degrade_power > 0 or cfg.color_degrade_power > 0
    h, w = frame_bgr.shape[:2]
    x0, y0, x1, y1 = (0, 0, w, h) if whole else _union_box(faces, frame_bgr.shape)
    crop = frame_bgr[y0:y1, x0:x1]
    ycc = cv2.cvtColor(to_float(crop), cv2.COLOR_BGR2YCrCb)
    luma = np.ascontiguousarray(ycc[..., :1])
    # colour degrade belongs to the colour frame (a 256-colour palette), not to the gray plane
    res = merge_faces(luma, [(f.shifted(x0, y0), p, m) for f, p, m in faces], cfg.copy(color_degrade_power=0))
    if cfg.merge_mode.face_only:     # the gray predicted face itself, as 8-bit like every written frame
        return FrameResult(from_float(res.image, np.uint8), res.mask)
    changed = res.image[..., 0] != luma[..., 0]
    ycc[..., :1] = res.image
    out = frame_bgr.copy()
    region = out[y0:y1, x0:x1]
    region[changed] = from_float(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR), np.uint8)[changed]
    if cfg.color_degrade_power > 0 and changed.any():
        out = from_float(color_degrade(to_float(out), cfg.color_degrade_power, 256), np.uint8)
    mask = np.zeros((h, w), np.float32)
    mask[y0:y1, x0:x1] = res.mask
    return FrameResult(out, mask)


def merge_frame(frame_bgr: np.ndarray, faces: Faces, cfg: MergerConfig, mode: str) -> FrameResult:
    """Merge all faces of a BGR uint8 frame; `mode` from `color_mode` (gray output is HxWx1)."""
    if mode == "luma":
        return merge_luma(frame_bgr, faces, cfg)
    if mode == "gray":
        return merge_faces(to_gray(frame_bgr), faces, cfg)
    return merge_faces(frame_bgr, faces, cfg)
