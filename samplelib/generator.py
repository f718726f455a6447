"""`SampleGeneratorFace`: training batches `[warped, target, mask, em_mask]` made by background processes.

The main process only decides *which* faces go into each batch (shuffled cycles without replacement, or
DFL's uniform-yaw bins) and hands each batch to a worker together with one random seed per face. Workers
(spawned, so safe beside TensorFlow) render the batch straight into a shared-memory slot; `next()` copies it
out and hands the slot to the next task, so several batches are always in flight and the train step does
not wait. Each face is decoded, converted (grayscale: decoded from the JPEG's luma plane), re-aligned and
masked once, into a shared uint8 cache at model resolution that every worker reads and fills.

`workers=0` renders in the calling process (tests, benchmarks, debugging); the batches are identical for
the same seed.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import traceback
import weakref
from dataclasses import dataclass

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from samplelib.loader import Sample, load_samples
from samplelib.processor import (Batch, ProcessorConfig, check_face_type, prepare_block, prepare_ct_reference,
                                 render_into)

YAW_BINS = 128
YAW_RANGE = 1.2            # 2DFAN landmarks practically span yaw +-1.2 rad
MAX_DEFAULT_CACHE_MB = 8192
RESULT_POLL_S = 1.0
PARENT_CHECK_S = 2.0


# ------------------------------------------------------------------------------------- index selection ---

class ShuffledCycle:
    """Indices 0..n-1 in a random order without replacement, reshuffled every time they run out (DFL)."""

    def __init__(self, items, rng: np.random.Generator):
        self.items = np.asarray(items)
        self.rng = rng
        self.order: list = []

    def take(self):
        if not self.order:
            self.order = list(self.rng.permutation(self.items))
        return self.order.pop()


class YawBalancedIndex:
    """DFL's uniform yaw: 128 bins over [-1.2, 1.2] of -yaw (the ends catch everything beyond); draw a bin
    from a shuffled cycle over the non-empty bins, then a face from that bin's own shuffled cycle."""

    def __init__(self, yaws, rng: np.random.Generator):
        edges = np.linspace(-YAW_RANGE, YAW_RANGE, YAW_BINS)
        bins = np.clip(np.searchsorted(edges, -np.asarray(yaws, np.float64), side="right") - 1, 0, YAW_BINS - 1)
        groups = [np.flatnonzero(bins == b) for b in range(YAW_BINS)]
        self.bins = [ShuffledCycle(g, rng) for g in groups if len(g)]
        self.bin_cycle = ShuffledCycle(range(len(self.bins)), rng)

    def take(self) -> int:
        return int(self.bins[self.bin_cycle.take()].take())


# ---------------------------------------------------------------------------------------- shared memory ---

def physical_memory_mb() -> int | None:
    """The machine's RAM in MB, or None when the platform does not say."""
    if os.name == "nt":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total_phys", ctypes.c_ulonglong),
                        ("avail_phys", ctypes.c_ulonglong), ("total_page", ctypes.c_ulonglong),
                        ("avail_page", ctypes.c_ulonglong), ("total_virtual", ctypes.c_ulonglong),
                        ("avail_virtual", ctypes.c_ulonglong), ("avail_extended", ctypes.c_ulonglong)]

        status = MemoryStatus(length=ctypes.sizeof(MemoryStatus))
        try:
            ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
        except (AttributeError, OSError):
            return None
        return int(status.total_phys >> 20) if ok else None
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20)
    except (ValueError, OSError, AttributeError):
        return None


