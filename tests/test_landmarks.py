"""Landmark math on arrays: Umeyama, per-face-type transforms, masks, pose and drawing."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facelib import landmarks as L
from facelib import mean_face
from facelib.face_type import FaceType


def posed_landmarks(yaw=0.0, pitch=0.0, roll=0.0, size=256, scale=1.0, centre=None) -> np.ndarray:
    """68 points of the 3D head model posed and seen by the pinhole camera `estimate_pitch_yaw_roll` assumes."""
    cx, cy = centre if centre is not None else (size / 2, size / 2)
    pts = mean_face.LANDMARKS_68_3D.astype(np.float64) @ _rotation(pitch, yaw, roll).T
    depth = pts[:, 2] + 260.0 / scale  # about 150 px wide at size 256
    x = size * pts[:, 0] / depth + cx
    y = size * pts[:, 1] / depth + cy
    return np.stack([x, y], axis=1).astype(np.float32)


def _rotation(pitch, yaw, roll):
    rx = cv2.Rodrigues(np.array([-pitch, 0, 0], np.float64))[0]
    ry = cv2.Rodrigues(np.array([0, yaw, 0], np.float64))[0]
    rz = cv2.Rodrigues(np.array([0, 0, roll], np.float64))[0]
    return rz @ ry @ rx


def similarity(angle_deg, scale, shift):
    mat = cv2.getRotationMatrix2D((0, 0), angle_deg, scale)
    mat[:, 2] = shift
    return mat


def test_umeyama_recovers_similarity():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (33, 2))
    mat = similarity(31.0, 0.7, (12.0, -5.0))
    dst = L.transform_points(src, mat)
    found = L.umeyama(src, dst)
    np.testing.assert_allclose(found[:2], mat, atol=1e-9)
    np.testing.assert_allclose(found[2], [0, 0, 1])


def test_transform_points_inverse_round_trip():
    pts = np.array([[1.5, 2.0], [100.0, -3.0]], np.float32)
    mat = similarity(10, 2.0, (5, 6))
    back = L.transform_points(L.transform_points(pts, mat), mat, invert=True)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, pts, atol=1e-4)


def _mean_face_landmarks(size: float, offset=(0.0, 0.0)) -> np.ndarray:
    lm = np.zeros((68, 2), np.float64)
    lm[17:] = mean_face.MEAN_FACE_17_67 * size + offset
    lm[:17] = posed_landmarks(size=256)[:17]  # jaw is ignored by the alignment
    return lm


def test_half_face_maps_mean_face_onto_unit_square():
    lm = _mean_face_landmarks(300.0, (40.0, 25.0))
    mat = L.get_transform_mat(lm, 128, FaceType.HALF)
    aligned = L.transform_points(lm[17:], mat)
    np.testing.assert_allclose(aligned, mean_face.MEAN_FACE_17_67 * 128, atol=1.5)


@pytest.mark.parametrize("ft", [FaceType.HALF, FaceType.MID_FULL, FaceType.FULL, FaceType.WHOLE_FACE, FaceType.HEAD])
def test_aligned_landmarks_invariant_to_similarity(ft):
    lm = posed_landmarks(yaw=0.3, roll=0.1)
    moved = L.transform_points(lm, similarity(-25, 1.4, (300, 80)))
    a = L.transform_points(lm, L.get_transform_mat(lm, 256, ft))
    b = L.transform_points(moved, L.get_transform_mat(moved, 256, ft))
    np.testing.assert_allclose(a, b, atol=1e-3)


def _side(mat) -> float:
    """Side length in source pixels of the output square for a 2x3 matrix of size 256."""
    return 256.0 / math.hypot(mat[0, 0], mat[0, 1])


def test_padding_grows_with_face_type():
    lm = posed_landmarks()
    sides = {ft: _side(L.get_transform_mat(lm, 256, ft)) for ft in L.FACE_TYPE_PADDING}
    for ft, pad in L.FACE_TYPE_PADDING.items():
        expected = (pad * math.sqrt(2) + 0.5) / 0.5
        ratio = sides[ft] / sides[FaceType.HALF]
        if ft.aligned:
            assert ratio == pytest.approx(expected, rel=1e-4)
    assert sides[FaceType.FULL_NO_ALIGN] == pytest.approx(sides[FaceType.FULL], rel=1e-3)
    # zooming out with scale=2 doubles the crop
    assert _side(L.get_transform_mat(lm, 256, FaceType.FULL, scale=0.5)) == pytest.approx(2 * sides[FaceType.FULL])


def test_no_align_square_stays_upright_on_rolled_face():
    lm = L.transform_points(posed_landmarks(), similarity(30, 1.0, (50, 50)))
    aligned = L.get_transform_mat(lm, 256, FaceType.FULL)
    upright = L.get_transform_mat(lm, 256, FaceType.FULL_NO_ALIGN)
    assert abs(aligned[0, 1]) > 0.3 * abs(aligned[0, 0])
    assert abs(upright[0, 1]) < 1e-6 and abs(upright[1, 0]) < 1e-6
    assert upright[0, 0] == pytest.approx(upright[1, 1])


def test_whole_face_and_head_move_centre_up():
    lm = posed_landmarks()

    def centre_y(ft):
        return L.transform_points(np.array([[128.0, 128.0]]), L.get_transform_mat(lm, 256, ft), invert=True)[0, 1]
    assert centre_y(FaceType.HEAD) < centre_y(FaceType.WHOLE_FACE) < centre_y(FaceType.FULL)


def test_head_centre_follows_yaw():
    def centre_x(yaw):
        lm = posed_landmarks(yaw=yaw)
        nose = lm[30, 0]
        return L.transform_points(np.array([[128.0, 128.0]]), L.get_transform_mat(lm, 256, FaceType.HEAD),
                                  invert=True)[0, 0] - nose
    assert centre_x(0.5) * centre_x(-0.5) < 0  # the crop shifts towards opposite sides


def test_mark_only_has_no_transform():
    with pytest.raises(ValueError):
        L.get_transform_mat(posed_landmarks(), 256, FaceType.MARK_ONLY)


def test_rect_from_landmarks_contains_face():
    lm = posed_landmarks()
    l, t, r, b = L.get_rect_from_landmarks(lm)
    assert l < lm[:, 0].min() and r > lm[:, 0].max() and t < lm[17:, 1].min() and b > lm[:, 1].max()
    assert (r - l) == pytest.approx(b - t, abs=2)


def test_hull_mask_covers_face_and_eyebrow_expansion_raises_top():
    lm = posed_landmarks()
    mask = L.get_image_hull_mask((256, 256, 3), lm)
    assert mask.shape == (256, 256, 1) and mask.dtype == np.float32
    nose = lm[30].astype(int)
    assert mask[nose[1], nose[0], 0] == 1.0 and mask[2, 2, 0] == 0.0
    top = lambda m: np.nonzero(m[..., 0].any(axis=1))[0][0]
    assert top(L.get_image_hull_mask((256, 256), lm, 2.0)) < top(mask) < top(L.get_image_hull_mask((256, 256), lm, 0.0))
    brow_top = lm[17:27, 1].min()
    assert top(L.get_image_hull_mask((256, 256), lm, 0.0)) == pytest.approx(brow_top, abs=1.5)


def test_eyes_mouth_mask():
    lm = posed_landmarks()
    mask = L.get_eyes_mouth_mask((256, 256), lm)
    assert mask.shape == (256, 256, 1) and 0.0 <= mask.min() and mask.max() <= 1.0
    at = lambda p: mask[int(p[1]), int(p[0]), 0]
    assert at(lm[36:42].mean(0)) > 0.5 and at(lm[42:48].mean(0)) > 0.5 and at(lm[60:68].mean(0)) > 0.5
    assert at(lm[8]) == 0.0 and at(lm[30]) < 0.1
    eyes_only = L.get_eyes_mask((256, 256), lm)
    assert eyes_only[int(lm[62, 1]), int(lm[62, 0]), 0] == 0.0


@pytest.mark.parametrize("pitch, yaw, roll", [(0, 0, 0), (0.2, -0.4, 0.1), (-0.25, 0.5, -0.3)])
def test_pose_estimation_recovers_angles(pitch, yaw, roll):
    lm = posed_landmarks(pitch=pitch, yaw=yaw, roll=roll)
    p, y, r = L.estimate_pitch_yaw_roll(lm, 256)
    assert (p, y, r) == pytest.approx((pitch, yaw, roll), abs=0.05)


def orthographic_landmarks(pitch=0.0, yaw=0.0, roll=0.0, size=256) -> np.ndarray:
    """The posed 3D head seen without perspective (a long lens far away), as real detectors' points often look."""
    pts = mean_face.LANDMARKS_68_3D.astype(np.float64) @ _rotation(pitch, yaw, roll).T
    return (pts[:, :2] * size / 260.0 + size / 2).astype(np.float32)


