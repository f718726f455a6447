"""SAEHD's 'true face' power (DF archis): a code discriminator, its update after each generator step, its pull
on the encoder, saving it, and switching it on for a model saved without it."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.leras.archis.discriminators import CodeDiscriminator
from models.saehd_engine import EngineConfig, SAEHDEngine
from tests.test_saehd_engine import TINY, face_batch, networks_pulled

BASE = dict(channels=3, archi="df", seed=7, **TINY)


@pytest.fixture(scope="module")
def batches():
    return face_batch("src", 3), face_batch("dst", 3)


def test_code_discriminator_layer_plan():
    dis = CodeDiscriminator(32, 16, ch=8)      # 1 + 16 // 8 = 3 convs: 8, 16, 32 channels
    names = sorted(dis.variables())
    assert names[:2] == ["convs_0/bias", "convs_0/weight"] and "out_conv/weight" in names
    assert tuple(dis.variables()["convs_0/weight"].shape) == (4, 4, 32, 8)
    assert tuple(dis.variables()["convs_2/weight"].shape) == (3, 3, 16, 32)
    assert dis(tf.zeros((2, 16, 16, 32))).shape == (2, 3, 3, 1)   # 16 → 9 → 5 → 3 (DFL padding)


def test_true_face_trains_the_discriminator_and_pulls_the_encoder(batches):
    src, dst = batches
    eng = SAEHDEngine(EngineConfig(true_face_power=1.0, **BASE))
    plain = SAEHDEngine(EngineConfig(**BASE))
    assert eng.evaluate(src, dst) == plain.evaluate(src, dst)       # reported losses leave the G term out
    differs = networks_pulled(eng, plain, src, dst)
    assert differs == {"encoder", "inter"}                           # the codes are pulled, the decoders are not
    dis = eng.optional_nets["code_discriminator"]
    before = {k: v.numpy().copy() for k, v in dis.variables().items()}
    eng.train_step(src, dst)
    assert any(not np.array_equal(before[k], v.numpy()) for k, v in dis.variables().items())
    assert int(eng.optional_optimizers["D_code_opt"].iters.numpy()) == 1


def test_discriminator_is_saved_and_starts_fresh_when_switched_on(batches, tmp_path):
    src, dst = batches
    eng = SAEHDEngine(EngineConfig(true_face_power=0.5, **BASE))
    eng.train_step(src, dst)
    eng.save(tmp_path / "a", "m")
    assert {"m_code_discriminator.h5", "m_D_code_opt.h5"} <= {p.name for p in (tmp_path / "a").iterdir()}
    again = SAEHDEngine(EngineConfig(true_face_power=0.5, **{**BASE, "seed": 8}))
    again.load(tmp_path / "a", "m")
    for k, v in eng.optional_nets["code_discriminator"].variables().items():
        np.testing.assert_array_equal(v.numpy(), again.optional_nets["code_discriminator"].variables()[k].numpy())

    plain = SAEHDEngine(EngineConfig(**BASE))
    plain.save(tmp_path / "b", "m")
    switched = SAEHDEngine(EngineConfig(true_face_power=0.5, **BASE))
    switched.load(tmp_path / "b", "m")                                # no discriminator files: it starts fresh
    switched.train_step(src, dst)
    liae = SAEHDEngine(EngineConfig(true_face_power=0.5, **{**BASE, "archi": "liae"}))
    assert not liae.true_face and not liae.optional_nets               # DF only, as DFL
