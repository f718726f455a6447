"""`main.py xseg ...`: remove, remove-labels, fetch, the apply and editor parsers, and apply with a stand-in model.

`faces_with_labels` builds the test faceset (real whole-face faces with and without polygons and masks, a gray
PNG face, a plain picture and a damaged file); the apply test with a real trained XSeg model can reuse it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from core import config, interact
from facelib.landmarks import get_transform_mat
from facelib.meta import load_face, read_meta, save_face, write_meta
from mainscripts import xseg

LABELED = ["00000_0.jpg", "00002_0.jpg", "gray_0.png"]     # have polygons
MASKED = ["00000_0.jpg", "00001_0.jpg"]                    # have an applied mask
FACES = ["00000_0.jpg", "00001_0.jpg", "00002_0.jpg", "00003_0.jpg", "gray_0.png"]
OTHERS = ["notes.png", "broken.jpg"]                        # no face data / damaged


def faces_with_labels(whole_face_set, folder: Path) -> Path:
    """Copy the four 192 px whole-face faces into `folder` and vary what they carry (see LABELED, MASKED):
    00000 polygons + mask, 00001 mask only, 00002 polygons only, 00003 neither; gray_0.png is a gray copy of
    00003 with polygons. Also a picture without face data and a truncated JPG."""
    whole_face_set.copy_to(folder)
    for name, keep_polys, keep_mask in [("00001_0.jpg", False, True), ("00002_0.jpg", True, False),
                                        ("00003_0.jpg", False, False)]:
        meta = read_meta(folder / name)
        meta.xseg_polys = meta.xseg_polys if keep_polys else None
        meta.xseg_mask = meta.xseg_mask if keep_mask else None
        write_meta(folder / name, meta)
    image, meta = load_face(folder / "00003_0.jpg")
    meta.xseg_polys = [{"type": 1, "pts": meta.landmarks[[36, 39, 45, 42]]},
                       {"type": 0, "pts": meta.landmarks[[48, 51, 54, 57]]}]
    save_face(folder / "gray_0.png", cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), meta)
    cv2.imwrite(str(folder / "notes.png"), np.full((32, 32, 3), 200, np.uint8))
    (folder / "broken.jpg").write_bytes((folder / "00000_0.jpg").read_bytes()[:600])
    return folder


@pytest.fixture
def labeled(whole_face_set, tmp_path) -> Path:
    return faces_with_labels(whole_face_set, tmp_path / "aligned")


def run_xseg(*argv, interactive: bool = False) -> int:
    return cli.main(([] if interactive else ["--non-interactive"]) + ["xseg", *map(str, argv)])


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def pixels(path: Path) -> np.ndarray:
    return load_face(path)[0]


@pytest.fixture
def answers(monkeypatch):
    """Interactive prompts answered from this list (an exception in it is raised instead); the prompts seen."""
    fed: list = []
    seen: list[str] = []

    def read_line(prompt: str) -> str:
        seen.append(prompt)
        answer = fed.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    config.override(non_interactive=False)
    monkeypatch.setattr(interact, "read_line", read_line)
    yield fed, seen
    config.override(non_interactive=True)


# ---------------------------------------------------------------------------------------------- remove ---

def test_remove_deletes_masks_and_keeps_polygons(labeled, log_messages):
    before = snapshot(labeled)
    polys = {n: read_meta(labeled / n).xseg_polys for n in FACES}
    images = {n: pixels(labeled / n) for n in MASKED}
    assert run_xseg("remove", "--input-dir", labeled) == 0
    after = snapshot(labeled)
    assert set(after) == set(before)  # nothing added (no temp file left), nothing lost
    for name in FACES:
        meta = read_meta(labeled / name)
        assert meta.xseg_mask is None
        got, want = meta.xseg_polys, polys[name]
        assert (got is None) == (want is None)
        if want:
            assert [p["type"] for p in got] == [p["type"] for p in want]
            assert all(np.array_equal(a["pts"], b["pts"]) for a, b in zip(got, want))
    for name in MASKED:  # rewritten: metadata only, the pixels are the same
        assert after[name][0] != before[name][0]
        assert np.array_equal(pixels(labeled / name), images[name])
    for name in set(before) - set(MASKED):  # nothing to change: not written
        assert after[name] == before[name], name
    assert any("broken.jpg" in m for m in log_messages)
    assert any("Press enter to continue." in m for m in log_messages)
    assert "Removed the applied XSeg masks of 2 faces in" in "\n".join(log_messages)


@pytest.mark.parametrize("command", ["remove-labels", "remove_labels"])
def test_remove_labels_deletes_polygons_and_keeps_masks(labeled, command, log_messages):
    before = snapshot(labeled)
    masks = {n: read_meta(labeled / n).xseg_mask for n in MASKED}
    images = {n: pixels(labeled / n) for n in LABELED}
    assert run_xseg(command, "--input-dir", labeled) == 0
    after = snapshot(labeled)
    for name in FACES:
        meta = read_meta(labeled / name)
        assert meta.xseg_polys is None
        assert (meta.xseg_mask is None) == (name not in MASKED)
        if name in MASKED:
            assert np.array_equal(meta.xseg_mask, masks[name])
    for name in before:
        assert (after[name] == before[name]) == (name not in LABELED), name
    for name in LABELED:
        assert np.array_equal(pixels(labeled / name), images[name])
    assert "Removed the labeled XSeg polygons of 3 faces in" in "\n".join(log_messages)


def test_remove_waits_for_enter_and_ctrl_c_changes_nothing(labeled, answers):
    fed, seen = answers
    before = snapshot(labeled)
    fed.append(KeyboardInterrupt())
    assert run_xseg("remove", "--input-dir", labeled, interactive=True) == 130
    assert snapshot(labeled) == before
    assert seen == ["Press enter to continue. : "]
    fed.append("")
    assert run_xseg("remove-labels", "--input-dir", labeled, interactive=True) == 0
    assert all(read_meta(labeled / n).xseg_polys is None for n in FACES)


def test_missing_or_empty_folder_is_an_error(tmp_path):
    assert run_xseg("remove", "--input-dir", tmp_path / "nope") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_xseg("fetch", "--input-dir", empty) == 1


# ----------------------------------------------------------------------------------------------- fetch ---

def test_fetch_copies_labeled_faces_and_deletes_originals_by_default(labeled, log_messages):
    before = snapshot(labeled)
    assert run_xseg("fetch", "--input-dir", labeled) == 0
    out = labeled.parent / "aligned_xseg"
    assert sorted(p.name for p in out.iterdir()) == sorted(LABELED)
    for name in LABELED:
        assert (out / name).read_bytes() == before[name][0]
    assert sorted(p.name for p in labeled.iterdir()) == sorted(set(before) - set(LABELED))
    text = "\n".join(log_messages)
    assert "Copied 3 faces to" in text and "Deleted the 3 originals from" in text
    assert any("Delete original files?" in m and "(non-interactive, default)" in m for m in log_messages)


def test_fetch_keeps_originals_when_told(labeled, answers):
    fed, seen = answers
    before = snapshot(labeled)
    fed.append("n")
    assert run_xseg("fetch", "--input-dir", labeled, interactive=True) == 0
    assert seen == ["[y] Delete original files? ( y/n ?:help ) : "]
    assert snapshot(labeled) == before
    assert sorted(p.name for p in (labeled.parent / "aligned_xseg").iterdir()) == sorted(LABELED)
    assert run_xseg("fetch", "--input-dir", labeled, "--keep-originals") == 0
    assert snapshot(labeled) == before


def test_fetch_without_labels_asks_nothing(labeled, answers):
    fed, seen = answers
    fed.append("")
    assert run_xseg("remove-labels", "--input-dir", labeled, interactive=True) == 0
    before = snapshot(labeled)
    assert run_xseg("fetch", "--input-dir", labeled, interactive=True) == 0
    assert seen == ["Press enter to continue. : "]  # fetch asked nothing
    assert snapshot(labeled) == before
    assert not (labeled.parent / "aligned_xseg").exists()


# --------------------------------------------------------------------------------------- apply / editor ---

def parse(*argv):
    return cli.build_parser().parse_args(["xseg", *map(str, argv)])


def test_apply_and_editor_parsers(capsys):
    args = parse("apply", "--input-dir", "a", "--model-dir", "m", "--cpu-only", "--force-gpu-idxs", "1")
    assert (args.func, args.input_dir, args.model_dir, args.cpu_only, args.force_gpu_idxs, args.batch_size) == \
        (xseg.apply, "a", "m", True, "1", 8)
    assert parse("apply", "--input-dir", "a", "--model-dir", "m").cpu_only is False
    with pytest.raises(SystemExit):
        parse("apply", "--input-dir", "a")  # --model-dir is required
    assert parse("editor", "--input-dir", "a").func is xseg.editor
    assert parse("remove_labels", "--input-dir", "a").func is xseg.remove_labels
    with pytest.raises(SystemExit):
        parse("editor")
    capsys.readouterr()


def test_editor_without_a_display_is_a_one_line_error(labeled, log_messages):
    from core import config
    config.override(has_display=False)
    try:
        assert run_xseg("editor", "--input-dir", labeled) == 1
    finally:
        config.override(has_display=config.load_settings().has_display)
    assert "needs a display" in log_messages[-1]


class FakePredictor:
    """Stands in for models.xseg's predictor: `pattern(R)` is its output for every face; inputs are recorded."""

    def __init__(self, face_type: str, resolution: int, pattern):
        self.face_type, self.resolution, self.pattern = face_type, resolution, pattern
        self.batches: list[np.ndarray] = []

    def predict(self, faces: np.ndarray) -> np.ndarray:
        self.batches.append(faces)
        return np.repeat(self.pattern(self.resolution)[None, ..., None], len(faces), 0).astype(np.float32)


