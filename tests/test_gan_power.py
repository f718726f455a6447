"""SAEHD's GAN power: DFL's UNet patch discriminator (layer search, shapes), its update after each generator
step, its pull on the src decoder path, and saving it."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.leras.archis.discriminators import UNetPatchDiscriminator, find_patch_archi, receptive_field
from models.saehd_engine import EngineConfig, SAEHDEngine, total_variation_mse
from tests.test_saehd_engine import TINY, face_batch, networks_pulled


@pytest.mark.parametrize("patch,rf,strides", [(8, 7, [2, 2]), (12, 11, [2, 1, 2]), (16, 15, [2, 2, 2]),
                                              (24, 23, [2, 2, 1, 2]), (48, 47, [2, 2, 2, 1, 2]),
                                              (80, 79, [2, 2, 2, 1, 2, 2])])
def test_layer_search_matches_dfl(patch, rf, strides):
    layers = find_patch_archi(patch)
    assert receptive_field(layers) == rf and [s for _, s in layers] == strides


def test_patch_discriminator_outputs():
    dis = UNetPatchDiscriminator(12, 1, base_ch=4)            # strides 2, 1, 2: 32 → 16 → 16 → 8
    center, full = dis(tf.zeros((2, 32, 32, 1)))
    assert center.shape == (2, 8, 8, 1) and full.shape == (2, 32, 32, 1)
    assert {"in_conv/weight", "convs_2/weight", "upconvs_0/weight", "center_out/weight", "out_conv/weight"} \
        <= set(dis.variables())


def test_total_variation_mse():
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = 1.0
    assert float(total_variation_mse(tf.constant(x))[0]) == 4.0


@pytest.fixture(scope="module")
def batches():
    return face_batch("src", 1), face_batch("dst", 1)


@pytest.mark.parametrize("archi", ["df-ud", "liae-ud"])
def test_gan_trains_its_discriminator_and_pulls_the_src_path(batches, archi, tmp_path):
    src, dst = batches
    base = dict(channels=1, archi=archi, seed=9, **TINY)
    eng = SAEHDEngine(EngineConfig(gan_power=1.0, gan_patch_size=8, gan_dims=4, **base))
    plain = SAEHDEngine(EngineConfig(**base))
    assert eng.evaluate(src, dst) == plain.evaluate(src, dst)     # the G terms are not in the reported losses
    differs = networks_pulled(eng, plain, src, dst)
    assert "decoder_dst" not in differs and ("decoder_src" in differs or "decoder" in differs)
    dis = eng.optional_nets["GAN"]
    before = {k: v.numpy().copy() for k, v in dis.variables().items()}
    eng.train_step(src, dst)
    assert any(not np.array_equal(before[k], v.numpy()) for k, v in dis.variables().items())
    assert int(eng.optional_optimizers["GAN_opt"].iters.numpy()) == 1
    eng.save(tmp_path, "m")
    assert {"m_GAN.h5", "m_GAN_opt.h5"} <= {p.name for p in tmp_path.iterdir()}
    again = SAEHDEngine(EngineConfig(gan_power=1.0, gan_patch_size=8, gan_dims=4, **{**base, "seed": 10}))
    again.load(tmp_path, "m")
    np.testing.assert_array_equal(again.optional_nets["GAN"].variables()["out_conv/weight"].numpy(),
                                  dis.variables()["out_conv/weight"].numpy())


def test_a_gan_saved_for_other_dims_starts_fresh_and_the_rest_loads(batches, tmp_path, log_messages):
    src, dst = batches
    base = dict(channels=1, archi="df-ud", gan_power=1.0, gan_patch_size=8, **TINY)
    eng = SAEHDEngine(EngineConfig(gan_dims=4, seed=1, **base))
    eng.train_step(src, dst)
    eng.save(tmp_path, "m")
    wider = SAEHDEngine(EngineConfig(gan_dims=8, seed=2, **base))   # DFL: a changed GAN model is re-initialised
    fresh = wider.optional_nets["GAN"].variables()["in_conv/weight"].numpy().copy()
    wider.load(tmp_path, "m")
    np.testing.assert_array_equal(wider.optional_nets["GAN"].variables()["in_conv/weight"].numpy(), fresh)
    assert int(wider.optional_optimizers["GAN_opt"].iters.numpy()) == 0
    np.testing.assert_array_equal(wider.nets["encoder"].variables()["down1/downs_0/conv1/weight"].numpy(),
                                  eng.nets["encoder"].variables()["down1/downs_0/conv1/weight"].numpy())
    assert any("m_GAN.h5 was saved for other settings" in m for m in log_messages)
    assert any("m_GAN_opt.h5 was saved for other settings" in m for m in log_messages)
