"""Workspaces (issue 26): `main.py workspace new|use|show`, the current workspace the numbered scripts read
(setenv.sh), commands that never write into a workspace they were not given, and the grayscale resize's default
size (the size the next training step uses)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from core import config
from core.workspace import CURRENT_FILE, Workspace, read_current
from mainscripts import workspace as workspace_cmd

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toolkit(tmp_path, monkeypatch) -> Path:
    """A toolkit folder of the test's own: `workspace` commands write its current_workspace.txt."""
    root = tmp_path / "toolkit"
    root.mkdir()
    monkeypatch.setattr(workspace_cmd, "ROOT", root)
    return root


def test_workspace_new_makes_dfls_layout_remembers_it_and_prints_the_steps(toolkit, log_messages):
    assert cli.main(["workspace", "new", "film one"]) == 0
    ws = Workspace(toolkit / "workspaces" / "film one")
    for folder in (ws.data_src, ws.data_dst, ws.src_aligned, ws.dst_aligned, ws.model):
        assert folder.is_dir()
    assert read_current(toolkit) == ws.root
    text = "\n".join(log_messages)
    assert f"{ws.root / 'data_src.mp4'}" in text and f"{ws.root / 'data_dst.mp4'}" in text
    steps = [line.split() for line in text.splitlines() if line.strip().startswith("bash ")]
    scripts = [Path(step[1]) for step in steps]
    assert [s.name for s in scripts][0] == "2_extract_images_from_video_data_src.sh"
    assert scripts[-1].name == "8_merged_to_mp4.sh" and all(s.is_file() for s in scripts)
    for linux, windows, _ in workspace_cmd.NEXT_STEPS:      # every step has its twin on Windows
        assert (ROOT / "scripts_win" / f"{windows}.bat").is_file(), windows
    assert not (ws.root / "logs").exists()                 # the command logs into no workspace

    # the same name again: refused, nothing changed
    (ws.data_src / "00001.png").write_bytes(b"frame")
    assert cli.main(["workspace", "new", "film one"]) == 1
    assert (ws.data_src / "00001.png").read_bytes() == b"frame"


def test_workspace_use_switches_and_show_tells(toolkit, log_messages):
    (toolkit / "workspace").mkdir()
    other = toolkit / "elsewhere"
    other.mkdir()
    assert cli.main(["workspace", "use", str(other)]) == 0 and read_current(toolkit) == other
    assert cli.main(["workspace", "use", "workspace"]) == 0 and read_current(toolkit) == toolkit / "workspace"
    assert cli.main(["workspace", "use", "missing"]) == 1 and read_current(toolkit) == toolkit / "workspace"
    log_messages.clear()
    assert cli.main(["workspace", "show"]) == 0
    assert f"Current workspace of the numbered scripts: {toolkit / 'workspace'}" in "\n".join(log_messages)
    # without a name and without a keyboard: the current one stays (the default answer)
    assert cli.main(["--non-interactive", "workspace", "use"]) == 0 and read_current(toolkit) == toolkit / "workspace"


def bash(script: str, env: dict[str, str]) -> str:
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_setenv_reads_the_current_workspace_and_a_set_workspace_wins(tmp_path):
    """setenv.sh of a toolkit folder: its workspace/ by default, the remembered one when there is one, and a
    WORKSPACE exported in the shell over both."""
    toolkit = tmp_path / "toolkit"
    (toolkit / "scripts_linux").mkdir(parents=True)
    shutil.copy(ROOT / "scripts_linux" / "setenv.sh", toolkit / "scripts_linux")
    env = {k: v for k, v in os.environ.items() if k not in ("WORKSPACE", "DFL_ROOT", "PYTHON_EXECUTABLE")}
    source = f'source "{toolkit}/scripts_linux/setenv.sh"; echo "$WORKSPACE"'
    assert bash(source, env) == str(toolkit / "workspace")
    project = tmp_path / "my project"
    (toolkit / CURRENT_FILE).write_text(f"{project}\r\n")         # (also as Notepad would save it)
    assert bash(source, env) == str(project)
    assert bash(source, {**env, "WORKSPACE": "/somewhere/else"}) == "/somewhere/else"


def test_setenv_picks_a_python_that_has_the_requirements(tmp_path):
    """Without .venv, setenv.sh takes the first python3 / python on PATH that has the requirements."""
    import sys
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text("#!/bin/sh\nexit 1\n")     # a python3 without them (fails the check)
    (bin_dir / "python3").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "DFL_ROOT": str(tmp_path)}
    assert bash(f'source "{ROOT}/scripts_linux/setenv.sh"; echo "$PYTHON_EXECUTABLE"', env) == str(bin_dir / "python")


