"""`SampleGeneratorXSeg`: training batches `[images, masks]` for the XSeg face-segmentation model (DFL's
SampleGeneratorFaceXSeg).

The labels are the faces with hand-drawn polygons, or, when no face has any, the faces with an applied XSeg mask.
Each face is decoded once and prepared at the model's resolution and face type (Lanczos resize, or re-alignment
with `get_transform_mat`) into a bounded in-memory cache. Every draw then augments it as DFL does: 50 %
background mixing with another labelled face, one random warp + affine + flip shared by image and mask, and the
photometric filters of XSeg training (face/background flares, HSV shift or RGB levels, sharpen or motion +
gaussian blur, nearest or bilinear down-up resize, JPEG re-compression), each blended in through a random faded
circle. Grayscale faces stay one channel until the output repeats it into BGR, so no filter invents colour.
`pretrain=True` (DFL's XSeg pretraining) uses every face, the geometric augmentation only, and the gray of the
image as the target.

Batches are rendered by a few threads (OpenCV and large numpy operations release the GIL) from per-face seeds
drawn in order by one seeded generator, so a seed gives the same batches whatever the number of threads.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from core.imagelib import filters, warp
from core.imagelib.io import decode_image
from facelib.xseg_polys import has_polys, render_polys
from samplelib.generator import BatchStream, ShuffledCycle, cache_size_mb
from samplelib.loader import Sample
from samplelib.processor import ProcessorConfig, warp_face, alignment_matrix, random_hsv

NO_LABELS_HINT = ("Draw include/exclude polygons on some faces with `main.py xseg editor --input-dir <aligned dir>` "
                  "(a few dozen varied faces are enough to start), then train again.")
READ_ERRORS = (UserError, OSError, ValueError, cv2.error)

BG_ROTATION = (-180.0, 180.0)       # background mixing: the other face's random transform (no warp)
BG_SCALE = BG_SHIFT = (-0.10, 0.10)
SHARPEN = (25, 5)                   # (chance %, max kernel)
MOTION_BLUR = (25, 5)
GAUSSIAN_BLUR = (25, 5)
DOWN_UP_RESIZE = (25, 75)           # (chance %, max size reduction %)
JPEG_CHANCE = 25


@dataclass(frozen=True)
class XSegAugment:
    """The random augmentation of XSeg training; the defaults are DFL's. Parts can be switched off (previews,
    tests)."""

    random_warp: bool = True
    random_flip: bool = True
    rotation_range: tuple[float, float] = (-10.0, 10.0)
    scale_range: tuple[float, float] = (-0.05, 0.05)
    tx_range: tuple[float, float] = (-0.05, 0.05)
    ty_range: tuple[float, float] = (-0.05, 0.05)
    background_chance: float = 0.5
    photometric: bool = True


NO_AUGMENT = XSegAugment(False, False, (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), 0.0, False)


# ------------------------------------------------------------------------------------------------ labels ---

def labelled_samples(samples: list[Sample]) -> tuple[list[Sample], str]:
    """The faces XSeg trains on and where their labels come from: ("polygons") the faces with hand-drawn
    polygons, else ("masks") those with an applied XSeg mask. Neither -> UserError."""
    drawn = [s for s in samples if has_polys(s.xseg_polys)]
    if drawn:
        interact.log_info(f"Using {len(drawn)} segmented samples (hand-drawn polygons).")
        return drawn, "polygons"
    masked = [s for s in samples if s.xseg_png is not None]
    if masked:
        interact.log_info(f"Using {len(masked)} xseg labeled samples.")
        return masked, "masks"
    raise UserError(f"No segmented faces found among {len(samples)} faces. {NO_LABELS_HINT}")


def target_mask(sample: Sample, shape: tuple[int, int]) -> np.ndarray | None:
    """float32 HxW {0, 1} label of `sample` at its image size: its polygons rendered, else its stored XSeg mask
    binarised at 0.5, else None."""
    h, w = shape
    if has_polys(sample.xseg_polys):
        return render_polys(sample.xseg_polys, (h, w))
    mask = sample.xseg_mask()
    if mask is None:
        return None
    if mask.shape != (h, w):  # an applied mask keeps the XSeg model's resolution
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    return (mask >= 0.5).astype(np.float32)


# ----------------------------------------------------------------------------------------- preparation ---

@dataclass(frozen=True)
class PreparedFace:
    """A face at model resolution and face type: uint8 R x R x C image (C = 1 for a gray face, else 3 BGR) and
    uint8 R x R mask (0..255; None in pretraining)."""

    image: np.ndarray
    mask: np.ndarray | None

    @property
    def nbytes(self) -> int:
        return self.image.nbytes + (0 if self.mask is None else self.mask.nbytes)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def prepare_face(sample: Sample, cfg: ProcessorConfig, with_mask: bool = True) -> PreparedFace:
    """Decode `sample` and bring image and label to the model: a Lanczos resize when the face types agree, else
    a Lanczos re-alignment (constant border). A colour file whose channels are equal counts as gray."""
    image = sample.load_image()
    if image.ndim == 2:
        image = image[..., None]
    elif np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]):
        image = image[..., :1]
    h, w = image.shape[:2]
    mat = alignment_matrix(sample, cfg, (h, w))
    r = cfg.resolution
    face = warp_face(image, mat, r, cv2.INTER_LANCZOS4, replicate=False).reshape(r, r, image.shape[2])
    mask = None
    if with_mask:
        label = target_mask(sample, (h, w))
        if label is None:
            raise UserError(f"{sample.path}: {sample.name} has no XSeg polygons or mask")
        mask = _u8(warp_face(label, mat, r, cv2.INTER_LANCZOS4, replicate=False))
    return PreparedFace(np.ascontiguousarray(face), mask)


# ------------------------------------------------------------------------------- augmentation filters ---

def random_circle_faded(size: int, rng: np.random.Generator) -> np.ndarray:
    """DFL's `random_circle_faded`: float32 size x size x 1, 1 within a random radius of a random centre,
    fading linearly to 0 over a random distance."""
    fade_start = int(rng.integers(size))
    fade_end = fade_start + int(rng.integers(size - fade_start))
    cy, cx = rng.integers(size, size=2)
    yy, xx = np.ogrid[:size, :size]
    dist = np.hypot((yy - cy).astype(np.float32), (xx - cx).astype(np.float32))
    return np.clip(1.0 - (dist - fade_start) / max(fade_end, 1), 0.0, 1.0).astype(np.float32)[..., None]


def _blend(img: np.ndarray, result: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    result = result.reshape(img.shape)
    return result if mask is None else img * (1.0 - mask) + result * mask


def random_hsv_shift(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None = None) -> np.ndarray:
    """Hue + U(0, 360), saturation and value + U(-0.5, 0.5); a gray (1-channel) image only shifts its value."""
    if img.shape[2] == 3:
        result = random_hsv(img, 1.0, rng)
    else:
        result = np.clip(img + (rng.random() - 0.5), 0.0, 1.0)
    return _blend(img, result, mask)


def random_rgb_levels(img: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None = None) -> np.ndarray:
    """DFL's random levels per channel: input black/white points, gamma, output black/white points."""
    u = rng.random((5, img.shape[2])).astype(np.float32)
    in_black, in_white, gamma = u[0] * 0.25, 1.0 - u[1] * 0.25, 0.5 + u[2]
    out_black, out_white = u[3] * 0.25, 1.0 - u[4] * 0.25
    result = np.clip((img - in_black) / (in_white - in_black), 0.0, 1.0) ** (1.0 / gamma)
    return _blend(img, np.clip(result * (out_white - out_black) + out_black, 0.0, 1.0), mask)