@pytest.fixture
def fake_model(monkeypatch, tmp_path):
    """Install a stand-in `models.xseg`; returns (model dir, set(face_type, resolution, pattern), loader calls)."""
    loads = []
    state = {}

    def load_xseg_predictor(model_dir, cpu_only: bool = False, force_gpu_idxs=None):
        loads.append((Path(model_dir), cpu_only, force_gpu_idxs))
        return state["predictor"]

    def use(face_type: str, resolution: int, pattern) -> FakePredictor:
        state["predictor"] = FakePredictor(face_type, resolution, pattern)
        return state["predictor"]

    import models.xseg  # (its module imports no TensorFlow: the model registry lists it for every parser)
    monkeypatch.setattr(models.xseg, "load_xseg_predictor", load_xseg_predictor)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    force_cpu = config.settings().force_cpu  # --cpu-only changes it for the whole process
    yield model_dir, use, loads
    config.override(force_cpu=force_cpu)


def left_half(r: int) -> np.ndarray:
    out = np.zeros((r, r), np.float32)
    out[:, : r // 2] = 0.9
    out[:, r // 2:] = 0.05
    return out


def test_apply_same_face_type_stores_the_prediction(labeled, fake_model, log_messages):
    model_dir, use, loads = fake_model
    predictor = use("whole_face", 64, left_half)
    before = snapshot(labeled)
    images = {n: pixels(labeled / n) for n in FACES}
    assert run_xseg("apply", "--input-dir", labeled, "--model-dir", model_dir, "--batch-size", 3,
                    "--force-gpu-idxs", "0") == 0
    assert loads == [(model_dir, False, "0")]
    assert [len(b) for b in predictor.batches] == [3, 2]
    for batch in predictor.batches:
        assert batch.dtype == np.float32 and batch.shape[1:] == (64, 64, 3)
        assert 0 <= batch.min() and batch.max() <= 1 and batch.max() > 0.5
    gray = predictor.batches[1][-1]  # gray_0.png comes last
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 0], gray[..., 2])
    want = np.zeros((256, 256), np.float32)
    want[:, :128] = 1
    for name in FACES:
        meta = read_meta(labeled / name)
        assert meta.xseg_mask.shape == (256, 256)
        assert np.array_equal(meta.xseg_mask, want), name
        assert np.array_equal(pixels(labeled / name), images[name])
        assert (meta.xseg_polys is None) == (name not in LABELED)
    after = snapshot(labeled)
    for name in OTHERS:
        assert after[name] == before[name]
    assert set(after) == set(before)
    assert any("broken.jpg" in m for m in log_messages)
    assert "Applied XSeg to 5 faces in" in log_messages[-1] and "skipped 2" in log_messages[-1]  # notes, broken

    before = snapshot(labeled)  # the same model again: nothing to change, nothing written
    assert run_xseg("apply", "--input-dir", labeled, "--model-dir", model_dir) == 0
    assert snapshot(labeled) == before
    assert "5 already had that mask" in log_messages[-1]


