"""Settings for training tests: the CPU, float32 (bfloat16 emulation is slow at tiny sizes), no prompts, and
batches rendered in the test's own process; the tiny model options and the (src, dst) faces they train on."""
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


TINY_OPTIONS = {"resolution": 64, "archi": "df-ud", "ae_dims": 32, "e_dims": 16, "d_dims": 16, "d_mask_dims": 16,
                "batch_size": 4, "random_warp": False, "random_dst_flip": False}


@pytest.fixture(scope="module")
def cpu_float32_for_the_module():
    """`training_test_settings` for a whole test module (`pytestmark = pytest.mark.usefixtures(...)`)."""
    with training_test_settings():
        yield


@pytest.fixture(scope="module")
def faces(tiny_workspace):
    """(src aligned, dst aligned) folders of the tiny real workspace."""
    return tiny_workspace.src_aligned, tiny_workspace.dst_aligned


@pytest.fixture
def cpu_float32():
    with training_test_settings():
        yield
