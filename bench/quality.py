#!/usr/bin/env python3
"""How good is the swapped face? Trains a model for a wall-clock budget, merges the dst clip and measures the
merged frames against the dst frames. Prints one JSON object per measurement (one per config and budget).

    python bench/quality.py                                  # the demo's SAEHDBW, 5 minutes, built-in pair
    python bench/quality.py --config demo,BW96 --curve       # 2, 5, 10 and 20 minutes each; + quality_curve.png
    python bench/quality.py --config my_options.json --minutes 10 --src SRC_ALIGNED --dst DST_FRAMES
    python bench/quality.py --measure-workspace workspace    # only measure what is already merged there

The built-in pair is the demo's (Eileen Collins -> Grace Hopper clips). With `--src` (aligned src faces) and
`--dst` (dst frames with their aligned faces in DST/aligned) it runs on your own faces. `--config` names the
demo's options (`demo`), a preset (`BW96`, `BW192`, ...) or a JSON file of training options (as `--config-file`).

Every measured merge uses no sharpen filter (`--sharpen-mode none --blursharpen-amount 0`): the sharpness must
come from the model. Measures, per run (merged / dst means the merged frames' value over the dst frames' own):
  recognized_as_src  share of frames whose merged face is within 0.6 (dlib's threshold) of the src person;
                     a frame where no face is found in the merged frame counts as not recognized
  dist_src, dist_dst mean face-descriptor distance of the merged faces to the src and to the dst person
  sharpness          Laplacian variance inside the face (its landmark hull less a rim of a tenth of the face's
                     size, where the seam is, and only where the merge mask is full: a feathered mask that lets
                     dst's own detail show through must not count as sharp), merged / dst, mean over frames
  sharpness_vs_src   the same over the src faces' own: src aligned faces put in the dst face's place at their
                     full extracted size, what a perfect model of these src faces would give. The src person's
                     skin may simply hold less detail than dst's (a young face for an old one): this part of the
                     gap no model closes, and `sharpness` can never pass `src_detail` (their ratio, reported too)
  colour_change      mean frame-to-frame change of the face's mean colour, merged / dst
  landmark_change    mean frame-to-frame landmark movement (face-size units), merged / dst (jitter)
  seam               gradient energy on the merge mask's edge over that inside the face, merged / dst
  untouched_max      largest pixel difference far from every face (0: nothing else changed)
The identity and landmark measures use dlib's own HOG detector, 68-point predictor and ResNet descriptor on the
merged frames: a recognizer independent of the toolkit's extractor. No face found in any merged frame is an
error (exit 1), so a broken merge cannot score well.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import interact  # noqa: E402

interact.batch_mode()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.errors import UserError  # noqa: E402
from core.fsio import atomic_write_text, list_images  # noqa: E402
from core.imagelib import quality as Q  # noqa: E402
from core.imagelib.io import read_image  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from facelib.meta import FaceFileError, read_meta, load_face  # noqa: E402

CURVE_MINUTES = (2.0, 5.0, 10.0, 20.0)
SAME_PERSON = 0.6
INNER_ERODE = 0.1   # sharpness and colour are measured on the face without its rim (the seam is measured apart)
FULLY_SWAPPED = 250  # ... and where the merge mask shows the model's face alone (no dst detail showing through)
NO_FILTER = ["--sharpen-mode", "none", "--blursharpen-amount", "0"]


# ------------------------------------------------------------------------------------------ the recognizer ---

class Recognizer:
    """dlib's HOG face detector, 68-point shape predictor and ResNet descriptor (face_recognition_models)."""

    def __init__(self) -> None:
        from facelib.dlib_models import dlib_module, model_path
        self.dlib = dlib_module()
        self.detector = self.dlib.get_frontal_face_detector()
        self.shape = self.dlib.shape_predictor(model_path("shape68"))
        self.net = self.dlib.face_recognition_model_v1(model_path("resnet"))

    def find(self, image: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(68 landmarks, descriptor) of the face nearest to the point `near` (frame pixels), None when no face
        is found within a face size of it. Large frames are searched at up to 1000 px."""
        scale = min(1.0, 1000.0 / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        best, best_dist = None, None
        for rect in self.detector(rgb, 1):
            centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2]) / scale
            size = max(rect.width(), rect.height()) / scale
            dist = float(np.linalg.norm(centre - near))
            if dist < size and (best_dist is None or dist < best_dist):
                best, best_dist = rect, dist
        if best is None:
            return None
        rgb_full = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        rect = self.dlib.rectangle(int(best.left() / scale), int(best.top() / scale),
                                   int(best.right() / scale), int(best.bottom() / scale))
        shape = self.shape(rgb_full, rect)
        landmarks = np.array([[p.x, p.y] for p in shape.parts()], np.float32)
        return landmarks, np.asarray(self.net.compute_face_descriptor(rgb_full, shape), np.float32)

    def aligned(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The descriptor of an aligned face from its own 68 landmarks."""
        lm = np.asarray(landmarks, np.float64)
        (x0, y0), (x1, y1) = lm.min(axis=0), lm.max(axis=0)
        shape = self.dlib.full_object_detection(self.dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
                                                [self.dlib.point(int(round(x)), int(round(y))) for x, y in lm])
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return np.asarray(self.net.compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32)


def person_descriptor(recognizer: Recognizer, aligned_dir: Path, limit: int = 24) -> np.ndarray:
    """Mean descriptor of up to `limit` aligned faces (spread over the folder) with 68 landmarks."""
    paths = list_images(aligned_dir)
    picks = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, min(limit, len(paths))).round().astype(int))]
    found = []
    for path in picks if paths else []:
        try:
            image, meta = load_face(path)
        except FaceFileError:
            continue
        if meta is not None and meta.landmarks is not None and len(meta.landmarks) == 68:
            found.append(recognizer.aligned(image, meta.landmarks))
    if not found:
        raise UserError(f"{aligned_dir}: no aligned face with landmarks to tell who the person is")
    return np.mean(found, axis=0)


