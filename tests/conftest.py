"""Shared fixtures. Fixture modules named `tests/fixtures_*.py` are loaded as plugins automatically."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["DFL_NONINTERACTIVE"] = "1"

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