def _chance(rng: np.random.Generator, percent: int) -> bool:
    return int(rng.integers(100)) < percent


def random_sharpen(img, rng, chance: int, max_kernel: int, mask=None) -> np.ndarray:
    if not _chance(rng, chance):
        return img
    kernel = int(rng.integers(max_kernel)) + 1
    if rng.integers(2) == 0:
        result = filters.blursharpen(img, "box", kernel, int(rng.integers(10)))
    else:
        result = filters.blursharpen(img, "gaussian", kernel, int(rng.integers(50)))
    return _blend(img, result, mask)


def random_motion_blur(img, rng, chance: int, max_size: int, mask=None) -> np.ndarray:
    if not _chance(rng, chance):
        return img
    size, angle = int(rng.integers(max_size)) + 1, float(rng.integers(360))
    return _blend(img, filters.linear_motion_blur(img, size, angle), mask)


def random_gaussian_blur(img, rng, chance: int, max_kernel: int, mask=None) -> np.ndarray:
    if not _chance(rng, chance):
        return img
    k = int(rng.integers(max_kernel)) * 2 + 1
    return _blend(img, cv2.GaussianBlur(img, (k, k), 0), mask)


def random_down_up_resize(img, rng, chance: int, max_percent: int, interpolation: int, mask=None) -> np.ndarray:
    if not _chance(rng, chance):
        return img
    h, w = img.shape[:2]
    t = rng.random()
    small = (w - int(t * int(w * max_percent / 100)), h - int(t * int(h * max_percent / 100)))
    result = cv2.resize(cv2.resize(img, small, interpolation=interpolation), (w, h), interpolation=interpolation)
    return _blend(img, result, mask)