def default_cache_mb() -> int:
    """The default face cache of one generator: an eighth of the RAM (src and dst get one each), at most
    MAX_DEFAULT_CACHE_MB; 2048 when the RAM is unknown."""
    ram = physical_memory_mb()
    return 2048 if ram is None else max(64, min(MAX_DEFAULT_CACHE_MB, ram // 8))


def cache_size_mb(requested: float | None) -> float:
    """The face cache of one generator in MB: `requested` (0 = none), or the default when None or negative."""
    return default_cache_mb() if requested is None or requested < 0 else requested


def _raw(ctx, nbytes: int):
    return ctx.RawArray("B", max(1, int(nbytes)))


@dataclass
class SharedFaces:
    """uint8 cache of prepared faces (+ masks) in shared memory, filled on first use by whichever process
    needs the face; `lock` makes the fill flag and its data visible together across processes."""

    count: int                      # faces with a cache slot (the first `count` samples)
    face_shape: tuple
    mask_shape: tuple | None        # None: no masks (colour-transfer references)
    faces: object
    masks: object
    filled: object
    lock: object

    @classmethod
    def create(cls, ctx, n: int, face_shape: tuple, mask_shape: tuple | None, limit_bytes: int) -> "SharedFaces":
        per = int(np.prod(face_shape)) + (int(np.prod(mask_shape)) if mask_shape else 0)
        count = int(min(n, limit_bytes // max(per, 1)))
        return cls(count, face_shape, mask_shape, _raw(ctx, count * np.prod(face_shape)),
                   _raw(ctx, count * np.prod(mask_shape)) if mask_shape else None, _raw(ctx, count), ctx.Lock())


class FaceStore:
    """Per-process view of a `SharedFaces`: get prepared faces, preparing and caching them when needed."""

    def __init__(self, shared: SharedFaces, prepare):
        self.shared, self.prepare = shared, prepare
        n = shared.count
        self.faces = np.frombuffer(shared.faces, np.uint8)[: n * int(np.prod(shared.face_shape))].reshape(
            (n, *shared.face_shape))
        self.masks = None
        if shared.mask_shape:
            self.masks = np.frombuffer(shared.masks, np.uint8)[: n * int(np.prod(shared.mask_shape))].reshape(
                (n, *shared.mask_shape))
        self.filled = np.frombuffer(shared.filled, np.uint8)[:n]

    def get(self, index: int, sample: Sample):
        """(face, masks or None) for sample `index`; raises the loader's errors for an unreadable face."""
        if index < self.shared.count:
            with self.shared.lock:
                ready = bool(self.filled[index])
            if ready:
                return self.faces[index], (self.masks[index] if self.masks is not None else None)
        result = self.prepare(sample)
        face, masks = result if isinstance(result, tuple) else (result, None)
        if index < self.shared.count:
            self.faces[index] = face
            if self.masks is not None:
                self.masks[index] = masks
            with self.shared.lock:
                self.filled[index] = 1
        return face, masks


class BatchSlots:
    """A ring of preallocated float32 batches in shared memory that workers render into."""

    def __init__(self, raw, slots: int, batch_size: int, cfg: ProcessorConfig):
        r, c = cfg.resolution, cfg.channels
        per = batch_size * r * r * (2 * c + 2)
        arr = np.frombuffer(raw, np.float32)[: slots * per].reshape(slots, per)
        self.batches = []
        for k in range(slots):
            parts, start = [], 0
            for ch in (c, c, 1, 1):
                size = batch_size * r * r * ch
                parts.append(arr[k, start:start + size].reshape(batch_size, r, r, ch))
                start += size
            self.batches.append(Batch(*parts))

    @staticmethod
    def nbytes(slots: int, batch_size: int, cfg: ProcessorConfig) -> int:
        return slots * batch_size * cfg.resolution ** 2 * (2 * cfg.channels + 2) * 4


# ------------------------------------------------------------------------------------------ batch work ---

@dataclass(frozen=True)
class Task:
    slot: int
    indices: tuple[int, ...]
    seeds: tuple[int, ...]
    ct_indices: tuple[int, ...] | None


class BatchMaker:
    """Renders tasks; the same object runs inside workers and, with `workers=0`, in the caller."""

    def __init__(self, samples, cfg: ProcessorConfig, faces: SharedFaces, ct_samples=None,
                 ct_faces: SharedFaces | None = None):
        self.samples, self.cfg, self.ct_samples = samples, cfg, ct_samples
        self.store = FaceStore(faces, lambda s: prepare_block(s, cfg))
        self.ct_store = FaceStore(ct_faces, lambda s: prepare_ct_reference(s, cfg)) if ct_faces else None
        self.bad: set[int] = set()
        self.warnings: list[str] = []

    def _face(self, index: int, rng: np.random.Generator):
        """A prepared face; an unreadable one is reported once and replaced by another face."""
        for _ in range(len(self.samples)):
            if index not in self.bad:
                try:
                    return self.store.get(index, self.samples[index])
                except (UserError, OSError, cv2.error) as err:
                    self.bad.add(index)
                    self.warnings.append(f"Skipping unreadable face: {err}")
            if len(self.bad) >= len(self.samples):
                break
            index = int(rng.integers(len(self.samples)))
        raise UserError("none of the faces of this faceset can be read any more")

    def make(self, task: Task, batch: Batch) -> None:
        for i, (index, seed) in enumerate(zip(task.indices, task.seeds)):
            rng = np.random.default_rng(seed)
            face, masks = self._face(index, rng)
            ct_ref = None
            if self.ct_store is not None and task.ct_indices is not None:
                k = task.ct_indices[i]
                try:
                    ct_ref = self.ct_store.get(k, self.ct_samples[k])[0]
                except (UserError, OSError, cv2.error) as err:
                    self.warnings.append(f"Colour transfer reference skipped: {err}")
            render_into(batch, i, face, masks, self.cfg, rng, ct_ref)
        batch.finish()

    def take_warnings(self) -> list[str]:
        out, self.warnings = self.warnings, []
        return out


def _worker_main(maker_args: tuple, slots_raw, slots: int, batch_size: int, tasks, results) -> None:
    """Entry point of a spawned sample worker: render tasks until told to stop (None)."""
    for name in ("SIGINT", *interact.STOP_SIGNALS):  # Ctrl-C, kill, a closed terminal: the trainer's to handle
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    cv2.setNumThreads(1)
    maker = BatchMaker(*maker_args)
    ring = BatchSlots(slots_raw, slots, batch_size, maker.cfg)
    parent = mp.parent_process()
    while True:
        try:
            task = tasks.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return  # the trainer was killed: do not linger
            continue
        if task is None:
            return
        try:
            maker.make(task, ring.batches[task.slot])
            results.put((task.slot, None, maker.take_warnings()))
        except UserError as err:  # report, keep serving: the main process decides to stop
            results.put((task.slot, ("user", str(err)), maker.take_warnings()))
        except Exception:
            results.put((task.slot, ("bug", traceback.format_exc()), maker.take_warnings()))


def _shutdown(procs: list, tasks) -> None:
    for _ in procs:
        try:
            tasks.put_nowait(None)
        except Exception:
            pass
    for p in procs:
        p.join(timeout=5)
    for p in procs:
        if p.is_alive():
            p.kill()  # (they ignore SIGTERM)
            p.join(timeout=2)


# ------------------------------------------------------------------------------------------- generator ---

class BatchStream:
    """DFL's generator protocol on top of `next()`: `generate_next()` (DFL's name) and iteration."""

    def next(self) -> list[np.ndarray]:
        raise NotImplementedError

    def generate_next(self) -> list[np.ndarray]:
        return self.next()

    def __next__(self) -> list[np.ndarray]:
        return self.next()

    def __iter__(self) -> "BatchStream":
        return self


class SampleGeneratorFace(BatchStream):
    """Endless batches of `[warped, target, mask, em_mask]`, float32 NHWC in [0, 1] (C = `channels`).

    Arguments follow DFL's SAEHD generator: `face_type` is the model's (faces are re-aligned when theirs
    differs; a face narrower than the model's type is an error), `ct_mode`/`ct_samples` colour-transfer each
    face toward a random face of `ct_samples` (the dst set), `uniform_yaw` balances head poses,
    `eyes_mouth_prio` fills `em_mask` (zeros otherwise). `masked` is recorded for the model (masks are always
    delivered). `workers`: background processes (default half the CPUs, as DFL; 0 = in the caller).
    `cache_mb`: RAM for prepared faces (None = `default_cache_mb()`, 0 = no cache).
    """

    def __init__(self, samples: list[Sample], batch_size: int, resolution: int, channels: int = 3,
                 face_type: str | None = None, random_warp: bool = True, random_flip: bool = True,
                 ct_mode: str = "none", ct_samples: list[Sample] | None = None, uniform_yaw: bool = False,
                 eyes_mouth_prio: bool = False, masked: bool = True, workers: int | None = None, *,
                 random_hsv_power: float = 0.0, rotation_range=(-10.0, 10.0), scale_range=(-0.15, 0.15),
                 seed: int | None = None, prefetch: int = 2, cache_mb: float | None = None):
        if not samples:
            raise UserError("no faces to train on")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        ct_mode = (ct_mode or "none").lower()
        if ct_mode != "none" and not ct_samples:
            raise ValueError(f"ct_mode {ct_mode!r} needs ct_samples (the dst faces)")
        self.cfg = ProcessorConfig(resolution, channels, face_type, random_warp, random_flip, ct_mode,
                                   random_hsv_power if channels == 3 else 0.0, eyes_mouth_prio,
                                   tuple(rotation_range), tuple(scale_range))
        self._check_face_types(samples)
        self.samples, self.batch_size, self.masked = list(samples), int(batch_size), masked
        self.ct_samples = list(ct_samples) if ct_mode != "none" else None
        self._rng = np.random.default_rng(seed)
        self._index = (YawBalancedIndex([s.yaw for s in self.samples], self._rng) if uniform_yaw
                       else ShuffledCycle(range(len(self.samples)), self._rng))
        self._ct_index = ShuffledCycle(range(len(self.ct_samples)), self._rng) if self.ct_samples else None

        ctx = mp.get_context("spawn")
        cache_mb = cache_size_mb(cache_mb)
        limit = int(cache_mb * 1024 * 1024)
        faces = SharedFaces.create(ctx, len(self.samples), (resolution, resolution, channels),
                                   (self.cfg.mask_planes, resolution, resolution), limit)
        ct_faces = (SharedFaces.create(ctx, len(self.ct_samples), (resolution, resolution, channels), None,
                                       limit // 2) if self.ct_samples else None)
        self._shared = (faces, ct_faces)  # keep the shared blocks and locks alive while workers use them
        if 0 < limit and faces.count < len(self.samples):  # (0 turns the cache off on purpose)
            interact.log_info(
                f"The sample cache ({cache_mb:g} MB, DFL_SAMPLE_CACHE_MB) holds {faces.count:,} of "
                f"{len(self.samples):,} faces at resolution {resolution}; the others are decoded and aligned "
                "again every time they are drawn, which is slower.")
        maker_args = (self.samples, self.cfg, faces, self.ct_samples, ct_faces)
        self.workers = max(1, (os.cpu_count() or 2) // 2) if workers is None else int(workers)
        self._procs: list = []
        self._closed = False
        if self.workers == 0:
            self._maker = BatchMaker(*maker_args)
        else:
            self._start_workers(ctx, maker_args, max(1, int(prefetch)))

    def _start_workers(self, ctx, maker_args: tuple, prefetch: int) -> None:
        """Spawn the workers and give each `prefetch` batches to make, one shared-memory slot per batch."""
        self._slots = self.workers * prefetch
        self._ring_raw = _raw(ctx, BatchSlots.nbytes(self._slots, self.batch_size, self.cfg))
        self._ring = BatchSlots(self._ring_raw, self._slots, self.batch_size, self.cfg)
        self._tasks, self._results = ctx.Queue(), ctx.Queue()
        self._finalizer = weakref.finalize(self, _shutdown, self._procs, self._tasks)
        for k in range(self.workers):
            p = ctx.Process(target=_worker_main, name=f"sample-worker-{k}", daemon=True,
                            args=(maker_args, self._ring_raw, self._slots, self.batch_size, self._tasks,
                                  self._results))
            p.start()
            self._procs.append(p)
        for slot in range(self._slots):
            self._tasks.put(self._task(slot))

    def _check_face_types(self, samples: list[Sample]) -> None:
        problems = [msg for msg in (check_face_type(s, self.cfg) for s in samples) if msg]
        if problems:
            more = f" (and {len(problems) - 1} more faces)" if len(problems) > 1 else ""
            raise UserError(problems[0] + more)

    # --------------------------------------------------------------------------------------- batches ---
    def _task(self, slot: int) -> Task:
        n = self.batch_size
        indices = tuple(int(self._index.take()) for _ in range(n))
        seeds = tuple(int(s) for s in self._rng.integers(0, 2 ** 63 - 1, n))
        ct = tuple(int(self._ct_index.take()) for _ in range(n)) if self._ct_index else None
        return Task(slot, indices, seeds, ct)

    def next(self) -> list[np.ndarray]:
        """The next batch `[warped, target, mask, em_mask]` (fresh arrays the caller may keep)."""
        if self._closed:
            raise RuntimeError("the sample generator is closed")
        if self.workers == 0:
            batch = Batch.empty(self.batch_size, self.cfg)
            self._maker.make(self._task(0), batch)
            self._log(self._maker.take_warnings())
            return [batch.warped, batch.target, batch.mask, batch.em_mask]
        slot, error, warnings = self._wait()
        self._log(warnings)
        if error:
            self.close()
            kind, detail = error
            raise UserError(detail) if kind == "user" else RuntimeError(f"sample worker failed:\n{detail}")
        b = self._ring.batches[slot]
        out = [b.warped.copy(), b.target.copy(), b.mask.copy(), b.em_mask.copy()]
        self._tasks.put(self._task(slot))
        return out

    def _wait(self):
        while True:
            try:
                return self._results.get(timeout=RESULT_POLL_S)
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead:
                    codes = ", ".join(f"{p.name} exit code {p.exitcode}" for p in dead)
                    killed = any((p.exitcode or 0) < 0 for p in dead)
                    self.close()
                    hint = ("; killed by the system (out of memory?): try a smaller batch size or resolution"
                            if killed else "; see its error above")
                    raise RuntimeError(f"sample worker stopped unexpectedly ({codes}){hint}")

    @staticmethod
    def _log(warnings: list[str]) -> None:
        for w in warnings:
            interact.log_warn(w)

    # ------------------------------------------------------------------------------------- lifecycle ---
    def close(self) -> None:
        """Stop the workers (idempotent; also runs when the generator is garbage-collected or at exit)."""
        if self._closed:
            return
        self._closed = True
        if self._procs:
            self._finalizer()
            for q in (self._tasks, self._results):
                q.cancel_join_thread()
                q.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def alive_workers(self) -> int:
        return sum(p.is_alive() for p in self._procs)

    # -------------------------------------------------------------------------------------- pretrain ---
    @classmethod
    def for_pretraining(cls, folder, batch_size: int, resolution: int, channels: int = 3,
                        face_type: str | None = None, eyes_mouth_prio: bool = False, workers: int | None = None,
                        **kwargs) -> "SampleGeneratorFace":
        """DFL's pretrain mode: random faces from a folder or its faceset.pak, flipped at random, uniform yaw,
        no random warp, no colour transfer, no HSV."""
        samples = load_samples(folder, grayscale=(channels == 1))
        return cls(samples, batch_size, resolution, channels, face_type, random_warp=False, random_flip=True,
                   ct_mode="none", uniform_yaw=True, eyes_mouth_prio=eyes_mouth_prio, workers=workers,
                   random_hsv_power=0.0, **kwargs)
