"""The masked merge of one predicted face into its frame (DFL's MergeMaskedFace), computed on the face's
bounding box only, and the composition of a frame's faces.

Flow per face: `prepare_face` cuts what the model needs (main process) → the model predicts → `merge_face`
builds the mask, matches colours, pastes and post-filters the face (worker) → `compose_frame` blends every
face layer into the frame. Frames are uint8 or float32 [0, 1] arrays HxWxC with C = 1 or 3.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from core import interact
from core.imagelib.filters import (bicubic_degrade, blursharpen, color_degrade, denoise_degrade,
                                   linear_motion_blur)
from facelib.landmarks import get_image_hull_mask, get_transform_mat
from merger.color import apply_color_transfer, color_hist_match, masked_hist_match
from merger.config import MergerConfig
from merger.masks import MaskSources, build_mask, shape_mask

ROI_MARGIN = 4  # pixels around the face square: room for cubic taps and seamless cloning's border


@dataclass
class FacePrediction:
    """What the model returns for one face (RxRxC face, RxRx1 masks, float32 in [0, 1])."""

    face: np.ndarray
    learned_prd: np.ndarray
    learned_dst: np.ndarray
    xseg_prd: np.ndarray | None = None   # an XSeg model's mask of the predicted face (RxRx1), when one is loaded
    xseg_dst: np.ndarray | None = None   # ... and of the destination face


MASK_FIELDS = ("learned_prd", "learned_dst", "xseg_prd", "xseg_dst")   # the RxRx1 masks of a FacePrediction


@dataclass
class Motion:
    """Movement of a face between its previous and next frame: length in pixels and direction in degrees."""

    power: float
    deg: float


@dataclass
class PreparedFace:
    """One face of a frame: its bounding box in the frame, the matrices from that box to face space, what the
    model sees and the landmark hull in face space."""

    roi: tuple[int, int, int, int]    # x0, y0, x1, y1 (frame pixels, end exclusive)
    face_mat: np.ndarray              # 2x3: roi pixels -> RxR face
    out_mat: np.ndarray               # 2x3: roi pixels -> RxR face with the output face scale applied
    dst_face: np.ndarray              # RxRxC model input, float32
    dst_hull: np.ndarray              # RxRx1 landmark hull in face space
    xseg_face: np.ndarray | None = None   # the XSeg model's input: the colour frame cut at its size, when one is loaded

    def shifted(self, dx: int, dy: int) -> "PreparedFace":
        """The same face inside a crop of the frame whose top-left corner is (dx, dy)."""
        x0, y0, x1, y1 = self.roi
        return dataclasses.replace(self, roi=(x0 - dx, y0 - dy, x1 - dx, y1 - dy))


@dataclass
class FaceLayer:
    """A merged face: `image` blended over the frame with weight `alpha` inside `roi`; `mask` is what goes into
    the merged-mask output."""

    roi: tuple[int, int, int, int]
    image: np.ndarray | None
    alpha: np.ndarray
    mask: np.ndarray
    blended: bool = False             # overlay-family result (enables colour degrade)
    degrade_background: bool = False
    raw_face: np.ndarray | None = None
    raw_mask: np.ndarray | None = None


def to_float(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float32) * np.float32(1.0 / 255.0)
    return img.astype(np.float32, copy=False)


def from_float(img: np.ndarray, dtype) -> np.ndarray:
    if dtype == np.uint8:
        return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _channels(img: np.ndarray, c: int) -> np.ndarray:
    return img.reshape(img.shape[:2] + (c,))


def _warp(img: np.ndarray, mat: np.ndarray, size: int) -> np.ndarray:
    """Frame (roi) -> face space, cubic."""
    out = cv2.warpAffine(img, mat, (size, size), flags=cv2.INTER_CUBIC)
    return _channels(out, img.shape[2])


def _warp_back(img: np.ndarray, mat: np.ndarray, wh: tuple[int, int], interp: int = cv2.INTER_CUBIC) -> np.ndarray:
    """Face space -> frame (roi), zeros outside the square."""
    out = cv2.warpAffine(img, mat, wh, flags=interp | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return _channels(out, img.shape[2])


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    return _channels(cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC), img.shape[2])


def _roi_mat(mat: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """The frame->face matrix re-expressed for pixel coordinates of a crop starting at (x0, y0)."""
    out = np.array(mat, np.float64, copy=True)
    out[:, 2] += out[:, :2] @ np.array([x0, y0], np.float64)
    return out


def _square_corners(mat: np.ndarray, size: int) -> np.ndarray:
    inv = cv2.invertAffineTransform(mat)
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float64)
    return corners @ inv[:, :2].T + inv[:, 2]


def prepare_face(frame: np.ndarray, landmarks: np.ndarray, resolution: int, face_type: str,
                 output_face_scale: int = 0, eyebrows_expand_mod: float = 1.0) -> PreparedFace | None:
    """Locate one face (68 frame landmarks) and cut its model input; None when its square misses the frame."""
    landmarks = np.asarray(landmarks, np.float64)
    face_mat = get_transform_mat(landmarks, resolution, face_type)
    out_mat = get_transform_mat(landmarks, resolution, face_type, scale=1.0 + 0.01 * output_face_scale)
    pts = np.concatenate([_square_corners(face_mat, resolution), _square_corners(out_mat, resolution)])
    h, w = frame.shape[:2]
    x0 = max(0, int(np.floor(pts[:, 0].min())) - ROI_MARGIN)
    y0 = max(0, int(np.floor(pts[:, 1].min())) - ROI_MARGIN)
    x1 = min(w, int(np.ceil(pts[:, 0].max())) + ROI_MARGIN + 1)
    y1 = min(h, int(np.ceil(pts[:, 1].max())) + ROI_MARGIN + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    c = 1 if frame.ndim == 2 else frame.shape[2]
    roi_img = to_float(_channels(frame, c)[y0:y1, x0:x1])
    face_mat, out_mat = _roi_mat(face_mat, x0, y0), _roi_mat(out_mat, x0, y0)
    hull = get_image_hull_mask((y1 - y0, x1 - x0), landmarks - (x0, y0), eyebrows_expand_mod)
    return PreparedFace(
        roi=(x0, y0, x1, y1), face_mat=face_mat, out_mat=out_mat,
        dst_face=np.clip(_warp(roi_img, face_mat, resolution), 0.0, 1.0),
        dst_hull=np.clip(_warp(hull, face_mat, resolution), 0.0, 1.0))


def xseg_crop(frame: np.ndarray, landmarks: np.ndarray, size: int, face_type: str) -> np.ndarray:
    """The XSeg model's view of a face: the BGR frame warped to size x size in the model's face type, cubic,
    float32 in [0, 1] (DFL feeds XSeg-dst from the frame itself, not from the model-size face)."""
    mat = get_transform_mat(np.asarray(landmarks, np.float64), size, face_type)
    return np.clip(cv2.warpAffine(to_float(frame), mat, (size, size), flags=cv2.INTER_CUBIC), 0.0, 1.0)


def _seamless_clone(out: np.ndarray, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
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


def _has_region(mask: np.ndarray) -> bool:
    """DFL pastes the face only if the mask's >= 0.1 area spans at least 4 px each way."""
    ys, xs = np.nonzero(mask[..., 0] >= 0.1)
    return ys.size > 0 and min(xs.max() - xs.min(), ys.max() - ys.min()) >= 4


