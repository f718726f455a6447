"""core.leras losses, optimizers and weight files, each against a numpy reference or a real file on disk."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import tensorflow as tf
from numpy.lib.stride_tricks import sliding_window_view

from core.errors import UserError
from core.leras.losses import dssim, dssim_filter_sizes, mse
from core.leras.optimizers import EPSILON, AdaBelief, RMSprop
from core.leras.saveable import load_variables, read_arrays, save_many, save_variables


# ---------------------------------------------------------------- DSSIM
def _np_dssim(a, b, size, sigma=1.5, k1=0.01, k2=0.03):
    """DFL's DSSIM written the slow obvious way: 2-D softmax window centred at (size-1)/2, VALID windows."""
    coords = np.arange(size) - (size - 1) / 2.0
    logits = -(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * sigma ** 2)
    win = np.exp(logits) / np.exp(logits).sum()
    a, b = a.astype(np.float64), b.astype(np.float64)

    def local_mean(x):  # x: N,H,W,C -> N,H',W',C
        views = sliding_window_view(x, (size, size), axis=(1, 2))  # N,H',W',C,size,size
        return np.einsum("nhwcij,ij->nhwc", views, win)

    c1, c2 = k1 ** 2, k2 ** 2
    ma, mb = local_mean(a), local_mean(b)
    luminance = (2 * ma * mb + c1) / (ma ** 2 + mb ** 2 + c1)
    cs = (2 * local_mean(a * b) - 2 * ma * mb + c2) / (local_mean(a * a + b * b) - ma ** 2 - mb ** 2 + c2)
    return (1 - (luminance * cs).mean(axis=(1, 2))) / 2


@pytest.mark.parametrize("size,channels", [(8, 3), (11, 1), (5, 3), (4, 1)])
def test_dssim_matches_numpy_reference_including_even_windows(size, channels):
    rng = np.random.default_rng(size)
    a = rng.random((2, 24, 24, channels), dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    out = dssim(a, b, size).numpy()
    assert out.shape == (2, channels)
    np.testing.assert_allclose(out, _np_dssim(a, b, size), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dssim(a, a, size).numpy(), 0.0, atol=1e-6)


def test_dssim_window_sizes_by_resolution():
    assert dssim_filter_sizes(96) == [(10.0, 8)]
    assert dssim_filter_sizes(128) == [(10.0, 11)]
    assert dssim_filter_sizes(256) == [(5.0, 22), (5.0, 11)]


def test_mse_per_sample():
    a = np.zeros((2, 4, 4, 1), np.float32)
    b = np.stack([np.zeros((4, 4, 1)), np.full((4, 4, 1), 0.5)]).astype(np.float32)
    np.testing.assert_allclose(mse(a, b).numpy(), [0.0, 0.25])


# ---------------------------------------------------------------- optimizers
def _np_adabelief(w, grads, lr, lr_cos=0, clip=0.0, b1=0.9, b2=0.999):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for it, g in enumerate(grads):
        if clip and np.linalg.norm(g) >= clip:
            g = g * clip / np.linalg.norm(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (g - m) ** 2
        step_lr = lr * (np.cos(2 * np.pi * it / lr_cos) + 1) / 2 if lr_cos else lr
        w = w - step_lr * m / (np.sqrt(v) + EPSILON)
    return w


def _np_rmsprop(w, grads, lr, rho=0.9):
    acc = np.zeros_like(w)
    for g in grads:
        acc = rho * acc + (1 - rho) * g ** 2
        w = w - lr * g / (np.sqrt(acc) + EPSILON)
    return w


def _run(opt_cls, grads, w0, xla=False, **kw):
    var = tf.Variable(w0)
    opt = opt_cls({"w": var}, xla=xla, **kw)
    step = tf.function(lambda g: opt.apply_gradients([(g, var)]))
    for g in grads:
        step(tf.constant(g))
    return var.numpy(), opt


@pytest.mark.parametrize("xla", [False, True])
def test_adabelief_matches_numpy(xla):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 7)).astype(np.float32)
    grads = [rng.normal(size=w0.shape).astype(np.float32) * s for s in (1.0, 0.1, 3.0, 0.5)]
    got, opt = _run(AdaBelief, grads, w0, xla=xla, lr=0.01)
    np.testing.assert_allclose(got, _np_adabelief(w0.astype(np.float64), grads, 0.01), rtol=1e-5, atol=1e-6)
    assert int(opt.iters.numpy()) == 4
    assert set(opt.variables()) == {"iters", "ms/w", "vs/w"}


def test_adabelief_lr_cosine_and_clipping_match_numpy():
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(4, 4)).astype(np.float32)
    grads = [rng.normal(size=w0.shape).astype(np.float32) * 5 for _ in range(5)]
    got, _ = _run(AdaBelief, grads, w0, lr=0.01, lr_cos=4, clipnorm=1.0)
    np.testing.assert_allclose(got, _np_adabelief(w0.astype(np.float64), grads, 0.01, lr_cos=4, clip=1.0),
                               rtol=1e-5, atol=1e-6)


