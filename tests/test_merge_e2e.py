"""End to end: train a tiny real SAEHDBW model for a few iterations on the tiny workspace, merge every dst frame
into colour frames (luma), and encode result.mp4 with the dst audio and the provenance tag."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

import main as cli

TINY_MODEL = {"resolution": 64, "face_type": "f", "archi": "df", "ae_dims": 32, "e_dims": 16, "d_dims": 16,
              "d_mask_dims": 16, "batch_size": 4, "target_iter": 3, "write_preview_history": False}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_merge_and_make_the_result_video(tiny_workspace, tmp_path):
    from core.ffmpeg import PROVENANCE_TEXT, probe
    from core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    shutil.copytree(tiny_workspace.data_dst, ws.data_dst, ignore=shutil.ignore_patterns("merged*", "predicted"))
    shutil.copy(tiny_workspace.video("data_dst"), ws.root)
    options = tmp_path / "tiny.json"
    options.write_text(json.dumps(TINY_MODEL))
    assert cli.main(["--non-interactive", "train", "--training-data-src-dir", str(tiny_workspace.src_aligned),
                     "--training-data-dst-dir", str(ws.dst_aligned), "--model-dir", str(ws.model),
                     "--model", "SAEHDBW", "--config-file", str(options), "--force-model-name", "tiny",
                     "--no-preview"]) == 0

    assert cli.main(["--non-interactive", "merge", "--input-dir", str(ws.data_dst), "--output-dir", str(ws.merged),
                     "--output-mask-dir", str(ws.merged_mask), "--aligned-dir", str(ws.dst_aligned),
                     "--model-dir", str(ws.model), "--model", "SAEHDBW", "--force-model-name", "tiny",
                     "--workers", "2", "--mask-mode", "learned-prd*learned-dst", "--blur-mask-modifier", "8"]) == 0
    frames = sorted(p.name for p in ws.data_dst.glob("*.png"))
    assert sorted(p.name for p in ws.merged.glob("*.png")) == frames
    assert sorted(p.name for p in ws.merged_mask.glob("*.png")) == frames
    changed = 0
    for name in frames:
        out, src = cv2.imread(str(ws.merged / name)), cv2.imread(str(ws.data_dst / name))
        mask = cv2.imread(str(ws.merged_mask / name), cv2.IMREAD_GRAYSCALE)
        assert out.shape == src.shape                                   # colour frames from a gray model
        np.testing.assert_array_equal(out[mask == 0], src[mask == 0])
        changed += int(mask.max() > 0 and np.abs(out.astype(int) - src.astype(int)).max() > 10)
    assert changed >= len(frames) // 2

    assert cli.main(["--non-interactive", "video", "video-from-sequence", "--input-dir", str(ws.merged),
                     "--output-file", str(ws.result), "--reference-file", str(ws.video("data_dst")),
                     "--include-audio", "--bitrate", "2"]) == 0
    info = probe(ws.result)
    assert (info.width, info.height, info.frame_count) == (*src.shape[1::-1], len(frames))
    assert info.has_audio
    assert any(PROVENANCE_TEXT in str(v) for v in info.tags.values())

    # The precomputed two-pass workflow with the same model: pass 1 writes the gray faces, pass 2 merges them
    # (with gamma stabilization and mask smoothing) without loading the model.
    common = ["--non-interactive", "merge", "--input-dir", str(ws.data_dst), "--output-dir", str(tmp_path / "m2"),
              "--output-mask-dir", str(tmp_path / "m2_mask"), "--model-dir", str(ws.model), "--model", "SAEHDBW",
              "--force-model-name", "tiny", "--bw-output", "precomputed", "--workers", "1"]
    assert cli.main(common) == 0
    predicted = sorted(p.name for p in ws.predicted.glob("*.png"))
    assert len(predicted) >= len(frames) - 1 and not (tmp_path / "m2").exists()
    face = cv2.imread(str(ws.predicted / predicted[0]), cv2.IMREAD_UNCHANGED)
    assert face.shape == (64, 64)                                         # one channel, model resolution
    assert cli.main(common + ["--stabilize-gamma", "--smooth-mask", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "m2").glob("*.png")) == frames
