"""`main.py merge` from the command line: flags, config files with per-frame configs, frame ranges, the
precomputed pass 2 (no model needed), prompts and user errors."""
from __future__ import annotations

import json
import shlex
import shutil

import cv2
import numpy as np
import pytest

import main as cli
from core import config, interact
from mainscripts.merge import ask_config, load_alignments
from merger.config import MergerConfig
from merger.frames import RunOptions, build_frames
from merger.loop import Merger
from tests.fixtures_merge import RealFaceSource


@pytest.fixture()
def ws(merge_workspace, tmp_path, merge_scene):
    """A workspace copy whose data_dst/predicted holds pass-1 faces of the real-face source (gray, like SAEHDBW)."""
    root = tmp_path / "ws"
    shutil.copytree(merge_workspace, root)
    frames = build_frames(root / "data_dst", load_alignments(root / "data_dst/aligned"))
    merger = Merger(frames, [MergerConfig()] * len(frames), RealFaceSource(merge_scene, channels=1),
                    RunOptions(root / "unused"))
    assert merger.export_predictions(frames, root / "data_dst/predicted") == 5
    return root


def _merge(ws, *extra):
    return cli.main(["--non-interactive", "merge", "--input-dir", str(ws / "data_dst"), "--model", "SAEHDBW",
                     "--bw-output", "precomputed", "--workers", "1", "--mask-mode", "dst", *extra])


