"""Detectors and landmarkers: anchor decoding, NMS, ROI geometry on arrays; the real models on the real photos."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facelib.detectors import DETECTORS, Detection, create_detector
from facelib.detectors import blazeface as bf
from facelib.detectors.base import overlap_of_smaller, tile_origins
from facelib.landmarkers import LANDMARKERS, create_landmarker
from facelib.landmarkers import facemesh as fm
from facelib.landmarkers.mesh68 import MESH_TO_68, mesh_to_68


def iod(lm: np.ndarray) -> float:
    """Distance between the eye centres."""
    return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))


# ------------------------------------------------------------------------------------------------ arrays ---

def test_anchor_grid():
    anchors = bf.make_anchors()
    assert anchors.shape == (2304, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(anchors[1], [1.5 / 48, 0.5 / 48])  # row-major: x runs fastest
    np.testing.assert_allclose(anchors[48], [0.5 / 48, 1.5 / 48])


def test_decode_box_and_keypoints():
    raw = np.zeros((1, 2304, 16), np.float32)
    scores = np.full((1, 2304, 1), -10, np.float32)
    k = 48 * 10 + 20  # anchor at column 20, row 10
    raw[0, k, :4] = [9.6, -4.8, 48.0, 38.4]  # shift (+0.05, -0.025), size (0.25, 0.2) of the input
    raw[0, k, 4:6] = [-19.2, 0.0]
    scores[0, k] = 3.0
    boxes, conf, kps = bf.decode(raw, scores)
    cx, cy = 20.5 / 48 + 0.05, 10.5 / 48 - 0.025
    np.testing.assert_allclose(boxes[k], [cx - 0.125, cy - 0.1, cx + 0.125, cy + 0.1], atol=1e-6)
    np.testing.assert_allclose(kps[k, 0], [20.5 / 48 - 0.1, 10.5 / 48], atol=1e-6)
    assert conf[k] == pytest.approx(1 / (1 + math.exp(-3)))
    assert conf.argmax() == k and conf[0] < 0.001


def test_weighted_nms_merges_overlaps_only():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[1] += 5
    merged = list(bf.weighted_nms(boxes, scores, kps, 0.3))
    assert len(merged) == 2
    box, score, kp = merged[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [0.6 / 1.5, 0, 10 + 0.6 / 1.5, 10], atol=1e-5)
    np.testing.assert_allclose(kp[0], [5 * 0.6 / 1.5] * 2, atol=1e-5)
    np.testing.assert_allclose(merged[1][0], boxes[2])


def test_letterbox_keeps_aspect_and_maps_back():
    image = np.zeros((100, 300, 3), np.uint8)
    image[40:60, 200:220] = 255
    square, scale, pad = bf.letterbox(image)
    assert square.shape == (192, 192, 3) and scale == pytest.approx(0.64)
    ys, xs = np.nonzero(square[..., 0] > 128)
    back = (np.array([xs.mean(), ys.mean()]) - pad) / scale
    np.testing.assert_allclose(back, [209.5, 49.5], atol=1.5)


def test_roi_crop_round_trip_and_angle():
    roi = fm.Roi(cx=200.0, cy=150.0, size=120.0, angle=math.radians(30))
    mat = roi.crop_to_image(192)
    centre = mat @ np.array([96, 96, 1.0])
    np.testing.assert_allclose(centre, [200, 150])
    right = mat @ np.array([192, 96, 1.0]) - centre
    assert math.degrees(math.atan2(right[1], right[0])) == pytest.approx(30)
    assert np.linalg.norm(right) == pytest.approx(60)
    pts = np.random.default_rng(0).uniform(-1, 1, (468, 2)) * [40, 50]
    rot = np.array([[math.cos(0.4), -math.sin(0.4)], [math.sin(0.4), math.cos(0.4)]])
    pts[fm.RIGHT_EYE_OUTER], pts[fm.LEFT_EYE_OUTER] = (-30, -10), (30, -10)
    moved = pts @ rot.T + (300, 200)
    found = fm.roi_from_points(moved, fm.RIGHT_EYE_OUTER, fm.LEFT_EYE_OUTER)
    assert found.angle == pytest.approx(0.4)
    assert found.size == pytest.approx(1.5 * 100, rel=0.05)


def test_mesh_table_is_local_and_valid():
    assert MESH_TO_68.shape == (68, 3)
    assert MESH_TO_68[:, :2].min() >= 0 and MESH_TO_68[:, :2].max() < 468
    assert ((MESH_TO_68[:, 2] > 0) & (MESH_TO_68[:, 2] < 1)).all()
    mesh = np.zeros((468, 3))
    mesh[:, 0] = np.arange(468)
    a, b, w = MESH_TO_68[5]
    assert mesh_to_68(mesh)[5, 0] == pytest.approx(w * a + (1 - w) * b)


def test_registries():
    assert {"blazeface", "dlib", "dlib-cnn"} <= set(DETECTORS)
    assert bf.BlazeFaceDetector.input_size == bf.INPUT_SIZE  # shrinks the frame: the extractor may search tiles
    assert {"facemesh", "dlib"} <= set(LANDMARKERS)
    with pytest.raises(ValueError, match="blazeface"):
        create_detector("s3fd-nope")
    with pytest.raises(ValueError):
        create_landmarker("fan")


# ------------------------------------------------------------------------------------------ real models ---

@pytest.fixture(scope="module")
def blaze():
    return create_detector("blazeface")


@pytest.fixture(scope="module")
def mesh():
    return create_landmarker("facemesh")


@pytest.fixture(scope="module")
def dlib_pair():
    return create_detector("dlib"), create_landmarker("dlib")


@pytest.mark.parametrize("photo", ["astronaut_bgr", "hopper_bgr"])
def test_blazeface_finds_the_one_face(blaze, photo, request):
    image = request.getfixturevalue(photo)
    found = blaze.detect(image)
    assert len(found) == 1
    l, t, r, b = found[0].rect
    eyes = found[0].keypoints[:2]
    assert eyes[0, 0] < eyes[1, 0]  # subject's right eye is on the image left
    assert l < eyes[:, 0].min() and eyes[:, 0].max() < r and t < eyes[:, 1].min() < b
    assert 80 < r - l < 260 and found[0].score > 0.6
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert len(blaze.detect(gray)) == 1


def test_blazeface_ignores_faceless_images(blaze):
    rng = np.random.default_rng(0)
    assert blaze.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert blaze.detect(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) == []


def test_tiles_cover_the_frame_with_overlap():
    for size, side in ((1920, 540), (1080, 540), (700, 540), (540, 540), (300, 540)):
        starts = tile_origins(size, side)
        assert starts[0] == 0 and starts[-1] + side == max(size, side)
        assert all(b - a <= side - side // 5 for a, b in zip(starts, starts[1:]))
    assert tile_origins(1920, 1080) == [0, 840]  # a 16:9 frame: two squares of its height
    assert overlap_of_smaller(np.array([0, 0, 10, 10.0]), np.array([2, 2, 4, 4.0])) == 1.0


def test_a_small_face_in_a_wide_shot_is_found_in_tiles(astronaut_bgr):
    """A face of ~90 px in a 1080p frame is below what the whole-frame pass can see (192 px input); the
    tiled looks find it, once, where it is, and a faceless frame stays faceless."""
    from facelib.extractor import FaceExtractor
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    frame[600:900, 1400:1700] = cv2.resize(astronaut_bgr, (300, 300), interpolation=cv2.INTER_AREA)
    extractor = FaceExtractor("blazeface")
    assert extractor.detector.detect(frame) == []
    faces = extractor.find_faces(frame)
    assert len(faces) == 1
    l, t, r, b = faces[0].rect
    assert 1400 < l < r < 1700 and 600 < t < b < 900 and r - l > 40
    assert extractor.find_faces(np.random.default_rng(1).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)) == []



@pytest.mark.parametrize("size", [(1080, 1920), (571, 1017)])
def test_a_small_face_beside_a_big_one_is_found_too(astronaut_bgr, hopper_bgr, size):
    """A two-shot: the whole-frame look finds the big face only; the small-face look adds the small one, and
    neither face is reported twice."""
    from facelib.extractor import FaceExtractor
    h, w = size
    frame = np.full((h, w, 3), 60, np.uint8)
    big = cv2.resize(hopper_bgr, (h * 512 // 900, h * 2 // 3), interpolation=cv2.INTER_AREA)
    frame[h // 6:h // 6 + big.shape[0], 20:20 + big.shape[1]] = big
    small = cv2.resize(astronaut_bgr[:260, 130:330], (w // 10, w * 13 // 100), interpolation=cv2.INTER_AREA)
    x0, y0 = w * 2 // 3, h // 3
    frame[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    extractor = FaceExtractor("blazeface")
    assert all(d.rect[0] < w / 2 for d in extractor.detector.detect(frame))
    faces = extractor.find_faces(frame)
    assert len(faces) == 2
    assert faces[0].rect[2] < w / 2
    l, t, r, b = faces[1].rect
    assert x0 - 10 < l < r < x0 + small.shape[1] + 10 and y0 - 10 < t < b < y0 + small.shape[0] + 10

@pytest.mark.parametrize("photo", ["astronaut_bgr", "hopper_bgr"])
def test_mesh68_agrees_with_dlib68(blaze, mesh, dlib_pair, photo, request):
    """Acceptance: the default landmarker's 68 points lie within 6 % of the inter-ocular distance of dlib's."""
    image = request.getfixturevalue(photo)
    ours = mesh.landmarks(image, blaze.detect(image)[0])
    detector, predictor = dlib_pair
    theirs = predictor.landmarks(image, max(detector.detect(image), key=lambda d: d.area))
    error = np.linalg.norm(ours - theirs, axis=1).mean() / iod(theirs)
    assert error < 0.06, f"mean distance {error:.3f} of the inter-ocular distance"


def test_mesh_from_plain_box_and_rolled_face(blaze, mesh, hopper_bgr):
    """Without keypoints (a manual box) and on a face rolled by 35°, the mesh still lands on the face."""
    upright = mesh.landmarks(hopper_bgr, blaze.detect(hopper_bgr)[0])
    l, t, r, b = blaze.detect(hopper_bgr)[0].rect
    from_box = mesh.landmarks(hopper_bgr, Detection(np.array([l - 10, t + 5, r + 10, b + 15], np.float32)))
    assert np.linalg.norm(from_box - upright, axis=1).mean() < 0.05 * iod(upright)
    h, w = hopper_bgr.shape[:2]
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), 35, 1.0)
    rolled = cv2.warpAffine(hopper_bgr, mat, (w, h), borderMode=cv2.BORDER_REPLICATE)
    found = blaze.detect(rolled)
    assert len(found) == 1
    expected = cv2.transform(upright[None].astype(np.float64), mat)[0]
    got = mesh.landmarks(rolled, found[0])
    assert np.linalg.norm(got - expected, axis=1).mean() < 0.05 * iod(upright)


def test_dlib_hog_and_predictor(dlib_pair, hopper_bgr):
    detector, predictor = dlib_pair
    found = detector.detect(hopper_bgr)
    assert len(found) == 1
    lm = predictor.landmarks(hopper_bgr, found[0])
    l, t, r, b = found[0].rect
    assert lm.shape == (68, 2) and l - 20 < lm[:, 0].mean() < r + 20 and t < lm[30, 1] < b
    big = cv2.resize(hopper_bgr, None, fx=2.5, fy=2.5)  # shrunk internally, boxes come back in full pixels
    again = detector.detect(big)
    assert len(again) == 1
    centre = lambda r: np.array([(r[0] + r[2]) / 2, (r[1] + r[3]) / 2])
    width = (r - l) * 2.5
    assert np.linalg.norm(centre(again[0].rect) - centre(found[0].rect) * 2.5) < 0.15 * width
    assert again[0].rect[2] - again[0].rect[0] == pytest.approx(width, rel=0.25)


def test_a_group_in_4k_is_found_down_to_about_100_px_faces(astronaut_bgr):
    """In 4K, ~100 px faces beside a big one: the small-face look sees the frame at 640 px, as S3FD does."""
    from facelib.extractor import FaceExtractor
    frame = np.full((2160, 3840, 3), 80, np.uint8)
    for k, width in enumerate((500, 350, 260)):
        head = cv2.resize(astronaut_bgr[0:300, 120:340], None, fx=width / 220, fy=width / 220)
        x = 100 + k * 1200
        frame[400:400 + head.shape[0], x:x + head.shape[1]] = head
    faces = FaceExtractor("blazeface").find_faces(frame)
    assert len(faces) == 3
    widths = [f.rect[2] - f.rect[0] for f in faces]
    assert widths == sorted(widths, reverse=True) and widths[-1] < 150
    assert sorted(int(f.rect[0] // 1200) for f in faces) == [0, 1, 2]


@pytest.mark.parametrize("photo", ["astronaut_bgr", "hopper_bgr"])
def test_an_extreme_close_up_is_found_zoomed_out(photo, request):
    """A frame filled by the face, chin and forehead cut off: BlazeFace sees nothing in it; framed by black
    borders it finds the face, whose landmarks reach past the frame edge while the eyes stay inside."""
    from facelib.extractor import FaceExtractor
    image = request.getfixturevalue(photo)
    extractor = FaceExtractor("blazeface")
    l, t, r, b = extractor.find_faces(image)[0].rect
    cx, cy, half = (l + r) / 2, (t + b) / 2, (r - l) * 0.4
    close_up = cv2.resize(image[int(cy - half):int(cy + half), int(cx - half):int(cx + half)], (256, 256))
    assert extractor.detector.detect(close_up) == []
    faces = extractor.find_faces(close_up)
    assert len(faces) == 1
    eyes, chin = faces[0].landmarks[36:48], faces[0].landmarks[8]  # iBUG 68-point layout
    assert (eyes > 0).all() and (eyes < 256).all()
    assert chin[1] > 256  # the chin is below the frame


def test_a_blurred_face_the_detector_is_sure_of_keeps_its_landmarks(astronaut_bgr):
    """Out of focus (Gaussian sigma 6 on a ~100 px face) FaceMesh calls it no face (presence ~0.03), BlazeFace is
    sure (0.8): the face is kept, its landmarks near the sharp photo's (as DeepFaceLab's landmarker would)."""
    from facelib.extractor import FaceExtractor
    extractor = FaceExtractor("blazeface")
    sharp = extractor.find_faces(astronaut_bgr)[0].landmarks
    faces = extractor.find_faces(cv2.GaussianBlur(astronaut_bgr, (0, 0), 6))
    assert len(faces) == 1
    inter_ocular = np.linalg.norm(sharp[36:42].mean(0) - sharp[42:48].mean(0))
    assert np.linalg.norm(faces[0].landmarks - sharp, axis=1).mean() < 0.2 * inter_ocular
