"""resize-to-grayscale: pixels and metadata move together (checked against dlib re-detection)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import main as cli
from core.errors import UserError
from facelib.landmarks import get_image_hull_mask, get_transform_mat, transform_points
from facelib.meta import load_face, read_meta
from mainscripts.resize import resize_face, resize_faceset

EYES_MOUTH = list(range(36, 68))


def _redetect_error(landmarker, image, landmarks) -> float:
    """Mean distance, as a fraction of the image size, between metadata and re-detected eye/mouth landmarks."""
    found = landmarker.largest(image, upsample=1)
    assert found is not None, "dlib found no face in the resized image"
    return float(np.linalg.norm(found[EYES_MOUTH] - landmarks[EYES_MOUTH], axis=1).mean() / image.shape[0])


@pytest.mark.parametrize("size,face_type", [(128, "f"), (160, "same"), (112, "wf")])
def test_landmarks_land_on_the_resized_face(whole_face_set, dlib_landmarker, size, face_type):
    for name in whole_face_set.groups["faces"]:
        image, meta = load_face(whole_face_set.dir / name)
        out, new = resize_face(image, meta, size, face_type, grayscale=True)
        assert out.shape == (size, size) and out.dtype == np.uint8
        assert new.face_type == ("full_face" if face_type == "f" else "whole_face")
        error = _redetect_error(dlib_landmarker, out, new.landmarks)
        assert error < 0.03
        if face_type == "f":  # merely scaled landmarks would be off: the check above means something
            assert _redetect_error(dlib_landmarker, out, meta.landmarks * size / 192) > max(0.03, 2 * error)


def test_image_to_face_mat_matches_the_source_frame(whole_face_set):
    frames = whole_face_set.dir.parent / "frames"
    for name in whole_face_set.groups["faces"]:
        image, meta = load_face(whole_face_set.dir / name)
        out, new = resize_face(image, meta, 128, "f", grayscale=False)
        expected = get_transform_mat(meta.source_landmarks, 128, "full_face")
        corners = np.array([[0, 0], [500, 0], [0, 500], [500, 500]], np.float64)
        got_corners = transform_points(corners, new.image_to_face_mat)
        assert np.abs(got_corners - transform_points(corners, expected)).max() < 0.5
        # re-cutting the face from its frame with the rewritten matrix gives the resized picture
        frame = cv2.imread(str(frames / meta.source_filename))
        recut = cv2.warpAffine(frame, new.image_to_face_mat, (128, 128), flags=cv2.INTER_LANCZOS4)
        assert np.abs(recut.astype(int) - out).mean() < 8
        assert new.source_landmarks is not None and np.array_equal(new.source_landmarks, meta.source_landmarks)


def test_xseg_polys_and_mask_follow(whole_face_set):
    image, meta = load_face(whole_face_set.dir / whole_face_set.groups["faces"][0])
    out, new = resize_face(image, meta, 128, "f")
    assert np.allclose(new.xseg_polys[0]["pts"], new.landmarks[[36, 39, 45, 42]], atol=1e-3)
    assert new.xseg_mask.shape == (256, 256)
    expected = cv2.resize(get_image_hull_mask((128, 128), new.landmarks)[..., 0], (256, 256)) > 0.5
    got = new.xseg_mask > 0.5
    assert (expected & got).sum() / (expected | got).sum() > 0.9


def test_cli_writes_gray_faces_and_keeps_originals(whole_face_set, tmp_path):
    src = whole_face_set.copy_to(tmp_path / "aligned")
    (src / "not_a_face.png").write_bytes(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    out = tmp_path / "out"
    assert cli.main(["resize-to-grayscale", "--input-dir", str(src), "--output-dir", str(out),
                     "--image-size", "96", "--face-type", "f", "--workers", "2"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(whole_face_set.groups["faces"])
    for p in out.iterdir():
        image, meta = load_face(p)
        assert image.shape == (96, 96) and meta.face_type == "full_face"
        assert cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim == 2  # single-channel file, not 3 equal channels
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before  # merge defaults to no


def test_cli_merge_and_color(whole_face_set, tmp_path):
    src = whole_face_set.copy_to(tmp_path / "aligned")
    assert cli.main(["resize-to-grayscale", "--input-dir", str(src), "--image-size", "64", "--face-type", "same",
                     "--color", "--merge"]) == 0
    assert not (tmp_path / "aligned_resized").exists()
    for p in src.iterdir():
        image, meta = load_face(p)
        assert image.shape == (64, 64, 3) and meta.face_type == "whole_face"
        assert np.abs(meta.landmarks - read_meta(whole_face_set.dir / p.name).landmarks * 64 / 192).max() < 1e-3


def test_bad_inputs(whole_face_set, tmp_path):
    assert cli.main(["resize-to-grayscale", "--input-dir", str(tmp_path / "nope"), "--image-size", "64"]) == 1
    assert cli.main(["resize-to-grayscale", "--input-dir", str(whole_face_set.dir), "--output-dir",
                     str(whole_face_set.dir), "--image-size", "64", "--face-type", "same"]) == 1
    assert cli.main(["resize-to-grayscale", "--input-dir", str(whole_face_set.dir), "--output-dir",
                     str(tmp_path / "o"), "--image-size", "64", "--face-type", "bogus"]) == 1
    for size in ("5", "5000"):  # regression: was silently clamped to 32 / 2048 and run
        assert cli.main(["resize-to-grayscale", "--input-dir", str(whole_face_set.dir), "--output-dir",
                         str(tmp_path / "o3"), "--image-size", size, "--face-type", "same"]) == 1
    assert not (tmp_path / "o3").exists()
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "faceset.pak").write_bytes(b"")
    with pytest.raises(UserError, match="unpack-faceset"):  # not just "no aligned faces found"
        resize_faceset(packed, tmp_path / "o4", 64)
    src = whole_face_set.copy_to(tmp_path / "with_bad")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert resize_faceset(src, tmp_path / "o2", 64, "same", True, workers=1) == len(whole_face_set.groups["faces"])
    with pytest.raises(ValueError, match="square"):
        resize_face(np.zeros((10, 12), np.uint8), read_meta(whole_face_set.dir / whole_face_set.groups["faces"][0]), 8)


def test_faceset_flow_on_an_extracted_workspace(tiny_workspace, tmp_path, capsys):
    """Faces from the real extractor: sort, resize to grayscale, pack, and the training loader reads the pack."""
    import json
    import shutil
    from samplelib.loader import load_samples
    src = tmp_path / "aligned"
    shutil.copytree(tiny_workspace.src_aligned, src)
    count = len(list(src.glob("*.jpg")))
    assert count >= 10
    assert cli.main(["sort", "--input-dir", str(src), "--by", "face-yaw"]) == 0
    gray = tmp_path / "aligned_bw"
    assert cli.main(["resize-to-grayscale", "--input-dir", str(src), "--output-dir", str(gray),
                     "--image-size", "64"]) == 0
    assert cli.main(["util", "pack-faceset", "--input-dir", str(gray)]) == 0
    capsys.readouterr()
    assert cli.main(["util", "faceset-info", "--input-dir", str(gray), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == count and info["channels"] == {"gray": count} and info["sizes"] == {"64x64": count}
    samples = load_samples(gray, grayscale=True, workers=1)
    assert len(samples) == count
