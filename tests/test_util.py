"""`main.py util ...` commands on a small real faceset, and clear-workspace."""
from __future__ import annotations

import json
import shutil
import pickle

import cv2
import numpy as np
import pytest

import main as cli
from facelib.meta import load_face, read_meta, save_face
from mainscripts.sort import sort_folder
from mainscripts.sort_methods import SortOptions
from samplelib import pak
from tests.test_legacy import make_dfl_jpg


def util(*argv) -> int:
    return cli.main(["util", *map(str, argv)])


@pytest.fixture
def faces(real_faceset, tmp_path):
    return real_faceset.copy_to(tmp_path / "aligned", ("base", "twoface")), real_faceset


def test_add_landmarks_debug_images(faces):
    folder, fs = faces
    names = fs.names("base", "twoface")
    assert util("add-landmarks-debug-images", "--input-dir", folder) == 0
    debug = sorted(p.name for p in folder.glob("*_debug.jpg"))
    assert debug == sorted(n.replace(".jpg", "_debug.jpg") for n in names)
    image, meta = load_face(folder / names[0])
    drawn = cv2.imread(str(folder / names[0].replace(".jpg", "_debug.jpg")))
    x, y = np.round(meta.landmarks[30]).astype(int)  # nose tip: a green dot now
    b, g, r = drawn[y, x].astype(int)
    assert g > 150 and g > r + 50 and g > b + 50
    assert read_meta(folder / names[0].replace(".jpg", "_debug.jpg")) is None


def test_recover_original_filename_after_sort(faces):
    folder, fs = faces
    sort_folder(folder, "hist", SortOptions())
    assert (folder / "00000.jpg").exists()
    assert util("recover-original-filename", "--input-dir", folder) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(fs.names("base", "twoface"))
    for p in folder.iterdir():
        assert read_meta(p).source_filename.split(".")[0] == p.stem.rsplit("_", 1)[0]


def test_save_edit_restore_metadata(faces):
    folder, fs = faces
    originals = {p.name: (load_face(p)[0].shape, read_meta(p)) for p in folder.iterdir()}
    assert util("save-faceset-metadata", "--input-dir", folder) == 0
    sidecar = folder / "faceset_metadata.json"
    assert len(json.loads(sidecar.read_text())["faces"]) == len(originals)
    for p in folder.glob("*.jpg"):  # edit elsewhere: a plain image program drops metadata and resizes
        image = cv2.imread(str(p))
        cv2.imwrite(str(p), cv2.resize(255 - image, (64, 64)))
        assert read_meta(p) is None
    assert util("restore-faceset-metadata", "--input-dir", folder) == 0
    assert not sidecar.exists()
    for name, (shape, meta) in originals.items():
        image, got = load_face(folder / name)
        assert image.shape == shape
        assert np.array_equal(got.landmarks, meta.landmarks) and got.source_filename == meta.source_filename
    assert util("restore-faceset-metadata", "--input-dir", folder) == 1  # sidecar gone: clear error


def test_restore_keeps_the_sidecar_while_faces_are_missing(faces):
    # Regression: the sidecar was deleted even when faces were missing, losing their metadata for good.
    folder, fs = faces
    assert util("save-faceset-metadata", "--input-dir", folder) == 0
    away = folder.parent / "away"
    away.mkdir()
    moved = folder / fs.groups["base"][0]
    moved.rename(away / moved.name)
    assert util("restore-faceset-metadata", "--input-dir", folder) == 1
    assert (folder / "faceset_metadata.json").exists()
    cv2.imwrite(str(folder / moved.name), cv2.imread(str(away / moved.name)))  # back, metadata stripped
    assert util("restore-faceset-metadata", "--input-dir", folder) == 0
    assert not (folder / "faceset_metadata.json").exists() and read_meta(folder / moved.name) is not None


def test_saving_again_before_restoring_keeps_the_metadata_of_edited_faces(faces):
    # Regression: a second save-faceset-metadata after editing rewrote the sidecar from the (now metadata-less)
    # images, and the edited faces' metadata was gone for good.
    folder, fs = faces
    assert util("save-faceset-metadata", "--input-dir", folder) == 0
    edited = folder / fs.groups["base"][0]
    original = read_meta(edited)
    cv2.imwrite(str(edited), cv2.imread(str(edited)))  # an editor drops the metadata
    assert util("save-faceset-metadata", "--input-dir", folder) == 0
    assert util("restore-faceset-metadata", "--input-dir", folder) == 0
    assert np.array_equal(read_meta(edited).landmarks, original.landmarks)


