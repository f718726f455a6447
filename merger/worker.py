"""The worker side of the frame loop (spawn-safe, no TensorFlow): merge one frame from its predicted faces and
write the merged PNG and its mask PNG; frames without faces are passed through."""
from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core import fsio
from core.errors import UserError
from core.imagelib.io import ImageReadError, file_shape, read_image
from core.imagelib.png import encode_png
from merger import bw_color
from merger.config import MergerConfig
from merger.masked import FacePrediction, FrameResult, Motion, PreparedFace
from merger.shared_frames import slot_view

_shared: tuple | None = None   # (raw block, slot bytes) of the frame ring, set in each worker by `worker_init`


def read_frame(path: Path) -> np.ndarray | None:
    """BGR uint8 HxWx3, or None for an unreadable file."""
    return read_image(path, cv2.IMREAD_COLOR)


def write_output(path: Path, data: bytes) -> None:
    """Write a merged frame or mask: a temp file renamed into place, so a stopped merge never leaves a half-written
    frame that the resume would take as done. No fsync: these files can always be made again (`--force`), and
    four fsyncs per frame held the workers up."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise fsio.naming(err, path) from err


@dataclass
class FrameJob:
    """Everything a worker needs to merge and write one frame (picklable)."""

    path: Path
    image: np.ndarray | None
    faces: list[tuple[PreparedFace, FacePrediction, Motion | None]]
    cfg: MergerConfig
    mode: str                      # bw_color.COLOR_MODES
    out_path: Path
    mask_path: Path | None
    export_mask_alpha: bool = False
    resolution: int = 0            # raw-predict writes a black square of this size for frames without faces
    slot: int | None = None        # the decoded frame is in this slot of the shared frame ring (image is None)
    shape: tuple[int, ...] = ()    # ... with this shape

    def frame(self) -> np.ndarray | None:
        """The decoded frame: carried along, in the shared ring, or read from disk."""
        if self.image is not None:
            return self.image
        if self.slot is not None and _shared is not None:
            return slot_view(_shared[0], self.slot, _shared[1], self.shape)
        return read_frame(self.path)


def _to_color_mode(faces, mode: str):
    """A frame whose faces mix gray and colorized predictions is merged in colour (gray faces replicated)."""
    chans = {p.face.shape[2] for _, p, _ in faces}
    if chans == {1} or not faces:
        return faces, mode
    out = [(f, dataclasses.replace(p, face=np.repeat(p.face, 3, axis=2) if p.face.shape[2] == 1 else p.face), m)
           for f, p, m in faces]
    return out, "color"


def render_job(job: FrameJob) -> FrameResult:
    image = job.frame()
    if image is None:
        raise UserError(f"{job.path}: unreadable frame")
    faces, mode = _to_color_mode(job.faces, job.mode)
    if not faces and job.cfg.merge_mode.face_only:
        c = 3 if mode == "color" else 1
        return FrameResult(np.zeros((job.resolution, job.resolution, c), np.uint8),
                           np.zeros((job.resolution, job.resolution), np.float32))
    if not faces:
        out = bw_color.to_gray(image) if mode == "gray" else image
        return FrameResult(out, np.zeros(image.shape[:2], np.float32))
    return bw_color.merge_frame(image, faces, job.cfg, mode)


def finish_frame(job: FrameJob) -> str:
    """Worker entry point: merge one frame and write its image and mask PNGs. Returns the frame name."""
    if (not job.faces and job.mode != "gray" and not job.cfg.merge_mode.face_only and not job.export_mask_alpha
            and job.path.suffix.lower() == ".png"):
        _copy_through(job)
        return job.path.name
    res = render_job(job)
    mask8 = cv2.convertScaleAbs(res.mask, alpha=255.0)   # round(255 * mask) to uint8 in one pass (mask is in [0, 1])
    image = res.image
    if job.export_mask_alpha and image.shape[:2] == mask8.shape:
        bgr = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        image = np.concatenate([bgr, mask8[..., None]], axis=2)
    write_output(job.out_path, encode_png(image))
    if job.mask_path is not None:
        write_output(job.mask_path, encode_png(mask8))
    return job.path.name


def _copy_through(job: FrameJob) -> None:
    """A frame without faces is passed on unchanged (PNG bytes copied, all-zero mask); one whose header is
    unreadable or declares more pixels than a frame may have is refused before anything is written."""
    h, w = image_size(job.path)
    tmp = job.out_path.with_name(f".{job.out_path.name}.tmp")
    shutil.copyfile(job.path, tmp)
    tmp.replace(job.out_path)
    if job.mask_path is not None:
        write_output(job.mask_path, encode_png(np.zeros((h, w), np.uint8)))


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) a frame declares in its header, without decoding it; a `UserError` saying why (the frame
    loop names the frame) when the header is unreadable or the size is over the reader's limit."""
    try:
        return file_shape(path)
    except ImageReadError as err:
        raise UserError(err.reason) from None


def worker_init(ring_raw=None, slot_bytes: int = 0) -> None:
    """Set up a merge worker: one OpenCV thread, and the shared frame ring when there is one."""
    global _shared
    cv2.setNumThreads(1)
    if ring_raw is not None:
        _shared = (ring_raw, slot_bytes)
