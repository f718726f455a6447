"""The frame loop: which frames to merge, reading and predicting in the main process (the model predicts in
batches), merging and writing in spawn-safe worker processes, resume, and the temporal passes (gamma probe,
mask smoothing).

`Merger` is also what the interactive merger renders its preview with.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import re
import shutil
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import atomic_write_bytes, list_images
from merger import bw_color, sources, temporal
from merger.config import MergerConfig
from merger.masked import FacePrediction, FrameResult, Motion, PreparedFace, prepare_face


# ------------------------------------------------------------------------------------------------- frames ---

@dataclass
class FaceAlignment:
    """One dst face as the aligned folder describes it."""

    landmarks: np.ndarray            # 68x2 frame pixels
    eyebrows_expand_mod: float = 1.0


@dataclass
class Frame:
    index: int
    path: Path
    faces: list[FaceAlignment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem


def build_frames(input_dir: Path, alignments: dict[str, list[FaceAlignment]]) -> list[Frame]:
    """Every image of `input_dir` (natural order) with the faces the alignments give for its stem."""
    paths = list_images(input_dir)
    if not paths:
        raise UserError(f"{input_dir}: no frame images found")
    return [Frame(i, p, list(alignments.get(p.stem, []))) for i, p in enumerate(paths)]


def parse_frame_ranges(text: str) -> set[int]:
    """'100-400,500' -> {100..400, 500}."""
    out: set[int] = set()
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", part)
        if not m:
            raise UserError(f"frame range {part!r} is not N or N-M (e.g. 100-400,500)")
        if m.group(3):
            out.add(int(m.group(3)))
        else:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise UserError(f"frame range {part!r} ends before it starts")
            out.update(range(a, b + 1))
    return out


def frame_numbers(frames: list[Frame]) -> list[int]:
    """The numbers a user sees for frames: the trailing digits of their names (00123.png -> 123), or their 1-based
    positions when the names carry no numbers."""
    found = [re.search(r"(\d+)$", f.stem) for f in frames]
    if all(found):
        return [int(m.group(1)) for m in found]
    return [f.index + 1 for f in frames]


def select_frames(frames: list[Frame], only: str | None = None, skip: str | None = None) -> list[Frame]:
    """The frames `--frames` keeps and `--skip-frames` does not drop."""
    keep = parse_frame_ranges(only) if only else None
    drop = parse_frame_ranges(skip) if skip else set()
    return [f for f, n in zip(frames, frame_numbers(frames)) if (keep is None or n in keep) and n not in drop]


# ----------------------------------------------------------------------------------------------- options ---

@dataclass
class RunOptions:
    output_dir: Path
    mask_dir: Path | None = None
    bw_output: str = "luma"          # one-channel faces into colour frames: gray | luma | precomputed
    stabilize_gamma: bool = False
    gamma_window: int = 25           # frames in the running average of gamma stabilization
    smooth_mask: int = 0             # frames averaged by temporal mask smoothing (0/1 = off)
    export_mask_alpha: bool = False  # merged PNGs carry the mask as alpha
    force: bool = False              # re-merge frames that already have output
    workers: int = 1                 # worker processes; 1 = merge in this process
    batch_size: int = 8              # faces per model call


def output_paths(frame: Frame, run: RunOptions) -> tuple[Path, Path | None]:
    name = frame.stem + ".png"
    return run.output_dir / name, (run.mask_dir / name if run.mask_dir else None)


def is_done(frame: Frame, run: RunOptions) -> bool:
    out, mask = output_paths(frame, run)
    return out.exists() and (mask is None or mask.exists())


# ------------------------------------------------------------------------------------------- worker side ---

def read_image(path: Path) -> np.ndarray | None:
    """BGR uint8 HxWx3, or None for an unreadable file."""
    try:
        img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    except OSError:
        return None
    return img


def encode_png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise UserError("cannot encode PNG")
    return buf.tobytes()


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


def _to_color_mode(faces, mode: str):
    """A frame whose faces mix gray and colorized predictions is merged in colour (gray faces replicated)."""
    chans = {p.face.shape[2] for _, p, _ in faces}
    if chans == {1} or not faces:
        return faces, mode
    out = [(f, FacePrediction(np.repeat(p.face, 3, axis=2) if p.face.shape[2] == 1 else p.face,
                              p.learned_prd, p.learned_dst), m) for f, p, m in faces]
    return out, "color"


def render_job(job: FrameJob) -> FrameResult:
    image = job.image if job.image is not None else read_image(job.path)
    if image is None:
        raise UserError(f"{job.path}: unreadable frame")
    faces, mode = _to_color_mode(job.faces, job.mode)
    if not faces and job.cfg.mode == "raw-predict":
        c = 3 if mode == "color" else 1
        return FrameResult(np.zeros((job.resolution, job.resolution, c), np.uint8),
                           np.zeros((job.resolution, job.resolution), np.float32))
    if not faces:
        out = bw_color.to_gray(image) if mode == "gray" else image
        return FrameResult(out, np.zeros(image.shape[:2], np.float32))
    return bw_color.merge_frame(image, faces, job.cfg, mode)


def finish_frame(job: FrameJob) -> str:
    """Worker entry point: merge one frame and write its image and mask PNGs. Returns the frame name."""
    if (not job.faces and job.mode != "gray" and job.cfg.mode != "raw-predict" and not job.export_mask_alpha
            and job.path.suffix.lower() == ".png"):
        _copy_through(job)
        return job.path.name
    res = render_job(job)
    mask8 = np.clip(np.rint(res.mask * 255), 0, 255).astype(np.uint8)
    image = res.image
    if job.export_mask_alpha and image.shape[:2] == mask8.shape:
        bgr = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        image = np.concatenate([bgr, mask8[..., None]], axis=2)
    atomic_write_bytes(job.out_path, encode_png(image))
    if job.mask_path is not None:
        atomic_write_bytes(job.mask_path, encode_png(mask8))
    return job.path.name


def _copy_through(job: FrameJob) -> None:
    """A frame without faces is passed on unchanged (PNG bytes copied, all-zero mask)."""
    tmp = job.out_path.with_name(f".{job.out_path.name}.tmp")
    shutil.copyfile(job.path, tmp)
    tmp.replace(job.out_path)
    if job.mask_path is not None:
        h, w = _png_size(job.path)
        atomic_write_bytes(job.mask_path, encode_png(np.zeros((h, w), np.uint8)))


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    img = read_image(path)
    if img is None:
        raise UserError(f"{path}: unreadable frame")
    return img.shape[:2]


def _worker_init() -> None:
    cv2.setNumThreads(1)


# ------------------------------------------------------------------------------------------- main side ---

@dataclass
class MergeStats:
    merged: int = 0
    copied: int = 0
    already_done: int = 0
    failed: int = 0


@dataclass
class _Loaded:
    frame: Frame
    image: np.ndarray | None
    faces: list[PreparedFace | None]
    preds: list[FacePrediction | None] = field(default_factory=list)
    unreadable: bool = False


class Merger:
    """Merges a list of frames with one face source; per-frame configs come from `configs` (same length)."""

    def __init__(self, frames: list[Frame], configs: list[MergerConfig], source: sources.FaceSource,
                 run: RunOptions):
        if len(configs) != len(frames):
            raise ValueError("one config per frame is needed")
        self.frames, self.configs, self.source, self.run = frames, configs, source, run
        self.spec = source.spec
        landmarks = [[fa.landmarks for fa in f.faces] for f in frames]
        self.motions = temporal.motion_vectors(landmarks)
        self.tracks = temporal.assign_tracks(landmarks)
        self.gammas: dict[tuple[int, int], float] = {}
        self._cache: dict[int, tuple[np.ndarray, list[FacePrediction | None]]] = {}

    # -- per frame -----------------------------------------------------------------------------------------
    def color_mode(self) -> str:
        return bw_color.color_mode(self.spec.channels, self.run.bw_output)

    def load(self, frame: Frame, cfg: MergerConfig) -> _Loaded:
        """Read a frame with faces and cut the model inputs (thread-safe: OpenCV releases the GIL)."""
        if not frame.faces:
            return _Loaded(frame, None, [])
        image = read_image(frame.path)
        if image is None:
            interact.log_warn(f"{frame.path}: unreadable frame, skipped")
            return _Loaded(frame, None, [], unreadable=True)
        view = bw_color.model_view(image, self.spec.channels)
        faces = [prepare_face(view, fa.landmarks, self.spec.resolution, self.spec.face_type,
                              cfg.output_face_scale, fa.eyebrows_expand_mod) for fa in frame.faces]
        return _Loaded(frame, image, faces)

    def _predict(self, items: list[_Loaded]) -> None:
        keys, inputs, slots = [], [], []
        for item in items:
            item.preds = [None] * len(item.faces)
            for k, face in enumerate(item.faces):
                if face is not None:
                    keys.append((item.frame.stem, k))
                    inputs.append(face.dst_face)
                    slots.append((item, k))
        if not inputs:
            return
        for (item, k), pred in zip(slots, self.source.predict(keys, inputs)):
            gamma = self.gammas.get((item.frame.index, k), 1.0)
            item.preds[k] = None if pred is None else temporal.apply_gamma(pred, gamma)

    def _stream(self, frames: list[Frame]) -> Iterator[_Loaded]:
        """Loaded and predicted frames in order; the next chunk is read while this one is predicted."""
        chunk = max(1, self.run.batch_size)
        groups = [frames[i:i + chunk] for i in range(0, len(frames), chunk)]
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            pending = deque()
            for group in groups[:2]:
                pending.append([pool.submit(self.load, f, self.configs[f.index]) for f in group])
            next_group = 2
            while pending:
                items = [fut.result() for fut in pending.popleft()]
                if next_group < len(groups):
                    pending.append([pool.submit(self.load, f, self.configs[f.index]) for f in groups[next_group]])
                    next_group += 1
                self._predict(items)
                yield from items

    def _job(self, item: _Loaded) -> FrameJob:
        frame = item.frame
        faces = [(face, pred, self.motions[frame.index])
                 for face, pred in zip(item.faces, item.preds) if face is not None and pred is not None]
        out, mask = output_paths(frame, self.run)
        return FrameJob(frame.path, item.image, faces, self.configs[frame.index], self.color_mode(), out, mask,
                        self.run.export_mask_alpha, self.spec.resolution)

    def render(self, index: int, cfg: MergerConfig | None = None) -> FrameResult:
        """Merge frame `index` in this process (the interactive preview); predictions are cached per frame."""
        frame = self.frames[index]
        cfg = cfg or self.configs[index]
        if index not in self._cache:
            item = self.load(frame, cfg)
            self._predict([item])
            self._cache = {k: v for k, v in self._cache.items() if abs(k - index) < 8}
            self._cache[index] = (item.image, item.preds)
        image, preds = self._cache[index]
        item = _Loaded(frame, image, [])
        if image is not None:
            view = bw_color.model_view(image, self.spec.channels)
            item.faces = [prepare_face(view, fa.landmarks, self.spec.resolution, self.spec.face_type,
                                       cfg.output_face_scale, fa.eyebrows_expand_mod) for fa in frame.faces]
        item.preds = preds
        job = self._job(item)
        job.cfg = cfg
        return render_job(job)

    def export_predictions(self, frames: list[Frame], folder: Path) -> int:
        """Precomputed pass 1: write every predicted face of `frames` to `folder`; returns the face count."""
        folder.mkdir(parents=True, exist_ok=True)
        count = 0
        for item in tqdm(self._stream([f for f in frames if f.faces]), total=sum(1 for f in frames if f.faces),
                         desc="Predicting faces", unit="frame"):
            for k, pred in enumerate(item.preds):
                if pred is not None:
                    sources.save_prediction(folder, (item.frame.stem, k), pred)
                    count += 1
        found = sources.read_spec(folder)
        stems = [f.stem for f in frames] + (sorted(found[1]) if found else [])
        sources.write_spec(folder, self.spec, stems)
        return count

    # -- temporal passes -------------------------------------------------------------------------------------
    def _context(self, todo: list[Frame], radius: int) -> list[Frame]:
        """`todo` plus its neighbours within `radius` frames (what the temporal passes look at)."""
        if radius <= 0:
            return todo
        wanted = set()
        for f in todo:
            wanted.update(range(max(0, f.index - radius), min(len(self.frames), f.index + radius + 1)))
        return [self.frames[i] for i in sorted(wanted)]

    def probe_gamma(self, frames: list[Frame]) -> None:
        """Gamma stabilization probe: predict every face once, measure its brightness, derive gammas per track."""
        self.gammas = {}
        brightness = {}
        with tqdm(total=len(frames), desc="Gamma probe", unit="frame", leave=False) as bar:
            for item in self._stream(frames):
                for k, pred in enumerate(item.preds):
                    if pred is not None:
                        brightness[(item.frame.index, k)] = temporal.face_brightness(pred)
                bar.update(1)
        self.gammas = temporal.track_gammas(self.tracks, brightness, self.run.gamma_window)

    def _smooth_one(self, window: dict[int, _Loaded], idx: int, radius: int) -> _Loaded:
        item = window[idx]
        faces, preds = list(item.faces), list(item.preds)
        for k, (face, pred) in enumerate(zip(item.faces, item.preds)):
            if face is None or pred is None:
                continue
            hood = [(i, j) for i, j in temporal.track_neighbours(self.tracks, idx, k, radius, set(window))
                    if j < len(window[i].preds) and window[i].preds[j] is not None]
            preds[k] = FacePrediction(pred.face,
                                      temporal.average_masks([window[i].preds[j].learned_prd for i, j in hood]),
                                      temporal.average_masks([window[i].preds[j].learned_dst for i, j in hood]))
            faces[k] = dataclasses.replace(
                face, dst_hull=temporal.average_masks([window[i].faces[j].dst_hull for i, j in hood]))
        return _Loaded(item.frame, item.image, faces, preds, item.unreadable)

    def _smoothed(self, stream: Iterable[_Loaded]) -> Iterator[_Loaded]:
        """Average each face's masks (learned and landmark hull, in face space) with the same track's masks in
        the `smooth_mask` neighbouring frames. Items arrive in frame order; each leaves once its later
        neighbours have arrived."""
        radius = self.run.smooth_mask // 2
        if radius <= 0:
            yield from stream
            return
        window: dict[int, _Loaded] = {}
        pending: deque[int] = deque()
        for item in stream:
            idx = item.frame.index
            window[idx] = item
            pending.append(idx)
            while pending and pending[0] + radius <= idx:
                yield self._smooth_one(window, pending.popleft(), radius)
            low = (pending[0] if pending else idx) - radius
            for old in [i for i in window if i < low]:
                del window[old]
        while pending:
            yield self._smooth_one(window, pending.popleft(), radius)

    # -- the run ---------------------------------------------------------------------------------------------
    def _finish(self, job: FrameJob, stats: MergeStats, error: BaseException | None = None) -> None:
        if error is None:
            if job.faces:
                stats.merged += 1
            else:
                stats.copied += 1
            return
        if isinstance(error, (UserError, cv2.error, OSError, ValueError)):
            interact.log_warn(f"{job.path}: not merged ({str(error).strip()[:200]})")
            stats.failed += 1
            return
        raise error

    def run_all(self, todo: list[Frame]) -> MergeStats:
        """Merge and write `todo` (frames already merged are skipped unless `force`)."""
        stats = MergeStats()
        if not self.run.force:
            remaining = [f for f in todo if not is_done(f, self.run)]
            stats.already_done = len(todo) - len(remaining)
            if stats.already_done:
                interact.log_info(f"{stats.already_done} frames already merged, skipped (use --force to redo them)")
            todo = remaining
        if not todo:
            return stats
        self.run.output_dir.mkdir(parents=True, exist_ok=True)
        if self.run.mask_dir is not None:
            self.run.mask_dir.mkdir(parents=True, exist_ok=True)
        if self.run.stabilize_gamma:
            self.probe_gamma([f for f in self._context(todo, self.run.gamma_window // 2) if f.faces])
        todo_ids = {f.index for f in todo}
        workers = max(1, self.run.workers)
        executor = None
        if workers > 1:
            executor = cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                              mp_context=multiprocessing.get_context("spawn"))
        pending: dict[cf.Future, FrameJob] = {}

        def collect(futures) -> None:
            for fut in futures:
                job = pending.pop(fut)
                self._finish(job, stats, fut.exception())
                bar.update(1)

        bar = tqdm(total=len(todo), desc="Merging", unit="frame")
        try:
            for item in self._smoothed(self._stream(self._context(todo, self.run.smooth_mask // 2))):
                if item.frame.index not in todo_ids:
                    continue
                if item.unreadable:
                    stats.failed += 1
                    bar.update(1)
                    continue
                job = self._job(item)
                if executor is None:
                    try:
                        finish_frame(job)
                        self._finish(job, stats)
                    except Exception as err:  # noqa: BLE001 - _finish re-raises what is not a per-frame problem
                        self._finish(job, stats, err)
                    bar.update(1)
                    continue
                pending[executor.submit(finish_frame, job)] = job
                if len(pending) >= 2 * workers + self.run.batch_size:
                    done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                    collect(done)
            collect(list(pending))
        except BaseException:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
                executor = None
            raise
        finally:
            bar.close()
            if executor is not None:
                executor.shutdown(wait=True)
        return stats