def _img(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_precomputed_pass_two_merges_without_a_model(ws, log_messages):
    (ws / "data_dst.mp4").write_bytes(b"")  # the dst video: the printed next step takes its fps and audio
    assert _merge(ws, "--color-transfer-mode", "rct", "--blur-mask-modifier", "10") == 0
    merged = sorted(p.name for p in (ws / "data_dst/merged").glob("*.png"))
    assert merged == [f"{i:05d}.png" for i in range(1, 7)]
    assert len(list((ws / "data_dst/merged_mask").iterdir())) == 6
    out, src = _img(ws / "data_dst/merged/00001.png"), _img(ws / "data_dst/00001.png")
    assert out.shape == src.shape and np.abs(out.astype(int) - src.astype(int)).max() > 30
    text = "\n".join(log_messages)
    assert "video video-from-sequence" in text and "result.mp4" in text
    assert f"--reference-file {ws / 'data_dst.mp4'} --include-audio" in text
    assert "blur_mask_modifier" in text and ": 10" in text      # the config summary was printed


def test_frames_outside_a_workspace_are_laid_out_beside_themselves(ws, tmp_path, monkeypatch, log_messages):
    clip = tmp_path / "my clip" / "frames"
    shutil.copytree(ws / "data_dst", clip)       # frames, aligned/ and predicted/, no workspace around them
    monkeypatch.chdir(tmp_path / "my clip")      # (no ./workspace either)
    argv = ["--non-interactive", "merge", "--input-dir", str(clip), "--model", "SAEHDBW", "--bw-output",
            "precomputed", "--workers", "1", "--mask-mode", "dst"]
    assert cli.main(argv) == 0
    assert len(list((clip / "merged").glob("*.png"))) == 6 and len(list((clip / "merged_mask").glob("*.png"))) == 6
    text = "\n".join(log_messages)
    assert f"--output-file {shlex.quote(str(clip.parent / 'result.mp4'))}" in text
    assert "--reference-file" not in text and "data_dst" not in text and "workspace" not in text

    (clip.parent / "frames.mkv").write_bytes(b"")  # the clip's own video: the hint takes its fps and audio
    log_messages.clear()
    assert cli.main([*argv, "--force"]) == 0
    assert f"--reference-file {shlex.quote(str(clip.parent / 'frames.mkv'))} --include-audio" in "\n".join(log_messages)


def test_masks_go_beside_an_output_folder_of_ones_own(ws, tmp_path, log_messages):
    out = tmp_path / "elsewhere" / "frames"
    assert _merge(ws, "--output-dir", str(out), "--frames", "1-2") == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["00001.png", "00002.png"]
    assert sorted(p.name for p in (tmp_path / "elsewhere" / "frames_mask").glob("*.png")) == ["00001.png", "00002.png"]
    assert not (ws / "data_dst/merged_mask").exists() and "frames_mask" in "\n".join(log_messages)


def test_config_file_with_per_frame_configs_and_a_range(ws):
    cfg_file = ws / "merge.json"
    cfg_file.write_text(json.dumps({"config": {"mode": "overlay", "mask_mode": "dst", "color_transfer_mode": "none"},
                                    "frames": {"00003.png": {"mode": "original"}}}))
    assert _merge(ws, "--config-file", str(cfg_file), "--frames", "2-4") == 0
    assert sorted(p.name for p in (ws / "data_dst/merged").glob("*.png")) == ["00002.png", "00003.png", "00004.png"]
    np.testing.assert_array_equal(_img(ws / "data_dst/merged/00003.png"), _img(ws / "data_dst/00003.png"))
    np.testing.assert_array_equal(_img(ws / "data_dst/merged/00004.png"), _img(ws / "data_dst/00004.png"))
    assert not np.array_equal(_img(ws / "data_dst/merged/00002.png"), _img(ws / "data_dst/00002.png"))
    assert _img(ws / "data_dst/merged_mask/00003.png").max() > 200   # the mask is still written


def test_gray_output_flag_and_resume(ws):
    assert _merge(ws, "--frames", "1") == 0
    stamp = (ws / "data_dst/merged/00001.png").stat().st_mtime_ns
    assert _merge(ws) == 0
    assert (ws / "data_dst/merged/00001.png").stat().st_mtime_ns == stamp
    assert _img(ws / "data_dst/merged/00002.png").ndim == 3        # luma: colour output
    for p in (ws / "data_dst/merged").iterdir():
        p.unlink()
    assert cli.main(["--non-interactive", "merge", "--input-dir", str(ws / "data_dst"), "--model", "SAEHDBW",
                     "--bw-output", "gray", "--workers", "1", "--model-dir", str(ws / "nope")]) == 1


def test_user_errors(ws, tmp_path, log_messages):
    assert cli.main(["--non-interactive", "merge", "--input-dir", str(tmp_path / "missing"), "--model", "SAEHD"]) == 1
    assert "input frame folder not found" in "\n".join(log_messages)
    assert _merge(ws, "--frames", "90-99") == 1
    assert "no frames selected" in "\n".join(log_messages)
    config.override(has_display=False)
    try:
        assert _merge(ws, "--interactive") == 1
        assert "needs a display" in "\n".join(log_messages)
    finally:
        config.override(has_display=config.load_settings().has_display)
    (ws / "bad.json").write_text("[1, 2]")
    assert _merge(ws, "--config-file", str(ws / "bad.json")) == 1
    assert "bad.json" in "\n".join(log_messages)


def test_prompts_follow_dfl_order_and_flags_skip_them(monkeypatch):
    answers = ["2", "n", "200", "learned-dst", "5", "10", "0", "-3", "sot-m", "1", "7", "0", "0", "50"]
    prompts = []

    def reader(prompt):
        prompts.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr(interact, "read_line", reader)
    config.override(non_interactive=False)
    try:
        cfg = ask_config({})
        assert (cfg.mode, cfg.masked_hist_match, cfg.hist_match_threshold, cfg.mask_mode) == (
            "hist-match", False, 200, "learned-dst")
        assert (cfg.erode_mask_modifier, cfg.blur_mask_modifier, cfg.output_face_scale) == (5, 10, -3)
        assert (cfg.color_transfer_mode, cfg.sharpen_mode, cfg.blursharpen_amount) == ("sot-m", "box", 7)
        assert cfg.color_degrade_power == 50 and not answers
        assert "Choose mode" in prompts[0] and "Masked hist match" in prompts[1]
        prompts.clear()
        answers.extend(["0", "0"])
        cfg = ask_config({"mode": "raw-rgb", "mask_mode": "dst"})
        assert cfg.mode == "raw-rgb" and len(prompts) == 2        # face scale and sharpen mode only
    finally:
        config.override(non_interactive=True)
    assert ask_config({}) == MergerConfig.batch_defaults()


def test_interactive_session_is_saved_and_then_merged(ws, monkeypatch):
    """--interactive with a display: the window (replaced by a script of key presses) sets frame 3 to
    `original`, then Enter merges everything with the per-frame configs, which are saved to merge.json."""
    import mainscripts.merge as merge_script

    def fake_window(state, render, save):
        image, mask = render(state.index, state.cfg)
        assert image.shape == (240, 320, 3) and mask.max() > 0.5
        for key in ("tab", ".", ".", "`", ".", "1", "enter"):
            state.handle(key)
        save(state)
        return "process"

    monkeypatch.setattr(merge_script, "run_window", fake_window)
    config.override(has_display=True)
    try:
        assert _merge(ws, "--interactive", "--color-transfer-mode", "none") == 0
    finally:
        config.override(has_display=config.load_settings().has_display)
    session = json.loads((ws / "data_dst/merge.json").read_text())
    assert session["frames"]["00003.png"]["mode"] == "original"
    assert session["frames"]["00004.png"]["mode"] == "overlay"
    np.testing.assert_array_equal(_img(ws / "data_dst/merged/00003.png"), _img(ws / "data_dst/00003.png"))
    assert not np.array_equal(_img(ws / "data_dst/merged/00004.png"), _img(ws / "data_dst/00004.png"))


def test_xseg_mask_modes_stop_before_merging(ws, log_messages):
    assert _merge(ws, "--mask-mode", "XSeg-dst") == 1
    assert "XSeg" in "\n".join(log_messages) and not (ws / "data_dst/merged").exists()


def test_settings_are_checked_before_the_model_loads(ws, tmp_path, log_messages):
    """A wrong config file is reported first, before any model folder is looked at."""
    missing_model = ["--bw-output", "luma", "--model-dir", str(tmp_path / "no_model")]
    assert _merge(ws, "--config-file", str(tmp_path / "nope.json"), *missing_model) == 1
    assert "nope.json" in "\n".join(log_messages) and "model folder" not in "\n".join(log_messages)


def test_a_missing_model_folder_is_reported_before_any_question(ws, tmp_path, log_messages):
    assert _merge(ws, "--bw-output", "luma", "--model-dir", str(tmp_path / "no_model")) == 1
    assert f"{tmp_path / 'no_model'}: model folder not found" in "\n".join(log_messages)
    assert "Choose mode" not in "\n".join(log_messages)


def test_resume_redoes_frames_whose_source_or_settings_changed(ws, log_messages):
    """A re-run skips frames merged with the same faces and settings; other settings or edited predicted faces
    (for a model: more training) merge them again. Another model class never counts as done."""
    merged = ws / "data_dst/merged"
    assert _merge(ws) == 0
    first = {p.name: p.stat().st_mtime_ns for p in merged.glob("*.png")}
    assert _merge(ws) == 0 and "already merged" in "\n".join(log_messages)
    assert {p.name: p.stat().st_mtime_ns for p in merged.glob("*.png")} == first
    assert _merge(ws, "--frames", "2", "--blur-mask-modifier", "30") == 0        # other settings: merged again
    assert (merged / "00002.png").stat().st_mtime_ns != first["00002.png"]
    assert (merged / "00003.png").stat().st_mtime_ns == first["00003.png"]
    face = ws / "data_dst/predicted/00004_0.png"                                  # a face edited by hand
    cv2.imwrite(str(face), 255 - cv2.imread(str(face), cv2.IMREAD_UNCHANGED))
    assert _merge(ws, "--frames", "3-4") == 0
    assert (merged / "00004.png").stat().st_mtime_ns != first["00004.png"]
    assert not np.array_equal(_img(merged / "00004.png"), _img(ws / "data_dst/00004.png"))


def test_interactive_config_file_that_does_not_exist_yet_is_created(ws, tmp_path, monkeypatch):
    import mainscripts.merge as merge_script

    def fake_window(state, render, save):
        state.handle("tab")
        state.handle("e", shift=True)
        save(state)
        return "quit"

    monkeypatch.setattr(merge_script, "run_window", fake_window)
    target = tmp_path / "sessions" / "mine.json"
    target.parent.mkdir()
    config.override(has_display=True)
    try:
        assert _merge(ws, "--interactive", "--config-file", str(target)) == 0
    finally:
        config.override(has_display=config.load_settings().has_display)
    # the interactive merger starts with the mask edge feathered for the faces' resolution (64), E adds 5
    from merger.config import edge_defaults
    assert json.loads(target.read_text())["frames"]["00001.png"]["blur_mask_modifier"] == \
        edge_defaults(64)["blur_mask_modifier"] + 5


def test_a_corrupt_frame_is_named_and_the_rest_is_merged(ws, log_messages):
    (ws / "data_dst/00002.png").write_bytes(b"not a png")
    assert _merge(ws) == 0
    assert "00002.png: unreadable frame" in "\n".join(log_messages) and "1 frames could not be merged" in "\n".join(log_messages)
    assert len(list((ws / "data_dst/merged").glob("*.png"))) == 5


def test_interactive_session_on_a_frame_range_keeps_the_other_frames_configs(ws, monkeypatch):
    import mainscripts.merge as merge_script

    session_file = ws / "data_dst/merge.json"
    session_file.write_text(json.dumps({"config": {"mode": "overlay"},
                                        "frames": {"00005.png": {"mode": "seamless"}}}))

    def fake_window(state, render, save):
        state.handle("tab")
        state.handle("3")
        save(state)
        return "quit"

    monkeypatch.setattr(merge_script, "run_window", fake_window)
    config.override(has_display=True)
    try:
        assert _merge(ws, "--interactive", "--config-file", str(session_file), "--frames", "1-2") == 0
    finally:
        config.override(has_display=config.load_settings().has_display)
    frames = json.loads(session_file.read_text())["frames"]
    assert frames["00001.png"]["mode"] == "seamless" and frames["00005.png"]["mode"] == "seamless"