def random_jpeg(img, rng, chance: int, mask=None) -> np.ndarray:
    if not _chance(rng, chance):
        return img
    quality = int(rng.integers(10, 101))
    u8 = _u8(img)
    ok, buf = cv2.imencode(".jpg", u8[..., 0] if img.shape[2] == 1 else u8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return img
    result = decode_image(buf, cv2.IMREAD_UNCHANGED, "a JPEG-degraded face").astype(np.float32) * np.float32(1 / 255)
    return _blend(img, result, mask)


def _odd_kernel(rng: np.random.Generator, r: int) -> int:
    k = int(rng.integers(r // 4, r))
    return k - k % 2 + 1


def photometric(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photometric augmentations of DFL's XSeg training, on float32 R x R x C `img` with its R x R x 1 label."""
    r = img.shape[0]
    if rng.integers(2) == 0:  # face flare
        img = img + cv2.GaussianBlur(img * mask, (_odd_kernel(rng, r),) * 2, 0).reshape(img.shape)
    if rng.integers(2) == 0:  # background flare
        img = img + cv2.GaussianBlur(img * (1.0 - mask), (_odd_kernel(rng, r),) * 2, 0).reshape(img.shape)
    if rng.integers(2) == 0:
        img = random_hsv_shift(img, rng, random_circle_faded(r, rng))
    else:
        img = random_rgb_levels(img, rng, random_circle_faded(r, rng))
    if rng.integers(2) == 0:
        img = random_sharpen(img, rng, *SHARPEN, random_circle_faded(r, rng))
    else:
        img = random_motion_blur(img, rng, *MOTION_BLUR, random_circle_faded(r, rng))
        img = random_gaussian_blur(img, rng, *GAUSSIAN_BLUR, random_circle_faded(r, rng))
    inter = cv2.INTER_NEAREST if rng.integers(2) == 0 else cv2.INTER_LINEAR
    img = random_down_up_resize(img, rng, *DOWN_UP_RESIZE, inter, random_circle_faded(r, rng))
    img = np.clip(img, 0.0, 1.0)
    return random_jpeg(img, rng, JPEG_CHANCE, random_circle_faded(r, rng))


def _as_float(face: PreparedFace, channels: int) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 (R x R x channels image, R x R x 1 mask or None) of a prepared face."""
    img = face.image.astype(np.float32) * np.float32(1 / 255)
    if img.shape[2] != channels:
        img = np.repeat(img, 3, axis=2) if channels == 3 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
    mask = None if face.mask is None else face.mask[..., None].astype(np.float32) * np.float32(1 / 255)
    return img, mask


def mix_background(img: np.ndarray, mask: np.ndarray, bg: PreparedFace, rng: np.random.Generator) -> np.ndarray:
    """DFL's background mixing: another face, randomly turned, its face cut out and colour-jittered, shows
    through `img` outside both faces with a random opacity."""
    bg_img, bg_mask = _as_float(bg, img.shape[2])
    r = img.shape[0]
    params = warp.gen_warp_params(r, True, BG_ROTATION, BG_SCALE, BG_SHIFT, BG_SHIFT, rnd_state=rng,
                                  warp_rnd_state=rng)
    bg_img = warp.warp_by_params(params, bg_img, can_warp=False, border_replicate=True)
    bg_mask = warp.warp_by_params(params, bg_mask, can_warp=False, border_replicate=False,
                                  cv2_inter=cv2.INTER_LINEAR)
    bg_img = bg_img * (1.0 - bg_mask)
    bg_img = random_hsv_shift(bg_img, rng) if rng.integers(2) == 0 else random_rgb_levels(bg_img, rng)
    both = 1.0 - (1.0 - bg_mask) * (1.0 - mask)
    opacity = 0.15 + rng.random() * 0.85
    return img * both + (img * opacity + bg_img * (1.0 - opacity)) * (1.0 - both)


# ------------------------------------------------------------------------------------------- generator ---

@dataclass(frozen=True)
class _Draw:
    index: int
    background: int | None
    seed: int


class SampleGeneratorXSeg(BatchStream):
    """Endless batches `[images (B, R, R, 3) BGR, masks (B, R, R, 1)]`, float32 in [0, 1]; masks are {0, 1}, or
    in pretraining the gray of the image.

    `samples`: the src and dst faces together (the labelled ones are picked, unless `pretrain`). `face_type`:
    the model's. `augment`: the random augmentation, True for DFL's, False for none (e.g. preview faces: resized
    or re-aligned only), or an `XSegAugment`. `workers`: rendering threads (0 = in the caller); `prefetch`:
    batches queued per thread. `cache_mb`: RAM for prepared faces (None = the sample generators' default,
    0 = none).
    """

    def __init__(self, samples: list[Sample], batch_size: int, resolution: int = 256, face_type: str = "wf", *,
                 pretrain: bool = False, seed: int | None = None, augment: XSegAugment | bool = True,
                 workers: int | None = None, prefetch: int = 2, cache_mb: float | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        if not samples:
            raise UserError("no faces to train XSeg on")
        self.samples = list(samples) if pretrain else labelled_samples(list(samples))[0]
        self.batch_size, self.pretrain = int(batch_size), bool(pretrain)
        self.cfg = ProcessorConfig(resolution, 3, face_type)
        self.resolution = self.cfg.resolution
        self.augment = augment if isinstance(augment, XSegAugment) else XSegAugment() if augment else NO_AUGMENT
        self._rng = np.random.default_rng(seed)
        self._order = ShuffledCycle(range(len(self.samples)), self._rng)
        self._bg_order = ShuffledCycle(range(len(self.samples)), self._rng)
        self._cache: dict[int, PreparedFace] = {}
        self._cache_left = int(cache_size_mb(cache_mb) * 1024 * 1024)
        self._bad: set[int] = set()
        self._lock = threading.Lock()
        self.workers = min(4, max(1, (os.cpu_count() or 2) // 2)) if workers is None else max(0, int(workers))
        self._queued = self.workers * max(1, int(prefetch))
        self._pool = ThreadPoolExecutor(self.workers, "xseg-samples") if self.workers else None
        self._pending: deque[Future] = deque()
        self._closed = False

    # ---------------------------------------------------------------------------------------- faces ---
    def _prepared(self, index: int) -> PreparedFace:
        face = self._cache.get(index)
        if face is not None:
            return face
        face = prepare_face(self.samples[index], self.cfg, with_mask=not self.pretrain)
        with self._lock:
            if index not in self._cache and face.nbytes <= self._cache_left:
                self._cache[index] = face
                self._cache_left -= face.nbytes
        return face

    def _face(self, index: int, rng: np.random.Generator) -> PreparedFace:
        """The prepared face `index`; an unreadable face is warned about once and replaced by a random other."""
        while True:
            if index not in self._bad:
                try:
                    return self._prepared(index)
                except READ_ERRORS as err:
                    with self._lock:
                        first = index not in self._bad
                        self._bad.add(index)
                    if first:
                        interact.log_warn(f"Skipping unreadable face: {err}")
            good = [i for i in range(len(self.samples)) if i not in self._bad]
            if not good:
                raise UserError(f"none of the {len(self.samples)} XSeg training faces can be read")
            index = good[int(rng.integers(len(good)))]

    # -------------------------------------------------------------------------------------- batches ---
    def _plan(self) -> list[_Draw]:
        draws = []
        for _ in range(self.batch_size):
            index = int(self._order.take())
            mix = not self.pretrain and self._rng.random() < self.augment.background_chance
            background = int(self._bg_order.take()) if mix else None
            draws.append(_Draw(index, background, int(self._rng.integers(2 ** 63 - 1))))
        return draws

    def _render(self, draw: _Draw) -> tuple[np.ndarray, np.ndarray]:
        """One augmented sample: (R x R x C image, R x R x 1 target), C = 1 for a gray face."""
        rng = np.random.default_rng(draw.seed)
        face = self._face(draw.index, rng)
        img, mask = _as_float(face, face.image.shape[2])
        aug, r = self.augment, self.resolution
        params = warp.gen_warp_params(r, aug.random_flip, aug.rotation_range, aug.scale_range, aug.tx_range,
                                      aug.ty_range, rnd_state=rng, warp_rnd_state=rng)
        if self.pretrain:  # DFL: warped face (zero border) and its gray
            img = np.clip(warp.warp_by_params(params, img, aug.random_warp, border_replicate=False), 0.0, 1.0)
            gray = img if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[..., None]
            return img, gray
        if draw.background is not None:
            img = mix_background(img, mask, self._face(draw.background, rng), rng)
        img = np.clip(warp.warp_by_params(params, img, aug.random_warp, border_replicate=True), 0.0, 1.0)
        mask = warp.warp_by_params(params, mask, aug.random_warp, border_replicate=False, cv2_inter=cv2.INTER_LINEAR)
        mask = (mask >= 0.5).astype(np.float32)
        if aug.photometric:
            img = photometric(img, mask, rng)
        return np.clip(img, 0.0, 1.0), mask

    def _make(self, draws: list[_Draw]) -> list[np.ndarray]:
        r, n = self.resolution, len(draws)
        images, masks = np.empty((n, r, r, 3), np.float32), np.empty((n, r, r, 1), np.float32)
        for i, draw in enumerate(draws):
            images[i], masks[i] = self._render(draw)  # a gray image broadcasts into the 3 channels
        return [images, masks]

    def next(self) -> list[np.ndarray]:
        """The next batch `[images, masks]` (fresh arrays the caller may keep)."""
        if self._closed:
            raise RuntimeError("the XSeg sample generator is closed")
        if self._pool is None:
            return self._make(self._plan())
        while len(self._pending) < self._queued:
            self._pending.append(self._pool.submit(self._make, self._plan()))
        try:
            return self._pending.popleft().result()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------------ lifecycle ---
    def close(self) -> None:
        """Stop the rendering threads (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
