"""Shared fixtures. Fixture modules named `tests/fixtures_*.py` are loaded as plugins automatically."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _toolkit_env_names() -> set[str]:
    """Every environment variable the toolkit or its scripts read: what setenv.sh/setenv.bat export, the
    settings of core/config.py and the SAEHDBW fork's switches. `scripts_linux/test.sh` sources setenv.sh, so
    without this a test would merge into the user's own workspace or use their config files."""
    names = set(re.findall(r"^\s*#?\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=",
                           (ROOT / "scripts_linux" / "setenv.sh").read_text(encoding="utf-8"), re.M))
    names |= set(re.findall(r"^\s*(?:rem\s+|::\s*)?set\s+\"?([A-Za-z_][A-Za-z0-9_]*)=",
                            (ROOT / "setenv.bat").read_text(encoding="utf-8", errors="replace"), re.M | re.I))
    config_text = (ROOT / "core" / "config.py").read_text(encoding="utf-8")
    names |= {a or b for a, b in re.findall(r'env(?:\.get)?\(\s*"([A-Za-z_][A-Za-z0-9_]*)"|'
                                            r'_(?:flag|int)\(env, "([A-Za-z_][A-Za-z0-9_]*)"', config_text)}
    names |= set(re.findall(r'^    "([A-Za-z_][A-Za-z0-9_]*)": ', config_text, re.M))
    return names - {"TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "DISPLAY", "WAYLAND_DISPLAY"}


def _isolate_environment() -> None:
    """Tests never read or write the user's workspace or settings, whatever the shell exported: the toolkit's
    variables are dropped and WORKSPACE points at an empty folder of this run."""
    for name in _toolkit_env_names():
        os.environ.pop(name, None)
    os.environ["WORKSPACE"] = str(Path(tempfile.mkdtemp(prefix="dfl-tests-")) / "workspace")
    os.environ["DFL_NONINTERACTIVE"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_isolate_environment()

pytest_plugins = sorted(f"tests.{p.stem}" for p in Path(__file__).parent.glob("fixtures_*.py"))


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    from core.sample_media import astronaut
    return astronaut()


@pytest.fixture(scope="session")
def hopper_bgr() -> np.ndarray:
    from core.sample_media import grace_hopper
    return grace_hopper()


@pytest.fixture(scope="session")
def nchw_conv():
    """Skip where TensorFlow has no NCHW convolution on the CPU (builds without oneDNN, which TensorFlow turns on
    only for some Intel CPUs); the toolkit itself chooses NCHW on GPUs only."""
    import tensorflow as tf
    try:
        tf.nn.conv2d(tf.zeros((1, 1, 4, 4)), tf.zeros((3, 3, 1, 1)), 1, "VALID", data_format="NCHW")
    except tf.errors.UnimplementedError:
        pytest.skip("TensorFlow has no NCHW convolution on this CPU (oneDNN is off)")


def _tree_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


@pytest.fixture(scope="session", autouse=True)
def users_workspace_untouched():
    """The toolkit folder's own workspace/ (the demo's, or the user's) is the same after the run as before."""
    folder = ROOT / "workspace"
    before = _tree_state(folder)
    yield
    after = _tree_state(folder)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the test run changed {folder}: {changed[:10]}"