def merge_face(frame_roi: np.ndarray, face: PreparedFace, pred: FacePrediction, cfg: MergerConfig,
               motion: Motion | None = None) -> FaceLayer:
    """Merge one predicted face into `frame_roi` (float32 hxwxC, the frame cut at `face.roi`)."""
    h, w, c = frame_roi.shape
    res = pred.face.shape[0]
    prd = np.clip(_channels(pred.face, pred.face.shape[2] if pred.face.ndim == 3 else 1), 0.0, 1.0)
    if prd.shape[2] != c:
        raise ValueError(f"predicted face has {prd.shape[2]} channels but the frame has {c}")
    dst_face = np.clip(_warp(frame_roi, face.face_mat, res), 0.0, 1.0)
    sources = MaskSources(face.dst_hull, np.clip(_channels(pred.learned_prd, 1), 0, 1),
                          np.clip(_channels(pred.learned_dst, 1), 0, 1), pred.xseg_prd, pred.xseg_dst)
    mask4 = _resize(build_mask(cfg.mask_mode, sources), 4 * res)
    if not cfg.is_raw:
        mask4 = shape_mask(mask4, res, cfg.erode_mask_modifier, cfg.blur_mask_modifier)
    frame_mask = np.clip(_warp_back(mask4, face.out_mat * 4.0, (w, h)), 0.0, 1.0)
    frame_mask[frame_mask < 1.0 / 255.0] = 0.0
    face_mask = np.clip(_resize(mask4, res), 0.0, 1.0)
    area = (face_mask > 0).astype(np.float32)
    none = np.zeros((h, w, 1), np.float32)
    face_interp = cv2.INTER_LANCZOS4 if c == 1 else cv2.INTER_CUBIC   # the SAEHDBW fork's choice for gray

    if cfg.mode == "original":
        return FaceLayer(face.roi, None, none, frame_mask)
    if cfg.mode == "raw-rgb":
        square = _warp_back(np.ones((res, res, 1), np.float32), face.out_mat, (w, h))
        warped = np.clip(_warp_back(prd, face.out_mat, (w, h), face_interp), 0.0, 1.0)
        return FaceLayer(face.roi, warped, np.clip(square, 0.0, 1.0), frame_mask)
    if cfg.mode == "raw-predict":
        return FaceLayer(face.roi, None, none, frame_mask, raw_face=prd, raw_mask=face_mask)
    if not _has_region(frame_mask):
        return FaceLayer(face.roi, None, none, frame_mask)

    seamless = cfg.mode.startswith("seamless")
    if not seamless:
        prd = apply_color_transfer(cfg.color_transfer_mode, prd, dst_face, area)
    if cfg.mode == "hist-match":
        prd = masked_hist_match(prd, dst_face, area if cfg.masked_hist_match else None, cfg.hist_match_threshold)
    out = np.clip(_warp_back(prd, face.out_mat, (w, h), face_interp), 0.0, 1.0)
    if seamless:
        out = _seamless_clone(out, frame_roi, frame_mask)

    degrade = cfg.image_denoise_power > 0 or cfg.bicubic_degrade_power > 0
    post = ((seamless and cfg.color_transfer_mode != "none") or cfg.mode == "seamless-hist-match"
            or cfg.motion_blur_power > 0 or cfg.blursharpen_amount != 0 or degrade)
    if not post:
        return FaceLayer(face.roi, out, frame_mask, frame_mask, blended=True)

    # Face-space post-processing of the blended result.
    blended = frame_roi * (1.0 - frame_mask) + out * frame_mask
    of = np.clip(_warp(blended, face.face_mat, res), 0.0, 1.0)
    if seamless:
        of = apply_color_transfer(cfg.color_transfer_mode, of, dst_face, area)
    if cfg.mode == "seamless-hist-match":
        of = color_hist_match(of, dst_face, cfg.hist_match_threshold)
    if cfg.motion_blur_power > 0 and motion is not None:
        k = int(motion.power * cfg.motion_blur_power / 100.0)
        if k >= 1:
            of = linear_motion_blur(of, int(np.clip(k + 1, 2, 50)), motion.deg)
    if cfg.blursharpen_amount != 0:
        of = blursharpen(of, cfg.sharpen_mode, 3, cfg.blursharpen_amount)
    image = _warp_back(np.ascontiguousarray(of, np.float32), face.face_mat, (w, h))
    return FaceLayer(face.roi, image, frame_mask, frame_mask, blended=True, degrade_background=degrade)


