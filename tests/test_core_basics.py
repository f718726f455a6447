"""core: settings from env, atomic writes, safe joins, natural sort, prompts in both modes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import config, fsio, interact


def test_settings_from_env():
    s = config.load_settings({"DFL_NONINTERACTIVE": "1", "force_gpu_data": "", "forced_gpu_id": "GTX 750 Ti",
                              "max_gpu_memory": "2147483648", "DFL_FORCE_CPU": "0",
                              "DFL_SAMPLE_CACHE_MB": "8192"})
    assert s.non_interactive and s.force_gpu_data and not s.force_cpu
    assert s.forced_gpu_id == "GTX 750 Ti" and s.max_gpu_memory == 2147483648
    assert s.sample_cache_mb == 8192 and config.load_settings({}).sample_cache_mb == -1


def test_the_forks_switches_are_explained_not_silently_ignored(monkeypatch, tmp_path, log_messages):
    assert config.fork_env_hints({"use_bw_input": "1", "WORKSPACE": "x"}) == [
        f"use_bw_input is set: {config.FORK_ONLY_ENV['use_bw_input']}"]
    import main
    monkeypatch.setenv("only_convert_to_grayscale", "")  # the fork's `SET only_convert_to_grayscale=` style
    assert main.main(["--non-interactive", "util", "faceset-info", "--input-dir", str(tmp_path)]) == 1
    assert any(m.startswith("only_convert_to_grayscale is set: ignored: `resize-to-grayscale") for m in log_messages)


@pytest.mark.parametrize("argv, says", [
    (["merge", "--input-dir", "d", "--super-resolution-power=20"], "FaceEnhancer"),
    (["facesettool", "enhance", "--input-dir", "d"], "FaceEnhancer"),
])
def test_dfl_features_that_are_not_here_say_why_in_one_line(argv, says, capsys):
    import main
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and says in err[0]
    assert main.missing_dfl_feature(["train", "--model", "SAEHDBW", "--force-model-name", "AMP"]) is None


def test_input_folder_is_absolute_and_must_be_a_folder(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "faces").mkdir()
    (tmp_path / "file.jpg").write_bytes(b"")
    assert fsio.input_folder("faces") == tmp_path / "faces"
    for bad in ("missing", "file.jpg"):
        with pytest.raises(fsio.UserError, match=f"{tmp_path / bad}: input folder not found"):
            fsio.input_folder(bad)


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path):
    target = tmp_path / "model.json"
    fsio.atomic_write_text(target, "good")
    with pytest.raises(RuntimeError):
        with fsio.atomic_open(target, "wb") as f:
            f.write(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_a_failed_write_names_its_file_and_says_what_to_do(tmp_path: Path):
    import errno
    from core.errors import describe_os_error
    full = OSError(errno.ENOSPC, "No space left on device")   # what a write on a full disk raises: no file
    named = fsio.naming(full, tmp_path / "00001.png")
    assert named.errno == errno.ENOSPC and named.filename == str(tmp_path / "00001.png")
    assert describe_os_error(named) == (f"No space left on device: {tmp_path / '00001.png'} "
                                        "(free some disk space and run it again)")
    assert fsio.naming(named, "elsewhere") is named
    assert describe_os_error(OSError(errno.EIO, "Input/output error", "x")) == "Input/output error: x"


def test_a_command_that_hits_a_full_disk_ends_with_one_line(monkeypatch, log_messages):
    import errno
    import main as cli
    import mainscripts.doctor as doctor

    def disk_full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/merged/00001.png")

    monkeypatch.setattr(doctor, "main", disk_full)
    assert cli.main(["doctor"]) == 1
    assert log_messages[-1] == ("Error: No space left on device: /data/merged/00001.png "
                                "(free some disk space and run it again)")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_atomic_write_gives_the_mode_of_a_plain_open(tmp_path: Path):
    fsio.atomic_write_text(tmp_path / "atomic.json", "{}")
    (tmp_path / "plain.json").write_text("{}")
    assert (tmp_path / "atomic.json").stat().st_mode == (tmp_path / "plain.json").stat().st_mode


def test_safe_join_refuses_escape(tmp_path: Path):
    assert fsio.safe_join(tmp_path, "a/b.jpg") == (tmp_path / "a/b.jpg").resolve()
    for bad in ("../x.jpg", "/etc/passwd", "a/../../x"):
        with pytest.raises(ValueError):
            fsio.safe_join(tmp_path, bad)


def test_natural_sort(tmp_path: Path):
    for name in ("10.png", "2.png", "1.png", "note.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in fsio.list_images(tmp_path)] == ["1.png", "2.png", "10.png"]


@pytest.fixture
def answers(monkeypatch):
    config.override(non_interactive=False)
    fed: list[str] = []
    monkeypatch.setattr(interact, "read_line", lambda prompt: fed.pop(0))
    yield fed
    config.override(non_interactive=True)


def test_prompts_interactive(answers, capsys):
    answers += ["1", "0", "", "?", "maybe", "y"]
    assert interact.input_bool("Flip SRC faces randomly", False) is True
    assert interact.input_bool("Flip DST faces randomly", True) is False
    assert interact.input_bool("Flip DST faces randomly", True) is True
    assert interact.input_bool("Masked training", False, help_message="Only the face is trained.") is True
    assert "Only the face is trained." in capsys.readouterr().out
    answers += ["9999", "x", "12", "", "WF"]
    assert interact.input_int("Resolution", 128, valid_range=(64, 640)) == 640
    assert interact.input_int("Batch_size", 8, valid_range=(1, None)) == 12
    assert interact.input_number("Random hsv power", 0.1, valid_range=(0.0, 0.3)) == 0.1
    assert interact.input_str("Face type", "f", ["h", "mf", "f", "wf", "head"]) == "wf"


def test_prompts_non_interactive_take_defaults(monkeypatch):
    config.override(non_interactive=True)
    monkeypatch.setattr(interact, "read_line", lambda prompt: pytest.fail("must not read stdin"))
    assert interact.input_bool("Flip DST faces randomly", True) is True
    assert interact.input_int("Resolution", 9999, valid_range=(64, 640)) == 640
    assert interact.input_str("Face type", "wf", ["h", "f", "wf"]) == "wf"
    assert interact.input_in_time("Press enter in 2 seconds to override model settings.", 2) is False


def test_prompt_text_matches_dfl(answers):
    seen = []
    interact.read_line = lambda prompt: (seen.append(prompt), "")[1]
    interact.input_bool("Flip DST faces randomly", True, help_message="help")
    interact.input_int("Resolution", 128, valid_range=(64, 640), help_message="help")
    interact.input_int("Target iteration", 0, valid_range=(0, None), help_message="help")
    assert seen == ["[y] Flip DST faces randomly ( y/n ?:help ) : ", "[128] Resolution ( 64-640 ?:help ) : ",
                    "[0] Target iteration ( ?:help ) : "]


def test_read_json_object_errors_name_the_file(tmp_path: Path):
    from core.errors import UserError
    good = tmp_path / "merge.json"
    fsio.atomic_write_text(good, '{"mode": "overlay"}')
    assert fsio.read_json_object(good, "merge config file") == {"mode": "overlay"}
    for name, text, words in (("missing.json", None, "not found"), ("cut.json", '{"mode": ', "damaged"),
                              ("list.json", "[1, 2]", "JSON object")):
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(UserError, match=words) as err:
            fsio.read_json_object(path, "merge config file")
        assert name in str(err.value)


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_onednn_is_on_unless_the_user_says_otherwise(given, expected):
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    out = subprocess.run([sys.executable, "-c", "import os, core; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"],
                         cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_workspace_above_finds_the_nearest_folder_with_data_dst(tmp_path):
    from core.workspace import workspace_above
    (tmp_path / "ws/data_dst/merged").mkdir(parents=True)
    (tmp_path / "clips/a").mkdir(parents=True)
    assert workspace_above(None, tmp_path / "ws/data_dst/merged").root == tmp_path / "ws"
    assert workspace_above(tmp_path / "clips/a") is None
    (tmp_path / "clips/data_dst.mov").write_bytes(b"")  # a workspace with only its dst video so far
    assert workspace_above(tmp_path / "clips/a").root == tmp_path / "clips"


def test_frames_outside_a_workspace_are_laid_out_as_one(tmp_path):
    from core.workspace import Workspace
    ws = Workspace.around_frames(tmp_path / "clip")
    assert (ws.data_dst, ws.dst_aligned, ws.merged) == (tmp_path / "clip", tmp_path / "clip/aligned",
                                                         tmp_path / "clip/merged")
    assert ws.result == tmp_path / "result.mp4" and ws.model == tmp_path / "model" and ws.dst_video() is None
    (tmp_path / "clip.webm").write_bytes(b"")
    assert ws.dst_video() == tmp_path / "clip.webm"
    assert Workspace(tmp_path).data_dst == tmp_path / "data_dst"

