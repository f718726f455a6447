"""Per-sample processing for face training: from one aligned face to `[warped, target, mask, em_mask]`.

Two stages, following DFL's SampleProcessor:
  * `prepare_block` (deterministic, done once per face and cached by the generator): decode (grayscale faces
    straight from the JPEG's luma), re-align to the model's face type or resize to the model resolution, and
    build the full-face mask (stored XSeg mask, else the landmark hull with the face's eyebrow expansion) and,
    for eyes/mouth priority, the eyes+mouth mask (clipped, times the binarised face mask). Result: uint8
    R x R x C face and 1 or 2 R x R mask planes (the gray model's cache entry is half the colour one's).
  * `render` (every time the face is drawn): one random draw of rotation/scale/shift/flip shared by all four
    outputs, DFL's grid warp on the input only, optional colour transfer toward a dst face, optional random
    HSV (colour only), eyes+mouth mask renormalised by its maximum. Everything stays uint8; each output is
    resampled once (cubic for images with replicated borders, linear for masks with zero borders).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.imagelib import warp
from core.imagelib.color_transfer import COLOR_TRANSFERS, color_transfer
from facelib.face_type import FaceType
from facelib.landmarks import get_eyes_mouth_mask, get_image_hull_mask, get_transform_mat

IMAGE_INTER = cv2.INTER_CUBIC
MASK_INTER = cv2.INTER_LINEAR


@dataclass(frozen=True)
class ProcessorConfig:
    """What the model asks of each sample (DFL `SampleProcessor.Options` + output descriptors)."""

    resolution: int
    channels: int = 3                       # 1 = grayscale (SAEHDBW), 3 = BGR
    face_type: str | None = None            # model face type; None keeps each sample's own
    random_warp: bool = True
    random_flip: bool = True
    ct_mode: str = "none"                   # none rct lct mkl idt sot (src only)
    random_hsv_power: float = 0.0           # 0..0.3, 3-channel src input only
    eyes_mouth_prio: bool = False           # False: the em output stays zeros (nothing asks for it)
    rotation_range: tuple[float, float] = (-10.0, 10.0)
    scale_range: tuple[float, float] = (-0.15, 0.15)   # SAEHD's override of DFL's +-0.05
    tx_range: tuple[float, float] = (-0.05, 0.05)
    ty_range: tuple[float, float] = (-0.05, 0.05)

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.resolution < 16:
            raise ValueError(f"resolution {self.resolution} is too small")
        if self.ct_mode not in ("none", *COLOR_TRANSFERS):
            raise ValueError(f"unknown ct_mode {self.ct_mode!r}; use none, {', '.join(COLOR_TRANSFERS)}")
        if self.face_type is not None:
            object.__setattr__(self, "face_type", FaceType.from_string(self.face_type).to_string())

    @property
    def mask_planes(self) -> int:
        """Masks prepared per face: the face mask, plus the eyes+mouth mask when `eyes_mouth_prio` asks."""
        return 2 if self.eyes_mouth_prio else 1


# ------------------------------------------------------------------------------------------ preparation ---

def _scale_xy(sx: float, sy: float) -> np.ndarray:
    """2x3 matrix of `cv2.resize` by (sx, sy) (pixel-centre convention)."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]], np.float64)


def alignment_matrix(sample, cfg: ProcessorConfig, shape: tuple[int, int] | None = None) -> np.ndarray:
    """2x3 matrix from the sample's pixels (image `shape` h, w) to the model's R x R face: a re-alignment
    when the face types differ, else a plain resize."""
    h, w = shape or sample.shape[:2]
    if cfg.face_type is None or cfg.face_type == sample.face_type:
        return _scale_xy(cfg.resolution / w, cfg.resolution / h)
    return get_transform_mat(sample.landmarks, cfg.resolution, cfg.face_type)


def warp_face(img: np.ndarray, mat: np.ndarray, size: int, interpolation: int, replicate: bool) -> np.ndarray:
    """warpAffine to size x size; strong downscales first go through INTER_AREA so the face does not alias."""
    scale = float(np.sqrt(abs(np.linalg.det(mat[:, :2]))))
    if scale < 0.5 and interpolation != cv2.INTER_NEAREST:
        h, w = img.shape[:2]
        small = (max(1, round(w * scale * 2)), max(1, round(h * scale * 2)))
        img = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
        pre = np.vstack([_scale_xy(small[0] / w, small[1] / h), [0, 0, 1]])
        mat = (np.vstack([mat, [0, 0, 1]]) @ np.linalg.inv(pre))[:2]
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    out = cv2.warpAffine(img, mat, (size, size), flags=interpolation, borderMode=border)
    return out


