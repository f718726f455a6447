"""core.imagelib.warp: DFL's random warp + affine + flip, folded into one resampling."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.imagelib import warp


@pytest.fixture(scope="module")
def face(astronaut_bgr) -> np.ndarray:
    return cv2.resize(astronaut_bgr[40:300, 130:390], (128, 128), interpolation=cv2.INTER_AREA)


def _params(seed: int, size: int = 128, flip: bool = True) -> warp.WarpParams:
    return warp.gen_warp_params(size, flip, scale_range=(-0.15, 0.15), rnd_state=np.random.RandomState(seed),
                                warp_rnd_state=np.random.RandomState(seed + 1000))


@pytest.mark.parametrize("size", [32, 64, 128])
def test_identity_params_give_identity(face, size):
    img = cv2.resize(face, (size, size))
    p = warp.identity_params(size)
    for flags in [(True, True, True), (True, False, False), (False, True, False)]:
        np.testing.assert_array_equal(warp.warp_by_params(p, img, *flags), img)


def test_regular_grid_map_is_exact_identity():
    p = warp.identity_params(128, cell_size=16)
    m = warp.grid_map(p)
    ys, xs = np.mgrid[0:128, 0:128]
    np.testing.assert_allclose(m[..., 0], xs, atol=1e-4)
    np.testing.assert_allclose(m[..., 1], ys, atol=1e-4)


def test_flip_only_mirrors(face):
    p = warp.identity_params(128)
    flipped = warp.WarpParams(p.w, p.size, p.grid, p.cell_size, p.rmat, True)
    np.testing.assert_array_equal(warp.warp_by_params(flipped, face, False, False, True), face[:, ::-1])
    np.testing.assert_array_equal(warp.warp_by_params(flipped, face, False, False, False), face)


def test_affine_only_matches_warp_affine(face):
    p = _params(3, flip=False)
    ours = warp.warp_by_params(p, face, can_warp=False, can_transform=True, can_flip=False)
    ref = cv2.warpAffine(face, p.rmat, (128, 128), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(ours.astype(int) - ref).max() <= 1


@pytest.mark.parametrize("seed", range(4))
def test_single_pass_matches_dfl_chain(face, seed):
    """remap(grid) -> warpAffine(rmat) -> mirror, done DFL's way in three passes, agrees with our one pass."""
    face = cv2.GaussianBlur(face, (0, 0), 1.5)  # two cubic passes vs one differ only in fine detail
    p = _params(seed)
    m = warp.grid_map(p)
    ref = cv2.remap(face, m[..., 0].copy(), m[..., 1].copy(), cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    ref = cv2.warpAffine(ref, p.rmat, (128, 128), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if p.flip:
        ref = ref[:, ::-1]
    diff = np.abs(warp.warp_by_params(p, face).astype(int) - ref)
    assert diff.mean() < 0.8 and np.percentile(diff, 99.9) <= 6


def test_param_distribution_follows_dfl_ranges():
    scales, rots, flips, cells = [], [], [], set()
    for seed in range(300):
        p = _params(seed)
        a, b = p.rmat[0, 0], p.rmat[1, 0]
        scales.append(np.hypot(a, b))
        rots.append(np.degrees(np.arctan2(b, a)))
        flips.append(p.flip)
        cells.add(p.cell_size)
    assert 1 / 1.15 - 1e-6 <= min(scales) and max(scales) <= 1.15 + 1e-6
    assert max(abs(r) for r in rots) <= 10 + 1e-6
    assert 0.3 < np.mean(flips) < 0.5              # DFL: randint(10) < 4
    assert cells == {64, 32, 16}                    # w/2, w/4, w/8
    assert not any(_params(s, flip=False).flip for s in range(50))


def test_transform_and_warp_have_separate_random_states():
    a = warp.gen_warp_params(128, True, rnd_state=np.random.RandomState(1), warp_rnd_state=np.random.RandomState(2))
    b = warp.gen_warp_params(128, True, rnd_state=np.random.RandomState(1), warp_rnd_state=np.random.RandomState(9))
    np.testing.assert_array_equal(a.rmat, b.rmat)
    assert a.flip == b.flip
    assert not np.array_equal(a.grid, b.grid) or a.cell_size != b.cell_size


@pytest.mark.parametrize("seed", range(6))
def test_warp_is_smooth_and_bounded(seed):
    p = _params(seed)
    m = warp.grid_map(p)
    ys, xs = np.mgrid[0:128, 0:128]
    shift = np.hypot(m[..., 0] - xs, m[..., 1] - ys)
    assert shift.max() < 1.3 * p.cell_size            # jitter is N(0, 0.24 cell) per node
    assert shift.mean() > 0.01                        # it does move something
    dx = np.diff(m[..., 0], axis=1)                   # local stretch stays positive and moderate: no folds
    dy = np.diff(m[..., 1], axis=0)
    assert dx.min() > 0 and dy.min() > 0 and dx.max() < 2.5 and dy.max() < 2.5


def test_masks_get_zero_border_outside_the_transformed_square():
    mask = np.ones((128, 128), np.float32)
    shrink = warp.WarpParams(128, 128, warp.identity_params(128).grid, 32,
                             cv2.getRotationMatrix2D((64, 64), 0, 0.8), False)
    for can_warp in (False, True):
        out = warp.warp_by_params(shrink, mask, can_warp, True, False, border_replicate=False,
                                  cv2_inter=cv2.INTER_LINEAR)
        assert out[64, 64] == pytest.approx(1.0)
        assert out[2, 2] == 0 and out[125, 64] == 0
        replicated = warp.warp_by_params(shrink, mask, can_warp, True, False, border_replicate=True)
        assert replicated.min() > 0.99


def test_small_images_work_at_64_and_come_back(face):
    small = cv2.resize(face, (32, 32))
    p = _params(5, size=32)
    assert p.w == 64 and p.size == 32
    out = warp.warp_by_params(p, small)
    assert out.shape == small.shape and out.dtype == small.dtype
    assert np.abs(out.astype(int) - small).mean() > 1  # changed


def test_sample_maps_share_the_draw_and_differ_only_by_the_warp(face):
    p = _params(8)
    plain, warped = warp.sample_maps(p, 128, 128)
    np.testing.assert_allclose(plain, warp.affine_map(warp.source_affine(p, out_size=128, src_size=128), 128),
                               atol=1e-4)
    still = warp.WarpParams(p.w, p.size, warp.identity_params(128, p.cell_size).grid, p.cell_size, p.rmat, p.flip)
    np.testing.assert_allclose(warp.sample_maps(still, 128, 128)[1], plain, atol=1e-4)
    shift = np.hypot(*(warped - plain).transpose(2, 0, 1))
    assert 0.05 < shift.mean() < 0.5 * p.cell_size
    assert warp.sample_maps(p, 128, 128, with_warp=False)[1] is None


def test_maps_scale_to_a_different_source_size():
    """An output of 64 px drawn from a 256 px source: same geometry, coordinates scaled by 4."""
    p = _params(9, size=64)
    small = warp.sample_maps(p, 64, 64)[1]
    big = warp.sample_maps(p, 64, 256)[1]
    np.testing.assert_allclose(big, (small + 0.5) * 4 - 0.5, atol=1e-3)
