"""Faceset loading for training: every aligned face of a folder (or of its `faceset.pak`) as a `Sample`.

Each file is read once at load time, in worker processes for large sets: its metadata is parsed, its pixels
are decoded (so a broken face is reported and skipped now, not hours into training) and its head pose is
estimated for uniform-yaw sampling. A `Sample` keeps only what the sample processor needs (landmarks, face
type, mask); pixels are decoded again, once, into the generator's resolution cache. Results are cached per
folder for the process, keyed by the files' sizes and modification times.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import list_images
from core.imagelib.io import MAX_FACE_PIXELS, ImageReadError, decode_image
from facelib.face_type import FaceType
from facelib.landmarks import estimate_pitch_yaw_roll
from facelib.meta import FaceFileError, meta_from_bytes
from samplelib.pak import FACE_EXTS, PAK_NAME, PakError, PackedFaceset, has_pak, pak_path

PARALLEL_MIN_FILES = 200   # below this, spawning workers costs more than it saves
MAX_LOAD_WORKERS = 8
WARN_LINES = 5             # individual warnings printed before summarising


@dataclass(frozen=True, eq=False)
class Sample:
    """One aligned face: where its bytes live and the metadata the sample processor uses."""

    name: str                       # file name, or `person/name` inside a pak
    path: str                       # the image file, or the faceset.pak holding it
    in_pak: bool
    face_type: str                  # DFL name, e.g. "full_face"
    shape: tuple[int, int, int]     # (h, w, c) as decoded for this load (c = 1 when grayscale)
    landmarks: np.ndarray           # 68x2 float32, aligned-image pixels
    eyebrows_expand_mod: float = 1.0
    source_filename: str | None = None
    person: str | None = None
    xseg_png: bytes | None = None   # the XSeg mask, PNG-encoded uint8 (compact to send to workers)
    pitch: float = 0.0
    yaw: float = 0.0
    grayscale: bool = False
    xseg_polys: list | None = None  # hand-drawn XSeg polygons, as `FaceMeta.xseg_polys` (aligned-image pixels)

    @property
    def face_type_enum(self) -> FaceType:
        return FaceType.from_string(self.face_type)

    @property
    def size(self) -> int:
        return self.shape[1]

    def read_bytes(self) -> bytes:
        if self.in_pak:
            return _open_pak(self.path).read_bytes(self.name)
        return Path(self.path).read_bytes()

    def load_image(self, grayscale: bool | None = None) -> np.ndarray:
        """Decoded pixels, uint8: HxW when grayscale (the default follows the load), else HxWx3 BGR."""
        gray = self.grayscale if grayscale is None else grayscale
        image = decode_pixels(self.read_bytes(), gray)
        if image is None:
            raise FaceFileError(f"{self.path}{':' + self.name if self.in_pak else ''}: cannot decode the image")
        return image

    def xseg_mask(self) -> np.ndarray | None:
        """The stored XSeg mask as float32 HxW in [0, 1] (its own resolution), or None."""
        if self.xseg_png is None:
            return None
        mask = decode_image(self.xseg_png, cv2.IMREAD_GRAYSCALE, f"{self.name} XSeg mask", MAX_FACE_PIXELS)
        return mask.astype(np.float32) / 255


def decode_pixels(data: bytes, grayscale: bool) -> np.ndarray | None:
    """uint8 pixels of an encoded face: gray HxW (libjpeg decodes only the luma plane) or BGR HxWx3; None when
    they cannot be decoded or the image declares more pixels than any face has."""
    flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
    try:
        return decode_image(data, flag, max_pixels=MAX_FACE_PIXELS)
    except ImageReadError:
        return None


def _open_pak(path: str) -> PackedFaceset:
    """One parsed pak index per process and pak version (workers reopen the pak by path)."""
    st = os.stat(path)
    return _open_pak_version(path, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _open_pak_version(path: str, size: int, mtime_ns: int) -> PackedFaceset:
    return PackedFaceset(path)


def _encode_mask(mask: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.clip(np.asarray(mask, np.float32) * 255 + 0.5, 0, 255).astype(np.uint8))
    return buf.tobytes() if ok else None


def _load_one(job: tuple[str, str, bool, bool]) -> Sample | str:
    """Read one face: a `Sample`, or a one-line reason why it was skipped."""
    path, name, in_pak, grayscale = job
    label = f"{path}:{name}" if in_pak else path
    try:
        data = _open_pak(path).read_bytes(name) if in_pak else Path(path).read_bytes()
        meta = meta_from_bytes(data, label)
    except (FaceFileError, PakError) as err:
        return str(err)
    except OSError as err:
        return f"{label}: cannot read ({err.strerror})"
    if meta is None:
        return f"{label}: not an aligned face (no face metadata)"
    if meta.landmarks is None or np.shape(meta.landmarks) != (68, 2):
        return f"{label}: face metadata has no 68-point landmarks"
    try:
        image = decode_image(data, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR, label, MAX_FACE_PIXELS)
    except ImageReadError as err:
        return str(err)
    try:
        FaceType.from_string(meta.face_type)
    except ValueError as err:
        return f"{label}: {err}"
    h, w = image.shape[:2]
    landmarks = np.asarray(meta.landmarks, np.float32)
    pitch, yaw, _ = estimate_pitch_yaw_roll(landmarks, w)
    person = name.split("/", 1)[0] if in_pak and "/" in name else None
    return Sample(name=name, path=path, in_pak=in_pak, face_type=meta.face_type, shape=(h, w, 1 if grayscale else 3),
                  landmarks=landmarks, eyebrows_expand_mod=float(meta.eyebrows_expand_mod or 1.0),
                  source_filename=meta.source_filename, person=person,
                  xseg_png=None if meta.xseg_mask is None else _encode_mask(meta.xseg_mask),
                  xseg_polys=meta.xseg_polys,
                  pitch=float(pitch), yaw=float(yaw), grayscale=grayscale)


def _jobs(folder: Path, grayscale: bool) -> tuple[list[tuple[str, str, bool, bool]], tuple]:
    """The files to read and a signature that changes when any of them changes."""
    if has_pak(folder):
        pak = pak_path(folder)
        st = pak.stat()
        return ([(str(pak), n, True, grayscale) for n in _open_pak(str(pak)).names()],
                ("pak", st.st_size, st.st_mtime_ns))
    files = list_images(folder, FACE_EXTS)
    sig = []
    for p in files:
        st = p.stat()
        sig.append((p.name, st.st_size, st.st_mtime_ns))
    return [(str(p), p.name, False, grayscale) for p in files], ("dir", tuple(sig))


_CACHE: dict[tuple[str, bool], tuple[tuple, list[Sample]]] = {}


def load_samples(folder: str | os.PathLike, grayscale: bool = False, workers: int | None = None) -> list[Sample]:
    """All readable aligned faces of `folder` (its `faceset.pak` when present, or that file itself), in natural
    file order.

    Faces that cannot be read are warned about and skipped; a folder without any face is a `UserError`.
    `workers` (default: up to 8, only for large sets) parallelises the reading.
    """
    folder = Path(folder)
    if folder.is_file() and folder.suffix.lower() == ".pak":  # the packed faceset itself was given
        if folder.name != PAK_NAME:
            raise UserError(f"{folder}: a packed faceset is read as {PAK_NAME}; rename it, or give its folder")
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{folder}: faceset folder not found")
    jobs, signature = _jobs(folder, grayscale)
    key = (str(folder.resolve()), bool(grayscale))
    cached = _CACHE.get(key)
    if cached and cached[0] == signature:
        return list(cached[1])
    results = _run(jobs, workers)
    samples = [r for r in results if isinstance(r, Sample)]
    problems = [r for r in results if isinstance(r, str)]
    for msg in problems[:WARN_LINES]:
        interact.log_warn(f"Skipping {msg}")
    if len(problems) > WARN_LINES:
        interact.log_warn(f"... and {len(problems) - WARN_LINES} more files skipped in {folder}")
    if not samples:
        what = "faceset.pak has no readable faces" if has_pak(folder) else "contains no aligned faces (.jpg/.png with face metadata)"
        raise UserError(f"{folder}: {what}")
    _CACHE[key] = (signature, samples)
    return list(samples)


def _run(jobs: list, workers: int | None) -> list[Sample | str]:
    if workers is None:
        workers = min(MAX_LOAD_WORKERS, os.cpu_count() or 1) if len(jobs) >= PARALLEL_MIN_FILES else 0
    desc = "Loading samples"
    if workers <= 1:
        return [_load_one(j) for j in tqdm(jobs, desc=desc, ascii=True, leave=False, disable=len(jobs) < 50)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        chunk = max(1, min(64, len(jobs) // (workers * 4)))
        return list(tqdm(pool.map(_load_one, jobs, chunksize=chunk), total=len(jobs), desc=desc, ascii=True,
                         leave=False))


def clear_cache() -> None:
    """Forget cached facesets (tests, or after editing faces in place within one process)."""
    _CACHE.clear()
    _open_pak_version.cache_clear()
