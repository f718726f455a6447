"""The masked merge of one predicted face into its frame (DFL's MergeMaskedFace), computed on the face's
bounding box only, and the composition of a frame's faces.

Flow per face: `prepare_face` cuts what the model needs (main process) → the model predicts → `merge_face`
builds and shapes the mask, and the config's merge mode (`merger.modes`) matches colours, pastes and post-filters
the face (worker) → `compose_frame` blends every face layer into the frame. Frames are uint8 or float32 [0, 1]
arrays HxWxC with C = 1 or 3.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.errors import UserError
from core.imagelib.filters import bicubic_degrade, color_degrade, denoise_degrade
from facelib.landmarks import get_image_hull_mask, get_transform_mat
from merger.masks import MaskSources, build_mask, shape_mask

if TYPE_CHECKING:
    from merger.config import MergerConfig

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


def warp_to_face(img: np.ndarray, mat: np.ndarray, size: int) -> np.ndarray:
    """Frame (roi) -> face space, cubic."""
    out = cv2.warpAffine(img, mat, (size, size), flags=cv2.INTER_CUBIC)
    return _channels(out, img.shape[2])


def warp_to_frame(img: np.ndarray, mat: np.ndarray, wh: tuple[int, int], interp: int = cv2.INTER_CUBIC) -> np.ndarray:
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
        dst_face=np.clip(warp_to_face(roi_img, face_mat, resolution), 0.0, 1.0),
        dst_hull=np.clip(warp_to_face(hull, face_mat, resolution), 0.0, 1.0))


def xseg_crop(frame: np.ndarray, landmarks: np.ndarray, size: int, face_type: str) -> np.ndarray:
    """The XSeg model's view of a face: the BGR frame warped to size x size in the model's face type, cubic,
    float32 in [0, 1] (DFL feeds XSeg-dst from the frame itself, not from the model-size face)."""
    mat = get_transform_mat(np.asarray(landmarks, np.float64), size, face_type)
    return np.clip(cv2.warpAffine(to_float(frame), mat, (size, size), flags=cv2.INTER_CUBIC), 0.0, 1.0)


@dataclass
class FaceMerge:
    """One face of a frame ready for its merge mode (`merger.modes`): the frame cut at the face's roi, the predicted
    and the frame's face in face space, the shaped mask in the frame and in face space, and the settings."""

    frame_roi: np.ndarray             # hxwxC float32
    face: PreparedFace
    prd: np.ndarray                   # RxRxC predicted face, float32 in [0, 1]
    dst_face: np.ndarray              # RxRxC the frame's face
    frame_mask: np.ndarray            # hxwx1 the mask in the roi
    face_mask: np.ndarray             # RxRx1 the mask in face space
    area: np.ndarray                  # RxRx1 binary face area (face_mask > 0)
    cfg: MergerConfig
    motion: Motion | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(w, h) of the roi."""
        return self.frame_roi.shape[1], self.frame_roi.shape[0]

    def face_to_frame(self, face: np.ndarray) -> np.ndarray:
        """A predicted face warped into the roi at the output face scale (Lanczos for gray faces, the SAEHDBW fork's
        choice; cubic for colour), clipped to [0, 1]."""
        interp = cv2.INTER_LANCZOS4 if face.shape[2] == 1 else cv2.INTER_CUBIC
        return np.clip(warp_to_frame(face, self.face.out_mat, self.size, interp), 0.0, 1.0)

    def nothing(self) -> FaceLayer:
        """A layer that leaves the frame as it is and contributes only its mask."""
        return FaceLayer(self.face.roi, None, np.zeros(self.frame_mask.shape, np.float32), self.frame_mask)


def merge_face(frame_roi: np.ndarray, face: PreparedFace, pred: FacePrediction, cfg: MergerConfig,
               motion: Motion | None = None) -> FaceLayer:
    """Merge one predicted face into `frame_roi` (float32 hxwxC, the frame cut at `face.roi`): build and shape the
    mask, then let the config's merge mode paste the face."""
    h, w, c = frame_roi.shape
    res = pred.face.shape[0]
    prd = np.clip(_channels(pred.face, pred.face.shape[2] if pred.face.ndim == 3 else 1), 0.0, 1.0)
    if prd.shape[2] != c:
        raise ValueError(f"predicted face has {prd.shape[2]} channels but the frame has {c}")
    mode = cfg.merge_mode
    if c == 1 and not mode.gray:
        raise UserError(f"merge mode {mode.name} does not work on one-channel faces; choose another --mode")
    dst_face = np.clip(warp_to_face(frame_roi, face.face_mat, res), 0.0, 1.0)
    sources = MaskSources(face.dst_hull, np.clip(_channels(pred.learned_prd, 1), 0, 1),
                          np.clip(_channels(pred.learned_dst, 1), 0, 1), pred.xseg_prd, pred.xseg_dst)
    mask4 = _resize(build_mask(cfg.mask_mode, sources), 4 * res)
    if not mode.raw:
        mask4 = shape_mask(mask4, res, cfg.erode_mask_modifier, cfg.blur_mask_modifier)
    frame_mask = np.clip(warp_to_frame(mask4, face.out_mat * 4.0, (w, h)), 0.0, 1.0)
    frame_mask[frame_mask < 1.0 / 255.0] = 0.0
    face_mask = np.clip(_resize(mask4, res), 0.0, 1.0)
    area = (face_mask > 0).astype(np.float32)
    return mode.paste(FaceMerge(frame_roi, face, prd, dst_face, frame_mask, face_mask, area, cfg, motion))


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
    if cfg.merge_mode.face_only:
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
