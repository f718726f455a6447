"""samplelib.generator: real faces through spawned workers, index selection, errors and clean shutdown."""
from __future__ import annotations

import gc
import shutil
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from core.errors import UserError
from samplelib.generator import SampleGeneratorFace, ShuffledCycle, YawBalancedIndex
from samplelib.loader import load_samples
from samplelib.pak import pack_faceset

R, B = 64, 4


@pytest.fixture(scope="module")
def src(tiny_workspace):
    return load_samples(tiny_workspace.src_aligned)


@pytest.fixture(scope="module")
def src_gray(tiny_workspace):
    return load_samples(tiny_workspace.src_aligned, grayscale=True)


@pytest.fixture(scope="module")
def dst(tiny_workspace):
    return load_samples(tiny_workspace.dst_aligned)


def _check_batch(batch, channels: int, em: bool):
    warped, target, mask, em_mask = batch
    for arr, ch in ((warped, channels), (target, channels), (mask, 1), (em_mask, 1)):
        assert arr.shape == (B, R, R, ch) and arr.dtype == np.float32
        assert arr.min() >= 0.0 and arr.max() <= 1.0
    assert 0.15 < target.mean() < 0.85 and target.std() > 0.05        # real pixels, not blank
    assert 0.1 < mask.mean() < 0.9                                    # a face-sized mask
    if em:
        assert np.allclose(em_mask.reshape(B, -1).max(1), 1.0)        # each renormalised to peak 1
        assert (em_mask[mask < 0.01] < 0.05).all()                    # inside the face only
    else:
        assert not em_mask.any()


@pytest.mark.parametrize("channels", [1, 3])
def test_spawned_workers_make_valid_batches_and_stop_cleanly(src, src_gray, channels):
    samples = src_gray if channels == 1 else src
    gen = SampleGeneratorFace(samples, B, R, channels, "f", random_warp=True, random_flip=True,
                              eyes_mouth_prio=True, workers=2, seed=5)
    try:
        batches = [gen.next() for _ in range(6)]
        assert gen.alive_workers == 2
    finally:
        gen.close()
    for batch in batches:
        _check_batch(batch, channels, em=True)
    assert not np.array_equal(batches[0][1], batches[1][1])  # fresh draws every batch
    assert gen.alive_workers == 0
    assert all(p.exitcode == 0 for p in gen._procs)  # asked to stop, not killed
    with pytest.raises(RuntimeError, match="closed"):
        gen.next()


def test_in_process_and_worker_batches_are_identical_for_a_seed(src_gray):
    kwargs = dict(random_warp=True, random_flip=True, uniform_yaw=True, seed=42)
    local = SampleGeneratorFace(src_gray, B, R, 1, "f", workers=0, **kwargs)
    with SampleGeneratorFace(src_gray, B, R, 1, "f", workers=1, **kwargs) as remote:
        got = [remote.next() for _ in range(2)]
    want = [local.next() for _ in range(2)]
    for a, b in zip(got, want):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_faces_beyond_the_cache_are_prepared_per_draw_and_reported(src_gray, log_messages):
    face_bytes = R * R * (1 + 1)  # gray face + its face mask (no eyes/mouth plane without the priority)
    kwargs = dict(random_warp=True, random_flip=True, workers=0, seed=3)
    full = SampleGeneratorFace(src_gray, B, R, 1, "f", **kwargs)
    assert not log_messages
    small = SampleGeneratorFace(src_gray, B, R, 1, "f", cache_mb=3 * face_bytes / 2 ** 20, **kwargs)
    assert len(log_messages) == 1 and f"holds 3 of {len(src_gray)} faces" in log_messages[0]
    for _ in range(3):  # every face drawn at least once: cached or not, the batches are the same
        for x, y in zip(full.next(), small.next()):
            np.testing.assert_array_equal(x, y)


