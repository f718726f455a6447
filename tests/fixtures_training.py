"""Settings for training tests: the CPU, float32 (bfloat16 emulation is slow at tiny sizes), no prompts, and
batches rendered in the test's own process."""
from __future__ import annotations

import contextlib
import dataclasses

import pytest

from core import config


@contextlib.contextmanager
def training_test_settings(**changes):
    """Those settings (plus `changes`) inside, the previous ones restored after."""
    before = dataclasses.asdict(config.settings())
    config.override(force_cpu=True, train_precision="float32", non_interactive=True, sample_workers=0, **changes)
    try:
        yield
    finally:
        config.override(**before)


@pytest.fixture
def cpu_float32():
    with training_test_settings():
        yield
