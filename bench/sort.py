#!/usr/bin/env python3
"""Benchmark: faces per second of `sort --by hist` and `sort --by blur` on an augmented real faceset; prints JSON.

The faceset is built from the public-domain photos (dlib landmarks, as in the tests), then augmented
(mirror, brightness, blur, noise) to `--count` faces. Only the sort methods are timed (measuring and ordering),
not the final renames.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def augment(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Write `count` augmented copies of the faces in `folder` into `folder/augmented`."""
    from facelib.landmarks import mirror_landmarks
    from facelib.meta import load_face, save_face
    rng = np.random.default_rng(seed)
    base = [load_face(p) for p in sorted(folder.glob("*.jpg"))]
    out = folder / "augmented"
    out.mkdir()
    paths = []
    for i in range(count):
        image, meta = base[i % len(base)]
        image, meta = image.copy(), meta.copy()
        if rng.random() < 0.5:
            image = image[:, ::-1].copy()
            meta.landmarks = mirror_landmarks(meta.landmarks, image.shape[1])
        image = np.clip(image * rng.uniform(0.6, 1.3) + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 2.5))
        path = out / f"{i:05d}_0.jpg"
        save_face(path, image, meta, jpeg_quality=90)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="Faces to sort.")
    parser.add_argument("--size", type=int, default=256, help="Face size in pixels.")
    parser.add_argument("--workers", type=int, default=0, help="Worker processes (0 = automatic).")
    args = parser.parse_args()
    from core import interact
    interact.batch_mode()
    from mainscripts.sort_methods import SORT_METHODS, SortOptions, worker_count
    from facelib.sample_faceset import build_faceset

    with tempfile.TemporaryDirectory() as tmp:
        faceset = build_faceset(Path(tmp) / "base", size=args.size)
        for name in faceset.names("blurred", "dark", "twoface"):
            (faceset.dir / name).unlink()
        paths = augment(faceset.dir, args.count)
        report = {"faces": len(paths), "face_size": args.size,
                  "workers": worker_count(args.workers, len(paths)), "cpu_count": os.cpu_count()}
        for method in ("hist", "blur"):
            start = time.perf_counter()
            result = SORT_METHODS[method].func(paths, SortOptions(workers=args.workers))
            seconds = time.perf_counter() - start
            assert len(result.kept) + len(result.trash) == len(paths)
            report[f"{method}_seconds"] = round(seconds, 3)
            report[f"{method}_faces_per_s"] = round(len(paths) / seconds, 1)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