def test_the_default_cache_follows_the_machine_memory():
    from samplelib.generator import MAX_DEFAULT_CACHE_MB, default_cache_mb, physical_memory_mb
    ram = physical_memory_mb()
    assert ram and ram > 512
    assert default_cache_mb() == max(64, min(MAX_DEFAULT_CACHE_MB, ram // 8))


def test_colour_transfer_toward_dst_faces(src, dst):
    plain = SampleGeneratorFace(src, B, R, 3, "f", random_warp=False, workers=0, seed=1).next()
    ct = SampleGeneratorFace(src, B, R, 3, "f", random_warp=False, ct_mode="rct", ct_samples=dst, workers=0,
                             seed=1).next()
    dst_mean = np.mean([s.load_image().mean(axis=(0, 1)) for s in dst], axis=0)[::-1] / 255  # RGB order
    gap = lambda batch: np.abs(batch[1].mean(axis=(0, 1, 2))[::-1] - dst_mean).sum()
    assert gap(ct) < 0.6 * gap(plain)
    np.testing.assert_array_equal(ct[2], plain[2])
    with pytest.raises(ValueError, match="ct_samples"):
        SampleGeneratorFace(src, B, R, 3, "f", ct_mode="lct", workers=0)


def test_shuffled_cycle_draws_without_replacement():
    cycle = ShuffledCycle(range(7), np.random.default_rng(0))
    draws = [cycle.take() for _ in range(21)]
    for k in range(3):
        assert sorted(draws[7 * k:7 * k + 7]) == list(range(7))
    assert draws[:7] != list(range(7))


def test_uniform_yaw_balances_rare_poses():
    yaws = np.r_[np.full(90, 0.0), np.full(10, -0.8)]  # 90 frontal faces, 10 turned
    index = YawBalancedIndex(yaws, np.random.default_rng(1))
    counts = Counter(bool(yaws[index.take()] < -0.5) for _ in range(1000))
    assert 450 <= counts[True] <= 550  # two non-empty bins -> half the draws each
    wide = YawBalancedIndex([-3.0, 3.0, 0.0], np.random.default_rng(2))  # beyond +-1.2 land in the end bins
    assert len(wide.bins) == 3


def test_unreadable_face_at_runtime_is_skipped_with_a_warning(tiny_workspace, tmp_path):
    import logging
    folder = shutil.copytree(tiny_workspace.src_aligned, tmp_path / "aligned")
    samples = load_samples(folder)
    (folder / samples[0].name).write_bytes(b"gone")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())
    handler = Collect()
    logging.getLogger("dfl").addHandler(handler)
    try:
        batch = SampleGeneratorFace(samples[:3], 6, R, 3, "f", workers=0, seed=0).next()
    finally:
        logging.getLogger("dfl").removeHandler(handler)
    assert batch[1].shape == (6, R, R, 3) and batch[1].std() > 0.05
    assert any(samples[0].name in m for m in seen)


def test_user_errors(src):
    with pytest.raises(UserError, match="no faces"):
        SampleGeneratorFace([], B, R, 3, "f", workers=0)
    with pytest.raises(UserError, match="whole_face"):
        SampleGeneratorFace(src, B, R, 3, "wf", workers=0)


def test_a_failing_worker_is_reported_and_shut_down(src):
    broken = [replace(s, landmarks=s.landmarks[:5]) for s in src[:2]]  # metadata a worker cannot use
    gen = SampleGeneratorFace(broken, 2, R, 3, None, workers=1, seed=0)
    with pytest.raises(RuntimeError, match="sample worker failed"):
        gen.next()
    assert gen.alive_workers == 0


def test_workers_stop_when_the_generator_is_dropped(src_gray):
    gen = SampleGeneratorFace(src_gray, 2, R, 1, "f", workers=1, seed=0)
    gen.next()
    procs = list(gen._procs)
    del gen
    gc.collect()
    for p in procs:
        p.join(timeout=10)
        assert not p.is_alive()


def test_pretraining_from_a_packed_faceset(tiny_workspace, tmp_path):
    folder = shutil.copytree(tiny_workspace.dst_aligned, tmp_path / "pretrain")
    pack_faceset(folder, persons=False, delete_originals=True)
    gen = SampleGeneratorFace.for_pretraining(folder, B, R, channels=1, face_type="f", workers=0)
    assert not gen.cfg.random_warp and gen.cfg.random_flip and gen.cfg.ct_mode == "none"
    assert isinstance(gen._index, YawBalancedIndex)
    _check_batch(gen.next(), 1, em=False)
    warped, target = gen.next()[:2]
    np.testing.assert_array_equal(warped, target)  # no random warp while pretraining
