"""`main.py demo`: the whole pipeline on two built-in public-domain photos, ending in workspace/result.mp4.

Astronaut Eileen Collins (scikit-image) becomes `data_src.mp4` and Grace Hopper (matplotlib) `data_dst.mp4`:
short clips with camera motion and light changes, with sound. Then the real commands run in order, exactly as
the numbered scripts run them: extract frames and faces, sort, resize to grayscale, train SAEHDBW for a few
minutes, merge with the dst frames' own colours (`--bw-output luma`) and encode the result. With
`--colorize-minutes` it also trains the Colorizer on the colour src faces and merges in src's colour
(`--bw-output colorize`). Nothing is downloaded; the demo only ever deletes a workspace that an earlier demo made.
"""
from __future__ import annotations

import argparse
import importlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core import config, interact
from core.commands import ROOT, main_command, script_command
from core.errors import UserError
from core.fsio import atomic_write_text, list_images
from core.imagelib.io import read_image, write_image
from core.sample_media import Motion, astronaut, grace_hopper, synth_frames
from core.workspace import Workspace, free_workspace_name
from merger.config import MergerConfig, MergeSession

DEMO_RESOLUTION = 160
MARKER = ".saehdbw_demo"  # marks a workspace the demo made (and may therefore wipe)
# Subcommands whose mainscripts module has another name.
COMMAND_MODULE = {"resize-to-grayscale": "resize"}


@dataclass(frozen=True)
class DemoClips:
    """The two synthetic videos: frame counts, frame size (w, h), frame rate and camera motion."""

    src_frames: int = 64
    dst_frames: int = 72
    size: tuple[int, int] = (640, 480)
    fps: float = 24.0
    src_motion: Motion = Motion(pan=0.08, zoom=0.2, roll_deg=20.0, light=0.3)
    dst_motion: Motion = Motion(pan=0.06, zoom=0.12, roll_deg=12.0, light=0.2)
    # Head-and-shoulders crops (x, y, w, h) of the photos in the frames' 4:3 shape, so the faces are large.
    src_crop: tuple[int, int, int, int] = (30, 0, 400, 300)
    dst_crop: tuple[int, int, int, int] = (0, 30, 512, 384)


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return image[y:y + h, x:x + w]


def demo_train_options() -> dict:
    """A small SAEHDBW that learns a recognisable face in minutes on a CPU (the fork's lean dims, halved), at the
    resolution that gave the sharpest face per CPU minute in `bench/quality.py` (160 px over 128 and 96: the
    demo's dst face is ~200 px wide in its frames, and a 96 px face stretched over it stays blurry however long it
    trains), with eyes and mouth priority (at 160 px and 1,000 iterations it reproduced 0.49 of the src faces'
    detail instead of 0.38, identity unchanged) and three times DFL's learning rate (at 500 iterations as detailed
    and as recognisable as DFL's rate after 1,500-3,000; README's "How good is the face?")."""
    return {
        "resolution": DEMO_RESOLUTION, "face_type": "f", "archi": "df-ud", "ae_dims": 64, "e_dims": 32, "d_dims": 32,
        "d_mask_dims": 16, "batch_size": 4, "masked_training": True, "eyes_mouth_prio": True,
        "uniform_yaw": False, "random_warp": False, "random_src_flip": False, "random_dst_flip": True,
        "ct_mode": "none", "learning_rate": 1.5e-4, "write_preview_history": False, "autobackup_hour": 0,
        "target_iter": 0,
    }


@dataclass
class DemoPlan:
    """What the demo does; every field maps to a flag of one of the commands it runs."""

    minutes: float = 5.0
    colorize_minutes: float = 0.0   # > 0: train the Colorizer too and merge in src's colour
    face_type: str = "full_face"
    extract_size: int = 256
    gray_size: int = DEMO_RESOLUTION   # the faces are resized once, to the size the model trains at
    sort_by: str = "blur"
    train_options: dict = field(default_factory=demo_train_options)
    # Hand-tuned for the demo: the landmark hull, pulled in a little and feathered, hides the seam of a hard mask
    # edge. Saved as demo_merge_config.json, which the merge reads (and a user can reuse as MERGE_CONFIG_FILE).
    merge_settings: dict = field(default_factory=lambda: {
        "mask_mode": "dst", "erode_mask_modifier": 10, "blur_mask_modifier": 60, "color_transfer_mode": "rct"})

    @property
    def bw_output(self) -> str:
        return "colorize" if self.colorize_minutes > 0 else "luma"

    def merge_config(self) -> MergerConfig:
        """The merge settings; colorized, the face keeps the Colorizer's src colour (no colour transfer toward
        dst). Settings not named take their batch defaults for the model's resolution."""
        settings = dict(self.merge_settings)
        if self.bw_output == "colorize":
            settings["color_transfer_mode"] = "none"
        return MergerConfig.from_dict(settings, MergerConfig.batch_defaults(self.train_options["resolution"]))


