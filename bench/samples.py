#!/usr/bin/env python3
"""Benchmark: cost of the training sample generator per batch, 1 channel (SAEHDBW) vs 3 (SAEHD); prints JSON.

For each resolution and channel count it reports, on one CPU thread (as a sample worker runs):
  sample_ms_per_batch     median CPU ms to render one batch once the faces are cached (steady state);
  uncached_ms_per_batch   the same with the cache off: every face decoded, converted, re-aligned and masked
                          again each time (what DeepFaceLab does every iteration);
  next_ms_per_batch       what the training process itself pays per `next()` with background workers;
  batches_per_s           end-to-end throughput of the spawned workers.
The 1-channel rows carry `ratio_to_3ch` for each cost; 1- and 3-channel batches are timed in alternation so
that other load on the machine affects both alike. Faces: `--faceset DIR` (a folder or faceset.pak),
default a real faceset built from the public-domain photos (dlib landmarks, as in the tests).
`measure_generator()` is importable (bench/train.py reports `sample_ms_per_batch` with it).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def _steady_generator(samples, resolution: int, channels: int, batch_size: int, face_type: str, **kw):
    """An in-process generator whose faces are all cached already (unless `cache_mb=0`)."""
    from samplelib.generator import SampleGeneratorFace
    gen = SampleGeneratorFace(samples, batch_size, resolution, channels, face_type, random_warp=True,
                              random_flip=True, seed=0, **kw)
    for _ in range(-(-len(samples) // batch_size) * 2):
        gen.next()
    return gen


def _interleaved_cpu_ms(gens: dict, batches: int) -> dict:
    """Median CPU ms per `next()` of each generator, timed in alternation so that load from other processes
    on the machine affects all of them alike."""
    times = {k: [] for k in gens}
    for _ in range(batches):
        for key, gen in gens.items():
            t = time.process_time()
            gen.next()
            times[key].append((time.process_time() - t) * 1000)
    return {k: round(float(np.median(v)), 3) for k, v in times.items()}


def _worker_run(samples, resolution: int, channels: int, batch_size: int, face_type: str, batches: int) -> dict:
    with _steady_generator(samples, resolution, channels, batch_size, face_type, workers=None) as gen:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            gen.next()
        wall = time.perf_counter() - start
        return {"next_ms_per_batch": round((time.process_time() - cpu) * 1000 / batches, 3),
                "batches_per_s": round(batches / wall, 1), "workers": gen.workers}


def measure_generator(samples_by_channels: dict, resolution: int, batch_size: int = 4, batches: int = 60,
                      face_type: str = "f", workers: bool = True) -> dict[int, dict]:
    """Rows of measurements per channel count, from `{channels: samples}` (`samplelib.loader.load_samples`
    with `grayscale=channels == 1`)."""
    cv2.setNumThreads(1)  # as inside a sample worker
    rows = {c: {"resolution": resolution, "channels": c, "batch_size": batch_size, "faces": len(s)}
            for c, s in samples_by_channels.items()}
    args = dict(resolution=resolution, batch_size=batch_size, face_type=face_type)
    cached = {c: _steady_generator(s, channels=c, workers=0, **args) for c, s in samples_by_channels.items()}
    for c, ms in _interleaved_cpu_ms(cached, batches).items():
        rows[c]["sample_ms_per_batch"] = ms
    uncached = {c: _steady_generator(s, channels=c, workers=0, cache_mb=0, **args)
                for c, s in samples_by_channels.items()}
    for c, ms in _interleaved_cpu_ms(uncached, max(10, batches // 3)).items():
        rows[c]["uncached_ms_per_batch"] = ms
    if workers:
        for c, s in samples_by_channels.items():
            rows[c].update(_worker_run(s, resolution, c, batch_size, face_type, batches))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faceset", type=Path, help="Aligned faces (folder or faceset.pak); default: built.")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[96, 128])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--batches", type=int, default=60, help="Batches timed per measurement.")
    parser.add_argument("--face-size", type=int, default=256, help="Size of the built faces.")
    parser.add_argument("--no-workers", action="store_true", help="Skip the spawned-worker throughput runs.")
    args = parser.parse_args()
    from core import interact
    interact.batch_mode()
    from samplelib.loader import load_samples

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.faceset
        if folder is None:
            from facelib.sample_faceset import build_faceset
            folder = build_faceset(Path(tmp) / "aligned", size=args.face_size).dir
        rows = []
        for res in args.resolutions:
            samples = {c: load_samples(folder, grayscale=c == 1) for c in (1, 3)}
            pair = measure_generator(samples, res, args.batch_size, args.batches, workers=not args.no_workers)
            for key in ("sample_ms_per_batch", "uncached_ms_per_batch", "next_ms_per_batch"):
                if key in pair[1]:
                    pair[1].setdefault("ratio_to_3ch", {})[key] = round(pair[1][key] / pair[3][key], 3)
            rows += [pair[1], pair[3]]
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
