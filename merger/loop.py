"""The frame loop: reading frames and predicting their faces in batches in the main process (the next chunk
is read while one is predicted), merging and writing in worker processes, resume, and the temporal passes
(gamma probe, mask smoothing). `Merger` also renders the interactive merger's preview."""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core import interact
from core.errors import DISK_ERRNOS, UserError
from core.imagelib.io import read_image
from merger import bw_color, sources, temporal
from merger.config import MergerConfig
from merger.frames import Frame, MergeState, RunOptions, frame_signature, output_paths
from merger.masked import MASK_FIELDS, FacePrediction, FrameResult, Motion, PreparedFace, prepare_face, xseg_crop
from merger.shared_frames import FrameRing
from merger.worker import FrameJob, finish_frame, image_size, read_frame, render_job, worker_init


STATE_SAVE_EVERY = 25   # frames between saves of the merge state (an interrupted run then redoes at most these)


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
        self.landmarks = [[fa.landmarks for fa in f.faces] for f in frames]
        self._tracks: list[list[int]] | None = None
        self._motions: list[list[Motion | None]] | None = None
        self._cut_search: set[int] | None = None   # frames whose cuts matter (None: all)
        self.gammas: dict[tuple[int, int], float] = {}
        self._cache: dict[int, tuple[np.ndarray, list[FacePrediction | None]]] = {}

    # -- tracks ----------------------------------------------------------------------------------------------
    @property
    def tracks(self) -> list[list[int]]:
        """Track id of every face (`temporal.assign_tracks`), with new tracks after hard cuts; found when first
        needed (motion blur, mask smoothing, gamma stabilization)."""
        if self._tracks is None:
            self._tracks = self._find_tracks()
        return self._tracks

    @property
    def motions(self) -> list[list[Motion | None]]:
        """Motion of every face along its own track (motion blur)."""
        if self._motions is None:
            self._motions = temporal.motion_vectors(self.landmarks, self.tracks)
        return self._motions

    def _thumbnail(self, index: int) -> np.ndarray | None:
        image = read_image(self.frames[index].path, cv2.IMREAD_REDUCED_COLOR_4)
        return None if image is None else temporal.thumbnail(image)

    def _find_tracks(self) -> list[list[int]]:
        """Tracks from the landmarks; then every pair of consecutive frames a track spans is checked for a hard
        cut (small thumbnails of both frames), and the tracks are made again with the cuts (twice more at most,
        should the new tracks span other frames)."""
        tracks = temporal.assign_tracks(self.landmarks)
        cuts: set[int] = set()
        checked: set[tuple[int, int]] = set()
        thumbs: dict[int, np.ndarray | None] = {}
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            for _ in range(3):
                pairs = {(a, b) for a, b in temporal.linked_pairs(tracks) - checked
                         if self._cut_search is None or b in self._cut_search}
                if not pairs:
                    break
                need = sorted({i for pair in pairs for i in pair} - thumbs.keys())
                for i, thumb in zip(need, tqdm(pool.map(self._thumbnail, need), total=len(need), unit="frame",
                                               desc="Finding scene cuts", leave=False, disable=len(need) < 50)):
                    thumbs[i] = thumb
                cuts.update(b for a, b in pairs if thumbs[a] is not None and thumbs[b] is not None
                            and temporal.is_cut(thumbs[a], thumbs[b]))
                checked |= pairs
                tracks = temporal.assign_tracks(self.landmarks, cuts)
        return tracks

    # -- per frame -----------------------------------------------------------------------------------------
    def color_mode(self) -> str:
        return bw_color.color_mode(self.spec.channels, self.run.bw_output)

    def load(self, frame: Frame, cfg: MergerConfig) -> _Loaded:
        """Read a frame with faces and cut the model inputs (thread-safe: OpenCV releases the GIL)."""
        if not frame.faces:
            return _Loaded(frame, None, [])
        image = read_frame(frame.path)
        if image is None:
            interact.log_warn(f"{frame.path}: unreadable frame, skipped")
            return _Loaded(frame, None, [], unreadable=True)
        view = bw_color.model_view(image, self.spec.channels)
        faces = [prepare_face(view, fa.landmarks, self.spec.resolution, self.spec.face_type,
                              cfg.output_face_scale, fa.eyebrows_expand_mod) for fa in frame.faces]
        xseg = getattr(self.source, "xseg", None)
        if xseg is not None:  # XSeg sees the colour frame at its own size (DFL's XSeg-dst input)
            faces = [None if f is None else dataclasses.replace(f, xseg_face=xseg_crop(
                image, fa.landmarks, int(xseg.resolution), self.spec.face_type)) for f, fa in zip(faces, frame.faces)]
        return _Loaded(frame, image, faces)

    def _predict(self, items: list[_Loaded]) -> None:
        keys, inputs, xseg_inputs, slots = [], [], [], []
        for item in items:
            item.preds = [None] * len(item.faces)
            for k, face in enumerate(item.faces):
                if face is not None:
                    keys.append((item.frame.stem, k))
                    inputs.append(face.dst_face)
                    xseg_inputs.append(face.xseg_face)
                    slots.append((item, k))
        if not inputs:
            return
        with_xseg = all(x is not None for x in xseg_inputs)
        preds = self.source.predict(keys, inputs, xseg_inputs) if with_xseg else self.source.predict(keys, inputs)
        for (item, k), pred in zip(slots, preds):
            if with_xseg:  # its masks are made: the workers need no copy of the crop
                item.faces[k] = dataclasses.replace(item.faces[k], xseg_face=None)
            gamma = self.gammas.get((item.frame.index, k), 1.0)
            item.preds[k] = None if pred is None else temporal.apply_gamma(pred, gamma)

    def _stream(self, frames: list[Frame]) -> Iterator[_Loaded]:
        """Loaded and predicted frames in order; the next chunk is read while this one is predicted. The first
        chunk is a quarter of a batch, so that the workers get frames to merge sooner."""
        chunk = max(1, self.run.batch_size)
        first = max(1, chunk // 4)
        groups = [frames[:first]] + [frames[i:i + chunk] for i in range(first, len(frames), chunk)]
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

    def _job(self, item: _Loaded, cfg: MergerConfig | None = None) -> FrameJob:
        """The worker's job for a loaded frame: each face with its prediction (and its track's motion when the
        config blurs motion)."""
        frame = item.frame
        cfg = cfg or self.configs[frame.index]
        motions = self.motions[frame.index] if cfg.motion_blur_power > 0 else [None] * len(item.faces)
        faces = [(face, pred, motion) for face, pred, motion in zip(item.faces, item.preds, motions)
                 if face is not None and pred is not None]
        out, mask = output_paths(frame, self.run)
        return FrameJob(frame.path, item.image, faces, cfg, self.color_mode(), out, mask,
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
        return render_job(self._job(item, cfg))

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
            masks = [name for name in MASK_FIELDS if getattr(pred, name) is not None]
            preds[k] = dataclasses.replace(pred, **{name: temporal.average_masks(
                [getattr(window[i].preds[j], name) for i, j in hood]) for name in masks})
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
    def _finish(self, job: FrameJob, stats: MergeStats, state: MergeState,
                error: BaseException | None = None) -> None:
        if error is None:
            if job.faces:
                stats.merged += 1
            else:
                stats.copied += 1
            state.frames[job.path.name] = frame_signature(self.run, job.cfg)
            if (stats.merged + stats.copied) % STATE_SAVE_EVERY == 0:
                state.save()
            return
        state.frames.pop(job.path.name, None)
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
            raise error  # no frame after this one can be written either: stop, keep what is merged
        if isinstance(error, (UserError, cv2.error, OSError, ValueError)):
            interact.log_warn(f"{job.path}: not merged ({str(error).strip()[:200]})")
            stats.failed += 1
            return
        raise error

    def pending(self, todo: list[Frame]) -> list[Frame]:
        """The frames of `todo` without output made with their current signature (all of them with `force`)."""
        if self.run.force:
            return list(todo)
        state = MergeState.load(self.run.output_dir)
        return [f for f in todo if not state.is_done(f, self.run, self.configs[f.index])]

    def run_all(self, todo: list[Frame]) -> MergeStats:
        """Merge and write `todo`; frames already merged with the same model state, settings and options are
        skipped unless `force`."""
        stats = MergeStats()
        remaining = self.pending(todo)
        stats.already_done = len(todo) - len(remaining)
        if stats.already_done:
            interact.log_info(f"{stats.already_done} frames already merged with these settings, skipped "
                              "(use --force to redo them)")
        todo = remaining
        if not todo:
            return stats
        self.run.output_dir.mkdir(parents=True, exist_ok=True)
        state = MergeState.load(self.run.output_dir)
        if self.run.mask_dir is not None:
            self.run.mask_dir.mkdir(parents=True, exist_ok=True)
        if self._tracks is None:   # a run over some frames looks for cuts near them only
            reach = max(self.run.smooth_mask, self.run.gamma_window if self.run.stabilize_gamma else 0, 2) // 2
            self._cut_search = {f.index for f in self._context(todo, reach + temporal.MAX_GAP + 1)}
        if self.run.stabilize_gamma:
            self.probe_gamma([f for f in self._context(todo, self.run.gamma_window // 2) if f.faces])
        todo_ids = {f.index for f in todo}
        workers = max(1, self.run.workers)
        in_flight = 2 * workers + self.run.batch_size
        executor, ring = None, None
        if workers > 1:
            ctx = multiprocessing.get_context("spawn")
            ring = frame_ring(ctx, todo, in_flight)
            executor = cf.ProcessPoolExecutor(max_workers=workers, initializer=worker_init, mp_context=ctx,
                                              initargs=(ring.raw, ring.slot_bytes) if ring else ())
            for _ in range(workers):  # start every worker now, while the first frames are read and predicted
                executor.submit(worker_init)
        pending: dict[cf.Future, FrameJob] = {}

        def collect(futures) -> None:
            for fut in futures:
                job = pending.pop(fut)
                if job.slot is not None:
                    ring.release(job.slot)
                self._finish(job, stats, state, fut.exception())
                bar.update(1)

        bar = tqdm(total=len(todo), desc="Merging", unit="frame")
        quiet_console = logging_redirect_tqdm(loggers=[interact.log])   # warnings print above the bar, not into it
        quiet_console.__enter__()
        try:
            for item in self._smoothed(self._stream(self._context(todo, self.run.smooth_mask // 2))):
                if item.frame.index not in todo_ids:
                    continue
                if item.unreadable:
                    state.frames.pop(item.frame.name, None)
                    stats.failed += 1
                    bar.update(1)
                    continue
                job = self._job(item)
                if executor is None:
                    try:
                        finish_frame(job)
                        self._finish(job, stats, state)
                    except Exception as err:  # noqa: BLE001 - _finish re-raises what is not a per-frame problem
                        self._finish(job, stats, state, err)
                    bar.update(1)
                    continue
                slot = ring.put(job.image) if ring is not None and job.image is not None else None
                if slot is not None:   # the frame travels in shared memory, not through the task pipe
                    job = dataclasses.replace(job, image=None, slot=slot, shape=job.image.shape)
                pending[executor.submit(finish_frame, job)] = job
                collect([fut for fut in pending if fut.done()])   # keeps the progress bar moving
                if len(pending) >= in_flight:
                    done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
                    collect(done)
            collect(list(pending))
        except BaseException:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
                executor = None
            with contextlib.suppress(OSError):  # (on a full disk the first error is the one to report)
                state.save()
            raise
        finally:
            bar.close()
            quiet_console.__exit__(None, None, None)
            if executor is not None:
                executor.shutdown(wait=True)
        state.save()
        return stats


def frame_ring(ctx, frames: list[Frame], slots: int) -> FrameRing | None:
    """A shared ring sized for the first frame with faces (frames without faces are copied, never decoded)."""
    first = next((f for f in frames if f.faces), None)
    if first is None:
        return None
    try:
        h, w = image_size(first.path)
    except UserError:
        return None   # unreadable: that frame is reported when it is loaded
    return FrameRing(ctx, slots, h * w * 3)
