"""samplelib.processor on real faces: preparation (resize / face-type re-alignment, masks) and augmentation."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelib.landmarks import get_eyes_mouth_mask, get_image_hull_mask, get_transform_mat
from samplelib.loader import load_samples
from samplelib.processor import ProcessorConfig, check_face_type, prepare_block, render

R = 64


@pytest.fixture(scope="module")
def samples(tiny_workspace):
    return load_samples(tiny_workspace.src_aligned)


def _cfg(**kw) -> ProcessorConfig:
    base = dict(resolution=R, channels=3, face_type="f", random_warp=False, random_flip=False)
    base.update(kw)
    return ProcessorConfig(**base)


def _still(**kw) -> ProcessorConfig:
    """A config whose random transform is the identity (only the warp/flip under test can move pixels)."""
    return _cfg(rotation_range=(0, 0), scale_range=(0, 0), tx_range=(0, 0), ty_range=(0, 0), **kw)


def _flip_seed(want: bool) -> int:
    """A seed whose draw mirrors (or not) when flips are enabled: the flip uses the fifth uniform number."""
    return next(s for s in range(100) if (np.random.default_rng(s).random(5)[4] < 0.4) == want)


def test_prepare_resizes_and_builds_hull_mask(samples):
    s = samples[0]
    face, masks = prepare_block(s, _cfg())
    image = s.load_image()
    assert face.shape == (R, R, 3) and face.dtype == np.uint8 and masks.shape == (1, R, R)
    expected = cv2.resize(image, (R, R), interpolation=cv2.INTER_AREA)
    assert np.abs(face.astype(int) - expected).mean() < 1.0
    hull = cv2.resize(get_image_hull_mask(image.shape, s.landmarks)[..., 0], (R, R), interpolation=cv2.INTER_AREA)
    assert np.abs(masks[0] / 255 - hull).mean() < 0.03
    assert 0.2 < masks[0].mean() / 255 < 0.8


def test_eyes_mouth_mask_lies_inside_the_face_mask(samples):
    s = samples[0]
    _, masks = prepare_block(s, _cfg(eyes_mouth_prio=True))
    assert masks.shape == (2, R, R)  # the eyes+mouth plane is prepared (and cached) only when asked for
    em, full = masks[1].astype(int), masks[0].astype(int)
    assert em.max() > 200 and (em > 0).mean() < 0.3
    assert not ((em > 0) & (full == 0)).any()
    ref = cv2.resize(get_eyes_mouth_mask((128, 128), s.landmarks)[..., 0], (R, R), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(em.ravel(), ref.ravel())[0, 1] > 0.9


def test_face_type_realignment_uses_the_model_face_type(samples):
    s = samples[0]
    face, masks = prepare_block(s, _cfg(face_type="h"))
    mat = get_transform_mat(s.landmarks, R, "half_face")
    expected = cv2.warpAffine(s.load_image(), mat, (R, R), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(face.astype(int) - expected).mean() < 4.0
    _, full_masks = prepare_block(s, _cfg())
    assert masks[0].mean() > full_masks[0].mean()  # half face zooms in: the face fills more of the square


def test_faces_narrower_than_the_model_type_are_refused(samples):
    assert check_face_type(samples[0], _cfg(face_type="f")) is None
    assert check_face_type(samples[0], _cfg(face_type="h")) is None
    msg = check_face_type(samples[0], _cfg(face_type="wf"))
    assert msg and samples[0].name in msg and "whole_face" in msg


def test_xseg_mask_replaces_the_hull(samples):
    from dataclasses import replace
    mask = np.zeros((256, 256), np.float32)
    mask[64:192, 32:128] = 1.0
    ok, png = cv2.imencode(".png", (mask * 255).astype(np.uint8))
    s = replace(samples[0], xseg_png=png.tobytes())
    _, masks = prepare_block(s, _cfg())
    expected = cv2.resize(mask, (R, R), interpolation=cv2.INTER_AREA)
    assert np.abs(masks[0] / 255 - expected).mean() < 0.02


def test_still_render_returns_the_prepared_sample(samples):
    cfg = _still(eyes_mouth_prio=True)
    face, masks = prepare_block(samples[1], cfg)
    warped, target, mask, em = render(face, masks, cfg, np.random.default_rng(0))
    for out, ch in ((warped, 3), (target, 3), (mask, 1), (em, 1)):
        assert out.shape == (R, R, ch) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(target, face / 255, atol=2e-3)
    np.testing.assert_array_equal(warped, target)
    np.testing.assert_allclose(mask[..., 0], masks[0] / 255, atol=2e-3)
    assert em.max() == pytest.approx(1.0)  # renormalised by its maximum


@pytest.mark.parametrize("channels", [1, 3])
def test_flip_mirrors_all_four_outputs_together(samples, channels):
    base = dict(channels=channels, random_warp=True, eyes_mouth_prio=True)
    face, masks = prepare_block(samples[2], _cfg(**base))
    seed = _flip_seed(True)
    flipped = render(face, masks, _cfg(random_flip=True, **base), np.random.default_rng(seed))
    plain = render(face, masks, _cfg(random_flip=False, **base), np.random.default_rng(seed))
    for a, b in zip(flipped, plain):
        assert np.abs(a - b[:, ::-1]).max() < 0.02
        assert np.abs(a - b).mean() > 0.01  # the face is not symmetric enough to hide a missing flip


def test_warp_changes_only_the_input(samples):
    face, masks = prepare_block(samples[3], _cfg())
    warped_on = render(face, masks, _cfg(random_warp=True), np.random.default_rng(7))
    warped_off = render(face, masks, _cfg(random_warp=False), np.random.default_rng(7))
    for k in (1, 2, 3):  # target and masks: same random transform either way
        np.testing.assert_array_equal(warped_on[k], warped_off[k])
    diff = np.abs(warped_on[0] - warped_on[1])
    assert diff.mean() > 0.01 and diff.max() > 0.1        # the input is deformed...
    assert np.abs(warped_on[0].mean() - warped_on[1].mean()) < 0.02  # ...not recoloured


def test_random_transform_moves_target_and_mask_in_step(samples):
    s = samples[4]
    face, masks = prepare_block(s, _cfg())
    cfg = _cfg(rotation_range=(10, 10), scale_range=(0, 0), tx_range=(0, 0), ty_range=(0, 0))
    _, target, mask, _ = render(face, masks, cfg, np.random.default_rng(1))
    rot = cv2.getRotationMatrix2D((R // 2, R // 2), 10, 1.0)
    expected_face = cv2.warpAffine(face, rot, (R, R), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    expected_mask = cv2.warpAffine(masks[0], rot, (R, R), flags=cv2.INTER_LINEAR)
    assert np.abs(target * 255 - expected_face).mean() < 1.5
    assert np.abs(mask[..., 0] * 255 - expected_mask).mean() < 1.5


def test_gray_render_matches_the_luma_of_the_colour_render(tiny_workspace):
    gray_s = load_samples(tiny_workspace.src_aligned, grayscale=True)[5]
    colour_s = load_samples(tiny_workspace.src_aligned)[5]
    gray = render(*prepare_block(gray_s, _cfg(channels=1, random_warp=True)), _cfg(channels=1, random_warp=True),
                  np.random.default_rng(3))
    colour = render(*prepare_block(colour_s, _cfg(random_warp=True)), _cfg(random_warp=True),
                    np.random.default_rng(3))
    assert gray[0].shape == (R, R, 1)
    for g, c in zip(gray[:2], colour[:2]):
        luma = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY)
        assert np.abs(g[..., 0] - luma).mean() < 0.02
    np.testing.assert_allclose(gray[2], colour[2], atol=1e-6)


@pytest.mark.parametrize("channels,mode", [(3, "rct"), (3, "lct"), (1, "lct"), (1, "sot")])
def test_colour_transfer_pulls_src_toward_the_dst_reference(tiny_workspace, channels, mode):
    from samplelib.processor import prepare_ct_reference
    cfg = _still(channels=channels, ct_mode=mode)
    gray = channels == 1
    face, masks = prepare_block(load_samples(tiny_workspace.src_aligned, grayscale=gray)[0], cfg)
    ref = prepare_ct_reference(load_samples(tiny_workspace.dst_aligned, grayscale=gray)[0], cfg)
    out = render(face, masks, cfg, np.random.default_rng(0), ct_ref=ref)
    plain = render(face, masks, _still(channels=channels), np.random.default_rng(0))
    r = ref.reshape(-1, channels) / 255

    def gap(img):
        x = img.reshape(-1, channels)
        return np.abs(x.mean(0) - r.mean(0)).sum() + np.abs(x.std(0) - r.std(0)).sum()
    assert gap(out[1]) < 0.5 * gap(plain[1])
    np.testing.assert_array_equal(out[2], plain[2])  # masks untouched


def test_random_hsv_changes_only_the_colour_input(samples):
    face, masks = prepare_block(samples[0], _cfg())
    hsv = render(face, masks, _cfg(random_hsv_power=0.3), np.random.default_rng(11))
    plain = render(face, masks, _cfg(), np.random.default_rng(11))
    assert np.abs(hsv[0] - plain[0]).mean() > 0.01
    np.testing.assert_array_equal(hsv[1], plain[1])