def degrade_background(frame: np.ndarray, cfg: MergerConfig) -> np.ndarray:
    """The frame behind the faces with DFL's image degrade (median denoise, then bicubic rescale)."""
    return bicubic_degrade(denoise_degrade(to_float(frame), cfg.image_denoise_power), cfg.bicubic_degrade_power)


@dataclass
class FrameResult:
    image: np.ndarray     # HxWxC, the input frame's dtype (raw-predict: RxRxC)
    mask: np.ndarray      # HxW float32 merging mask (raw-predict: RxR)


def compose_frame(frame: np.ndarray, layers: list[FaceLayer], cfg: MergerConfig) -> FrameResult:
    """Blend the face layers over `frame` (HxWxC, uint8 or float32); pixels no face touches keep their exact
    values unless an image degrade is on."""
    dtype = frame.dtype
    raw = [layer for layer in layers if layer.raw_face is not None]
    if cfg.mode == "raw-predict":
        if raw:
            return FrameResult(from_float(raw[0].raw_face, dtype), raw[0].raw_mask[..., 0])
        return FrameResult(frame.copy(), np.zeros(frame.shape[:2], np.float32))
    out = frame.copy()
    if any(layer.degrade_background for layer in layers):
        out = from_float(degrade_background(frame, cfg), dtype)
    mask = np.zeros(frame.shape[:2], np.float32)
    for layer in layers:
        x0, y0, x1, y1 = layer.roi
        region_mask = mask[y0:y1, x0:x1]
        np.clip(region_mask + layer.mask[..., 0], 0.0, 1.0, out=region_mask)   # overlapping faces add up to 1
        if layer.image is None:
            continue
        region = to_float(out[y0:y1, x0:x1])
        out[y0:y1, x0:x1] = from_float(region * (1.0 - layer.alpha) + layer.image * layer.alpha, dtype)
    if cfg.color_degrade_power > 0 and any(layer.blended for layer in layers):
        colors = 16 if out.shape[2] == 1 else 256   # the SAEHDBW fork reduces gray frames to 16 levels
        out = from_float(color_degrade(to_float(out), cfg.color_degrade_power, colors), dtype)
    return FrameResult(out, mask)


def merge_faces(frame: np.ndarray, faces: list[tuple[PreparedFace, FacePrediction, Motion | None]],
                cfg: MergerConfig) -> FrameResult:
    """Merge every face of one frame (HxWxC uint8 or float32) with one config."""
    layers = []
    for face, pred, motion in faces:
        x0, y0, x1, y1 = face.roi
        layers.append(merge_face(to_float(frame[y0:y1, x0:x1]), face, pred, cfg, motion))
    return compose_frame(frame, layers, cfg)
