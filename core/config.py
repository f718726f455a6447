"""The only place that reads environment variables; everything else receives a typed `Settings`."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

TRUE_WORDS = {"1", "y", "yes", "true", "on"}


def _flag(env: dict[str, str], name: str) -> bool:
    """True when `name` is set to a truthy word, or set but empty (the fork's `SET name=` style)."""
    if name not in env:
        return False
    value = env[name].strip().lower()
    return value == "" or value in TRUE_WORDS


def _int(env: dict[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        raise SystemExit(f"Environment variable {name}={env[name]!r} is not an integer")


@dataclass(frozen=True)
class Settings:
    """Every environment override the toolkit understands (documented in README's env-var table)."""

    non_interactive: bool = False
    force_cpu: bool = False
    force_gpu_data: bool = False
    forced_gpu_id: str = "Unknown CUDA GPU"
    max_gpu_memory: int = 1556925644
    workspace: Path = Path("workspace")
    autosave_minutes: int = 25
    preview_period: int = 500
    merge_workers: int = 0  # 0 = pick from CPU count
    extract_workers: int = 2
    device_probe_timeout: int = 60
    gpu_memory_growth: bool = True
    log_dir: Path | None = None
    has_display: bool = True  # a screen for OpenCV windows (Windows/macOS, or DISPLAY/WAYLAND_DISPLAY set)
    train_precision: str = "auto"  # training compute dtype: auto | float32 | bfloat16
    sample_workers: int = -1  # training sample-generator processes per side; -1 = half the CPUs, 0 = in-process
    sample_cache_mb: int = -1  # RAM per side for prepared training faces (-1 = an eighth of the RAM, <= 8 GB)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build `Settings` from `env` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    stdin_is_tty = sys.stdin is not None and sys.stdin.isatty()
    return Settings(
        non_interactive=_flag(env, "DFL_NONINTERACTIVE") or not stdin_is_tty,
        force_cpu=_flag(env, "DFL_FORCE_CPU"),
        force_gpu_data=_flag(env, "force_gpu_data"),
        forced_gpu_id=env.get("forced_gpu_id", Settings.forced_gpu_id),
        max_gpu_memory=_int(env, "max_gpu_memory", Settings.max_gpu_memory),
        workspace=Path(env.get("WORKSPACE", env.get("DFL_WORKSPACE", "workspace"))),
        autosave_minutes=_int(env, "user_dfl_save_interval_min", Settings.autosave_minutes),
        preview_period=_int(env, "preview_period", Settings.preview_period),
        merge_workers=_int(env, "default_merge_cpu_count", 0),
        extract_workers=_int(env, "DFL_EXTRACT_WORKERS", Settings.extract_workers),
        device_probe_timeout=_int(env, "DFL_DEVICE_PROBE_TIMEOUT", Settings.device_probe_timeout),
        gpu_memory_growth=env.get("TF_FORCE_GPU_ALLOW_GROWTH", "true").lower() != "false",
        log_dir=Path(env["DFL_LOG_DIR"]) if env.get("DFL_LOG_DIR") else None,
        has_display=sys.platform in ("win32", "darwin") or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")),
        train_precision=env.get("DFL_TRAIN_PRECISION", Settings.train_precision).strip().lower(),
        sample_workers=_int(env, "DFL_SAMPLE_WORKERS", Settings.sample_workers),
        sample_cache_mb=_int(env, "DFL_SAMPLE_CACHE_MB", Settings.sample_cache_mb),
    )


# Switches of the SAEHDBW fork's .bat files that this toolkit replaces with a model class, commands and flags.
_GRAY_MODEL = "not needed: `--model SAEHDBW` trains and merges in gray, from gray or colour faces"
FORK_ONLY_ENV = {
    "use_bw_input": _GRAY_MODEL,
    "color_input_and_grayscale_model": _GRAY_MODEL,
    "user_bw_get_color_channel": "ignored: gray faces are the luma of colour ones, as `resize-to-grayscale` writes them",
    "resize_color_to_grayscale": "ignored: `resize-to-grayscale` (step 4.2 / 5.2 util resize to grayscale) does it",
    "only_convert_to_grayscale": "ignored: `resize-to-grayscale --image-size <their size> --face-type same` "
                                 "converts faces without resizing them",
    "extract_to_bw": "ignored: extract as usual, then `resize-to-grayscale` writes gray copies to aligned_bw/",
    "merge_bw_special_imwrite": "ignored: merged frames are plain PNGs that every tool reads",
    "preview_period_colab": "ignored: set preview_period",
}


def fork_env_hints(env: dict[str, str] | None = None) -> list[str]:
    """One line for each SAEHDBW-fork switch set in `env` (default: the process environment) that does nothing
    here, saying what does its job."""
    env = os.environ if env is None else env
    return [f"{name} is set: {hint}" for name, hint in FORK_ONLY_ENV.items() if name in env]


_settings: Settings | None = None


def quiet_tensorflow_logs() -> None:
    """Keep TensorFlow's C++ log lines off the console (it reads this before import): without a GPU it prints
    "failed call to cuInit" as an error, and grappler reports fusions it skipped. Real failures still reach the
    toolkit as Python exceptions, which it explains. A user's own `TF_CPP_MIN_LOG_LEVEL` wins."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tensorflow_cpu_defaults() -> None:
    """TensorFlow turns its oneDNN CPU kernels on only for some Intel CPUs; on the others (AMD, AVX2-only Intel)
    they made training 1.2-1.4x faster in bench/train.py, so they are on unless the user set the variable. It
    is read when TensorFlow is first imported (`core/__init__` calls this)."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def settings() -> Settings:
    """Process-wide settings, read once."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def override(**changes) -> Settings:
    """Replace fields (used by CLI flags such as --non-interactive and --cpu-only, and by tests)."""
    global _settings
    from dataclasses import replace
    _settings = replace(settings(), **changes)
    return _settings