@pytest.mark.parametrize("command", ["faceset-info", "save-faceset-metadata", "recover-original-filename",
                                     "add-landmarks-debug-images", "convert-png-to-jpg", "import-dfl-faceset"])
def test_empty_or_faceless_folders_are_one_line_errors(tmp_path, command):
    # Regression: these reported "0 faces" and exited 0 (save even wrote an empty sidecar).
    empty = tmp_path / "empty"
    empty.mkdir()
    assert util(command, "--input-dir", empty) == 1
    assert not list(empty.iterdir())
    if command in ("faceset-info", "save-faceset-metadata"):  # frames, not faces
        cv2.imwrite(str(empty / "00001.png"), np.zeros((8, 8, 3), np.uint8))
        assert util(command, "--input-dir", empty) == 1
        assert [p.name for p in empty.iterdir()] == ["00001.png"]


def test_pack_unpack_commands(faces):
    folder, fs = faces
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert util("pack-faceset", "--input-dir", folder, "--keep-originals") == 0
    assert len(list(folder.iterdir())) == len(before) + 1
    assert util("pack-faceset", "--input-dir", folder) == 0  # non-interactive: overwrite, delete originals
    assert [p.name for p in folder.iterdir()] == ["faceset.pak"]
    assert util("unpack-faceset", "--input-dir", folder) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert util("unpack-faceset", "--input-dir", folder) == 1


def test_deepfacelab_flag_form_runs_the_same_commands(faces, log_messages):
    folder, fs = faces
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert util("--input-dir", folder, "--pack-faceset") == 0  # DFL: main.py util --input-dir DIR --pack-faceset
    assert [p.name for p in folder.iterdir()] == ["faceset.pak"]
    assert util("--input-dir", folder, "--unpack-faceset") == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert util("--save-faceset-metadata", "--input-dir", folder, "--add-landmarks-debug-images") == 0  # both run
    names = {p.name for p in folder.iterdir()}
    assert names == set(before) | {n.replace(".jpg", "_debug.jpg") for n in before} | {"faceset_metadata.json"}
    assert len(json.loads((folder / "faceset_metadata.json").read_text())["faces"]) == len(before)
    log_messages.clear()
    assert util("--pack-faceset") == 1 and "need --input-dir" in log_messages[-1]
    assert util("--input-dir", folder) == 1 and "--pack-faceset" in log_messages[-1]


def test_export_faceset_mask_writes_the_xseg_mask_else_the_polygons(whole_face_set, tmp_path, log_messages):
    from facelib.xseg_polys import render_polys
    folder = tmp_path / "aligned"
    folder.mkdir()
    names = whole_face_set.groups["faces"]
    for name in names[:3]:
        shutil.copy2(whole_face_set.dir / name, folder / name)
    image, meta = load_face(folder / names[1])
    meta.xseg_mask = None  # only its polygon is left
    save_face(folder / names[1], image, meta)
    image, meta = load_face(folder / names[2])
    meta.xseg_mask, meta.xseg_polys = None, None  # nothing to export
    save_face(folder / names[2], image, meta)
    assert util("--input-dir", folder, "--export-faceset-mask") == 0
    assert any(names[2] in m and "no mask" in m for m in log_messages)
    assert sorted(p.name for p in folder.glob("*_mask.jpg")) == sorted(n.replace(".jpg", "_mask.jpg")
                                                                      for n in names[:2])
    image, meta = load_face(folder / names[0])
    exported = cv2.imread(str(folder / names[0].replace(".jpg", "_mask.jpg")), cv2.IMREAD_UNCHANGED)
    expected = cv2.resize(meta.xseg_mask, image.shape[1::-1]) >= 0.5
    assert exported.shape == image.shape[:2] and np.mean((exported > 127) == expected) > 0.995
    polys = load_face(folder / names[1])[1].xseg_polys
    exported = cv2.imread(str(folder / names[1].replace(".jpg", "_mask.jpg")), cv2.IMREAD_UNCHANGED)
    assert np.mean((exported > 127) == (render_polys(polys, exported.shape) > 0)) > 0.995
    assert 0 < np.mean(exported > 127) < 0.2  # the eyes' quadrilateral, not the face
    assert util("faceset-info", "--input-dir", folder) == 0  # the masks are not taken for faces
    for name in names[:2]:
        (folder / name).unlink()
    assert util("export-faceset-mask", "--input-dir", folder) == 1  # none left with a mask: an error