@dataclass
class StepResult:
    title: str
    seconds: float


def build_demo_videos(ws: Workspace, clips: DemoClips = DemoClips()) -> tuple[Path, Path]:
    """Write `data_src.mp4` (astronaut) and `data_dst.mp4` (Grace Hopper) into the workspace root."""
    from core.ffmpeg import write_video
    ws.root.mkdir(parents=True, exist_ok=True)
    src_photo, dst_photo = crop(astronaut(), clips.src_crop), crop(grace_hopper(), clips.dst_crop)
    src = write_video(synth_frames(src_photo, clips.src_frames, clips.size, clips.src_motion, seed=1),
                      ws.root / "data_src.mp4", fps=clips.fps, audio=True, tone_hz=330)
    dst = write_video(synth_frames(dst_photo, clips.dst_frames, clips.size, clips.dst_motion, seed=2),
                      ws.root / "data_dst.mp4", fps=clips.fps, audio=True, tone_hz=440)
    return src, dst


def prepare_workspace(root: Path, keep: bool) -> Workspace:
    """Make `root` a demo workspace. Refuses a folder with other work in it; wipes an old demo unless `keep`."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError(f"{root}: is a file, not a workspace folder")
    contents = [p for p in root.iterdir()] if root.exists() else []
    if contents and not (root / MARKER).exists():
        raise UserError(f"{root}: already holds files the demo did not make; the demo never touches them. "
                        f"Pass --workspace with a new or empty folder.")
    if contents and not keep:
        interact.log_info(f"Removing the previous demo in {root} (use --keep to reuse it)")
        for path in contents:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("This workspace was made by `main.py demo`; a new demo run may delete it.\n")
    return Workspace(root)


def run_command(argv: list[str]) -> None:
    """Run one toolkit command in this process, through the same argparse definition main.py uses."""
    name = argv[0]
    module = importlib.import_module(f"mainscripts.{COMMAND_MODULE.get(name, name)}")
    parser = argparse.ArgumentParser(prog="main.py")
    module.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    interact.log_info(f"$ {main_command(*argv)}")
    code = args.func(args)
    if code:
        raise UserError(f"demo step `main.py {' '.join(argv)}` failed with exit code {code}")


def comparison_sheet(ws: Workspace, out: Path, count: int = 3) -> Path | None:
    """Original dst frames above their merged versions, for a one-look check that the face was swapped."""
    merged = list_images(ws.merged)
    if not merged:
        return None
    picks = [merged[i] for i in np.linspace(0, len(merged) - 1, count).round().astype(int)]
    columns = []
    for path in picks:
        original = read_image(ws.data_dst / path.name, cv2.IMREAD_COLOR)
        result = read_image(path, cv2.IMREAD_COLOR)
        if original is None or result is None:
            continue
        result = cv2.resize(result, (original.shape[1], original.shape[0]))
        columns.append(np.vstack([original, result]))
    if not columns:
        return None
    sheet = np.hstack(columns)
    scale = min(1.0, 1600 / sheet.shape[1])
    sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    write_image(out, sheet)
    return out


def write_train_config(ws: Workspace, plan: DemoPlan) -> Path:
    """The demo's model options as a `--config-file` the user can reuse with the numbered train scripts."""
    path = ws.root / "demo_train_config.json"
    atomic_write_text(path, json.dumps(plan.train_options, indent=2) + "\n")
    return path


def write_merge_config(ws: Workspace, plan: DemoPlan) -> Path:
    """The demo's merge settings as a `--config-file` (MERGE_CONFIG_FILE of the numbered merge scripts)."""
    path = ws.root / "demo_merge_config.json"
    MergeSession(plan.merge_config()).save(path)
    return path