# ---------------------------------------------------------------------------------------------- measuring ---

@dataclass
class FrameFace:
    """The dst face of one frame, from its aligned file: frame name and landmarks in frame pixels."""

    frame: str
    landmarks: np.ndarray

    @property
    def centre(self) -> np.ndarray:
        return self.landmarks.mean(axis=0)

    @property
    def size(self) -> float:
        return float(np.ptp(self.landmarks, axis=0).max())


def dst_faces(aligned_dir: Path) -> dict[str, list[FrameFace]]:
    """The dst faces per frame file name, from the aligned faces' metadata (largest first)."""
    faces: dict[str, list[FrameFace]] = {}
    for path in list_images(aligned_dir):
        try:
            meta = read_meta(path)
        except FaceFileError:
            continue
        if meta is None or meta.source_filename is None or meta.source_landmarks is None:
            continue
        if len(meta.source_landmarks) != 68:
            continue
        faces.setdefault(Path(meta.source_filename).name, []).append(
            FrameFace(Path(meta.source_filename).name, np.asarray(meta.source_landmarks, np.float32)))
    for items in faces.values():
        items.sort(key=lambda f: -f.size)
    return faces


def _frame_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / (Path(name).stem + ".png"), folder / (Path(name).stem + ".jpg")):
        if candidate.is_file():
            return candidate
    return None


def _mean_or_none(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 3) if values else None


def _mean_step(values: list[np.ndarray | None], scale: list[float]) -> float:
    steps = [float(np.abs(b - a).mean()) / s for a, b, s in zip(values, values[1:], scale[1:])
             if a is not None and b is not None]
    return float(np.mean(steps)) if steps else float("nan")


class SrcDetail:
    """The detail the src faces themselves hold at a dst face's place and size: up to `count` src aligned faces
    (spread over the folder) warped into the frame by the dst face's landmarks, Laplacian variance in its hull."""

    def __init__(self, src_aligned: Path, count: int = 6):
        paths = list_images(src_aligned)
        picks = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, min(count, len(paths))).round()
                                             .astype(int))] if paths else []
        self.faces = []
        for path in picks:
            try:
                image, meta = load_face(path)
            except FaceFileError:
                continue
            if meta is not None:
                self.faces.append((image, meta.face_type))

    def variance(self, frame_shape: tuple[int, ...], landmarks: np.ndarray, hull: np.ndarray) -> float | None:
        from facelib.landmarks import get_transform_mat
        values = []
        for image, face_type in self.faces:
            mat = get_transform_mat(landmarks, image.shape[0], face_type)
            placed = cv2.warpAffine(image, mat, (frame_shape[1], frame_shape[0]),
                                    flags=cv2.WARP_INVERSE_MAP | cv2.INTER_CUBIC)
            values.append(Q.laplacian_variance(placed, hull))
        return float(np.mean(values)) if values else None


