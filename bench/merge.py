#!/usr/bin/env python3
"""Merge throughput: frames/s for 1920x1080 PNG frames with one face through the real frame loop (read PNG,
predict in batches in the main process, merge in worker processes, write PNG + mask PNG). Prints one JSON object.

Models (untrained weights cost the same as trained ones), all resolution 128:
  saehd      SAEHD liae-ud 256/64/64/22 (DFL's defaults), colour
  saehdbw    SAEHDBW df-ud 128/48/32/16 (the fork author's small dims), gray faces merged with --bw-output luma
  none       precomputed predictions: the merger's own cost (PNG decode + merge + PNG encode)
Each case reports, for one face per frame:
  fps                wall-clock frames/s of a whole run: workers starting, the first batch predicted before any
                     frame is merged, the last frames merged after the final prediction;
  steady_fps         wall-clock frames/s of the frames beyond the first half (a run over all frames minus a run
                     over half of them): the rate of a long merge, where that fill and drain no longer count;
  cpu_s_per_frame    CPU seconds one more frame costs (main process + workers), measured the same way;
  fps_2_free_cores   2 / cpu_s_per_frame: the rate two otherwise idle cores reach when the work spreads over both.
Wall-clock figures depend on whatever else the machine runs; the CPU figures much less.

    python bench/merge.py [--frames 64] [--workers N] [--cases saehd/overlay+rct,saehdbw/overlay+rct,...]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import interact  # noqa: E402

interact.batch_mode()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SIZE = (1920, 1080)


MODELS = {
    "saehd": dict(channels=3),
    "saehdbw": dict(channels=1, archi="df-ud", ae_dims=128, e_dims=48, d_dims=32, d_mask_dims=16),
}


class EngineModel:
    """A freshly built SAEHD engine offering the merger's model interface."""

    def __init__(self, resolution: int, **engine):
        from models.base import MergeSpec
        from models.saehd_engine import EngineConfig, SAEHDEngine
        self.engine = SAEHDEngine(EngineConfig(resolution=resolution, **engine))
        self.spec = MergeSpec(resolution, "full_face", engine["channels"])

    def merge_spec(self):
        return self.spec

    def predict(self, faces):
        return self.engine.predict(faces)


def make_frames(folder: Path, count: int) -> None:
    """1080p frames of a real face under a moving camera, with aligned faces (landmarks transformed exactly)."""
    import dlib
    import face_recognition_models
    from core.sample_media import grace_hopper, similarity
    from facelib.landmarks import get_transform_mat, transform_points
    from facelib.meta import FaceMeta, save_face

    photo = grace_hopper()
    rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    rect = max(dlib.get_frontal_face_detector()(rgb, 1), key=lambda r: r.area())
    shape = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())(rgb, rect)
    landmarks = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
    aligned = folder / "aligned"
    aligned.mkdir(parents=True)
    for i in range(count):
        t = 2 * np.pi * i / count
        mat = similarity(photo.shape[:2], SIZE, 0.55 * (1 + 0.1 * np.sin(t)), 8 * np.sin(t),
                         (60 * np.sin(t), 30 * np.cos(t)))
        frame = cv2.warpAffine(photo, mat, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        name = f"{i + 1:05d}.png"
        cv2.imwrite(str(folder / name), frame)
        lm = transform_points(landmarks, mat)
        face_mat = get_transform_mat(lm, 256, "full_face")
        face = cv2.warpAffine(frame, face_mat, (256, 256))
        save_face(aligned / f"{i + 1:05d}_0.jpg", face, FaceMeta(landmarks=transform_points(lm, face_mat),
                                                                 source_filename=name, source_landmarks=lm,
                                                                 image_to_face_mat=face_mat))


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_case(folder: Path, out: Path, source, cfg, workers: int, batch_size: int) -> dict:
    """Wall-clock fps of a full run; and the wall time and CPU of one more frame: a run over all frames minus a
    run over half of them, per extra frame (start-up, pipeline fill and drain cancel out). `steady_fps` is the
    rate a long merge runs at."""
    from mainscripts.merge import load_alignments
    from merger.frames import RunOptions, build_frames
    from merger.loop import Merger

    frames = build_frames(folder, load_alignments(folder / "aligned"))
    run = RunOptions(out / "merged", out / "merged_mask", workers=workers, force=True, batch_size=batch_size)
    merger = Merger(frames, [cfg] * len(frames), source, run)
    merger.run_all(frames[:2])                       # warm-up: model graph, first calls
    half = len(frames) // 2
    cpu, start = _cpu_seconds(), time.perf_counter()
    merger.run_all(frames[:half])
    elapsed_half, cpu_half = time.perf_counter() - start, _cpu_seconds() - cpu
    cpu, start = _cpu_seconds(), time.perf_counter()
    stats = merger.run_all(frames)
    elapsed, cpu_full = time.perf_counter() - start, _cpu_seconds() - cpu
    assert stats.merged == len(frames), stats
    extra = len(frames) - half
    per_frame = (cpu_full - cpu_half) / extra
    return {"fps": round(len(frames) / elapsed, 2), "steady_fps": round(extra / (elapsed - elapsed_half), 2),
            "cpu_s_per_frame": round(per_frame, 3), "fps_2_free_cores": round(2 / per_frame, 2)}


def main() -> None:
    from merger import sources
    from merger.config import MergerConfig
    from merger.frames import RunOptions, build_frames
    from merger.loop import Merger
    from mainscripts.merge import load_alignments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64,
                        help="frames per case (wall-clock fps includes starting the workers and the first batch)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8, help="faces per model call (merge's --batch-size)")
    parser.add_argument("--cases", default="saehd/overlay+rct,saehd/seamless+rct,saehd/overlay+sot-m,"
                                           "saehdbw/overlay+rct,none/overlay+rct",
                        help="model/mode+color-transfer, comma-separated")
    args = parser.parse_args()
    result = {"frame_size": list(SIZE), "frames": args.frames, "workers": args.workers, "batch_size": args.batch_size,
              "resolution": args.resolution, "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0],
              "target_fps": 8, "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data_dst"
        make_frames(folder, args.frames)
        cases = [c.split("/") for c in args.cases.split(",")]
        names = {name for name, _ in cases}
        models = {name: EngineModel(args.resolution, **MODELS[name]) for name in names if name in MODELS}
        if "none" in names:     # predictions written once, then read back: no model in the loop
            model = models.get("saehd") or EngineModel(args.resolution, **MODELS["saehd"])
            frames = build_frames(folder, load_alignments(folder / "aligned"))
            Merger(frames, [MergerConfig()] * len(frames), sources.ModelSource(model),
                   RunOptions(Path(tmp))).export_predictions(frames, folder / "predicted")
        for name, case in cases:
            source = sources.PrecomputedSource(folder / "predicted") if name == "none" else \
                sources.ModelSource(models[name], batch_size=args.batch_size)
            mode, ct = case.split("+")
            cfg = MergerConfig(mode=mode, mask_mode="learned-prd*learned-dst", color_transfer_mode=ct,
                               blur_mask_modifier=16)
            result["results"][f"{name}/{case}"] = run_case(folder, Path(tmp) / name / case, source, cfg,
                                                           args.workers, args.batch_size)
    result["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
