"""SAEHD's face and background style powers (saehd_training.md §4): the style loss against numpy, the terms add to
the src loss only, and the face style's gradient reaches the src decoder but not the encoder (no code gradient)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.options import saehd_options, validate_config
from models.saehd_engine import EngineConfig, SAEHDEngine, style_loss
from tests.test_saehd_engine import TINY, face_batch, networks_pulled


def test_style_loss_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 8, 8, 3)).astype(np.float32), rng.random((2, 8, 8, 3)).astype(np.float32) * 0.5
    got = style_loss(tf.constant(a), tf.constant(b), 0, 30.0).numpy()
    mean_a, mean_b = a.mean((1, 2)), b.mean((1, 2))
    std_a, std_b = np.sqrt(a.var((1, 2)) + 1e-5), np.sqrt(b.var((1, 2)) + 1e-5)
    want = (((mean_a - mean_b) ** 2).sum(-1) + ((std_a - std_b) ** 2).sum(-1)) * 30.0 / 3
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert style_loss(tf.constant(a), tf.constant(a), 2, 30.0).numpy().max() < 1e-6


@pytest.fixture(scope="module")
def batches():
    return face_batch("src", 3), face_batch("dst", 3)


@pytest.mark.parametrize("archi", ["df-ud", "liae-ud"])
def test_style_powers_add_to_the_src_loss_only(batches, archi):
    src, dst = batches
    base = dict(channels=3, archi=archi, seed=5, **TINY)
    plain = SAEHDEngine(EngineConfig(**base)).evaluate(src, dst)
    for power in ("face_style_power", "bg_style_power"):  # (an untrained LIAE swaps to nearly dst's own colours)
        styled = SAEHDEngine(EngineConfig(**{power: 100.0}, **base)).evaluate(src, dst)
        assert styled.src_loss > plain.src_loss + 1e-5, power
        assert styled.dst_loss == pytest.approx(plain.dst_loss, rel=1e-5), power


def test_face_style_trains_the_src_decoder_not_the_encoder(batches):
    src, dst = batches
    eng = SAEHDEngine(EngineConfig(channels=3, archi="df", seed=6, face_style_power=50.0, **TINY))
    plain = SAEHDEngine(EngineConfig(channels=3, archi="df", seed=6, **TINY))
    differs = networks_pulled(eng, plain, src, dst)
    assert differs == {"decoder_src"}


def test_style_powers_are_options():
    specs = saehd_options(1)
    assert validate_config(specs, {"face_style_power": 0.5, "bg_style_power": 2}, "test") == {
        "face_style_power": 0.5, "bg_style_power": 2.0}
