#!/usr/bin/env python3
"""Merge throughput: frames/s for 1920x1080 PNG frames with one face and a res-128 SAEHD model (default dims,
untrained weights cost the same as trained ones), through the real frame loop (read, predict in batches,
merge in worker processes, write PNG + mask). Prints one JSON object.

    python bench/merge.py [--frames 24] [--workers N] [--cases overlay+rct,seamless+rct,overlay+sot-m]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DFL_NONINTERACTIVE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SIZE = (1920, 1080)


class EngineModel:
    """A freshly built SAEHD engine offering the merger's model interface."""

    def __init__(self, resolution: int, channels: int):
        from models.base import MergeSpec
        from models.saehd_engine import EngineConfig, SAEHDEngine
        self.engine = SAEHDEngine(EngineConfig(resolution=resolution, channels=channels))
        self.spec = MergeSpec(resolution, "full_face", channels)

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


def run_case(folder: Path, out: Path, model, cfg, workers: int) -> float:
    from mainscripts.merge import load_alignments
    from merger.frames import Merger, RunOptions, build_frames
    from merger.sources import ModelSource

    frames = build_frames(folder, load_alignments(folder / "aligned"))
    run = RunOptions(out / "merged", out / "merged_mask", workers=workers, force=True, batch_size=8)
    merger = Merger(frames, [cfg] * len(frames), ModelSource(model), run)
    merger.run_all(frames[:2])                       # warm-up: model graph and worker start
    start = time.perf_counter()
    stats = merger.run_all(frames)
    elapsed = time.perf_counter() - start
    assert stats.merged == len(frames), stats
    return len(frames) / elapsed


def main() -> None:
    from merger.config import MergerConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--cases", default="overlay+rct,seamless+rct,overlay+sot-m")
    args = parser.parse_args()
    result = {"frame_size": list(SIZE), "frames": args.frames, "workers": args.workers,
              "model": f"SAEHD liae-ud res {args.resolution} (256/64/64/22)", "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data_dst"
        make_frames(folder, args.frames)
        model = EngineModel(args.resolution, 3)
        fps = {}
        for case in args.cases.split(","):
            mode, ct = case.split("+")
            cfg = MergerConfig(mode=mode, mask_mode="learned-prd*learned-dst", color_transfer_mode=ct,
                               blur_mask_modifier=16)
            fps[case] = round(run_case(folder, Path(tmp) / case, model, cfg, args.workers), 2)
        result["frames_per_second"] = fps
        result["target_overlay_rct_fps"] = 8
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
