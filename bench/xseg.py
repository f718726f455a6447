#!/usr/bin/env python3
"""Benchmark: the XSeg mask model on this machine; prints a JSON list of rows.

Rows: {"model": "XSeg", "config", "step_ms", "predict_ms_per_face", "sample_ms_per_batch", "peak_rss_mb"}:
  step_ms               median wall ms of one train step on a fixed batch (after warm-up);
  predict_ms_per_face   median wall ms per face of `predict` on batches of 8 (what `xseg apply` and the XSeg
                        merge modes pay);
  sample_ms_per_batch   median wall ms of the XSeg sample generator (real faces, augmentations on, 2 threads);
  peak_rss_mb           peak resident memory of this process.
Default: DFL's size (256 px, 32 base channels, batch 4); `--quick` times a lean 128 px / 16 channel net as well.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 1)


def time_engine(resolution: int, base_ch: int, batch: int, steps: int) -> dict:
    from models.xseg_engine import XSegEngine, XSegEngineConfig
    engine = XSegEngine(XSegEngineConfig(resolution=resolution, base_ch=base_ch, seed=0))
    rng = np.random.default_rng(0)
    images = rng.random((batch, resolution, resolution, 3)).astype(np.float32)
    masks = (rng.random((batch, resolution, resolution, 1)) > 0.5).astype(np.float32)
    faces = rng.random((8, resolution, resolution, 3)).astype(np.float32)
    engine.train_step(images, masks)
    engine.predict(faces)
    return {"model": "XSeg", "config": f"res{resolution} base{base_ch} b{batch}",
            "step_ms": _median_ms(lambda: engine.train_step(images, masks), steps),
            "predict_ms_per_face": round(_median_ms(lambda: engine.predict(faces), max(3, steps // 2)) / 8, 1)}


def time_samples(folder: Path, resolution: int, batch: int, batches: int) -> float:
    from samplelib.loader import load_samples
    from samplelib.xseg_generator import SampleGeneratorXSeg
    with SampleGeneratorXSeg(load_samples(folder), batch, resolution, "f", pretrain=True, seed=0, workers=2) as gen:
        gen.next()
        return _median_ms(gen.next, batches)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 steps; also a lean 128 px / 16 channel net.")
    parser.add_argument("--steps", type=int, default=10, help="Timed train steps per config.")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--base-ch", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--faceset", type=Path, help="Aligned faces for the generator; default: built.")
    args = parser.parse_args()
    from core import interact
    interact.batch_mode()
    steps = 4 if args.quick else args.steps
    configs = [(args.resolution, args.base_ch)] + ([(128, 16)] if args.quick else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.faceset
        if folder is None:
            from facelib.sample_faceset import build_faceset
            folder = build_faceset(Path(tmp) / "aligned", size=256).dir
        for resolution, base_ch in configs:
            row = time_engine(resolution, base_ch, args.batch_size, steps)
            row["sample_ms_per_batch"] = time_samples(folder, resolution, args.batch_size, steps)
            row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            rows.append(row)
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