def test_pack_never_overwrites_a_pack_holding_faces_that_are_not_loose_files(faces):
    # Regression: with a pack (originals deleted) and a few new loose faces, `pack-faceset` overwrote the pack
    # unattended and every previously packed face was gone.
    folder, fs = faces
    assert util("pack-faceset", "--input-dir", folder, "--delete-originals") == 0
    packed = pak.PackedFaceset(folder / "faceset.pak").names()
    save_face(folder / "new.jpg", *pak.PackedFaceset(folder / "faceset.pak").load_face(packed[0]))
    assert util("pack-faceset", "--input-dir", folder) == 1
    assert pak.PackedFaceset(folder / "faceset.pak").names() == packed and (folder / "new.jpg").exists()


def test_faceset_info_json(faces, capsys):
    folder, fs = faces
    gray_name = fs.groups["base"][0]
    image, meta = load_face(folder / gray_name)
    save_face(folder / gray_name, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), meta)
    cv2.imwrite(str(folder / "plain.png"), np.zeros((8, 8, 3), np.uint8))
    capsys.readouterr()
    assert util("faceset-info", "--input-dir", folder, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    n = len(fs.names("base", "twoface"))
    assert info["count"] == n and info["face_types"] == {"full_face": n} and info["sizes"] == {"128x128": n}
    assert info["channels"] == {"gray": 1, "color": n - 1} and info["unreadable"] == 1
    assert sum(info["yaw_histogram"].values()) == n
    pak.pack_faceset(folder, delete_originals=True)
    assert util("faceset-info", "--input-dir", folder, "--json") == 0
    assert json.loads(capsys.readouterr().out)["packed"] is True


def test_contact_sheet(faces, tmp_path):
    folder, fs = faces
    out = tmp_path / "sheet.png"
    assert util("contact-sheet", "--input-dir", folder, "--output-file", out, "--thumb-size", 32) == 0
    n = len(fs.names("base", "twoface"))
    cols = int(np.ceil(np.sqrt(n)))
    sheet = cv2.imread(str(out))
    assert sheet.shape == (int(np.ceil(n / cols)) * 32, cols * 32, 3)
    first = cv2.resize(load_face(folder / sorted(fs.names("base", "twoface"))[0])[0], (32, 32),
                       interpolation=cv2.INTER_AREA)
    assert np.abs(sheet[:20, :32].astype(int) - first[:20]).mean() < 3  # top of the first tile, above the label
    for bad in (("--thumb-size", 0), ("--thumb-size", 5000), ("--columns", -2), ("--max-faces", -1)):
        # Regression: tracebacks from OpenCV/numpy, a 20000x15000 sheet, or one face instead of all
        assert util("contact-sheet", "--input-dir", folder, "--output-file", tmp_path / "bad.png", *bad) == 1
    assert not (tmp_path / "bad.png").exists()


def test_contact_sheet_default_stays_out_of_the_frames_folder(real_faceset, tmp_path):
    # Regression: the default `<dir>_contact_sheet.png` of data_src/aligned landed among the frames of data_src/,
    # so the next extract found 12 "faces" in it (and merge would have turned it into a video frame).
    frames = tmp_path / "data_src"
    folder = real_faceset.copy_to(frames / "aligned", ("base",))
    cv2.imwrite(str(frames / "00001.png"), np.zeros((8, 8, 3), np.uint8))
    assert util("contact-sheet", "--input-dir", folder, "--thumb-size", 16) == 0
    assert [p.name for p in frames.iterdir() if p.is_file()] == ["00001.png"]
    assert (tmp_path / "data_src_aligned_contact_sheet.png").is_file()
    plain = real_faceset.copy_to(tmp_path / "faces", ("base",))  # no frames beside it: the sheet goes there
    assert util("contact-sheet", "--input-dir", plain, "--thumb-size", 16) == 0
    assert (tmp_path / "faces_contact_sheet.png").is_file()


def test_convert_png_to_jpg(faces):
    folder, fs = faces
    name = fs.groups["base"][0]
    image, meta = load_face(folder / name)
    (folder / name).unlink()
    save_face(folder / "face.png", image, meta)
    assert util("convert-png-to-jpg", "--input-dir", folder, "--jpeg-quality", 500) == 1  # was taken silently
    assert (folder / "face.png").exists()
    assert util("convert-png-to-jpg", "--input-dir", folder, "--jpeg-quality", 90) == 0
    assert not (folder / "face.png").exists()
    got_image, got = load_face(folder / "face.jpg")
    assert np.array_equal(got.landmarks, meta.landmarks) and np.abs(got_image.astype(int) - image).mean() < 8


def test_import_dfl_faceset(faces, tmp_path):
    folder, fs = faces
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in fs.groups["base"][:3]:
        image, meta = load_face(folder / name)
        d = {"face_type": meta.face_type, "landmarks": meta.landmarks.tolist(), "source_filename": meta.source_filename,
             "source_rect": np.array(meta.source_rect), "image_to_face_mat": meta.image_to_face_mat}
        (legacy / name).write_bytes(make_dfl_jpg(image, pickle.dumps(d, 3)))
    out = tmp_path / "imported"
    assert util("import-dfl-faceset", "--input-dir", legacy, "--output-dir", out) == 0
    for name in fs.groups["base"][:3]:
        data = (out / name).read_bytes()
        assert b"SAEHDBW-META" in data and b"\xff\xef" not in data[:data.index(b"\xff\xda")]
        got = read_meta(out / name)
        assert np.allclose(got.landmarks, read_meta(folder / name).landmarks)
        assert np.array_equal(load_face(out / name)[0], load_face(legacy / name)[0])  # pixels not recompressed
    assert util("import-dfl-faceset", "--input-dir", legacy) == 0  # in place
    assert b"SAEHDBW-META" in (legacy / fs.groups["base"][0]).read_bytes()


def test_faceset_resize_alias(faces, tmp_path):
    folder, fs = faces
    out = tmp_path / "small"
    assert util("faceset-resize", "--input-dir", folder, "--output-dir", out, "--image-size", 64,
                "--face-type", "same", "--workers", 1) == 0
    image, meta = load_face(out / fs.groups["base"][0])
    assert image.shape == (64, 64, 3)  # DFL's faceset resize keeps colour
    assert np.allclose(meta.landmarks, read_meta(folder / fs.groups["base"][0]).landmarks / 2, atol=1e-3)
    gray = tmp_path / "gray"
    assert util("faceset-resize", "--input-dir", folder, "--output-dir", gray, "--image-size", 64,
                "--face-type", "same", "--workers", 1, "--grayscale") == 0
    assert load_face(gray / fs.groups["base"][0])[0].shape == (64, 64)
    dfl_name = tmp_path / "facesettool"  # DeepFaceLab's `facesettool resize`
    assert cli.main(["facesettool", "resize", "--input-dir", str(folder), "--output-dir", str(dfl_name),
                     "--image-size", "96", "--face-type", "same", "--workers", "1"]) == 0
    assert load_face(dfl_name / fs.groups["base"][0])[0].shape == (96, 96, 3)


def _workspace(root):
    for rel in ("data_src/00001.png", "data_src/aligned/00001_0.jpg", "data_dst/00001.png",
                "data_dst/merged/00001.png", "model/SAEHDBW_data.json", "logs/run.log"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * 10)
    for rel in ("data_src.mp4", "data_dst.mov", "result.mp4", "notes.txt"):
        (root / rel).write_bytes(b"v" * 10)


def _files(root):
    """Files under `root`, leaving out the log files main.py itself appends to."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and (p.parent.name != "logs" or p.name == "run.log"))


def test_clear_workspace(tmp_path):
    root = tmp_path / "ws"
    _workspace(root)
    everything = _files(root)
    assert util("clear-workspace", "--workspace", root) == 1  # non-interactive without --yes: nothing deleted
    assert _files(root) == everything
    assert util("clear-workspace", "--input-dir", root, "--yes") == 0
    assert _files(root) == ["data_dst.mov", "data_src.mp4", "logs/run.log", "notes.txt"]
    for folder in ("data_src/aligned", "data_dst/aligned", "model"):
        assert (root / folder).is_dir() and not any((root / folder).iterdir())
    assert util("clear-workspace", "--workspace", tmp_path / "missing", "--yes") == 1
