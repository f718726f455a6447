"""XSeg net (core.leras.archis.xseg) and its layers FRNorm2D, TLU, BlurPool: numerics, names, counts, layouts."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.leras.archis.xseg import XSegNet, xseg_param_count
from core.leras.layers import TLU, BlurPool, FRNorm2D


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _nchw(x):
    return tf.transpose(x, (0, 3, 1, 2))


def _nhwc(x):
    return tf.transpose(x, (0, 2, 3, 1)).numpy()


def test_frn_and_tlu_match_numpy_both_layouts():
    x = _rand(2, 5, 6, 3)
    frn, tlu = FRNorm2D(3), TLU(3)
    frn.weight.assign([0.5, 1.0, 2.0])
    frn.bias.assign([0.1, -0.2, 0.3])
    frn.eps.assign([-0.05])  # |eps| is used
    tlu.tau_weight.assign([-0.5, 0.0, 0.5])
    ref = x / np.sqrt((x ** 2).mean(axis=(1, 2), keepdims=True) + 0.05) * [0.5, 1.0, 2.0] + [0.1, -0.2, 0.3]
    y = frn(tf.constant(x))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(tlu(y).numpy(), np.maximum(y.numpy(), [-0.5, 0.0, 0.5]))

    frn_c, tlu_c = FRNorm2D(3, "NCHW"), TLU(3, "NCHW")
    for a, b in ((frn, frn_c), (tlu, tlu_c)):
        for va, vb in zip(a.variables().values(), b.variables().values()):
            vb.assign(va)
    np.testing.assert_allclose(_nhwc(tlu_c(frn_c(_nchw(x)))), tlu(y).numpy(), rtol=1e-5, atol=1e-6)
    assert {k: tuple(v.shape) for k, v in frn.variables().items()} == {"weight": (3,), "bias": (3,), "eps": (1,)}
    np.testing.assert_allclose(FRNorm2D(2).eps.numpy(), [1e-6])


def _blur_pool_ref(x: np.ndarray, row: list[float]) -> np.ndarray:
    """NHWC numpy reference: zero pad [(f-1)//2, ceil((f-1)/2)], binomial blur, keep every second pixel."""
    f = len(row)
    k = np.outer(row, row) / np.sum(row) ** 2
    lo, hi = (f - 1) // 2, f // 2
    xp = np.pad(x, [(0, 0), (lo, hi), (lo, hi), (0, 0)])
    h, w = -(-x.shape[1] // 2), -(-x.shape[2] // 2)
    out = np.zeros((x.shape[0], h, w, x.shape[3]), np.float64)
    for i in range(h):
        for j in range(w):
            out[:, i, j] = np.einsum("nabc,ab->nc", xp[:, 2 * i:2 * i + f, 2 * j:2 * j + f], k)
    return out


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("filt,row", [(2, [1, 1]), (3, [1, 2, 1]), (4, [1, 3, 3, 1])])
def test_blur_pool_matches_numpy(size, filt, row):
    x = _rand(2, size, size, 3)
    y = BlurPool(3, filt)(tf.constant(x)).numpy()
    assert y.shape == (2, -(-size // 2), -(-size // 2), 3)
    np.testing.assert_allclose(y, _blur_pool_ref(x, row), rtol=1e-5, atol=1e-6)
    assert BlurPool(3, filt).variables() == {}


def test_blur_pool_nchw(nchw_conv):
    x = _rand(1, 9, 9, 4)
    np.testing.assert_allclose(_nhwc(BlurPool(4, 3, "NCHW")(_nchw(x))), BlurPool(4, 3)(tf.constant(x)).numpy(),
                               rtol=1e-6, atol=1e-6)


def test_layers_compute_in_bfloat16():
    x = _rand(1, 8, 8, 4)
    for layer in (FRNorm2D(4), TLU(4), BlurPool(4, 4)):
        y32, y16 = layer(tf.constant(x)).numpy(), layer(tf.cast(x, tf.bfloat16))
        assert y16.dtype == tf.bfloat16
        np.testing.assert_allclose(tf.cast(y16, tf.float32).numpy(), y32, atol=0.02 * np.abs(y32).max())


def test_output_shape_finite_and_resolution_check():
    net = XSegNet(3, 4, 1, resolution=64, rng=np.random.default_rng(0))
    y = net(tf.constant(np.random.default_rng(1).random((2, 64, 64, 3), np.float32)))
    assert y.shape == (2, 64, 64, 1) and y.dtype == tf.float32
    assert np.isfinite(y.numpy()).all() and y.numpy().std() > 0
    for bad in (96, 100, 0):
        with pytest.raises(ValueError, match="multiple of 64"):
            XSegNet(resolution=bad)


def test_param_count_matches_formula():
    for cfg in ((3, 4, 1, 64), (1, 8, 2, 128)):
        assert XSegNet(*cfg, rng=np.random.default_rng(0)).param_count() == xseg_param_count(*cfg)
    # DFL's XSeg: every (Up)ConvBlock a→b holds 9ab + 4b + 1 weights, summed by hand over the §5.1 table.
    blocks = ([(3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128), (128, 256)] + [(256, 256)] * 8
              + [(256, 128), (384, 256), (256, 256), (256, 256)] * 3
              + [(256, 128), (256, 128), (128, 128), (128, 64), (128, 64), (64, 64), (64, 32), (64, 32), (32, 32)])
    by_hand = sum(9 * a * b + 4 * b + 1 for a, b in blocks) + 2 * 4096 * 512 + 512 + 4096 + 9 * 32 + 1
    assert xseg_param_count() == by_hand == 17_569_317
    assert XSegNet(rng=np.random.default_rng(0)).param_count() == by_hand  # building (not running) it is quick


def test_variable_names_follow_dfl():
    names = XSegNet(3, 4, 1, resolution=64, rng=np.random.default_rng(0)).variables()
    for name in ("conv01/conv/weight", "conv01/frn/eps", "conv01/frn/weight", "conv01/frn/bias",
                 "conv01/tlu/tau_weight", "conv53/conv/bias", "dense1/weight", "dense2/bias", "up5/conv/weight",
                 "uconv53/frn/eps", "up0/conv/weight", "uconv02/tlu/tau_weight", "uconv01/conv/weight",
                 "out_conv/weight", "out_conv/bias"):
        assert name in names, name
    assert tuple(names["up0/conv/weight"].shape) == (3, 3, 4, 8)  # Conv2DTranspose kernel (k, k, out, in)
    assert tuple(names["uconv53/conv/weight"].shape) == (3, 3, 48, 32)  # concat 4·base + 8·base
    assert tuple(names["dense1/weight"].shape) == (32, 512)
    assert not any(n.startswith("bp") for n in names)


def test_pretrain_zeroes_the_skips():
    net = XSegNet(3, 4, 1, resolution=64, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    a, b = (tf.constant(rng.random((1, 64, 64, 3), np.float32)) for _ in range(2))
    assert not np.allclose(net(a).numpy(), net(a, pretrain=True).numpy(), atol=1e-4)
    # With a constant bottleneck output, the pretrain output cannot depend on the input any more: every route
    # from the input to the output other than the bottleneck goes through a skip.
    net.dense2.weight.assign(tf.zeros_like(net.dense2.weight))
    np.testing.assert_array_equal(net(a, pretrain=True).numpy(), net(b, pretrain=True).numpy())
    assert not np.allclose(net(a).numpy(), net(b).numpy(), atol=1e-4)


def test_nchw_matches_nhwc(nchw_conv):
    # resolution 128: a 2×2 bottleneck, so the (C, H, W) flatten order matters (a wrong order changes the output);
    # the two layouts run different oneDNN kernels, whose float32 sums differ by ~1e-4 through 20 layers
    x = np.random.default_rng(2).random((1, 128, 128, 3), np.float32)
    a = XSegNet(3, 4, 1, resolution=128, rng=np.random.default_rng(5))
    b = XSegNet(3, 4, 1, resolution=128, data_format="NCHW", rng=np.random.default_rng(5))
    for pretrain in (False, True):
        ya = a(tf.constant(x), pretrain=pretrain).numpy()
        np.testing.assert_allclose(_nhwc(b(_nchw(x), pretrain=pretrain)), ya, rtol=1e-3, atol=1e-3)


def test_gradient_descent_decreases_sigmoid_cross_entropy():
    net = XSegNet(3, 4, 1, resolution=64, rng=np.random.default_rng(0))
    rng = np.random.default_rng(3)
    x = tf.constant(rng.random((2, 64, 64, 3), np.float32))
    yy, xx = np.mgrid[:64, :64]
    target = tf.constant(np.broadcast_to(((yy - 32) ** 2 + (xx - 32) ** 2 < 20 ** 2)[None, :, :, None],
                                         (2, 64, 64, 1)).astype(np.float32))
    params = list(net.variables().values())

    def step() -> float:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=net(x)))
        for v, g in zip(params, tape.gradient(loss, params)):
            v.assign_sub(0.05 * g)
        return float(loss)

    losses = [step() for _ in range(5)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0], losses