def test_rmsprop_matches_numpy():
    rng = np.random.default_rng(2)
    w0 = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    grads = [rng.normal(size=w0.shape).astype(np.float32) for _ in range(3)]
    got, opt = _run(RMSprop, grads, w0, lr=0.001)
    np.testing.assert_allclose(got, _np_rmsprop(w0.astype(np.float64), grads, 0.001), rtol=1e-5, atol=1e-7)
    assert set(opt.variables()) == {"iters", "acc/w"}


def test_clipping_leaves_small_gradients_alone():
    g = np.full((2, 2), 0.1, np.float32)  # norm 0.2 < 1
    w0 = np.zeros((2, 2), np.float32)
    clipped, _ = _run(RMSprop, [g], w0, lr=0.1, clipnorm=1.0)
    plain, _ = _run(RMSprop, [g], w0, lr=0.1)
    np.testing.assert_array_equal(clipped, plain)


def test_lr_dropout_keeps_about_30_percent_of_full_updates():
    tf.random.set_seed(0)
    w0 = np.zeros((200, 100), np.float32)
    g = np.ones_like(w0)
    full, _ = _run(RMSprop, [g], w0, lr=0.01)
    dropped, _ = _run(RMSprop, [g], w0, lr=0.01, lr_dropout=0.3)
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], full[kept])
    assert 0.27 < kept.mean() < 0.33


def test_optimizer_rejects_bad_dropout():
    with pytest.raises(ValueError):
        RMSprop({"w": tf.Variable(np.zeros(2, np.float32))}, lr_dropout=0.0)


# ---------------------------------------------------------------- weight files
def _vars(seed=0):
    rng = np.random.default_rng(seed)
    return {"down1/conv1/weight": tf.Variable(rng.normal(size=(3, 3, 2, 4)).astype(np.float32)),
            "down1/conv1/bias": tf.Variable(rng.normal(size=(4,)).astype(np.float32)),
            "dense1/weight": tf.Variable(rng.normal(size=(8, 5)).astype(np.float32))}


def test_save_load_round_trip(tmp_path):
    src, dst = _vars(0), _vars(1)
    save_variables(tmp_path / "enc.h5", src, "encoder")
    load_variables(tmp_path / "enc.h5", dst, "encoder")
    for name in src:
        np.testing.assert_array_equal(src[name].numpy(), dst[name].numpy())
    arrays, attrs = read_arrays(tmp_path / "enc.h5")
    assert set(arrays) == set(src) and attrs["network"] == "encoder"
    assert [p.name for p in tmp_path.iterdir()] == ["enc.h5"]  # no temp files left


def test_truncated_file_is_a_user_error_naming_it(tmp_path):
    path = tmp_path / "dec.h5"
    save_variables(path, _vars(), "decoder")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(UserError, match="dec.h5"):
        load_variables(path, _vars(), "decoder")


def test_shape_mismatch_missing_and_wrong_network_are_user_errors(tmp_path):
    path = tmp_path / "w.h5"
    save_variables(path, _vars(), "encoder")
    other = _vars()
    other["dense1/weight"] = tf.Variable(np.zeros((8, 6), np.float32))
    with pytest.raises(UserError, match=r"w\.h5.*dense1/weight.*shape"):
        load_variables(path, other, "encoder")
    extra = dict(_vars(), **{"dense2/bias": tf.Variable(np.zeros(3, np.float32))})
    with pytest.raises(UserError, match="missing"):
        load_variables(path, extra, "encoder")
    with pytest.raises(UserError, match="decoder"):
        load_variables(path, _vars(), "decoder")
    with pytest.raises(UserError, match="missing"):
        load_variables(tmp_path / "nope.h5", _vars())


def test_foreign_h5_and_failed_load_assign_nothing(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(UserError, match="not a weights file"):
        load_variables(path, _vars())
    good = tmp_path / "g.h5"
    save_variables(good, _vars(0), "n")
    target = _vars(1)
    target["dense1/weight"] = tf.Variable(np.zeros((2, 2), np.float32))
    before = target["down1/conv1/bias"].numpy().copy()
    with pytest.raises(UserError):
        load_variables(good, target, "n")
    np.testing.assert_array_equal(target["down1/conv1/bias"].numpy(), before)


def test_save_many_failure_keeps_old_files(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    save_many([(a, _vars(0), "a"), (b, _vars(0), "b")])
    old_a, old_b = a.read_bytes(), b.read_bytes()

    class Broken:
        def numpy(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_many([(a, _vars(1), "a"), (b, {"x": Broken()}, "b")])
    assert a.read_bytes() == old_a and b.read_bytes() == old_b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "b.h5"]
