#!/usr/bin/env python3
"""Footage benchmarks (core/sample_footage.py clips); each mode prints one JSON object.

  group  The share of faces the product's `extract` finds on the group clip (six people, faces of 50-120 px in
         720p), against what a slow exhaustive search finds: dlib's CNN detector on overlapping tiles of the
         frame upscaled `--upscale` times (its faces are kept in ~/.cache/saehdbw-toolkit/ for the next run).
         Per frame and over the clip; also both against the clip's truth.
  long   The 3,000-frame 1080p two-person clip through the CLI: video extract-video, extract, train (a few
         iterations of a tiny model, only so that there is one), merge, video video-from-sequence. For each
         command: seconds, peak RSS of its process tree (the command and its workers) and of the command alone,
         and the tree's RSS after 500 frames and at the end (flat: within 15 %).

    python bench/footage.py group [--frames 12] [--upscale 1.7] [--tile 640]
    python bench/footage.py long [--frames 3000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core import interact  # noqa: E402

interact.batch_mode()

import numpy as np  # noqa: E402

CLI = [sys.executable, str(ROOT / "main.py"), "--non-interactive"]
TINY_MODEL = {"resolution": 64, "face_type": "f", "archi": "df", "ae_dims": 32, "e_dims": 16, "d_dims": 16,
              "d_mask_dims": 16, "batch_size": 4, "target_iter": 2, "write_preview_history": False}


# ------------------------------------------------------------------------------------ measured commands ---

def _proc_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def run_measured(name: str, args: list[str], progress=None, total: int = 0, log_dir: Path | None = None) -> dict:
    """Run a CLI command, sampling its process tree's RSS twice a second; `progress()` says how many frames are
    done (None: the share of the elapsed time is used)."""
    log = open(log_dir / f"{name}.log", "wb") if log_dir else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(CLI + args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    samples: list[tuple[float, int, float]] = []
    peak_main = 0.0
    while proc.poll() is None:
        tree = _tree(proc.pid)
        rss = sum(_proc_rss_mb(p) for p in tree)
        peak_main = max(peak_main, _proc_rss_mb(proc.pid))
        done = progress() if progress else -1
        samples.append((time.perf_counter() - start, done, rss))
        time.sleep(0.5)
    seconds = time.perf_counter() - start
    if log_dir:
        log.close()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}); see {log_dir / (name + '.log') if log_dir else ''}")
    row = {"command": name, "seconds": round(seconds, 1), "peak_rss_mb_tree": round(max(s[2] for s in samples), 1)
           if samples else 0.0, "peak_rss_mb_command": round(peak_main, 1)}
    if total and samples:
        if progress is None:   # frames done in proportion to the time spent
            samples = [(t, int(total * t / seconds), r) for t, _, r in samples]
        mark = min(500, total // 6)   # RSS around frame 500 and over the last 5 % of the frames (the highest
        early = [r for _, d, r in samples if mark <= d < mark + max(1, total // 20)]   # sample of each window)
        late = [r for _, d, r in samples if d >= total * 0.95]
        if early and late:
            row.update(rss_mb_after_500=round(max(early), 1), rss_mb_at_end=round(max(late), 1),
                       end_vs_500=round(max(late) / max(early), 3))
    return row


# -------------------------------------------------------------------------------------------------- group ---

def reference_faces(image: np.ndarray, upscale: float, tile: int) -> list[np.ndarray]:
    """Boxes (x0, y0, x1, y1, frame pixels) dlib's CNN finds on overlapping tiles of the upscaled frame; a face
    seen by two tiles counts once."""
    import cv2
    from facelib.detectors.dlib_detectors import DlibCnnDetector
    detector = DlibCnnDetector(max_side=10 * tile, upsample=0)
    big = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    h, w = big.shape[:2]
    step = tile * 3 // 4
    boxes = []
    for y in range(0, max(1, h - tile + step), step):
        for x in range(0, max(1, w - tile + step), step):
            part = big[y:y + tile, x:x + tile]
            for d in detector.detect(part):
                boxes.append((np.asarray(d.rect, np.float64) + [x, y, x, y]) / upscale)
    kept: list[np.ndarray] = []
    for b in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        if all(_iou(b, k) < 0.3 for k in kept):
            kept.append(b)
    return kept


def _iou(a, b) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    area = lambda r: float(np.prod(np.clip(r[2:] - r[:2], 0, None)))   # noqa: E731
    return inter / max(area(a) + area(b) - inter, 1e-9)


def matched(centres: list[np.ndarray], boxes: list, grow: float = 0.15) -> int:
    """How many boxes hold one of the face centres (each centre counts for one box)."""
    free = list(centres)
    count = 0
    for box in boxes:
        x0, y0, x1, y1 = box
        mx, my = grow * (x1 - x0), grow * (y1 - y0)
        hit = next((i for i, c in enumerate(free) if x0 - mx <= c[0] <= x1 + mx and y0 - my <= c[1] <= y1 + my),
                   None)
        if hit is not None:
            free.pop(hit)
            count += 1
    return count


def aligned_centres(aligned: Path) -> dict[str, list[np.ndarray]]:
    """Frame stem -> landmark centres (frame pixels) of the faces `extract` saved."""
    from mainscripts.merge import load_alignments
    return {stem: [f.landmarks.mean(0) for f in faces] for stem, faces in load_alignments(aligned).items()}


CACHE = Path.home() / ".cache" / "saehdbw-toolkit" / "footage_group_reference.json"


def _load_cache() -> dict:
    """The reference's faces of frames searched before (the search takes most of a minute per frame): by the
    frame's pixels, upscale and tile."""
    try:
        return json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(cache: dict) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    tmp = CACHE.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache))
    tmp.replace(CACHE)


