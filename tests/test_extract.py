"""`main.py extract` and the extraction job: files, metadata, debug frames, resuming, bad frames, options."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

import main as cli
from core.fsio import list_images
from facelib import landmarks as L
from facelib.extract_job import JOURNAL_NAME, ExtractOptions, Journal, run_extraction
from facelib.face_type import FaceType
from facelib.meta import load_face, read_meta


def copy_frames(src: Path, dst: Path, count: int) -> list[Path]:
    dst.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, dst / p.name)) for p in list_images(src)[:count]]


def extract(*args: str) -> int:
    return cli.main(["--non-interactive", "extract", *args])


def test_cli_writes_aligned_faces_with_metadata_and_debug(tiny_workspace, tmp_path):
    frames = copy_frames(tiny_workspace.data_dst, tmp_path / "data_dst", 6)
    out = tmp_path / "data_dst" / "aligned"
    code = extract("--input-dir", str(tmp_path / "data_dst"), "--output-dir", str(out), "--detector", "blazeface",
                   "--face-type", "whole_face", "--image-size", "96", "--jpeg-quality", "85", "--output-debug",
                   "--workers", "2")
    assert code == 0
    assert [p.name for p in list_images(out)] == [f"{f.stem}_0.jpg" for f in frames]
    image, meta = load_face(out / f"{frames[2].stem}_0.jpg")
    assert image.shape == (96, 96, 3)
    assert meta.face_type == "whole_face" and meta.source_filename == frames[2].name
    frame = cv2.imread(str(frames[2]))
    np.testing.assert_allclose(L.transform_points(meta.source_landmarks, meta.image_to_face_mat), meta.landmarks,
                               atol=1e-3)
    np.testing.assert_allclose(meta.image_to_face_mat, L.get_transform_mat(meta.source_landmarks, 96, "wf"),
                               atol=1e-4)
    l, t, r, b = meta.source_rect
    assert 0 <= l < r <= frame.shape[1] and 0 <= t < b <= frame.shape[0]
    assert (l <= meta.source_landmarks[30]).all() and (meta.source_landmarks[30] <= (r, b)).all()
    # the aligned face is the frame warped by the stored matrix
    expected = cv2.warpAffine(frame, meta.image_to_face_mat, (96, 96), flags=cv2.INTER_CUBIC)
    assert np.abs(image.astype(int) - expected).mean() < 6
    debug = sorted((tmp_path / "data_dst" / "aligned_debug").iterdir())
    assert [p.name for p in debug] == [f"{f.stem}.jpg" for f in frames]
    shot = cv2.imread(str(debug[0])).astype(int)
    reds = (shot[..., 2] > 180) & (shot[..., 1] < 90) & (shot[..., 0] < 90)
    blues = (shot[..., 0] > 180) & (shot[..., 1] < 90) & (shot[..., 2] < 90)
    assert reds.sum() > 100 and blues.sum() > 100


def test_rerun_skips_done_frames_and_retries_unreadable(tiny_workspace, tmp_path):
    src = tmp_path / "frames"
    copy_frames(tiny_workspace.data_src, src, 4)
    (src / "99999.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    opts = ExtractOptions(input_dir=src, output_dir=tmp_path / "aligned", face_type=FaceType.FULL, image_size=64,
                          workers=1)
    report = run_extraction(opts)
    assert report.faces_detected == 4 and report.unreadable == ["99999.png"]
    first = {p.name: p.stat().st_mtime_ns for p in list_images(opts.output_dir)}
    again = run_extraction(opts)
    assert again.frames_skipped == 4 and again.faces_detected == 0 and again.unreadable == ["99999.png"]
    assert {p.name: p.stat().st_mtime_ns for p in list_images(opts.output_dir)} == first
    header, done = Journal(opts.output_dir).read()
    assert header == opts.signature() and len(done) == 4 and all(len(f) == 1 for f in done.values())
    # a deleted face stays deleted (the user cleaned the faceset) ...
    list_images(opts.output_dir)[0].unlink()
    assert run_extraction(opts).faces_detected == 0 and len(list_images(opts.output_dir)) == 3
    # ... but an emptied folder (hidden journal left behind) is extracted again, not "already extracted"
    for face in list_images(opts.output_dir):
        face.unlink()
    assert run_extraction(opts).faces_detected == 4 and len(list_images(opts.output_dir)) == 4
    # new settings: the old faces are replaced (non-interactive answers the prompt with its default, yes)
    opts.image_size = 80
    run_extraction(opts)
    assert {load_face(p)[0].shape[0] for p in list_images(opts.output_dir)} == {80}


def test_grayscale_frames_give_grayscale_faces_and_faceless_frames_are_recorded(tiny_workspace, tmp_path):
    src = tmp_path / "gray"
    src.mkdir()
    for p in list_images(tiny_workspace.data_dst)[:2]:
        cv2.imwrite(str(src / p.name), cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(src / "blank.png"), np.full((240, 320), 128, np.uint8))
    opts = ExtractOptions(input_dir=src, output_dir=tmp_path / "aligned", face_type=FaceType.FULL, image_size=64,
                          output_debug=True, workers=1)
    report = run_extraction(opts)
    assert report.faces_detected == 2 and report.no_face == ["blank.png"]
    faces = list_images(opts.output_dir)
    assert len(faces) == 2 and all(load_face(p)[0].ndim == 2 for p in faces)
    assert (opts.debug_dir / "blank.jpg").is_file()  # a debug frame shows that nothing was found
    assert "blank.png" in Journal(opts.output_dir).read()[1]


def test_max_faces_keeps_the_largest_first(tiny_workspace, tmp_path, astronaut_bgr, hopper_bgr):
    src = tmp_path / "two"
    src.mkdir()
    big = cv2.resize(hopper_bgr, (300, 352))
    small = cv2.resize(astronaut_bgr, (300, 300))
    canvas = np.full((400, 700, 3), 90, np.uint8)
    canvas[20:372, 10:310] = big
    canvas[50:350, 380:680] = small
    cv2.imwrite(str(src / "pair.png"), canvas)
    opts = ExtractOptions(input_dir=src, output_dir=tmp_path / "all", face_type=FaceType.FULL, image_size=64,
                          workers=1)
    assert run_extraction(opts).faces_detected == 2
    first, second = read_meta(opts.output_dir / "pair_0.jpg"), read_meta(opts.output_dir / "pair_1.jpg")
    assert first.source_landmarks[30, 0] < 310 < second.source_landmarks[30, 0]
    opts = ExtractOptions(input_dir=src, output_dir=tmp_path / "one", face_type=FaceType.FULL, image_size=64,
                          max_faces=1, workers=1)
    assert run_extraction(opts).faces_detected == 1
    assert read_meta(opts.output_dir / "pair_0.jpg").source_landmarks[30, 0] < 310


def test_mark_only_and_dlib_detector(tiny_workspace, tmp_path):
    src = tmp_path / "frames"
    frames = copy_frames(tiny_workspace.data_dst, src, 2)
    out = tmp_path / "marks"
    assert extract("--input-dir", str(src), "--output-dir", str(out), "--detector", "dlib", "--face-type",
                   "mark_only", "--no-output-debug", "--workers", "1") == 0
    image, meta = load_face(out / f"{frames[0].stem}_0.jpg")
    assert image.shape[:2] == cv2.imread(str(frames[0])).shape[:2]
    assert meta.face_type == "mark_only" and meta.image_to_face_mat is None
    np.testing.assert_allclose(meta.landmarks, meta.source_landmarks)


def test_cli_errors(tmp_path, log_messages):
    assert extract("--input-dir", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "a")) == 1
    assert log_messages == [f"Error: {tmp_path / 'missing'}: input folder not found"]  # and nothing asked first
    (tmp_path / "in").mkdir()
    assert extract("--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "a"),
                   "--detector", "manual", "--face-type", "f") == 1
    assert "manual extraction needs" in log_messages[-1]
    assert extract("--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "a"),
                   "--face-type", "fullface") == 1
    assert "--face-type" in log_messages[-1]
    assert extract("--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "a"),
                   "--detector", "s3fd", "--face-type", "f") == 1  # DFL's detector name: BlazeFace, and it says so
    assert any(m.startswith("s3fd: DeepFaceLab's S3FD weights ship with no package") for m in log_messages)
    # Regression: an empty frames folder "succeeded" with 0 images found (exit 0), hiding a skipped step.
    assert extract("--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path / "a"),
                   "--detector", "blazeface", "--face-type", "f") == 1
    assert "no images to extract faces from" in log_messages[-1] and str(tmp_path / "in") in log_messages[-1]


def test_non_interactive_defaults(tmp_path):
    """Flags left out take DFL's defaults: whole face, 512 px, quality 90, all faces, no debug."""
    import argparse
    from mainscripts.extract import build_options
    parser = argparse.ArgumentParser()
    from mainscripts import extract as ex
    sub = parser.add_subparsers()
    ex.register(sub)
    args = parser.parse_args(["extract", "--input-dir", str(tmp_path), "--output-dir", str(tmp_path / "a")])
    opts = build_options(args)
    assert (opts.detector, opts.face_type, opts.image_size, opts.jpeg_quality, opts.max_faces, opts.output_debug) \
        == ("blazeface", FaceType.WHOLE_FACE, 512, 90, 0, False)
    args = parser.parse_args(["extract", "--input-dir", ".", "--output-dir", "a", "--face-type", "head",
                              "--detector", "dlib", "--dlib-cnn"])
    opts = build_options(args)
    assert opts.image_size == 768 and opts.detector == "dlib-cnn"
    assert opts.debug_dir == Path("aligned_debug").with_name("a_debug")
    assert JOURNAL_NAME.startswith(".")  # hidden: never listed as a face
