"""Session fixtures over the footage corpus (core/sample_footage.py): each short clip written as a video, its
frames and aligned faces made by the CLI, a tiny SAEHDBW model trained with a dst faceset of two people, and a
tiny XSeg model. All read-only: copy what you modify."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli

TEST_FRAMES = {"group": 4, "huge_face": 4, "odd_size": 4}   # shorter takes of the large clips
FACE_SIZE = 128
TINY_SAEHDBW = {"resolution": 64, "face_type": "f", "archi": "df", "ae_dims": 32, "e_dims": 16, "d_dims": 16,
                "d_mask_dims": 16, "batch_size": 4, "target_iter": 2, "write_preview_history": False}
TINY_XSEG = {"face_type": "f", "batch_size": 4, "resolution": 64, "base_ch": 4, "target_iter": 2}


def run_cli(*argv) -> int:
    return cli.main(["--non-interactive", *map(str, argv)])


@dataclass
class FootageShot:
    """A corpus clip after `video extract-video` and `extract`: `frames/` (PNG) and `frames/aligned/`."""

    clip: object          # core.sample_footage.Clip
    root: Path

    @property
    def frames(self) -> Path:
        return self.root / "frames"

    @property
    def aligned(self) -> Path:
        return self.frames / "aligned"

    def frame_paths(self) -> list[Path]:
        return sorted(self.frames.glob("*.png"))

    def copy_to(self, folder: Path) -> "FootageShot":
        shutil.copytree(self.root, folder)
        return FootageShot(self.clip, folder)


def aligned_faces(folder: Path) -> dict[str, list[np.ndarray]]:
    """Frame stem -> source landmarks of the aligned faces of `folder` (files or faceset.pak)."""
    from mainscripts.merge import load_alignments
    return {stem: [f.landmarks for f in faces] for stem, faces in load_alignments(folder).items()}


def face_owner(landmarks: np.ndarray, truths) -> int | None:
    """Index of the true face whose box (grown by a sixth) holds the landmarks' centre."""
    cx, cy = np.asarray(landmarks).mean(axis=0)
    for k, t in enumerate(truths):
        x0, y0, x1, y1 = t.box
        m = t.size / 6
        if x0 - m <= cx <= x1 + m and y0 - m <= cy <= y1 + m:
            return k
    return None


@pytest.fixture(scope="session")
def footage_clip(tmp_path_factory):
    """name -> the corpus clip written as a video (built once per session)."""
    from core.sample_footage import build_clip
    folder = tmp_path_factory.mktemp("footage")
    built = {}

    def get(name: str):
        if name not in built:
            built[name] = build_clip(name, folder, frames=TEST_FRAMES.get(name))
        return built[name]
    return get


@pytest.fixture(scope="session")
def footage_shot(tmp_path_factory, footage_clip):
    """name -> `FootageShot`: the clip's frames (video extract-video) and aligned full faces of 128 px (extract,
    the default detector), made through the CLI once per session."""
    shots = {}

    def get(name: str) -> FootageShot:
        if name not in shots:
            clip = footage_clip(name)
            shot = FootageShot(clip, tmp_path_factory.mktemp(f"shot_{name}"))
            assert run_cli("video", "extract-video", "--input-file", clip.path, "--output-dir", shot.frames,
                           "--output-ext", "png") == 0
            assert run_cli("extract", "--input-dir", shot.frames, "--output-dir", shot.aligned, "--face-type", "f",
                           "--image-size", FACE_SIZE, "--no-output-debug") == 0
            shots[name] = shot
        return shots[name]
    return get


@pytest.fixture(scope="session")
def footage_model(tmp_path_factory, footage_shot, tiny_workspace):
    """A tiny SAEHDBW model (2 iterations) trained through the CLI with the astronaut as src and the two-shot's
    faces (two people) as dst. Returns the model folder (model name `tiny`)."""
    from tests.fixtures_training import training_test_settings
    folder = tmp_path_factory.mktemp("footage_model")
    options = folder / "tiny.json"
    options.write_text(json.dumps(TINY_SAEHDBW))
    with training_test_settings():
        assert run_cli("train", "--training-data-src-dir", tiny_workspace.src_aligned, "--training-data-dst-dir",
                       footage_shot("two_shot").aligned, "--model-dir", folder / "model", "--model", "SAEHDBW",
                       "--config-file", options, "--force-model-name", "tiny", "--no-preview") == 0
    return folder / "model"


@pytest.fixture(scope="session")
def footage_xseg(tmp_path_factory, footage_shot):
    """A tiny XSeg model (2 iterations) trained through the CLI on the two-shot's faces labelled with the hull of
    their landmarks. Returns the model folder."""
    from facelib.meta import read_meta, write_meta
    from tests.fixtures_training import training_test_settings
    folder = tmp_path_factory.mktemp("footage_xseg")
    labelled = folder / "labelled"
    shutil.copytree(footage_shot("two_shot").aligned, labelled)
    for path in sorted(labelled.glob("*.jpg")):
        meta = read_meta(path)
        meta.xseg_polys = [{"type": 1, "pts": cv2.convexHull(meta.landmarks.astype(np.float32))[:, 0]}]
        write_meta(path, meta)
    options = folder / "xseg.json"
    options.write_text(json.dumps(TINY_XSEG))
    with training_test_settings():
        assert run_cli("train", "--model", "XSeg", "--no-preview", "--training-data-src-dir", labelled,
                       "--training-data-dst-dir", labelled, "--model-dir", folder / "model",
                       "--config-file", options) == 0
    return folder / "model"