def check_face_type(sample, cfg: ProcessorConfig) -> str | None:
    """Why `sample` cannot feed this model (its face covers less than the model's face type), or None."""
    if cfg.face_type is None:
        return None
    have, need = sample.face_type_enum, FaceType.from_string(cfg.face_type)
    if have < need:
        return (f"{sample.path}{':' + sample.name if sample.in_pak else ''} is a {have.to_string()} face but the "
                f"model trains {need.to_string()}; extract the faces again with face type {need.short} or wider")
    return None


def full_face_mask(sample, shape: tuple[int, int]) -> np.ndarray:
    """HxW float32 face mask at the sample's size: its XSeg mask when stored, else the landmark hull."""
    xseg = sample.xseg_mask()
    if xseg is not None:
        return np.clip(cv2.resize(xseg, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), 0, 1)
    return get_image_hull_mask(shape, sample.landmarks, sample.eyebrows_expand_mod)[..., 0]


def prepare_block(sample, cfg: ProcessorConfig, image: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The deterministic part of a sample: (face uint8 R x R x C at the model's resolution and face type,
    masks uint8 P x R x R = [face mask] or, with `eyes_mouth_prio`, [face mask, eyes+mouth mask])."""
    r, c = cfg.resolution, cfg.channels
    if image is None:
        image = sample.load_image(grayscale=(c == 1))
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] != c:  # a gray faceset for a colour model, or the reverse
        image = np.repeat(image, 3, axis=2) if c == 3 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None]
    h, w = image.shape[:2]
    mat = alignment_matrix(sample, cfg, (h, w))
    resize_only = np.allclose(mat, _scale_xy(r / w, r / h))

    def to_model(img: np.ndarray, interpolation: int, replicate: bool) -> np.ndarray:
        if resize_only:
            return cv2.resize(img, (r, r), interpolation=cv2.INTER_AREA if r < w else interpolation)
        return warp_face(img, mat, r, interpolation, replicate)

    face = to_model(image, IMAGE_INTER, True)
    masks = np.empty((cfg.mask_planes, r, r), np.uint8)
    mask = full_face_mask(sample, (h, w))
    planes = [mask]
    if cfg.eyes_mouth_prio:
        planes.append(get_eyes_mouth_mask((h, w), sample.landmarks)[..., 0] * (mask > 0))
    for k, plane in enumerate(planes):
        aligned = to_model(plane.astype(np.float32), MASK_INTER, False)
        masks[k] = np.clip(aligned * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(face.reshape(r, r, c)), masks


def prepare_ct_reference(sample, cfg: ProcessorConfig) -> np.ndarray:
    """uint8 R x R x C colour-transfer reference: the dst face resized to R (bilinear), as in DFL."""
    img = sample.load_image(grayscale=(cfg.channels == 1))
    out = cv2.resize(img, (cfg.resolution, cfg.resolution), interpolation=cv2.INTER_LINEAR)
    return out.reshape(cfg.resolution, cfg.resolution, cfg.channels)


# ------------------------------------------------------------------------------------------- rendering ---

def draw_params(cfg: ProcessorConfig, rng: np.random.Generator) -> warp.WarpParams:
    """One random transform (and warp grid) shared by the four outputs of a sample."""
    return warp.gen_warp_params(cfg.resolution, cfg.random_flip, cfg.rotation_range, cfg.scale_range, cfg.tx_range,
                                cfg.ty_range, rnd_state=rng, warp_rnd_state=rng)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def apply_color_transfer(img: np.ndarray, ref: np.ndarray, mode: str, rng) -> np.ndarray:
    """uint8 R x R x C image adjusted toward uint8 `ref` with transfer `mode`."""
    c = img.shape[2]
    src = img.astype(np.float32) * (1 / 255)
    dst = ref.astype(np.float32) * (1 / 255)
    if c == 1:
        src, dst = src[..., 0], dst[..., 0]
    return _to_u8(color_transfer(mode, src, dst, rng=rng)).reshape(img.shape)


def random_hsv(img: np.ndarray, power: float, rng: np.random.Generator) -> np.ndarray:
    """DFL's random hue/saturation/value shift of a float32 BGR image in [0, 1] (hue in degrees)."""
    hsv = cv2.cvtColor(np.clip(img, 0, 1), cv2.COLOR_BGR2HSV)
    h_amount = max(1, int(360 * power * 0.5))
    hsv[..., 0] = (hsv[..., 0] + rng.integers(-h_amount, h_amount + 1)) % 360
    hsv[..., 1] = np.clip(hsv[..., 1] + (rng.random() - 0.5) * power, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] + (rng.random() - 0.5) * power, 0, 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


@dataclass
class Batch:
    """Preallocated float32 outputs of one batch, filled sample by sample."""

    warped: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    em_mask: np.ndarray

    @classmethod
    def empty(cls, size: int, cfg: ProcessorConfig) -> "Batch":
        r, c = cfg.resolution, cfg.channels
        return cls(*(np.empty((size, r, r, ch), np.float32) for ch in (c, c, 1, 1)))

    def finish(self) -> list[np.ndarray]:
        """Clip the cubic-interpolation overshoot and return `[warped, target, mask, em_mask]`."""
        np.clip(self.warped, 0.0, 1.0, out=self.warped)
        np.clip(self.target, 0.0, 1.0, out=self.target)
        return [self.warped, self.target, self.mask, self.em_mask]


_INV_LINEAR = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
_INV_CUBIC = IMAGE_INTER | cv2.WARP_INVERSE_MAP
_U8_TO_FLOAT = np.float32(1 / 255)


def render_into(batch: Batch, i: int, face: np.ndarray, masks: np.ndarray, cfg: ProcessorConfig,
                rng: np.random.Generator, ct_ref: np.ndarray | None = None) -> None:
    """Draw one random augmentation of a prepared sample (`prepare_block`) into row `i` of `batch`.

    All four outputs share the draw; the mirror is applied last to each output (the same thing as composing
    it into the resampling, but OpenCV's warpAffine is several times slower on right-to-left maps)."""
    r, c = cfg.resolution, cfg.channels
    params = draw_params(cfg, rng)
    mat = warp.source_affine(params, can_flip=False, out_size=r, src_size=r)
    if ct_ref is not None and cfg.ct_mode != "none":
        face = apply_color_transfer(face, ct_ref, cfg.ct_mode, rng)
    src = np.multiply(face, _U8_TO_FLOAT, dtype=np.float32)
    if c == 1:
        src = src[..., 0]
    target = batch.target[i] if c == 3 else batch.target[i, ..., 0]
    warped = batch.warped[i] if c == 3 else batch.warped[i, ..., 0]
    mask, em = batch.mask[i, ..., 0], batch.em_mask[i, ..., 0]
    cv2.warpAffine(src, mat, (r, r), dst=target, flags=_INV_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if cfg.random_warp:
        warped_map = warp.sample_maps(params, r, r, can_flip=False)[1]
        cv2.remap(src, warped_map, None, IMAGE_INTER, dst=warped, borderMode=cv2.BORDER_REPLICATE)
    else:
        warped[...] = target
    if c == 3 and cfg.random_hsv_power > 0:
        batch.warped[i] = random_hsv(batch.warped[i], cfg.random_hsv_power, rng)

    if cfg.eyes_mouth_prio:  # OpenCV warps 4 uint8 channels as fast as one: both masks in one pass
        both = cv2.warpAffine(cv2.merge([masks[0], masks[1], masks[0], masks[1]]), mat, (r, r), flags=_INV_LINEAR)
        np.multiply(both[..., 0], _U8_TO_FLOAT, out=mask)
        np.multiply(both[..., 1], _U8_TO_FLOAT, out=em)
        peak = float(em.max())
        if peak > 0:  # DFL renormalises the warped eyes+mouth mask by its maximum
            em *= 1.0 / peak
    else:
        np.multiply(cv2.warpAffine(masks[0], mat, (r, r), flags=_INV_LINEAR), _U8_TO_FLOAT, out=mask)
        em[...] = 0.0
    if params.flip:
        for out in (target, warped, mask, em):
            cv2.flip(out, 1, dst=out)


def render(face: np.ndarray, masks: np.ndarray, cfg: ProcessorConfig, rng: np.random.Generator,
           ct_ref: np.ndarray | None = None) -> list[np.ndarray]:
    """One augmented sample: `[warped R x R x C, target R x R x C, mask R x R x 1, em_mask R x R x 1]`, float32
    in [0, 1]."""
    batch = Batch.empty(1, cfg)
    render_into(batch, 0, face, masks, cfg, rng, ct_ref)
    return [a[0] for a in batch.finish()]