def bench_group(frames: int, upscale: float, tile: int) -> dict:
    import cv2
    from core import ffmpeg
    from core.fsio import list_images
    from core.sample_footage import build_clip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clip = build_clip("group", root, frames=frames)
        ffmpeg.extract_frames(clip.path, root / "frames")
        start = time.perf_counter()
        subprocess.run(CLI + ["extract", "--input-dir", str(root / "frames"), "--output-dir", str(root / "aligned"),
                              "--no-output-debug"], cwd=ROOT, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        extract_s = time.perf_counter() - start
        found = aligned_centres(root / "aligned")
        rows, ref_s = [], 0.0
        cache = _load_cache()
        for k, path in enumerate(list_images(root / "frames")):
            image = cv2.imread(str(path))
            key = f"{hashlib.sha1(image.tobytes()).hexdigest()}:{upscale:g}:{tile}"
            start = time.perf_counter()
            if key not in cache:
                cache[key] = [b.tolist() for b in reference_faces(image, upscale, tile)]
                _save_cache(cache)
            ref = [np.asarray(b) for b in cache[key]]
            ref_s += time.perf_counter() - start
            product = found.get(path.stem, [])
            truth = [t.box for t in clip.truth(k) if t.visible >= 0.5]
            ref_centres = [(b[:2] + b[2:]) / 2 for b in ref]
            rows.append({"frame": path.name, "reference": len(ref), "product": len(product),
                         "found_of_reference": matched(product, ref), "product_in_truth": matched(product, truth),
                         "reference_in_truth": matched(ref_centres, truth), "truth": len(truth)})
    total = lambda key: sum(r[key] for r in rows)   # noqa: E731
    shares = [r["found_of_reference"] / r["reference"] for r in rows if r["reference"]]
    return {"mode": "group", "clip": "group", "frames": len(rows), "size": list(clip.size),
            "faces_per_frame": len(clip.truths[0]), "face_px": [round(min(t.size for t in clip.truths[0])),
                                                                round(max(t.size for t in clip.truths[0]))],
            "reference": f"dlib CNN on {tile} px tiles of the frame upscaled {upscale:g}x",
            "reference_faces": total("reference"), "product_faces": total("product"),
            "found_share": round(total("found_of_reference") / max(1, total("reference")), 4),
            "worst_frame_share": round(min(shares), 4) if shares else None,
            "frames_all_found": sum(r["found_of_reference"] == r["reference"] for r in rows),
            "truth_faces": total("truth"),
            "product_share_of_truth": round(total("product_in_truth") / max(1, total("truth")), 4),
            "reference_share_of_truth": round(total("reference_in_truth") / max(1, total("truth")), 4),
            "product_false_faces": total("product") - total("product_in_truth"),
            "extract_seconds": round(extract_s, 1), "reference_seconds": round(ref_s, 1), "per_frame": rows}


# --------------------------------------------------------------------------------------------------- long ---

def bench_long(frames: int, keep: Path | None) -> dict:
    from core.sample_footage import build_clip
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="footage-long-"))
    root.mkdir(parents=True, exist_ok=True)
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    try:
        start = time.perf_counter()
        clip = build_clip("long_1080p", root, frames=frames)
        build_s = time.perf_counter() - start
        frames_dir, aligned, merged = root / "data_dst", root / "data_dst" / "aligned", root / "data_dst" / "merged"
        faces = max(1, len(clip.truths[0]))
        count = lambda folder, per=1: (lambda: len(os.listdir(folder)) // per if folder.is_dir() else 0)  # noqa
        rows = [run_measured("extract-video", ["video", "extract-video", "--input-file", str(clip.path),
                                               "--output-dir", str(frames_dir), "--output-ext", "png"],
                             count(frames_dir), frames, logs)]
        rows.append(run_measured("extract", ["extract", "--input-dir", str(frames_dir), "--output-dir", str(aligned),
                                             "--face-type", "f", "--no-output-debug"],
                                 count(aligned, faces), frames, logs))
        options = root / "tiny.json"
        options.write_text(json.dumps(TINY_MODEL))
        rows.append(run_measured("train", ["train", "--training-data-src-dir", str(aligned),
                                           "--training-data-dst-dir", str(aligned), "--model-dir",
                                           str(root / "model"), "--model", "SAEHDBW", "--config-file", str(options),
                                           "--force-model-name", "tiny", "--no-preview"], log_dir=logs))
        rows.append(run_measured("merge", ["merge", "--input-dir", str(frames_dir), "--output-dir", str(merged),
                                           "--aligned-dir", str(aligned), "--model-dir", str(root / "model"),
                                           "--model", "SAEHDBW", "--force-model-name", "tiny"],
                                 count(merged), frames, logs))
        rows.append(run_measured("video-from-sequence", ["video", "video-from-sequence", "--input-dir", str(merged),
                                                         "--output-file", str(root / "result.mp4"),
                                                         "--reference-file", str(clip.path), "--include-audio"],
                                 None, frames, logs))
        from core.ffmpeg import probe
        info = probe(root / "result.mp4")
        flat = [r["end_vs_500"] for r in rows if "end_vs_500" in r]
        return {"mode": "long", "clip": "long_1080p", "frames": frames, "size": list(clip.size),
                "build_seconds": round(build_s, 1), "result_frames": info.frame_count,
                "result_has_audio": info.has_audio, "frames_with_faces": len(aligned_centres(aligned)),
                "rss_flat_within_15pct": bool(flat) and all(v <= 1.15 for v in flat), "commands": rows}
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    group = sub.add_parser("group", help="faces found on the group clip vs an exhaustive dlib CNN search")
    group.add_argument("--frames", type=int, default=12)
    group.add_argument("--upscale", type=float, default=1.7)
    group.add_argument("--tile", type=int, default=640)
    long = sub.add_parser("long", help="memory of extract, merge and video-from-sequence on 3,000 1080p frames")
    long.add_argument("--frames", type=int, default=3000)
    long.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.mode == "group":
        result = bench_group(args.frames, args.upscale, args.tile)
    else:
        result = bench_long(args.frames, args.keep)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
