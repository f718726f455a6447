"""Benchmark the identity filter on a two-person clip; prints JSON.

A clip of two people side by side (astronaut Eileen Collins and Grace Hopper, each moving on its own, as PNG
frames) is extracted with the default two workers without a filter and with `--filter-identity` set to one
photo of each person in turn. Reported: frames/s and CPU time per frame of each run, the share of each person's
faces kept (who a face is comes from its place in the frame: the left half is Collins), how many descriptors a
face needed without reusing earlier frames' (one process, same frames), and how `sort --by identity-groups` splits
the unfiltered faceset.

    python bench/identity.py [--frames 60] [--size 1280x720] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import interact  # noqa: E402

interact.batch_mode()


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def make_clip(folder: Path, frames: int, size: tuple[int, int]) -> dict[str, Path]:
    """PNG frames of the two-person clip and one reference photo of each person."""
    import cv2
    from core.sample_media import astronaut, grace_hopper, two_shot
    frames_dir = folder / "frames"
    frames_dir.mkdir()
    for i, frame in enumerate(two_shot(astronaut(), grace_hopper(), frames, size)):
        cv2.imwrite(str(frames_dir / f"{i:05d}.png"), frame)
    refs = {"left": folder / "collins.jpg", "right": folder / "hopper.jpg"}
    cv2.imwrite(str(refs["left"]), astronaut())
    cv2.imwrite(str(refs["right"]), grace_hopper())
    return {"frames": frames_dir, **refs}


def side_counts(aligned: Path, width: int) -> dict[str, int]:
    """Faces per side of the frame they came from (left = the first photo's person)."""
    from facelib.meta import read_meta
    counts = {"left": 0, "right": 0}
    for path in aligned.rglob("*.jpg"):
        l, _, r, _ = read_meta(path).source_rect
        counts["left" if (l + r) / 2 < width / 2 else "right"] += 1
    return counts


def run_job(frames_dir: Path, out: Path, workers: int, reference=None) -> dict:
    from facelib.extract_job import ExtractOptions, run_extraction
    from facelib.face_type import FaceType
    opts = ExtractOptions(input_dir=frames_dir, output_dir=out, face_type=FaceType.WHOLE_FACE, image_size=512,
                          workers=workers, identity=reference)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    report = run_extraction(opts)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    return {"fps": round(report.images_found / seconds, 2), "cpu_ms_per_frame": round(1000 * cpu / report.images_found, 1),
            "faces": report.faces_detected}


def descriptor_share(frames_dir: Path, reference) -> float:
    """Descriptors computed per face by one IdentityFilter over the frames in order."""
    from core.fsio import list_images
    from facelib.extractor import FaceExtractor, read_frame
    from facelib.identity import IdentityFilter
    extractor, flt = FaceExtractor("blazeface"), IdentityFilter(reference.descriptors)
    faces = 0
    for path in list_images(frames_dir):
        image = read_frame(path)
        found = extractor.find_faces(image)
        flt.measure(image, found)
        faces += len(found)
    return round(flt.measured / max(faces, 1), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    from facelib.identity import load_reference
    from mainscripts.sort import sort_folder
    from mainscripts.sort_methods import SortOptions
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp, args.frames, size)
        result = {"clip": f"{args.frames} frames {size[0]}x{size[1]}, two people", "cpu_count": os.cpu_count(),
                  "workers": args.workers}
        plain = run_job(clip["frames"], tmp / "plain", args.workers)
        plain["per_side"] = side_counts(tmp / "plain", size[0])
        result["no_filter"] = plain
        for side, other in (("left", "right"), ("right", "left")):
            reference = load_reference([clip[side]])
            row = run_job(clip["frames"], tmp / f"only_{side}", args.workers, reference)
            counts = side_counts(tmp / f"only_{side}", size[0])
            row["person_kept"] = round(counts[side] / max(plain["per_side"][side], 1), 3)
            row["other_kept"] = round(counts[other] / max(plain["per_side"][other], 1), 3)
            row["slowdown"] = round(plain["fps"] / row["fps"], 2)
            row["descriptors_per_face"] = descriptor_share(clip["frames"], reference)
            result[f"filter_{clip[side].stem}"] = row
        grouped = tmp / "grouped"
        shutil.copytree(tmp / "plain", grouped)
        sort_folder(grouped, "identity-groups", SortOptions(identity_threshold=0.6, workers=1))
        folders = sorted(p for p in grouped.iterdir() if p.is_dir())
        result["identity_groups"] = {p.name: side_counts(p, size[0]) for p in folders}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
