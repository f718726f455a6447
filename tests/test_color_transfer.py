"""core.imagelib.color_transfer on real faces: 3-channel colour and 1-channel brightness/contrast matching."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.imagelib.color_transfer import COLOR_TRANSFERS, color_transfer


def _face(photo: np.ndarray, box) -> np.ndarray:
    t, b, l, r = box
    return cv2.resize(photo[t:b, l:r], (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


@pytest.fixture(scope="module")
def pair(astronaut_bgr, hopper_bgr):
    """Two real faces squeezed into mid-range values so matched results stay inside [0, 1] (no clipping)."""
    a = _face(astronaut_bgr, (40, 300, 130, 390))
    b = _face(hopper_bgr, (60, 360, 100, 400))
    return a * 0.5 + 0.3, b * 0.4 + 0.2


def _gray(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _lab(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2LAB).reshape(-1, 3)


def test_rct_moves_lab_mean_and_std_to_the_reference(pair):
    img, ref = pair
    out = color_transfer("rct", img, ref)
    lo, lr, li = _lab(out), _lab(ref), _lab(img)
    np.testing.assert_allclose(lo.mean(0), lr.mean(0), atol=1.0)
    np.testing.assert_allclose(lo.std(0), lr.std(0), rtol=0.08, atol=0.5)
    assert np.abs(li.mean(0) - lr.mean(0)).max() > 5  # the test would fail without a transfer


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_linear_modes_match_mean_and_covariance(pair, mode):
    img, ref = pair
    out = color_transfer(mode, img, ref).reshape(-1, 3).astype(np.float64)
    r = ref.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(out.mean(0), r.mean(0), atol=2e-3)
    np.testing.assert_allclose(np.cov(out.T), np.cov(r.T), atol=2e-4)


@pytest.mark.parametrize("mode", ["idt", "sot"])
def test_distribution_modes_bring_colour_statistics_closer(pair, mode):
    img, ref = pair
    out = color_transfer(mode, img, ref, rng=0)
    r = ref.reshape(-1, 3)

    def dist(x):
        x = x.reshape(-1, 3)
        return np.abs(x.mean(0) - r.mean(0)).sum() + np.abs(x.std(0) - r.std(0)).sum()
    assert dist(out) < 0.5 * dist(img)


@pytest.mark.parametrize("mode", ["rct", "lct", "mkl", "sot"])
def test_gray_modes_match_brightness_and_contrast(pair, mode):
    img, ref = map(_gray, pair)
    out = color_transfer(mode, img, ref, rng=0)
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.mean() == pytest.approx(ref.mean(), abs=0.01)
    if mode == "sot":  # the smoothed displacement keeps some fine-detail contrast of the input
        assert abs(out.std() - ref.std()) < 0.6 * abs(img.std() - ref.std())
    else:
        assert out.std() == pytest.approx(ref.std(), rel=0.08)


def test_gray_sot_without_smoothing_is_exact_histogram_matching(pair):
    img, ref = map(_gray, pair)
    out = color_transfer("sot", img, ref, reg_sigma_xy=0)
    np.testing.assert_allclose(np.sort(out.ravel()), np.sort(ref.ravel()), atol=1e-5)
    # pixel order is preserved: the brightest input pixel is still the brightest
    assert np.argmax(out) == np.argmax(img) or out.ravel()[np.argmax(img)] == pytest.approx(out.max())


def test_gray_idt_moves_the_histogram_toward_the_reference(pair):
    img, ref = map(_gray, pair)
    out = color_transfer("idt", img, ref, rng=1)
    qs = np.linspace(0.05, 0.95, 19)
    before = np.abs(np.quantile(img, qs) - np.quantile(ref, qs)).mean()
    after = np.abs(np.quantile(out, qs) - np.quantile(ref, qs)).mean()
    assert after < 0.5 * before


@pytest.mark.parametrize("mode", sorted(COLOR_TRANSFERS))
@pytest.mark.parametrize("shape_kind", ["hw", "hw1", "hw3"])
def test_shapes_dtype_and_range_are_kept(pair, mode, shape_kind):
    img, ref = pair
    if shape_kind != "hw3":
        img, ref = _gray(img), _gray(ref)
    if shape_kind == "hw1":
        img, ref = img[..., None], ref[..., None]
    ref = cv2.resize(ref, (64, 80)) if ref.ndim == 2 else cv2.resize(ref, (64, 80)).reshape(80, 64, -1)
    out = color_transfer(mode, img * 1.6 - 0.2, ref, rng=0)  # deliberately out of range input
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("mode", ["rct", "lct", "mkl", "sot"])
def test_masks_choose_the_statistics(pair, mode):
    """Only the pixels inside the masks are matched: background noise in the reference must not count."""
    img, ref = map(_gray, pair)
    rng = np.random.default_rng(0)
    ref = ref.copy()
    ref_mask = np.zeros_like(ref)
    ref_mask[20:76, 20:76] = 1
    ref[ref_mask == 0] = rng.uniform(0.9, 1.0, int((ref_mask == 0).sum()))  # a bright, flat background
    img_mask = np.zeros_like(img)
    img_mask[10:86, 10:86] = 1
    out = color_transfer(mode, img, ref, img_mask=img_mask, ref_mask=ref_mask[..., None], rng=0)
    inside_out, inside_ref = out[img_mask > 0], ref[ref_mask > 0]
    assert inside_out.mean() == pytest.approx(inside_ref.mean(), abs=0.02)
    unmasked = color_transfer(mode, img, ref, rng=0)[img_mask > 0]
    assert abs(unmasked.mean() - inside_ref.mean()) > 0.05  # the background would have pulled it up


def test_empty_mask_leaves_the_image_alone(pair):
    img, ref = pair
    out = color_transfer("rct", img, ref, ref_mask=np.zeros(ref.shape[:2], np.float32))
    np.testing.assert_array_equal(out, img)


def test_none_unknown_and_mismatched_inputs(pair):
    img, ref = pair
    out = color_transfer("none", img, ref)
    np.testing.assert_array_equal(out, img)
    assert out is not img
    with pytest.raises(ValueError, match="unknown color transfer"):
        color_transfer("xyz", img, ref)
    with pytest.raises(ValueError, match="channels"):
        color_transfer("lct", img, _gray(ref))
    with pytest.raises(ValueError, match="mask"):
        color_transfer("lct", img, ref, img_mask=np.ones((5, 5)))


def test_random_modes_are_reproducible_with_a_seed(pair):
    img, ref = pair
    for mode in ("idt", "sot"):
        np.testing.assert_array_equal(color_transfer(mode, img, ref, rng=3), color_transfer(mode, img, ref, rng=3))
