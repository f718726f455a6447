"""The swap-quality measures (core/imagelib/quality.py) and `bench/quality.py --measure-workspace` on a real face
pasted over another real face, and on a broken merge (no face left), which must fail loudly."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.imagelib import quality as Q
from facelib.landmarks import get_transform_mat
from facelib.meta import read_meta
from tests.fixtures_merge import write_aligned

ROOT = Path(__file__).resolve().parents[1]


def test_sharpness_falls_with_blur_and_seam_rises_with_a_hard_paste(hopper_bgr, merge_scene):
    hull = Q.hull_mask(hopper_bgr.shape, merge_scene.landmarks)
    blurred = cv2.GaussianBlur(hopper_bgr, (0, 0), 3)
    assert Q.laplacian_variance(blurred, hull) < 0.2 * Q.laplacian_variance(hopper_bgr, hull)
    # A flat grey face pasted through a hard mask: the edge of the mask carries all the gradient.
    pasted = hopper_bgr.copy()
    pasted[hull > 0] = 128
    assert Q.seam_energy(pasted, hull * 255, hull) > 3 * Q.seam_energy(hopper_bgr, hull * 255, hull)
    assert Q.untouched_difference(pasted, hopper_bgr, hull) == 0
    assert Q.untouched_difference(pasted, hopper_bgr, np.zeros_like(hull)) > 0
    assert np.allclose(Q.mean_colour(pasted, hull), 128)


def _paste(frame: np.ndarray, landmarks: np.ndarray, face: np.ndarray, face_mask: np.ndarray) -> np.ndarray:
    """The aligned `face` (float 0..1, full_face 128 px) warped onto the frame's face through its feathered mask."""
    mat = get_transform_mat(landmarks, 128, "full_face")
    h, w = frame.shape[:2]
    warped = cv2.warpAffine(face, mat, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_CUBIC)
    mask = cv2.warpAffine(face_mask.astype(np.float32), mat, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)
    mask = cv2.GaussianBlur(mask, (0, 0), 2)[..., None]
    return np.clip(frame * (1 - mask) + warped * 255 * mask, 0, 255).astype(np.uint8)


def _measure(ws: Path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), "--measure-workspace", str(ws)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def swapped_workspace(tmp_path, merge_workspace, merge_scene, astronaut_bgr, dlib_landmarker) -> Path:
    """A workspace whose merged frames carry the astronaut's face over Grace Hopper's, and astronaut src faces."""
    ws = tmp_path / "ws"
    shutil.copytree(merge_workspace / "data_dst", ws / "data_dst")
    (ws / "data_src" / "aligned").mkdir(parents=True)
    write_aligned(ws / "data_src" / "aligned", "src.png", astronaut_bgr, dlib_landmarker.largest(astronaut_bgr))
    merged, masks = ws / "data_dst" / "merged", ws / "data_dst" / "merged_mask"
    merged.mkdir()
    masks.mkdir()
    face_mask = merge_scene.src_mask.reshape(128, 128)
    for aligned in sorted((ws / "data_dst" / "aligned").glob("*.jpg")):
        meta = read_meta(aligned)
        frame = cv2.imread(str(ws / "data_dst" / meta.source_filename))
        cv2.imwrite(str(merged / meta.source_filename),
                    _paste(frame, meta.source_landmarks, merge_scene.src_face, face_mask))
        cv2.imwrite(str(masks / meta.source_filename), Q.hull_mask(frame.shape, meta.source_landmarks) * 255)
    return ws


def test_measure_workspace_reads_a_pasted_face_as_the_src_person(swapped_workspace):
    run = _measure(swapped_workspace)
    assert run.returncode == 0, run.stderr[-2000:]
    row = json.loads(run.stdout)
    assert row["frames"] == 5 and row["faces_found"] >= 4
    assert row["recognized_as_src"] >= 0.8 and row["dist_src"] < row["dist_dst"]
    assert row["untouched_max"] == 0
    assert 0.2 < row["sharpness"] < 5
    # The pasted face is the src person's own: it holds about the detail the src faces hold at that size.
    assert 0.3 < row["sharpness_vs_src"] < 3 and row["src_detail"] > 0


def test_measure_workspace_fails_loudly_when_no_face_is_left(swapped_workspace):
    merged = swapped_workspace / "data_dst" / "merged"
    for path in merged.glob("*.png"):
        frame = cv2.imread(str(path))
        cv2.imwrite(str(path), np.full_like(frame, 90))
    run = _measure(swapped_workspace)
    assert run.returncode == 1
    assert "no face found in any merged frame" in run.stderr and "Traceback" not in run.stderr


def test_configs_name_the_demo_a_preset_or_a_json_file(tmp_path):
    from bench.quality import train_options
    from core.errors import UserError
    from mainscripts.demo import DEMO_RESOLUTION
    assert train_options("demo")["resolution"] == DEMO_RESOLUTION
    changed = train_options("demo:resolution=96,eyes_mouth_prio=true")
    assert changed["resolution"] == 96 and changed["eyes_mouth_prio"] is True
    assert train_options("BW192")["resolution"] == 192 and train_options("BW192")["face_type"] == "mf"
    path = tmp_path / "mine.json"
    path.write_text('\ufeff{"resolution": 160, "ae_dims": 64}', encoding="utf-8")
    assert train_options(str(path)) == {"resolution": 160, "ae_dims": 64}
    with pytest.raises(UserError, match="not `demo`, a preset"):
        train_options("nothing_here")


def test_each_config_flag_is_one_config_or_plain_names():
    from bench.quality import config_names
    assert config_names(["demo:resolution=128,eyes_mouth_prio=true", "demo,BW96"]) == [
        "demo:resolution=128,eyes_mouth_prio=true", "demo", "BW96"]


def test_the_curve_plot_has_one_line_per_config_and_the_src_detail_ceiling(tmp_path):
    from bench.quality import plot_curve
    rows = [{"config": name, "minutes": minutes, "iterations": 10 * minutes, "dist_src": 0.5 - minutes / 100,
             "sharpness": 0.02 * minutes, "sharpness_vs_src": 0.1 * minutes, "src_detail": 0.15}
            for name in ("demo", "r96") for minutes in (2.0, 5.0)]
    out = plot_curve(rows, tmp_path / "curve.png")
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > 2 * image.shape[0]     # three panels side by side
    assert len({tuple(c) for c in image.reshape(-1, 3)[::7]}) > 20       # lines and labels, not a blank canvas
