"""Per-face merge math on real faces: every mode, mask mode and colour transfer changes only the face region."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from merger.bw_color import merge_frame, to_gray
from merger.color import apply_color_transfer, color_hist_match
from merger.config import COLOR_TRANSFER_MODES, MODES, MergerConfig
from merger.masked import FacePrediction, Motion, merge_faces, prepare_face
from merger.masks import MaskSources, build_mask, shape_mask
from tests.fixtures_merge import RealFaceSource

RES = 64


def _faces(scene, source, frame=None, cfg=MergerConfig(), motion=None):
    frame = scene.frame if frame is None else frame
    view = to_gray(frame) if source.spec.channels == 1 else frame
    face = prepare_face(view, scene.landmarks, RES, "full_face", cfg.output_face_scale)
    pred = source.predict([("f", 0)], [face.dst_face])[0]
    return [(face, pred, motion)]


def _outside(mask: np.ndarray, grow: int = 3) -> np.ndarray:
    """Pixels farther than `grow` px from any non-zero mask pixel."""
    touched = cv2.dilate((mask > 0).astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return touched == 0


def _assert_only_face_changed(dst: np.ndarray, out: np.ndarray, region: np.ndarray) -> None:
    outside = _outside(region)
    assert outside.sum() > 0.5 * outside.size            # the face is a small part of the frame
    np.testing.assert_array_equal(out[outside], dst[outside])
    changed = np.abs(out.astype(int) - dst.astype(int)).max(axis=-1) > 8
    assert changed[~outside].sum() > 500                  # and the face region really changed


@pytest.mark.parametrize("mode", [m for m in MODES if m != "raw-predict"])
def test_each_mode_changes_only_the_face_region(merge_scene, mode):
    source = RealFaceSource(merge_scene, RES)
    cfg = MergerConfig(mode=mode, mask_mode="dst", blur_mask_modifier=10, color_transfer_mode="rct")
    res = merge_faces(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg)
    assert res.image.shape == merge_scene.frame.shape and res.image.dtype == np.uint8
    if mode == "original":
        np.testing.assert_array_equal(res.image, merge_scene.frame)
        assert res.mask.max() == pytest.approx(1.0, abs=0.02)   # the merge mask is still produced
        return
    if mode == "raw-rgb":    # the whole predicted square is pasted, the mask is not used
        face = _faces(merge_scene, source, cfg=cfg)[0][0]
        square = np.zeros(merge_scene.frame.shape[:2], np.float32)
        x0, y0, x1, y1 = face.roi
        square[y0:y1, x0:x1] = cv2.warpAffine(np.ones((RES, RES), np.float32), face.out_mat, (x1 - x0, y1 - y0),
                                              flags=cv2.WARP_INVERSE_MAP | cv2.INTER_CUBIC)
        _assert_only_face_changed(merge_scene.frame, res.image, square)
        return
    _assert_only_face_changed(merge_scene.frame, res.image, res.mask)


def test_raw_predict_returns_the_predicted_face(merge_scene):
    source = RealFaceSource(merge_scene, RES)
    cfg = MergerConfig(mode="raw-predict", mask_mode="learned-prd")
    res = merge_faces(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg)
    assert res.image.shape == (RES, RES, 3)
    np.testing.assert_allclose(res.image / 255.0, source.face, atol=1 / 255 + 1e-6)
    np.testing.assert_allclose(res.mask, source.mask[..., 0], atol=0.05)


@pytest.mark.parametrize("mode", ["luma", "gray"])
def test_raw_predict_of_gray_faces_is_8_bit(merge_scene, mode):
    """A float face would be written by cv2.imencode as an all-black PNG."""
    source = RealFaceSource(merge_scene, RES, channels=1)
    cfg = MergerConfig(mode="raw-predict", mask_mode="learned-prd")
    res = merge_frame(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg, mode)
    assert res.image.dtype == np.uint8 and res.image.shape == (RES, RES, 1)
    np.testing.assert_allclose(res.image / 255.0, source.face, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize("ct", [m for m in COLOR_TRANSFER_MODES if m != "none"])
def test_each_color_transfer_changes_only_the_face_region(merge_scene, ct):
    source = RealFaceSource(merge_scene, RES)
    plain = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode="none")
    cfg = plain.copy(color_transfer_mode=ct)
    faces = _faces(merge_scene, source, cfg=cfg)
    res = merge_faces(merge_scene.frame, faces, cfg)
    _assert_only_face_changed(merge_scene.frame, res.image, res.mask)
    untouched = merge_faces(merge_scene.frame, faces, plain)
    inside = res.mask > 0.5
    assert np.abs(res.image[inside].astype(int) - untouched.image[inside].astype(int)).mean() > 1.0


@pytest.mark.parametrize("ct", ["rct", "lct", "mkl-m", "sot-m", "mix-m"])
def test_gray_color_transfers_change_only_the_face_region(merge_scene, ct):
    source = RealFaceSource(merge_scene, RES, channels=1)
    cfg = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode=ct)
    res = merge_frame(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg, "gray")
    gray = to_gray(merge_scene.frame)
    assert res.image.shape == gray.shape
    _assert_only_face_changed(gray, res.image, res.mask)


@pytest.mark.parametrize("ct", ["rct", "sot-m", "mix-m"])
def test_colour_transfers_bring_the_face_colour_to_the_target(merge_scene, ct):
    """The face's mean chroma (Lab a, b) moves toward the dst face's, with no cast (mix-m turned faces gray-green when
    it carried the chroma at L = 100, where every colour clips to white)."""
    source = RealFaceSource(merge_scene, RES)
    face = _faces(merge_scene, source)[0][0]
    prd, dst = source.face, face.dst_face
    area = (face.dst_hull > 0.5).astype(np.float32)
    inside = area[..., 0] > 0

    def chroma(img):
        return cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_BGR2LAB)[inside][:, 1:].mean(axis=0)

    before, target = chroma(prd), chroma(dst)
    after = chroma(apply_color_transfer(ct, prd, dst, area))
    assert np.linalg.norm(after - target) < 0.5 * np.linalg.norm(before - target)


def test_rct_moves_lab_mean_and_std_to_the_target(merge_scene):
    source = RealFaceSource(merge_scene, RES)
    face = _faces(merge_scene, source)[0][0]
    prd, dst = source.face, face.dst_face
    area = (face.dst_hull > 0.5).astype(np.float32)
    out = apply_color_transfer("rct", prd, dst, area)
    inside = area[..., 0] > 0

    def stats(img):
        lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB)[inside]
        return lab.mean(0), lab.std(0)

    (m_out, s_out), (m_dst, s_dst), (m_prd, _) = stats(out), stats(dst), stats(prd)
    assert np.abs(m_prd - m_dst).max() > 3                     # the faces really differ before
    np.testing.assert_allclose(m_out, m_dst, atol=1.5)
    np.testing.assert_allclose(s_out, s_dst, rtol=0.15, atol=1.0)


def test_hist_match_threshold_darkens(merge_scene):
    source = RealFaceSource(merge_scene, RES)
    dst = _faces(merge_scene, source)[0][0].dst_face
    full = color_hist_match(source.face, dst, 255)
    low = color_hist_match(source.face, dst, 180)
    assert low.mean() < full.mean() - 0.02
    # classic matching reproduces the reference's distribution
    np.testing.assert_allclose(np.sort(full.ravel()), np.sort(dst.ravel()), atol=0.02)


def test_luma_keeps_the_frame_chroma(merge_scene):
    source = RealFaceSource(merge_scene, RES, channels=1)
    cfg = MergerConfig(mode="overlay", mask_mode="dst", blur_mask_modifier=20, color_transfer_mode="rct")
    res = merge_frame(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg, "luma")
    assert res.image.shape == merge_scene.frame.shape
    ycc_dst = cv2.cvtColor(merge_scene.frame.astype(np.float32) / 255, cv2.COLOR_BGR2YCrCb)
    ycc_out = cv2.cvtColor(res.image.astype(np.float32) / 255, cv2.COLOR_BGR2YCrCb)
    outside = _outside(res.mask)
    np.testing.assert_array_equal(res.image[outside], merge_scene.frame[outside])
    inside = res.mask > 0.5
    assert np.abs(ycc_out[..., 0] - ycc_dst[..., 0])[inside].mean() > 0.02   # luminance replaced
    # chroma carried over: only the 8-bit rounding of the BGR output (and gamut clipping) moves it
    unclipped = inside & (res.image.min(-1) > 0) & (res.image.max(-1) < 255)
    chroma_err = np.abs(ycc_out[..., 1:] - ycc_dst[..., 1:])[unclipped]
    assert chroma_err.max() < 1.0 / 255 + 1e-6
    assert unclipped.sum() > 0.9 * inside.sum()            # saturated skin may leave the gamut when brightened


def test_gray_output_is_one_channel_everywhere(merge_scene):
    source = RealFaceSource(merge_scene, RES, channels=1)
    cfg = MergerConfig(mode="overlay", mask_mode="dst")
    res = merge_frame(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg, "gray")
    assert res.image.shape == merge_scene.frame.shape[:2] + (1,)


def test_mask_modes_and_shaping():
    r = 32
    yy, xx = np.mgrid[0:r, 0:r]
    disk = (((yy - 16) ** 2 + (xx - 16) ** 2) < 100).astype(np.float32)[..., None]
    left = (xx < 16).astype(np.float32)[..., None]
    src = MaskSources(dst_hull=disk, learned_prd=left, learned_dst=disk)
    assert build_mask("full", src).min() == 1
    np.testing.assert_array_equal(build_mask("dst", src), disk)
    np.testing.assert_array_equal(build_mask("learned-prd*learned-dst", src), disk * left)
    np.testing.assert_array_equal(build_mask("learned-prd+learned-dst", src), np.clip(disk + left, 0, 1))
    from core.errors import UserError
    with pytest.raises(UserError, match="XSeg"):
        build_mask("XSeg-dst", src)
    big = cv2.resize(disk, (4 * r, 4 * r), interpolation=cv2.INTER_NEAREST)[..., None]
    eroded = shape_mask(big, r, 9, 0)
    dilated = shape_mask(big, r, -9, 0)
    blurred = shape_mask(big, r, 0, 15)
    assert eroded.sum() < big.sum() < dilated.sum()
    assert ((blurred > 0.05) & (blurred < 0.95)).sum() > ((big > 0.05) & (big < 0.95)).sum() + 100
    full = shape_mask(np.ones_like(big), r, -20, 24)          # the feathered edge fades out inside the square
    assert full[0].max() < 0.05 and full[:, -1].max() < 0.05 and full[2 * r, 2 * r] == pytest.approx(1.0)


def test_erode_blur_and_scale_change_the_merge_mask(merge_scene):
    source = RealFaceSource(merge_scene, RES)
    base = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode="none")
    area = {}
    for name, cfg in {"base": base, "eroded": base.copy(erode_mask_modifier=40),
                      "dilated": base.copy(erode_mask_modifier=-40), "smaller": base.copy(output_face_scale=30)
                      }.items():
        area[name] = (merge_faces(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg).mask > 0.5).sum()
    assert area["eroded"] < area["base"] < area["dilated"]
    assert area["smaller"] < area["base"]


def test_post_filters_and_degrade(merge_scene):
    source = RealFaceSource(merge_scene, RES)
    base = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode="none")
    ref = merge_faces(merge_scene.frame, _faces(merge_scene, source, cfg=base), base).image
    motion = Motion(power=40.0, deg=30.0)
    for changes in ({"motion_blur_power": 100}, {"sharpen_mode": "gaussian", "blursharpen_amount": 60},
                    {"sharpen_mode": "box", "blursharpen_amount": -40}):
        cfg = base.copy(**changes)
        res = merge_faces(merge_scene.frame, _faces(merge_scene, source, cfg=cfg, motion=motion), cfg)
        outside = _outside(res.mask)
        np.testing.assert_array_equal(res.image[outside], merge_scene.frame[outside])
        assert np.abs(res.image.astype(int) - ref.astype(int))[~outside].mean() > 0.5, changes
    # image degrades work on the background: pixels outside the face change too
    for changes in ({"image_denoise_power": 100}, {"bicubic_degrade_power": 60}, {"color_degrade_power": 100}):
        cfg = base.copy(**changes)
        res = merge_faces(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg)
        outside = _outside(res.mask)
        assert np.abs(res.image.astype(int) - merge_scene.frame.astype(int))[outside].mean() > 0.3, changes


def test_several_faces_in_one_frame_are_all_merged(merge_scene, astronaut_bgr, dlib_landmarker):
    left = cv2.resize(merge_scene.frame, (256, 300))
    right = cv2.resize(astronaut_bgr, (300, 300))
    frame = np.hstack([left, right])
    found = dlib_landmarker(frame, 1)[:2]       # the two largest detections: one face on each side
    assert sorted(lm[:, 0].mean() > 256 for _, lm in found) == [False, True]
    source = RealFaceSource(merge_scene, RES)
    cfg = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode="rct")
    faces = []
    for _, lm in found:
        face = prepare_face(frame, lm, RES, "full_face")
        faces.append((face, source.predict([("f", 0)], [face.dst_face])[0], None))
    res = merge_faces(frame, faces, cfg)
    changed = np.abs(res.image.astype(int) - frame.astype(int)).max(-1) > 8
    assert changed[:, :256].sum() > 300 and changed[:, 256:].sum() > 300
    _assert_only_face_changed(frame, res.image, res.mask)


def test_a_face_outside_the_frame_is_skipped(merge_scene):
    far = merge_scene.landmarks + 5000
    assert prepare_face(merge_scene.frame, far, RES, "full_face") is None


def test_prediction_channel_mismatch_is_an_error(merge_scene):
    source = RealFaceSource(merge_scene, RES, channels=1)
    face, pred, _ = _faces(merge_scene, source)[0]
    face3 = prepare_face(merge_scene.frame, merge_scene.landmarks, RES, "full_face")
    with pytest.raises(ValueError, match="channels"):
        merge_faces(merge_scene.frame, [(face3, FacePrediction(pred.face, pred.learned_prd, pred.learned_dst),
                                         None)], MergerConfig())


def test_luma_colour_degrade_uses_a_colour_palette(merge_scene):
    source = RealFaceSource(merge_scene, RES, channels=1)
    cfg = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode="none", color_degrade_power=100)
    res = merge_frame(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg, "luma")
    colours = np.unique(res.image.reshape(-1, 3), axis=0)
    assert 16 < len(colours) <= 256
    gray = merge_frame(merge_scene.frame, _faces(merge_scene, source, cfg=cfg), cfg, "gray")
    assert len(np.unique(gray.image)) <= 16                     # the fork's 16 gray levels


def test_xseg_sees_the_colour_frame_at_its_own_size(merge_scene):
    """XSeg-dst's input is cut from the BGR frame at the XSeg model's size, also when the face model is gray."""
    from facelib.landmarks import get_transform_mat
    from merger.masked import xseg_crop
    crop = xseg_crop(merge_scene.frame, merge_scene.landmarks, 256, "whole_face")
    assert crop.shape == (256, 256, 3) and crop.dtype == np.float32 and 0.0 <= crop.min() <= crop.max() <= 1.0
    mat = get_transform_mat(merge_scene.landmarks.astype(np.float64), 256, "whole_face")
    want = cv2.warpAffine(merge_scene.frame.astype(np.float32) / 255, mat, (256, 256), flags=cv2.INTER_CUBIC)
    np.testing.assert_allclose(crop, np.clip(want, 0, 1), atol=1e-5)
    assert np.abs(crop[..., 0] - crop[..., 2]).mean() > 0.02          # colour, not the gray model view
    gray_view = prepare_face(to_gray(merge_scene.frame), merge_scene.landmarks, 64, "whole_face")
    assert gray_view.dst_face.shape[2] == 1 and gray_view.xseg_face is None   # only set when an XSeg model is on