def train_for_minutes(ws: Workspace, model_name: str, minutes: float, src_dir: Path, dst_dir: Path | None = None,
                      config_file: Path | None = None) -> dict:
    """Train `model_name` (SAEHDBW or the Colorizer) with the trainer's own loop (autosave, NaN and out-of-memory
    guards, preview PNGs) and tell it to save and stop after `minutes` - the same as pressing Enter. Ctrl-C stops
    early; the demo goes on."""
    import threading

    from mainscripts.train import Trainer
    from mainscripts.trainer_window import Action
    from models import options as opt
    from models.registry import load_model, model_class

    options = opt.read_config_file(config_file, model_class(model_name).option_specs()) if config_file else {}
    dst = ["--training-data-dst-dir", dst_dir] if dst_dir else []
    cfg = ["--config-file", config_file] if config_file else []
    command = main_command("train", "--model", model_name, "--training-data-src-dir", src_dir, *dst, "--model-dir",
                           ws.model, *cfg, "--force-model-name", "demo", "--silent-start", "--no-preview")
    interact.log_info(f"$ {command}   (stopped after {minutes:g} min)")
    model = load_model(model_name, ws.model, training=True, src_dir=src_dir, dst_dir=dst_dir,
                       force_model_name="demo", silent_start=True, config_options=options)
    start_iter = model.iter
    trainer = Trainer(model, show_window=False)
    timer = threading.Timer(minutes * 60.0, trainer.commands.put, (Action.EXIT,))
    timer.daemon = True
    timer.start()
    try:
        code = trainer.run()
    finally:
        timer.cancel()
        model.close()  # stop the sample-generator workers; the caller owns the model
    if code:
        raise UserError(f"demo training stopped with an error (see above); the model in {ws.model} was kept")
    losses = model.loss_array()
    return {"iterations": model.iter, "this_run": model.iter - start_iter,
            "loss": [round(float(x), 4) for x in losses[-min(50, len(losses)):].mean(axis=0)] if len(losses) else [],
            "first_loss": [round(float(x), 4) for x in losses[0]] if len(losses) else [],
            "preview": model.files.file("preview.png"), "model_files": model.files.full_name}


def count_images(folder: Path) -> int:
    return len(list_images(folder)) if folder.is_dir() else 0