# ---------------------------------------------------------------------------------------------------------------
# A command never writes into a workspace it was not given.

@pytest.fixture
def configured_workspace(tmp_path):
    """WORKSPACE set (as setenv.sh always sets it) to a workspace with dst frames, merged frames and a result."""
    ws = Workspace(tmp_path / "configured")
    ws.merged.mkdir(parents=True)
    cv2.imwrite(str(ws.data_dst / "00001.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(ws.merged / "00001.png"), np.zeros((8, 8, 3), np.uint8))
    ws.result.write_bytes(b"the user's result")
    before = {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file()}
    saved = config.settings()
    config.override(workspace=ws.root)
    yield ws
    config.override(workspace=saved.workspace)
    assert {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file()} == before


def test_video_from_sequence_of_frames_elsewhere_never_writes_into_the_configured_workspace(
        configured_workspace, astronaut_video, tmp_path):
    from core import ffmpeg
    clip = tmp_path / "own clip"
    ffmpeg.extract_frames(astronaut_video, clip / "shot" / "merged", ext="png")
    assert cli.main(["--non-interactive", "video", "video-from-sequence", "--input-dir", str(clip / "shot" / "merged"),
                     "--ext", "png", "--bitrate", "2"]) == 0
    assert ffmpeg.probe(clip / "result.mp4").frame_count == 12
    assert not (configured_workspace.logs).exists()


def test_merge_of_frames_elsewhere_never_writes_into_the_configured_workspace(configured_workspace, merge_workspace,
                                                                             tmp_path):
    clip = tmp_path / "elsewhere" / "frames"
    shutil.copytree(merge_workspace / "data_dst", clip)
    (clip.parent / "model").mkdir()
    # no model beside the frames: an error naming that folder, before any question, and nothing written anywhere
    assert cli.main(["--non-interactive", "merge", "--input-dir", str(clip), "--model", "SAEHDBW"]) == 1
    assert not (clip / "merged").exists()
    assert not configured_workspace.logs.exists()


def test_merge_with_an_empty_model_folder_says_so_before_any_question(merge_workspace, tmp_path, log_messages):
    ws = tmp_path / "ws"
    shutil.copytree(merge_workspace, ws)
    (ws / "model").mkdir()
    assert cli.main(["--non-interactive", "merge", "--input-dir", str(ws / "data_dst"), "--model", "SAEHDBW"]) == 1
    text = "\n".join(log_messages)
    assert "no saved SAEHDBW model" in text and "Choose mode" not in text and "mask modifier" not in text


# ---------------------------------------------------------------------------------------------------------------
# resize to grayscale: the default size is the one the next training step uses.

def test_resize_to_grayscale_defaults_to_the_training_size(tiny_workspace, tmp_path):
    from mainscripts.resize import training_size
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(tiny_workspace.src_aligned, ws.src_aligned)    # 128 px full faces
    ws.data_dst.mkdir()
    # no model yet: a new SAEHDBW's default resolution (128) and face type (f), the faces' own type
    assert training_size(ws.src_aligned) == 128
    assert cli.main(["--non-interactive", "resize-to-grayscale", "--input-dir", str(ws.src_aligned),
                     "--output-dir", str(ws.data_src / "aligned_bw")]) == 0
    first = sorted((ws.data_src / "aligned_bw").glob("*.jpg"))[0]
    assert cv2.imread(str(first), cv2.IMREAD_UNCHANGED).shape == (128, 128)
    # a saved SAEHDBW model of the workspace sets it: its resolution, never above the faces' own size
    ws.model.mkdir()
    data = {"model_class": "SAEHDBW", "iter": 10, "generation": 1, "options": {"resolution": 96, "face_type": "f"}}
    (ws.model / "mine_SAEHDBW_data.json").write_text(json.dumps(data))
    assert training_size(ws.src_aligned) == 96
    data["options"] = {"resolution": 96, "face_type": "h"}      # a half-face model crops less of these faces
    (ws.model / "mine_SAEHDBW_data.json").write_text(json.dumps(data))
    assert training_size(ws.src_aligned) == 128                 # 96 x (full / half) = 150, capped at 128


def test_doctor_says_which_workspace_the_scripts_use(tmp_path, monkeypatch):
    import core.commands
    from mainscripts.doctor import OK, WARN, check_workspace
    monkeypatch.setattr(core.commands, "ROOT", tmp_path)
    check = check_workspace()
    assert check.status == OK and str(tmp_path / "workspace") in check.detail
    (tmp_path / CURRENT_FILE).write_text(str(tmp_path / "gone") + "\n")
    check = check_workspace()
    assert check.status == WARN and "gone" in check.detail and "does not exist" in check.detail