def measure(dst_dir: Path, aligned_dir: Path, merged_dir: Path, mask_dir: Path, src_person: np.ndarray,
            recognizer: Recognizer, src_detail: SrcDetail | None = None) -> dict:
    """Every measure of the merged frames against the dst frames (see the module docstring)."""
    faces = dst_faces(aligned_dir)
    if not faces:
        raise UserError(f"{aligned_dir}: no aligned dst face with source landmarks to measure")
    dst_person_list, rows = [], []
    for name in sorted(faces):
        dst_path, merged_path = _frame_file(dst_dir, name), _frame_file(merged_dir, name)
        if dst_path is None or merged_path is None:
            raise UserError(f"{merged_dir}: no merged frame for {name}")
        dst, merged = read_image(dst_path, cv2.IMREAD_COLOR), read_image(merged_path, cv2.IMREAD_COLOR)
        mask_path = _frame_file(mask_dir, name)
        mask = read_image(mask_path, cv2.IMREAD_GRAYSCALE) if mask_path else None
        if dst is None or merged is None:
            raise UserError(f"{merged_path}: unreadable frame")
        face = faces[name][0]
        hull = Q.hull_mask(dst.shape, face.landmarks)
        inner = Q.hull_mask(dst.shape, face.landmarks, erode_px=int(INNER_ERODE * face.size))
        if mask is not None and mask.shape == inner.shape and (inner & (mask >= FULLY_SWAPPED)).sum() >= 64:
            inner = inner & (mask >= FULLY_SWAPPED).astype(np.uint8)  # only the model's own pixels count
        near = np.zeros(dst.shape[:2], np.uint8)
        for other in faces[name]:
            grow = int(0.6 * other.size)
            near |= cv2.dilate(Q.hull_mask(dst.shape, other.landmarks),
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
        in_dst, in_merged = recognizer.find(dst, face.centre), recognizer.find(merged, face.centre)
        if in_dst is not None:
            dst_person_list.append(in_dst[1])
        seam_dst = Q.seam_energy(dst, mask, hull) if mask is not None else float("nan")
        seam_merged = Q.seam_energy(merged, mask, hull) if mask is not None else float("nan")
        merged_var, dst_var = Q.laplacian_variance(merged, inner), max(Q.laplacian_variance(dst, inner), 1e-6)
        src_var = src_detail.variance(dst.shape, face.landmarks, inner) if src_detail else None
        rows.append({
            "sharp": merged_var / dst_var,
            "sharp_src": merged_var / src_var if src_var else None,
            "src_detail": src_var / dst_var if src_var else None,
            "colour": (Q.mean_colour(merged, inner), Q.mean_colour(dst, inner)),
            "lm": (None if in_merged is None else in_merged[0], None if in_dst is None else in_dst[0]),
            "desc": None if in_merged is None else in_merged[1],
            "seam": seam_merged / seam_dst if seam_dst and np.isfinite(seam_dst) else float("nan"),
            "untouched": Q.untouched_difference(merged, dst, near),
            "size": face.size,
        })
    found = [r["desc"] for r in rows if r["desc"] is not None]
    if not found:
        raise UserError(f"{merged_dir}: no face found in any merged frame: the merge is broken")
    dst_person = np.mean(dst_person_list, axis=0) if dst_person_list else None
    d_src = [float(np.linalg.norm(d - src_person)) for d in found]
    d_dst = [float(np.linalg.norm(d - dst_person)) for d in found] if dst_person is not None else []
    sizes = [r["size"] for r in rows]
    colour_merged = _mean_step([r["colour"][0] for r in rows], [1.0] * len(rows))
    colour_dst = _mean_step([r["colour"][1] for r in rows], [1.0] * len(rows))
    lm_merged = _mean_step([r["lm"][0] for r in rows], sizes)
    lm_dst = _mean_step([r["lm"][1] for r in rows], sizes)
    return {
        "frames": len(rows),
        "faces_found": len(found),
        "recognized_as_src": round(sum(d < SAME_PERSON for d in d_src) / len(rows), 3),
        "dist_src": round(float(np.mean(d_src)), 3),
        "dist_dst": round(float(np.mean(d_dst)), 3) if d_dst else None,
        "sharpness": round(float(np.mean([r["sharp"] for r in rows])), 3),
        "sharpness_vs_src": _mean_or_none([r["sharp_src"] for r in rows]),
        "src_detail": _mean_or_none([r["src_detail"] for r in rows]),
        "colour_change": round(colour_merged / max(colour_dst, 1e-6), 3),
        "landmark_change": round(lm_merged / max(lm_dst, 1e-9), 3),
        "seam": round(float(np.nanmean([r["seam"] for r in rows])), 3),
        "untouched_max": int(max(r["untouched"] for r in rows)),
    }


# ----------------------------------------------------------------------------------------- training runs ---

def train_options(name: str) -> dict:
    """The training options a --config names: `demo`, a preset name, or a JSON file; `NAME:key=value,...` changes
    some of them (e.g. `demo:resolution=96`, values in JSON: `demo:eyes_mouth_prio=true`)."""
    from mainscripts.demo import demo_train_options
    from models.presets import PRESETS, get_preset
    name, _, changes = name.partition(":") if not Path(name).is_file() else (name, "", "")
    if name == "demo":
        options = demo_train_options()
    elif name.upper() in {p.upper() for p in PRESETS}:
        options = demo_train_options()
        options.update(get_preset(name))
    elif Path(name).is_file():
        from core.fsio import read_json_object
        options = read_json_object(Path(name), "training options file")
    else:
        raise UserError(f"--config {name}: not `demo`, a preset ({', '.join(PRESETS)}) or a JSON file")
    for change in filter(None, changes.split(",")):
        key, sep, value = change.partition("=")
        try:
            options[key.strip()] = json.loads(value) if sep else None
        except json.JSONDecodeError:
            options[key.strip()] = value.strip()
        if not sep:
            raise UserError(f"--config {name}: `{change}` is not key=value")
    return options


def config_names(values: list[str]) -> list[str]:
    """The configs of the --config flags: each flag is one config, or plain names separated by commas."""
    names = []
    for value in values:
        names += [value.strip()] if ":" in value else [v.strip() for v in value.split(",") if v.strip()]
    return names


@dataclass
class Data:
    """What the runs train on and merge: src faces (colour), dst frames and their aligned faces."""

    src_aligned: Path
    dst_frames: Path
    dst_aligned: Path
    root: Path

    def gray_faces(self, side: str, size: int, face_type: str) -> Path:
        """Grayscale copies of one side's faces at `size` px (made once per size and face type)."""
        from mainscripts.demo import run_command
        source = self.src_aligned if side == "src" else self.dst_aligned
        out = self.root / f"{side}_bw_{face_type}_{size}"
        if not list_images(out):
            run_command(["resize-to-grayscale", "--input-dir", str(source), "--output-dir", str(out),
                         "--image-size", str(size), "--face-type", face_type, "--grayscale"])
        return out


def builtin_data(root: Path) -> Data:
    """The demo's clips, frames and aligned faces (extracted at 512 px so any resolution can be trained)."""
    from mainscripts.demo import DemoClips, DemoPlan, DemoRun
    ws = Workspace(root / "pair")
    ready = list_images(ws.src_aligned) and list_images(ws.dst_aligned)
    if not ready:
        ws.root.mkdir(parents=True, exist_ok=True)
        run = DemoRun(ws, DemoPlan(extract_size=512), DemoClips(), keep=True)
        for step in (run.make_videos, lambda: run.frames("data_src"), lambda: run.frames("data_dst"),
                     lambda: run.faces(ws.data_src, ws.src_aligned, debug=False),
                     lambda: run.faces(ws.data_dst, ws.dst_aligned, debug=False)):
            step()
    return Data(ws.src_aligned, ws.data_dst, ws.dst_aligned, root)


FACE_TYPES = {"h": "half_face", "mf": "mid_full_face", "f": "full_face", "wf": "whole_face", "head": "head"}


def run_config(data: Data, model: str, label: str, options: dict, budgets: list[float],
               merge_flags: list[str], recognizer: Recognizer, src_person: np.ndarray,
               iterations: bool = False) -> list[dict]:
    """Train `model` with `options` up to each cumulative budget (minutes, or iterations when `iterations`),
    merge and measure at each."""
    from mainscripts.demo import run_command, train_for_minutes
    from models.registry import model_class
    gray = getattr(model_class(model), "CHANNELS", 3) == 1
    ws = Workspace(data.root / f"run_{label}")
    if ws.model.exists():
        shutil.rmtree(ws.model)
    ws.root.mkdir(parents=True, exist_ok=True)
    config_file = ws.root / "train_config.json"
    atomic_write_text(config_file, json.dumps(options, indent=2) + "\n")
    resolution = int(options.get("resolution", 128))
    face_type = FACE_TYPES.get(str(options.get("face_type", "f")), "full_face")
    src = data.gray_faces("src", resolution, face_type) if gray else data.src_aligned
    dst = data.gray_faces("dst", resolution, face_type) if gray else data.dst_aligned
    rows, spent = [], 0.0
    for budget in budgets:
        started = time.monotonic()
        if iterations:  # train to the iteration, however long it takes
            atomic_write_text(config_file, json.dumps({**options, "target_iter": int(budget)}, indent=2) + "\n")
        trained = train_for_minutes(ws, model, 24 * 60.0 if iterations else budget - spent, src, dst, config_file)
        spent = budget
        merged, masks = ws.root / f"merged_{budget:g}", ws.root / f"merged_{budget:g}_mask"
        for folder in (merged, masks):
            shutil.rmtree(folder, ignore_errors=True)
        bw = ["--bw-output", "luma"] if gray else []
        run_command(["merge", "--input-dir", str(data.dst_frames), "--output-dir", str(merged),
                     "--output-mask-dir", str(masks), "--aligned-dir", str(data.dst_aligned),
                     "--model-dir", str(ws.model), "--model", model, "--no-interactive", "--force",
                     *bw, *merge_flags, *NO_FILTER])
        row = {"config": label, "model": model, "minutes": None if iterations else budget,
               "iterations": trained["iterations"], "train_and_merge_s": round(time.monotonic() - started, 1)}
        row.update(measure(data.dst_frames, data.dst_aligned, merged, masks, src_person, recognizer,
                           SrcDetail(data.src_aligned)))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def plot_curve(rows: list[dict], out: Path) -> Path:
    """Identity (distance to src), sharpness over dst's own (with the src faces' own detail, the ceiling no model
    passes) and sharpness over the src faces' own, against minutes (or iterations), one line per config."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_id, ax_sharp, ax_src) = plt.subplots(1, 3, figsize=(15, 4.3))
    for label in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == label]
        x = [r["minutes"] if r["minutes"] is not None else r["iterations"] for r in mine]
        ax_id.plot(x, [r["dist_src"] for r in mine], marker="o", label=label)
        ax_sharp.plot(x, [r["sharpness"] for r in mine], marker="o", label=label)
        ax_src.plot(x, [r["sharpness_vs_src"] for r in mine], marker="o", label=label)
    ceiling = float(np.mean([r["src_detail"] for r in rows]))   # the same src faces for every config
    ax_sharp.axhline(ceiling, color="gray", linestyle=":", linewidth=1.5,
                     label=f"src faces' own detail ({ceiling:.2f}): no model passes it")
    ax_id.axhline(SAME_PERSON, color="gray", linestyle="--", linewidth=1, label="same person (0.6)")
    unit = "training minutes" if rows[0]["minutes"] is not None else "iterations"
    ax_id.set(xlabel=unit, ylabel="distance to the src person (lower is better)",
              title="Identity (below the line: recognized as src)")
    ax_sharp.set(xlabel=unit, ylabel="Laplacian variance, merged / dst", ylim=(0, None),
                 title="Sharpness (1.0 = as sharp as the dst frame)")
    ax_src.set(xlabel=unit, ylabel="Laplacian variance, merged / src faces' own", ylim=(0, None),
               title="Detail of the src faces reproduced (1.0 = all)")
    for ax in (ax_id, ax_sharp, ax_src):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="SAEHDBW", help="Model class to train (default SAEHDBW).")
    p.add_argument("--config", action="append",
                   help="A config to train: demo (the default), a preset name (BW96, BW192, ...) or a JSON options "
                        "file, optionally with changes: demo:resolution=128,eyes_mouth_prio=true. Repeat it to "
                        "compare configs (or give plain names comma-separated: demo,BW96).")
    p.add_argument("--minutes", type=float, default=5.0, help="Training budget in wall-clock minutes (default 5).")
    p.add_argument("--curve", action="store_true", help=f"Measure at {', '.join(f'{m:g}' for m in CURVE_MINUTES)} "
                                                        "minutes of one run each and plot quality_curve.png.")
    p.add_argument("--curve-minutes", help="Budgets of --curve instead of the default, e.g. 1,2.")
    p.add_argument("--iterations", help="Budgets in iterations instead of minutes, e.g. 1000 or 500,1000,2000: "
                                        "configs compared at equal iterations whatever else the machine runs "
                                        "(bench/train.py gives each config's time per iteration).")
    p.add_argument("--src", type=Path, help="Your aligned src faces (default: the built-in pair).")
    p.add_argument("--dst", type=Path, help="Your dst frames, with their aligned faces in DST/aligned.")
    p.add_argument("--merge-flags", default="--mask-mode dst --erode-mask-modifier 10 --blur-mask-modifier 60 "
                                            "--color-transfer-mode rct",
                   help="Merge settings of the measured merges (default: the demo's); the sharpen filter is "
                        "always off.")
    p.add_argument("--work-dir", type=Path, help="Keep the data and models here (default: a temporary folder).")
    p.add_argument("--out", type=Path, default=Path("quality.json"), help="All rows as one JSON file.")
    p.add_argument("--plot", type=Path, default=Path("quality_curve.png"), help="The --curve plot.")
    p.add_argument("--measure-workspace", type=Path,
                   help="Only measure a workspace's merged frames (data_dst/merged) against its dst frames.")
    args = p.parse_args()
    try:
        recognizer = Recognizer()
        if args.measure_workspace:
            ws = Workspace(args.measure_workspace)
            row = measure(ws.data_dst, ws.dst_aligned, ws.merged, ws.merged_mask,
                          person_descriptor(recognizer, ws.src_aligned), recognizer, SrcDetail(ws.src_aligned))
            print(json.dumps({"workspace": str(ws.root), **row}))
            return 0
        if bool(args.src) != bool(args.dst):
            raise UserError("--src and --dst go together")
        root = args.work_dir or Path(tempfile.mkdtemp(prefix="quality-"))
        root.mkdir(parents=True, exist_ok=True)
        data = (Data(args.src, args.dst, args.dst / "aligned", root) if args.src else builtin_data(root))
        src_person = person_descriptor(recognizer, data.src_aligned)
        if args.iterations:
            budgets = [float(x) for x in args.iterations.split(",")]
        else:
            budgets = ([float(x) for x in args.curve_minutes.split(",")] if args.curve_minutes else
                       list(CURVE_MINUTES)) if args.curve else [args.minutes]
        rows = []
        for name in config_names(args.config or ["demo"]):
            label = Path(name).stem if name.endswith(".json") else name.replace("demo:", "")
            rows += run_config(data, args.model, label, train_options(name), budgets, args.merge_flags.split(),
                               recognizer, src_person, iterations=bool(args.iterations))
        atomic_write_text(args.out, json.dumps(rows, indent=2) + "\n")
        if args.curve:
            print(json.dumps({"plot": str(plot_curve(rows, args.plot))}))
        if not args.work_dir:
            shutil.rmtree(root, ignore_errors=True)
    except UserError as err:
        print(f"quality bench: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
