"""samplelib.loader on real extracted faces: folders, faceset.pak, grayscale, broken files, caching."""
from __future__ import annotations

import logging
import os
import shutil

import cv2
import numpy as np
import pytest

from core.errors import UserError
from facelib.meta import load_face, save_face
from samplelib import loader
from samplelib.loader import Sample, load_samples
from samplelib.pak import pack_faceset


@pytest.fixture
def faces(tiny_workspace, tmp_path):
    """A private copy of the real src faceset."""
    loader.clear_cache()
    return shutil.copytree(tiny_workspace.src_aligned, tmp_path / "aligned")


def test_folder_of_real_faces(faces):
    names = sorted(p.name for p in faces.glob("*.jpg"))
    samples = load_samples(faces)
    assert sorted(s.name for s in samples) == names and len(names) >= 10
    s = samples[0]
    assert isinstance(s, Sample) and not s.in_pak and s.face_type == "full_face"
    assert s.shape == (128, 128, 3) and s.landmarks.shape == (68, 2) and s.landmarks.dtype == np.float32
    assert abs(s.yaw) < 1.0 and abs(s.pitch) < 1.0
    assert s.source_filename and s.source_filename.endswith(".png")
    img = s.load_image()
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8


def test_grayscale_load_decodes_one_channel(faces):
    samples = load_samples(faces, grayscale=True)
    s = samples[0]
    assert s.grayscale and s.shape == (128, 128, 1)
    gray = s.load_image()
    assert gray.ndim == 2 and gray.dtype == np.uint8
    colour = cv2.cvtColor(s.load_image(grayscale=False), cv2.COLOR_BGR2GRAY)
    assert np.abs(gray.astype(int) - colour).mean() < 2.0  # the JPEG's luma plane is the gray image


@pytest.fixture
def dfl_log():
    """Messages sent to the toolkit's logger during the test."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    handler = Collect(logging.WARNING)
    logging.getLogger("dfl").addHandler(handler)
    yield records
    logging.getLogger("dfl").removeHandler(handler)


def test_broken_and_foreign_files_are_warned_about_and_skipped(faces, dfl_log):
    good = len(list(faces.glob("*.jpg")))
    data = (faces / sorted(os.listdir(faces))[0]).read_bytes()
    (faces / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (faces / "not_an_image.jpg").write_bytes(b"hello")
    cv2.imwrite(str(faces / "plain_photo.jpg"), np.full((32, 32, 3), 128, np.uint8))  # no face metadata
    (faces / "notes.txt").write_text("ignored: not an image")
    samples = load_samples(faces)
    assert len(samples) == good
    text = "\n".join(dfl_log)
    assert "truncated.jpg" in text and "not_an_image.jpg" in text and "plain_photo.jpg" in text
    assert "notes.txt" not in text


def test_face_without_landmarks_is_skipped(faces, dfl_log):
    first = sorted(faces.glob("*.jpg"))[0]
    image, meta = load_face(first)
    meta.landmarks = None
    save_face(faces / "no_landmarks.jpg", image, meta)
    names = [s.name for s in load_samples(faces)]
    assert "no_landmarks.jpg" not in names and "landmarks" in "\n".join(dfl_log)


def test_empty_and_missing_folders_are_user_errors(tmp_path):
    empty = tmp_path / "empty_aligned"
    empty.mkdir()
    with pytest.raises(UserError, match="empty_aligned"):
        load_samples(empty)
    with pytest.raises(UserError, match="not found"):
        load_samples(tmp_path / "missing")


def test_packed_faceset_is_read_from_the_pak(faces):
    expected = sorted(s.name for s in load_samples(faces))
    pack_faceset(faces, persons=False, delete_originals=True)
    assert not list(faces.glob("*.jpg"))
    samples = load_samples(faces, grayscale=True)
    assert sorted(s.name for s in samples) == expected
    assert all(s.in_pak and s.path.endswith("faceset.pak") for s in samples)
    assert samples[0].load_image().shape == (128, 128)
    assert [s.name for s in load_samples(faces / "faceset.pak")] == [s.name for s in load_samples(faces)]
    shutil.copy(faces / "faceset.pak", faces / "mine.pak")
    with pytest.raises(UserError, match="mine.pak: a packed faceset is read as faceset.pak"):
        load_samples(faces / "mine.pak")


def test_results_are_cached_until_a_file_changes(faces):
    first = load_samples(faces)
    again = load_samples(faces)
    assert [id(s) for s in again] == [id(s) for s in first]  # no re-reading
    victim = faces / first[0].name
    image, meta = load_face(victim)
    meta.eyebrows_expand_mod = 1.5
    save_face(victim, image, meta)
    stat = victim.stat()
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    reloaded = {s.name: s for s in load_samples(faces)}
    assert reloaded[first[0].name].eyebrows_expand_mod == pytest.approx(1.5)
    assert load_samples(faces, grayscale=True)[0].grayscale  # a separate cache entry per mode


def test_worker_processes_give_the_same_samples(faces):
    serial = load_samples(faces, workers=0)
    loader.clear_cache()
    parallel = load_samples(faces, workers=2)
    assert [s.name for s in parallel] == [s.name for s in serial]
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        assert a.yaw == pytest.approx(b.yaw)


def test_stored_xseg_mask_travels_with_the_sample(faces):
    first = sorted(faces.glob("*.jpg"))[0]
    image, meta = load_face(first)
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 20:44] = 1.0
    meta.xseg_mask = mask
    save_face(first, image, meta)
    sample = {s.name: s for s in load_samples(faces)}[first.name]
    got = sample.xseg_mask()
    assert got.shape == (64, 64) and got.dtype == np.float32
    np.testing.assert_allclose(got, mask, atol=1 / 255)