def test_apply_other_face_type_maps_the_crop_back(labeled, fake_model):
    """A full-face model on whole-face faces: its output (all face) covers exactly the full-face square."""
    model_dir, use, loads = fake_model
    predictor = use("full_face", 96, lambda r: np.ones((r, r), np.float32))
    assert run_xseg("apply", "--input-dir", labeled, "--model-dir", model_dir, "--cpu-only") == 0
    assert loads == [(model_dir, True, None)]
    assert len(predictor.batches) == 1 and predictor.batches[0].shape == (5, 96, 96, 3)
    for name in FACES:
        image, meta = load_face(labeled / name)
        mat = get_transform_mat(meta.landmarks * (256 / image.shape[1]), 256, "full_face")
        want = cv2.warpAffine(np.ones((256, 256), np.float32), mat, (256, 256), flags=cv2.WARP_INVERSE_MAP)
        got = meta.xseg_mask
        iou = np.logical_and(got > 0.5, want > 0.5).sum() / np.logical_or(got > 0.5, want > 0.5).sum()
        assert iou > 0.97, (name, iou)
        assert got[128, 128] == 1 and got[0, 0] == 0 and got[255, 255] == 0
        assert 0.2 < got.mean() < 0.8  # a full face is a part of the whole-face picture, not all of it


def test_apply_needs_the_model_folder(labeled, fake_model):
    model_dir, use, loads = fake_model
    use("whole_face", 64, left_half)
    assert run_xseg("apply", "--input-dir", labeled, "--model-dir", model_dir / "missing") == 1
    assert run_xseg("apply", "--input-dir", labeled, "--model-dir", model_dir, "--batch-size", 0) == 1
    assert loads == []
