"""Benchmark face extraction on a 1920x1080 one-face video and a 1280x720 group of six; prints JSON.

For each detector: frames/s of the whole `extract` job on the one-face video's frames, stored as PNG and as JPG,
and on the group clip's frames (PNG; `core.sample_footage`'s group: faces of 50-120 px, one head bowed): read,
detect, landmarks, align, write 512 px JPG + metadata, with the default two worker processes. Then, in one
process on decoded frames, frames/s of detection + landmarks alone, and on the group the share of its faces found
(a face counts when a found box holds its centre) and the faces found beyond them. Also the peak resident memory
(main process, and the largest worker). The CPU time per frame (workers included) is reported too, with the
frame rate it gives when the cores are not shared: wall-clock numbers swing when other work runs on the machine.

    python bench/extract.py [--frames 60] [--workers 2] [--dlib-cnn] [--debug]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core import interact  # noqa: E402

interact.batch_mode()

SIZE = (1920, 1080)


def make_video(folder: Path, frames: int) -> dict[str, Path]:
    """A 1080p H.264 clip of Grace Hopper filmed by a moving camera, decoded into PNG and JPG frame folders."""
    import cv2
    from core import ffmpeg
    from core.sample_media import Motion, grace_hopper, synth_frames
    photo = cv2.resize(grace_hopper(), None, fx=1.8, fy=1.8, interpolation=cv2.INTER_CUBIC)
    # a wide edge-replicated margin, so the camera never sees a mirrored second face at the frame border
    pad = photo.shape[0] // 2
    stage = cv2.copyMakeBorder(photo, pad // 2, pad // 2, pad * 2, pad * 2, cv2.BORDER_REPLICATE)
    clip = synth_frames(stage, frames, size=SIZE, motion=Motion(pan=0.05, zoom=0.1, roll_deg=10, light=0.2))
    video = ffmpeg.write_video(clip, folder / "data_dst.mp4", fps=25, audio=False)
    dirs = {ext: folder / ext for ext in ("png", "jpg")}
    decode(video, dirs)
    return dirs


def make_group(folder: Path, frames: int) -> tuple[Path, Path]:
    """The group clip (H.264) decoded into a PNG frame folder, and a JSON file of its faces' centres per frame."""
    from core.sample_footage import build_clip
    clip = build_clip("group", folder / "group_video", frames)
    frames_dir = folder / "group_720p"
    count = decode(clip.path, {"png": frames_dir})
    truth = folder / "group_truth.json"
    truth.write_text(json.dumps([[list(face.centre) for face in clip.truth(k)] for k in range(count)]))
    return frames_dir, truth


def decode(video: Path, dirs: dict[str, Path]) -> int:
    """The video's frames written as 00001.<ext>, ... into each new folder of `dirs` (ext -> folder); their
    count."""
    import cv2
    for d in dirs.values():
        d.mkdir()
    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        for ext, d in dirs.items():
            cv2.imwrite(str(d / f"{index:05d}.{ext}"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == "jpg" else [])
    capture.release()
    if index == 0:
        raise SystemExit(f"could not decode {video}")
    return index


def group_found(extractor, frames_dir: Path, truth_file: Path) -> dict:
    """Detection + landmarks on the group frames in this process: speed, share of the faces found, extra faces."""
    import cv2
    from core.fsio import list_images
    truths = json.loads(truth_file.read_text())
    images = [cv2.imread(str(p)) for p in list_images(frames_dir)]
    extractor.find_faces(images[0])  # warm-up (this frame size's first look)
    start = time.perf_counter()
    found = [extractor.find_faces(img) for img in images]
    seconds = time.perf_counter() - start

    def inside(face, centre) -> bool:
        return face.rect[0] <= centre[0] <= face.rect[2] and face.rect[1] <= centre[1] <= face.rect[3]

    hits = extra = 0
    for faces, centres in zip(found, truths):
        hits += sum(any(inside(f, c) for f in faces) for c in centres)
        extra += sum(not any(inside(f, c) for c in centres) for f in faces)
    total = sum(map(len, truths))
    return {"frames": len(images), "fps": round(len(images) / seconds, 2), "faces": total, "found": hits,
            "recall": round(hits / max(total, 1), 3), "extra_faces": extra}


def peak_rss_mb() -> float:
    """Peak RSS of this process and of its largest finished child, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    unit = 1 / 1024 if sys.platform != "darwin" else 1 / (1024 * 1024)
    return round(own * unit, 1), round(kids * unit, 1)


def cpu_seconds() -> float:
    """CPU time of this process plus its finished children (the extraction workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_one(detector: str, frame_dirs: list[Path], workers: int, debug: bool, group_truth: Path) -> dict:
    """Measure one detector in this (fresh) process: the job on each frame folder (the last is the group's), then
    detection alone."""
    import cv2
    from core.fsio import list_images
    from facelib.extract_job import ExtractOptions, run_extraction
    from facelib.extractor import FaceExtractor
    from facelib.face_type import FaceType
    result: dict = {"detector": detector, "workers": workers, "debug_images": debug}
    for frames_dir in frame_dirs:
        count = len(list_images(frames_dir))
        with tempfile.TemporaryDirectory() as out:
            opts = ExtractOptions(input_dir=frames_dir, output_dir=Path(out) / "aligned", detector=detector,
                                  face_type=FaceType.WHOLE_FACE, image_size=512, output_debug=debug,
                                  workers=workers)
            start, cpu_start = time.perf_counter(), cpu_seconds()
            report = run_extraction(opts)
            seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        result[f"job_{frames_dir.name}"] = {
            "frames": count, "seconds": round(seconds, 2), "fps": round(count / seconds, 2),
            "faces": report.faces_detected, "cpu_ms_per_frame": round(1000 * cpu / count, 1),
            "fps_if_cores_idle": round(min(workers, os.cpu_count() or 1) * count / cpu, 1)}
    images = [cv2.imread(str(p)) for p in list_images(frame_dirs[0])[:20]]
    extractor = FaceExtractor(detector)
    extractor.find_faces(images[0])  # warm-up (model load)
    start = time.perf_counter()
    found = [len(extractor.find_faces(img)) for img in images]
    seconds = time.perf_counter() - start
    result["detect_landmarks_one_process"] = {"frames": len(images), "fps": round(len(images) / seconds, 2),
                                              "one_face_frames": sum(n == 1 for n in found)}
    result["group_one_process"] = group_found(extractor, frame_dirs[-1], group_truth)
    result["peak_rss_mb_main"], result["peak_rss_mb_worker"] = peak_rss_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dlib-cnn", action="store_true", help="also measure dlib's CNN detector (slow)")
    parser.add_argument("--debug", action="store_true", help="also write aligned_debug frames")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--frames-dir", type=Path, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--group-truth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.frames_dir, args.workers, args.debug, args.group_truth)))
        return
    detectors = ["blazeface", "dlib"] + (["dlib-cnn"] if args.dlib_cnn else [])
    with tempfile.TemporaryDirectory() as tmp:
        frame_dirs = list(make_video(Path(tmp), args.frames).values())
        group_dir, group_truth = make_group(Path(tmp), args.frames)
        results = []
        for name in detectors:  # a fresh process per detector, so its memory is its own
            cmd = [sys.executable, __file__, "--one", name, "--frames-dir", *map(str, frame_dirs), str(group_dir),
                   "--group-truth", str(group_truth), "--workers", str(args.workers)]
            cmd += ["--debug"] if args.debug else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
    print(json.dumps({"video": f"{SIZE[0]}x{SIZE[1]}", "group": "1280x720, 6 faces", "cpu_count": os.cpu_count(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