class DemoRun:
    """The demo's steps in order; each step is a titled call, timed for the summary."""

    def __init__(self, ws: Workspace, plan: DemoPlan, clips: DemoClips, keep: bool):
        self.ws, self.plan, self.clips, self.keep = ws, plan, clips, keep
        self.src_bw = ws.src_aligned_bw
        self.dst_bw = ws.dst_aligned_bw
        self.results: list[StepResult] = []
        self.training: dict = {}
        self.colorizer: dict = {}
        self.comparison: Path | None = None

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        ws, plan = self.ws, self.plan
        return [
            ("Make data_src.mp4 and data_dst.mp4 from the built-in photos", self.make_videos),
            ("Extract frames from data_src.mp4", lambda: self.frames("data_src")),
            ("Extract frames from data_dst.mp4", lambda: self.frames("data_dst")),
            ("Extract src faces", lambda: self.faces(ws.data_src, ws.src_aligned, debug=False)),
            ("Extract dst faces", lambda: self.faces(ws.data_dst, ws.dst_aligned, debug=True)),
            (f"Sort src faces by {plan.sort_by}",
             lambda: run_command(["sort", "--input-dir", str(ws.src_aligned), "--by", plan.sort_by])),
            (f"Resize src faces to {plan.gray_size} px grayscale", lambda: self.gray(ws.src_aligned, self.src_bw)),
            (f"Resize dst faces to {plan.gray_size} px grayscale", lambda: self.gray(ws.dst_aligned, self.dst_bw)),
            (f"Train SAEHDBW for {plan.minutes:g} minutes", self.train),
            *([(f"Train the Colorizer on the colour src faces for {plan.colorize_minutes:g} minutes",
                self.train_colorizer)] if plan.bw_output == "colorize" else []),
            ("Merge the trained face into the dst frames " + ("(src's colour: --bw-output colorize)"
             if plan.bw_output == "colorize" else "(colour kept: --bw-output luma)"), self.merge),
            ("Encode result.mp4 with the sound of data_dst.mp4", self.encode),
        ]

    def run(self) -> None:
        steps = self.steps()
        for number, (title, action) in enumerate(steps, 1):
            interact.log_info(f"\n=== Demo step {number}/{len(steps)}: {title} ===")
            started = time.monotonic()
            action()
            self.results.append(StepResult(title, time.monotonic() - started))
        self.comparison = comparison_sheet(self.ws, self.ws.root / "demo_comparison.png")

    # ------------------------------------------------------------------ steps

    def make_videos(self) -> None:
        if self.keep and self.ws.video("data_src") and self.ws.video("data_dst"):
            interact.log_info("Reusing the videos of the previous demo (--keep)")
            return
        build_demo_videos(self.ws, self.clips)

    def frames(self, stem: str) -> None:
        out = self.ws.root / stem
        if self.keep and count_images(out):
            interact.log_info(f"Reusing the frames in {out} (--keep)")
            return
        run_command(["video", "extract-video", "--input-file", str(self.ws.video(stem)), "--output-dir", str(out),
                     "--fps", "0", "--output-ext", "png"])

    def faces(self, frames: Path, aligned: Path, debug: bool) -> None:
        if self.keep and count_images(aligned):
            interact.log_info(f"Reusing the faces in {aligned} (--keep)")
            return
        run_command(["extract", "--input-dir", str(frames), "--output-dir", str(aligned),
                     "--face-type", self.plan.face_type, "--image-size", str(self.plan.extract_size),
                     "--max-faces-from-image", "1", "--output-debug" if debug else "--no-output-debug"])
        if not count_images(aligned):
            doctor = script_command("10.misc_doctor_check_installation", "10.misc) doctor (check installation)")
            raise UserError(f"{aligned}: no face was found in the demo frames; check the detector installation: "
                            f"{doctor}")

    def gray(self, aligned: Path, out: Path) -> None:
        if self.keep and count_images(out):
            interact.log_info(f"Reusing the grayscale faces in {out} (--keep)")
            return
        run_command(["resize-to-grayscale", "--input-dir", str(aligned), "--output-dir", str(out),
                     "--image-size", str(self.plan.gray_size), "--grayscale"])

    def train(self) -> None:
        config_file = write_train_config(self.ws, self.plan)
        self.training = train_for_minutes(self.ws, "SAEHDBW", self.plan.minutes, self.src_bw, self.dst_bw, config_file)

    def train_colorizer(self) -> None:
        self.colorizer = train_for_minutes(self.ws, "Colorizer", self.plan.colorize_minutes, self.ws.src_aligned)

    def merge(self) -> None:
        ws = self.ws
        run_command(["merge", "--input-dir", str(ws.data_dst), "--output-dir", str(ws.merged),
                     "--output-mask-dir", str(ws.merged_mask), "--aligned-dir", str(ws.dst_aligned),
                     "--model-dir", str(ws.model), "--model", "SAEHDBW", "--no-interactive", "--force",
                     "--bw-output", self.plan.bw_output, "--config-file", str(write_merge_config(ws, self.plan))])

    def encode(self) -> None:
        ws = self.ws
        run_command(["video", "video-from-sequence", "--input-dir", str(ws.merged), "--output-file", str(ws.result),
                     "--reference-file", str(ws.video("data_dst")), "--ext", "png", "--bitrate", "16",
                     "--include-audio", "--no-lossless"])

    # ------------------------------------------------------------------ summary

    def summary(self, total_seconds: float) -> str:
        ws, t = self.ws, self.training
        lines = ["", "=" * 78, "Demo finished in " + _minutes(total_seconds), "=" * 78,
                 f"Workspace        {ws.root}",
                 f"Videos           {ws.video('data_src')}  ({count_images(ws.data_src)} frames)",
                 f"                 {ws.video('data_dst')}  ({count_images(ws.data_dst)} frames)",
                 f"Aligned faces    src {count_images(ws.src_aligned)}, dst {count_images(ws.dst_aligned)}  "
                 f"({self.plan.face_type}, {self.plan.extract_size} px)",
                 f"Grayscale faces  src {count_images(self.src_bw)}, dst {count_images(self.dst_bw)}  "
                 f"({self.plan.gray_size} px, in */aligned_bw)"]
        if t:
            loss = "/".join(f"{x:.4f}" for x in t["loss"])
            first = "/".join(f"{x:.4f}" for x in t["first_loss"])
            lines += [f"Model            {ws.model}  ({t['model_files']})",
                      f"Training         {t['iterations']} iterations ({t['this_run']} in this run); "
                      f"src/dst loss {first} at the start -> {loss} now",
                      f"Training preview {t['preview']}"]
        if self.colorizer:
            c = self.colorizer
            lines.append(f"Colorizer        {c['iterations']} iterations ({c['this_run']} in this run); loss "
                         f"{c['first_loss'][0]:.4f} -> {c['loss'][0]:.4f}; preview {c['preview']}")
        lines += [f"Merged frames    {count_images(ws.merged)} in {ws.merged}",
                  f"Result           {ws.result}"]
        if self.comparison:
            lines.append(f"Before / after   {self.comparison}  (top: data_dst frames, bottom: result)")
        lines += ["", "Step times:"] + [f"  {_minutes(r.seconds):>8}  {r.title}" for r in self.results]
        colorize = ["--colorize-minutes", f"{self.plan.colorize_minutes:g}"] if self.plan.bw_output == "colorize" \
            else []
        name = free_workspace_name(ROOT)
        lines += ["",
                  "Train longer:   " + main_command("demo", "--workspace", ws.root, "--keep", "--demo-minutes", "10",
                                                    *colorize),
                  f"Your own video: {script_command('0_new_workspace', '0) new workspace', name)}",
                  f"                makes a new workspace ({name}) for your two videos, which the numbered scripts "
                  "then use,",
                  "                and lists the steps from there to result.mp4 (README, Quick start).",
                  f"Demo settings:  {ws.root / 'demo_train_config.json'}  (TRAIN_CONFIG_FILE: a small model that "
                  "learns in minutes on a CPU)",
                  f"                {ws.root / 'demo_merge_config.json'}  (MERGE_CONFIG_FILE); set them in setenv "
                  "to reuse them."]
        return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d} min"


