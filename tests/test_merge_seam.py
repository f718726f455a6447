"""Step 7 with its default answers hides the mask edge as well as the demo's hand-tuned merge does (issue 26).

The seam measure of a merged frame: the gradient energy in a band along the face mask's edge over the gradient
energy inside the face, divided by the same ratio of the dst frame (1.0: no edge the dst frame did not have). A
tiny SAEHDBW trained on the real tiny workspace merges its dst frames three ways through the CLI: with DFL's hard
edge (erode 0, blur 0), with the default answers, and with the demo's settings file.
"""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

import main as cli
from core.workspace import Workspace
from facelib.landmarks import get_image_hull_mask
from facelib.meta import read_meta
from mainscripts import demo
from merger.config import MergerConfig, edge_defaults
from tests.fixtures_training import training_test_settings

TINY = {"resolution": 64, "face_type": "f", "archi": "df-ud", "ae_dims": 32, "e_dims": 16, "d_dims": 16,
        "d_mask_dims": 16, "batch_size": 4, "target_iter": 40, "random_warp": False, "write_preview_history": False}


def seam_measure(merged: np.ndarray, dst: np.ndarray, landmarks: np.ndarray) -> float:
    """(edge-band / inside-face gradient energy) of `merged` over that of `dst`, around the landmark hull."""
    hull = (get_image_hull_mask(dst.shape[:2], landmarks)[..., 0] > 0.5).astype(np.uint8)
    width = max(2, round(0.05 * np.sqrt(hull.sum())))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    band = (cv2.dilate(hull, disc) > 0) & (cv2.erode(hull, disc) == 0)
    inside = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (6 * width + 1, 6 * width + 1))) > 0

    def ratio(image: np.ndarray) -> float:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        energy = cv2.Sobel(gray, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(gray, cv2.CV_32F, 0, 1) ** 2
        return float(energy[band].mean() / max(energy[inside].mean(), 1e-6))

    return ratio(merged) / ratio(dst)


@pytest.fixture(scope="module")
def trained(tiny_workspace, tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("seam") / "ws")
    ws.root.mkdir()
    shutil.copytree(tiny_workspace.data_dst, ws.data_dst, ignore=shutil.ignore_patterns("merged*", "predicted"))
    config = ws.root / "tiny.json"
    config.write_text(json.dumps(TINY))
    with training_test_settings():
        assert cli.main(["--non-interactive", "train", "--training-data-src-dir", str(tiny_workspace.src_aligned),
                         "--training-data-dst-dir", str(ws.dst_aligned), "--model-dir", str(ws.model), "--model",
                         "SAEHDBW", "--config-file", str(config), "--no-preview"]) == 0
    return ws


def merge_and_measure(ws: Workspace, name: str, *flags: str) -> float:
    """Merge as `7) merge SAEHDBW` does (its flags, no answers typed) plus `flags`; the mean seam measure."""
    out = ws.root / name
    with training_test_settings():
        assert cli.main(["--non-interactive", "merge", "--input-dir", str(ws.data_dst), "--output-dir", str(out),
                         "--output-mask-dir", str(ws.root / f"{name}_mask"), "--aligned-dir", str(ws.dst_aligned),
                         "--model-dir", str(ws.model), "--model", "SAEHDBW", "--bw-output", "luma", "--workers", "1",
                         *flags]) == 0
    measures = []
    for face in sorted(ws.dst_aligned.glob("*.jpg")):
        meta = read_meta(face)
        frame = meta.source_filename
        measures.append(seam_measure(cv2.imread(str(out / frame)), cv2.imread(str(ws.data_dst / frame)),
                                     meta.source_landmarks))
    assert len(measures) >= 10
    return float(np.mean(measures))


@pytest.mark.slow
def test_default_merge_hides_the_seam_as_well_as_the_demo(trained: Workspace, log_messages):
    hard = merge_and_measure(trained, "hard", "--erode-mask-modifier", "0", "--blur-mask-modifier", "0")
    default = merge_and_measure(trained, "default")
    expected = edge_defaults(TINY["resolution"])
    assert f"Choose blur mask modifier ( 0-400 ?:help ) : {expected['blur_mask_modifier']}" in "\n".join(log_messages)
    tuned = merge_and_measure(trained, "demo", "--config-file", str(demo.write_merge_config(trained, demo.DemoPlan())))
    print(f"seam measure (merged vs dst, 1.0 = no added edge): hard edge {hard:.3f}, default answers {default:.3f}, "
          f"demo's settings {tuned:.3f}")
    assert hard > 1.2 * tuned            # the measure sees the seam of a hard edge
    assert default <= tuned


def test_default_mask_edge_scales_with_the_face_and_keeps_what_the_user_sets():
    small, big = edge_defaults(100), edge_defaults(400)
    assert big["blur_mask_modifier"] == 4 * small["blur_mask_modifier"] > 0
    assert big["erode_mask_modifier"] == 4 * small["erode_mask_modifier"] > 0
    assert edge_defaults(640)["blur_mask_modifier"] == 400                   # kept inside DFL's range
    assert edge_defaults(None) == {} and MergerConfig().blur_mask_modifier == 0   # DFL's dataclass defaults stay
    assert MergerConfig.batch_defaults(128).blur_mask_modifier == edge_defaults(128)["blur_mask_modifier"]
    from mainscripts.merge import ask_config
    assert ask_config({"blur_mask_modifier": 0, "erode_mask_modifier": 3}, 128).blur_mask_modifier == 0
    assert ask_config({"erode_mask_modifier": 3}, 128).erode_mask_modifier == 3