@pytest.mark.parametrize("pitch, yaw, roll", [(0.0, 0.0, 0.0), (-0.1, 0.05, -0.2), (0.15, -0.3, 0.1),
                                              (0.05, 0.45, 0.25), (-0.2, -0.45, -0.3)])
def test_pose_never_takes_the_mirror_solution_behind_the_camera(pitch, yaw, roll):
    # Regression: without a starting pose, PnP often converged to the head turned 180 degrees behind the camera,
    # reported as roll +-pi/2 with a jump in yaw on ordinary upright faces.
    rng = np.random.default_rng(7)
    lm = orthographic_landmarks(pitch, yaw, roll) + rng.normal(0, 1.0, (68, 2)).astype(np.float32)
    p, y, r = L.estimate_pitch_yaw_roll(lm, 256)
    assert r == pytest.approx(roll, abs=0.05)
    assert p == pytest.approx(pitch, abs=0.1)
    assert y == pytest.approx(yaw, abs=0.12)


def test_mirror_landmarks():
    lm = posed_landmarks(yaw=0.4)
    mirrored = L.mirror_landmarks(lm, 256)
    np.testing.assert_allclose(L.mirror_landmarks(mirrored, 256), lm)
    assert mirrored[36, 0] < mirrored[45, 0]  # still image-left eye at index 36
    assert L.estimate_pitch_yaw_roll(mirrored)[1] == pytest.approx(-L.estimate_pitch_yaw_roll(lm)[1], abs=0.05)


def test_draw_rect_landmarks_colours():
    img = np.zeros((256, 256, 3), np.uint8)
    lm = posed_landmarks(scale=1.0)
    L.draw_rect_landmarks(img, (60, 60, 200, 200), lm, FaceType.FULL, face_size=256)
    colours = {tuple(c) for c in img.reshape(-1, 3)[img.reshape(-1, 3).any(axis=1)]}
    assert (255, 0, 0) in colours and (0, 0, 255) in colours and (0, 255, 0) in colours
    gray = np.zeros((100, 100), np.uint8)
    L.draw_landmarks(gray, posed_landmarks(size=100, centre=(50, 50), scale=0.5))
    assert gray.any()