# ---------------------------------------------------------------------------------------------------- CLI

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="Run the whole pipeline on two built-in photos and write workspace/result.mp4.",
        description="Builds a workspace from two public-domain photos that ship with installed packages "
                    "(astronaut Eileen Collins -> data_src.mp4, Grace Hopper -> data_dst.mp4), then extracts, "
                    "sorts, resizes to grayscale, trains SAEHDBW for a few minutes, merges in colour and encodes "
                    "result.mp4. About 6 minutes on a 2-core CPU with the defaults.")
    p.add_argument("--workspace", type=Path,
                   help="Folder for the demo (default: the configured workspace, ./workspace). It must be empty, "
                        "new, or an earlier demo's workspace: the demo never deletes other work.")
    p.add_argument("--demo-minutes", type=float, default=DemoPlan.minutes,
                   help="Minutes of SAEHDBW training (default %(default)s). More minutes, a more convincing face.")
    p.add_argument("--colorize-minutes", type=float, default=DemoPlan.colorize_minutes,
                   help="Also train the Colorizer for this many minutes (2 is enough for the demo) and merge with "
                        "--bw-output colorize: the face takes the src person's colour instead of dst's. "
                        "Default 0: merge with --bw-output luma.")
    p.add_argument("--keep", action="store_true",
                   help="Reuse what an earlier demo left in the workspace (videos, faces, model) and train the "
                        "model further, instead of starting from scratch.")
    p.add_argument("--cpu-only", action="store_true", help="Train and merge on the CPU even when a GPU is present.")
    p.set_defaults(func=main, log_to_workspace=False)   # it logs into the demo's own workspace once that is made


def main(args: argparse.Namespace) -> int:
    if args.demo_minutes <= 0:
        raise UserError(f"--demo-minutes must be more than 0, got {args.demo_minutes:g}")
    if args.colorize_minutes < 0:
        raise UserError(f"--colorize-minutes must be 0 (off) or more, got {args.colorize_minutes:g}")
    config.override(non_interactive=True)  # every answer is given below; the demo never waits for a key
    if args.cpu_only:
        config.override(force_cpu=True)
    ws = prepare_workspace(args.workspace or config.settings().workspace, keep=args.keep)
    interact.add_log_file(ws.logs, "demo")
    plan = DemoPlan(minutes=args.demo_minutes, colorize_minutes=args.colorize_minutes)
    demo = DemoRun(ws, plan, DemoClips(), keep=args.keep)
    started = time.monotonic()
    demo.run()
    interact.log_info(demo.summary(time.monotonic() - started))
    return 0
