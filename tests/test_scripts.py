"""Numbered entry scripts: every main.py call in the .bat/.sh files must parse with main.py's own argparse tree,
the Windows and Linux scripts must run the same commands, setenv must be complete, and the Linux pipeline
scripts 2_ ... 8_ must turn two videos into result.mp4."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import main as cli

ROOT = Path(__file__).resolve().parents[1]
BAT_FILES = sorted((ROOT / "scripts_win").glob("*.bat"))
SH_FILES = sorted((ROOT / "scripts_linux").glob("*.sh"))
HELPER_SH = {"setenv.sh", "setup.sh", "demo.sh", "test.sh"}
WINDOWS_ONLY = {"10.misc) demo (built-in faces).bat"}  # Linux has demo.sh for it
# Subcommands whose module has another name (for the "module not written yet" skip).
COMMAND_MODULE = {"resize-to-grayscale": "resize"}


@dataclass
class Invocation:
    script: Path
    line: int
    argv: list[str]

    def __str__(self) -> str:
        return f"{self.script.name}:{self.line}: main.py {' '.join(self.argv)}"


def logical_lines(text: str, continuation: str) -> list[tuple[int, str]]:
    """Join physical lines ending in `continuation` (`^` for cmd, `\\` for bash); keep the first line number."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        stripped = line.rstrip()
        if stripped.endswith(continuation):
            pending += stripped[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


_BAT_SET = re.compile(r'\bset\s+(")?([A-Za-z_]\w*)=(.*)$', re.IGNORECASE)
_BAT_VAR = re.compile(r"%([A-Za-z_]\w*)%")


def bat_invocations(path: Path) -> list[Invocation]:
    """main.py calls of a .bat file. Variables the file sets to flags are expanded (the last `set` wins, so a
    flag added under `if defined X set X_ARG=--flag ...` is checked as if X were set); path variables stay."""
    variables: dict[str, str] = {}
    found = []
    for number, line in logical_lines(path.read_text(encoding="utf-8"), "^"):
        line = line.strip()
        if not line or line.lower().startswith(("rem ", "rem\t", "::")) or line.lower() == "rem":
            continue
        match = _BAT_SET.search(line)
        if match:
            value = match[3]
            if match[1]:  # set "NAME=value"
                value = value[:value.rindex('"')]
            variables[match[2].upper()] = value
            continue
        if 'main.py"' not in line:
            continue
        rest = line.split('main.py"', 1)[1]
        for _ in range(5):
            rest = _BAT_VAR.sub(lambda m: variables.get(m[1].upper(), m[0]) if variables.get(m[1].upper(), "")
                                .startswith("-") else m[0], rest)
        tokens = [t[1:-1] if t.startswith('"') else t for t in re.findall(r'"[^"]*"|[^\s"]+', rest)]
        found.append(Invocation(path, number, [t for t in tokens if t != "%*"]))
    return found


_SH_ALT = re.compile(r"\$\{(\w+):\+([^}]*)\}")


def sh_invocations(path: Path) -> list[Invocation]:
    """main.py calls of a bash script; `${X:+--flag "$X"}` is checked as if X were set, "$@" is dropped."""
    found = []
    for number, line in logical_lines(path.read_text(encoding="utf-8"), "\\"):
        line = line.strip()
        if line.startswith("#") or 'main.py"' not in line:
            continue
        rest = _SH_ALT.sub(lambda m: m[2], line.split('main.py"', 1)[1])
        tokens = shlex.split(rest, comments=True)
        found.append(Invocation(path, number, [t for t in tokens if t != "$@"]))
    return found


def command_parser(argv: list[str]):
    """Walk the argparse tree along the leading subcommand words; returns (parser, rest of argv, path)."""
    parser = cli.build_parser()
    top, path, i = parser, [], 0
    while i < len(argv) and not argv[i].startswith("-"):
        sub_actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not sub_actions:
            break
        choices = sub_actions[0].choices
        if argv[i] not in choices:
            if not path:
                module = COMMAND_MODULE.get(argv[i], argv[i])
                if importlib.util.find_spec(f"mainscripts.{module}") is None:
                    pytest.skip(f"mainscripts/{module}.py is not written yet")
            pytest.fail(f"unknown subcommand {' '.join(path + [argv[i]])!r}; known: {sorted(choices)}")
        path.append(argv[i])
        parser = choices[argv[i]]
        i += 1
    return top, parser, argv[i:], path


def check_invocation(inv: Invocation) -> None:
    top, parser, rest, path = command_parser(inv.argv)
    if not path:
        pytest.fail(f"{inv}: no subcommand")
    known = {s for action in parser._actions for s in action.option_strings}
    unknown = [tok.split("=")[0] for tok in rest if tok.startswith("--") and tok.split("=")[0] not in known]
    if unknown:
        pytest.fail(f"{inv}: flags {unknown} do not exist for `{' '.join(path)}`")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = top.parse_args(inv.argv)
        except SystemExit:
            pytest.fail(f"{inv}: argparse refused it: {err.getvalue().strip()}")
    assert callable(getattr(args, "func", None)), f"{inv}: parses but has no command function"


def all_invocations() -> list[Invocation]:
    return [inv for f in BAT_FILES for inv in bat_invocations(f)] + \
           [inv for f in SH_FILES for inv in sh_invocations(f)]


def test_parser_handles_continuations_and_variables(tmp_path: Path):
    bat = tmp_path / "x.bat"
    bat.write_bytes(b'@echo off\r\nset "A=%WORKSPACE%\\model"\r\nif defined C set C_ARG=--config-file "%C%"\r\n'
                    b'"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\\main.py" train ^\r\n    --model-dir "%A%" ^\r\n'
                    b'    %C_ARG% ^\r\n    --model SAEHDBW\r\npause\r\n')
    [inv] = bat_invocations(bat)
    assert inv.argv == ["train", "--model-dir", "%A%", "--config-file", "%C%", "--model", "SAEHDBW"]
    sh = tmp_path / "x.sh"
    sh.write_text('#!/usr/bin/env bash\n"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" merge \\\n'
                  '    --model-dir "$WORKSPACE/model" \\\n    ${C:+--config-file "$C"} \\\n    "$@"\n')
    [inv] = sh_invocations(sh)
    assert inv.argv == ["merge", "--model-dir", "$WORKSPACE/model", "--config-file", "$C"]


def test_every_script_calls_main_py():
    assert len(BAT_FILES) >= 40 and len(SH_FILES) >= 40
    for f in BAT_FILES:
        opens_only = "view aligned_debug" in f.name
        assert opens_only or bat_invocations(f), f"{f.name} runs no main.py command"
    for f in SH_FILES:
        if f.name not in HELPER_SH | {"5.1_data_dst_view_aligned_debug_results.sh"}:
            assert sh_invocations(f), f"{f.name} runs no main.py command"


@pytest.mark.parametrize("inv", all_invocations(), ids=str)
def test_invocation_matches_cli(inv: Invocation):
    check_invocation(inv)


FRAME_FOLDERS = re.compile(r"^(\$WORKSPACE|%WORKSPACE%)[/\\](data_src|data_dst)[/\\][^/\\]+\.\w+$")


def test_no_script_writes_a_file_among_the_frames():
    """data_src/ and data_dst/ hold the frames: a contact sheet written there would be extracted and merged (and
    end up in result.mp4) as if it were a frame."""
    for inv in all_invocations():
        for flag, value in zip(inv.argv, inv.argv[1:]):
            if flag in ("--output-file", "--output-dir"):
                assert not FRAME_FOLDERS.match(value), f"{inv}: {flag} {value} lies among the video frames"


def test_faceset_resize_scripts_keep_colour():
    """The DFL step 'faceset resize' keeps colour, said explicitly in the scripts (the SAEHDBW grayscale copies
    have their own 'resize to grayscale' step)."""
    found = [inv for inv in all_invocations() if inv.argv[:2] == ["util", "faceset-resize"]]
    assert len(found) == 4
    for inv in found:
        assert "--color" in inv.argv, f"{inv}: would turn the faceset gray"


def test_check_catches_drift():
    """The checker itself must reject a misspelt flag and a wrong choice."""
    sub = cli.build_parser()._subparsers._group_actions[0].choices
    if "train" not in sub:
        pytest.skip("train command not written yet")
    bad_flag = Invocation(Path("x.sh"), 1, ["train", "--model-dir", "m", "--model", "SAEHDBW", "--no-such-flag"])
    bad_choice = Invocation(Path("x.sh"), 1, ["train", "--training-data-src-dir", "a", "--training-data-dst-dir",
                                              "b", "--model-dir", "m", "--model", "NoSuchModel"])
    for inv in (bad_flag, bad_choice):
        with pytest.raises(pytest.fail.Exception):
            check_invocation(inv)


def linux_name(bat: Path) -> str:
    """`5.XSeg) data_dst mask - edit.bat` -> `5.XSeg_data_dst_mask_edit.sh`."""
    name = bat.stem.replace("+", "and").replace(" - ", " ").replace("(", "").replace(")", " ")
    return re.sub(r"\s+", "_", name.strip()) + ".sh"


def normalized(inv: Invocation) -> list[str]:
    return [re.sub(r"%(\w+)%", r"$\1", tok).replace("%~1", "$1").replace("\\", "/") for tok in inv.argv]


def test_windows_and_linux_scripts_run_the_same_commands():
    linux = {f.name for f in SH_FILES} - HELPER_SH
    paired = set()
    for bat in BAT_FILES:
        if bat.name in WINDOWS_ONLY:
            continue
        sh = ROOT / "scripts_linux" / linux_name(bat)
        assert sh.exists(), f"{bat.name} has no Linux twin {sh.name}"
        paired.add(sh.name)
        assert [normalized(i) for i in bat_invocations(bat)] == [i.argv for i in sh_invocations(sh)], bat.name
    assert linux == paired, f"Linux scripts without a Windows twin: {sorted(linux - paired)}"


def test_bat_files_are_dfl_style():
    for f in BAT_FILES + [ROOT / "setenv.bat"]:
        data = f.read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n"), f"{f.name}: needs CRLF line endings"
        text = data.decode("ascii")  # cmd.exe reads the OEM code page: keep batch files plain ASCII
        assert text.startswith("@echo off\r\n"), f.name
    for f in BAT_FILES:
        text = f.read_text()
        assert 'call "%~dp0..\\setenv.bat"' in text, f.name
        assert text.rstrip().endswith("pause"), f.name


def test_git_keeps_line_endings_on_a_windows_clone():
    """With core.autocrlf on Windows, .sh files would get CRLF (bash in WSL then fails on $'\\r') and .bat files
    could lose theirs; .gitattributes pins both."""
    out = subprocess.run(["git", "check-attr", "text", "eol", "--", "setenv.bat", "scripts_linux/setenv.sh"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "setenv.bat: text: unset" in out and "scripts_linux/setenv.sh: eol: lf" in out


def git_modes() -> dict[str, str]:
    out = subprocess.run(["git", "ls-files", "-s", "scripts_linux"], cwd=ROOT, capture_output=True, text=True)
    return {line.split("\t")[1]: line.split()[0] for line in out.stdout.splitlines() if "\t" in line}


def test_sh_files_are_executable_and_valid_bash():
    modes = git_modes()
    for f in SH_FILES:
        text = f.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), f.name
        assert os.access(f, os.X_OK), f"{f.name} is not executable"
        rel = f"scripts_linux/{f.name}"
        if rel in modes:
            assert modes[rel] == "100755", f"{rel} is tracked without the executable bit"
        if f.name != "setenv.sh":
            assert "set -euo pipefail" in text, f.name
        if f.name not in HELPER_SH:
            assert 'source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"' in text, f.name
        check = subprocess.run(["bash", "-n", str(f)], capture_output=True, text=True)
        assert check.returncode == 0, f"{f.name}: {check.stderr}"


SETENV_NAMES = ("DFL_ROOT", "DFL_ROOT_SAEHDBW", "WORKSPACE", "PYTHON_EXECUTABLE", "force_gpu_data",
                "forced_gpu_id", "max_gpu_memory", "DFL_FORCE_CPU")


def env_names(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text, re.MULTILINE))


def test_setenv_files_define_and_document_every_variable():
    bat = (ROOT / "setenv.bat").read_text()
    sh = (ROOT / "scripts_linux" / "setenv.sh").read_text()
    bat_names = env_names(bat, r'^(?:rem\s+)?(?:if .*?)?set\s+"?([A-Za-z_]\w*)=')
    sh_names = env_names(sh, r'^\s*(?:#\s+)?(?:export\s+)?([A-Za-z_]\w*)=')
    for name in SETENV_NAMES:
        assert name in bat_names, f"setenv.bat lacks {name}"
        assert name in sh_names, f"setenv.sh lacks {name}"
    assert bat_names == sh_names, f"setenv.bat and setenv.sh differ: {bat_names ^ sh_names}"
    readme = (ROOT / "README.md").read_text()
    table = env_names(readme, r"^\|\s*`([A-Za-z_]\w*)(?:=[^`]*)?`")
    assert not sh_names - table - {"DFL_ROOT_SAEHDBW"}, f"not in README's env-var table: {sh_names - table}"
    for name in ("DFL_FORCE_CPU", "force_gpu_data", "forced_gpu_id", "max_gpu_memory", "WORKSPACE",
                 "user_dfl_save_interval_min", "preview_period", "default_merge_cpu_count"):
        assert re.search(rf"\b{name}\b", (ROOT / "core" / "config.py").read_text()), f"config.py ignores {name}"


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)


def test_setenv_sh_defaults_and_overrides(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("WORKSPACE", "DFL_ROOT", "PYTHON_EXECUTABLE")}
    setenv = ROOT / "scripts_linux" / "setenv.sh"
    out = bash(f'source "{setenv}"; echo "$DFL_ROOT|$WORKSPACE|$DFL_ROOT_SAEHDBW"', env)
    assert out.returncode == 0, out.stderr
    from core.workspace import current_workspace      # workspace/, or the one `workspace new` made current here
    assert out.stdout.strip() == f"{ROOT}|{current_workspace(ROOT)}|{ROOT}"
    out = bash(f'source "{setenv}"; echo "$WORKSPACE"; "$PYTHON_EXECUTABLE" -c "import sys; print(sys.version_info[0])"',
               {**env, "WORKSPACE": str(tmp_path)})
    assert out.stdout.split() == [str(tmp_path), "3"], out.stderr
    out = bash(f'source "{setenv}"; dfl_open "{tmp_path}"', {**env, "DFL_NONINTERACTIVE": "1"})
    assert out.stdout.strip() == f"Open this to look at it: {tmp_path}"


def test_setup_if_needed_accepts_this_environment():
    """demo.sh and test.sh run `setup.sh --if-needed` first: with everything installed it must not touch pip."""
    out = subprocess.run(["bash", str(ROOT / "scripts_linux" / "setup.sh"), "--if-needed"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                                                                          f"{os.environ.get('PATH', '')}"})
    assert out.returncode == 0 and "already installed" in out.stdout, out.stdout + out.stderr
    assert not (ROOT / ".venv").exists() or (ROOT / ".venv" / "bin" / "python").exists()


# ----------------------------------------------------------------------------------------------------------
# The Linux pipeline, end to end, on a tiny workspace built from the real photos.

PIPELINE = (
    "2_extract_images_from_video_data_src.sh",
    "3_extract_images_from_video_data_dst_FULL_FPS.sh",
    "4_data_src_faceset_extract.sh",
    "4.2_data_src_sort.sh",
    "4.2_data_src_util_resize_to_grayscale.sh",
    "5_data_dst_faceset_extract.sh",
    "6_train_SAEHDBW.sh",
    "7_merge_SAEHDBW.sh",
    "8_merged_to_mp4.sh",
)

TINY_TRAIN_CONFIG = {
    "resolution": 64, "face_type": "f", "archi": "df-ud", "ae_dims": 32, "e_dims": 16, "d_dims": 16,
    "d_mask_dims": 16, "batch_size": 2, "target_iter": 4, "write_preview_history": False, "random_warp": False,
}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_linux_pipeline_scripts_make_result_mp4(tmp_path: Path):
    needed = ("mainscripts.extract", "mainscripts.sort", "mainscripts.resize", "mainscripts.train",
              "mainscripts.merge", "mainscripts.video", "samplelib.generator")
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"commands not written yet: {missing}")
    from core.ffmpeg import probe
    from mainscripts.demo import DemoClips, build_demo_videos
    from core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    build_demo_videos(ws, DemoClips(src_frames=12, dst_frames=12, size=(320, 240)))
    config = tmp_path / "train.json"
    config.write_text(json.dumps(TINY_TRAIN_CONFIG))
    env = {**os.environ, "WORKSPACE": str(ws.root), "DFL_NONINTERACTIVE": "1", "TRAIN_CONFIG_FILE": str(config),
           "PYTHON_EXECUTABLE": sys.executable, "DFL_FORCE_CPU": "1", "CUDA_VISIBLE_DEVICES": "-1"}
    for script in PIPELINE:
        run = subprocess.run(["bash", str(ROOT / "scripts_linux" / script)], env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"{script} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    frames = list(ws.data_dst.glob("*.png"))
    assert len(frames) == 12
    assert any(ws.src_aligned.glob("*.jpg")) and any((ws.data_src / "aligned_bw").iterdir())
    assert len(list(ws.merged.glob("*.png"))) == 12
    info = probe(ws.result)
    assert (info.width, info.height, info.frame_count) == (320, 240, 12) and info.has_audio
    assert ws.result_mask.exists()


# ----------------------------------------------------------------------------------------------------------
# README: the commands, script names and option tables it shows must be true.

README = ROOT / "README.md"


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start:end if end > 0 else None]


def test_readme_commands_parse():
    text = README.read_text(encoding="utf-8")
    snippets = re.findall(r"python main\.py ([^`\n]*)", text)
    assert len(snippets) >= 3
    for snippet in snippets:
        argv = [t for t in shlex.split(snippet) if t not in ("COMMAND", "--help")]
        if argv:
            check_invocation(Invocation(README, 0, argv))
    assert "python -m pytest -q" in text  # .ci/run runs exactly README's test command


def test_readme_names_only_existing_scripts():
    text = README.read_text(encoding="utf-8")
    sh_names = {n for n in re.findall(r"([\w.+-]+\.sh)\b", text) if "..." not in n}
    bat_names = {n for n in re.findall(r"`([^`/]+\.bat)`", text) if not n.startswith("...")}
    assert len(sh_names) > 30 and len(bat_names) > 25
    for name in sh_names:
        assert (ROOT / "scripts_linux" / name).exists() or name == "setenv.sh", f"README names missing {name}"
    for name in bat_names - {"setenv.bat"}:
        assert (ROOT / "scripts_win" / name).exists(), f"README names missing {name}"


def table_rows(section: str) -> dict[str, list[str]]:
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows[match[1]] = [cell.strip() for cell in match[2].split("|")]
    return rows


def shown(value) -> str:
    return {True: "y", False: "n"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def test_scripts_and_readme_cover_every_registered_model():
    """From the model registry: every model has a train script and every mergeable one a merge script (and no
    script names another), README's `train` and `exportdfm` rows name every model they take."""
    from models.registry import dfm_models, mergeable_models, model_names

    def scripted(command: str) -> set[str]:
        return {inv.argv[inv.argv.index("--model") + 1] for inv in all_invocations()
                if inv.argv[:1] == [command] and "--model" in inv.argv}

    assert scripted("train") == set(model_names())
    assert scripted("merge") == set(mergeable_models())
    assert scripted("exportdfm") and scripted("exportdfm") <= set(dfm_models())
    commands = table_rows(readme_section("### Commands"))
    for command, names in (("train", model_names()), ("exportdfm", dfm_models())):
        missing = [name for name in names if not re.search(rf"\b{name}\b", commands[command][0])]
        assert not missing, f"README's {command} row does not name {missing}"


def test_readme_training_options_match_the_option_specs():
    from models.registry import model_class
    rows = table_rows(readme_section("### Training options"))
    for model in ("SAEHD", "SAEHDBW"):
        specs = [s for s in model_class(model).option_specs() if s.available]
        documented = {n for n, cells in rows.items() if model == "SAEHD" or "SAEHD only" not in cells[-1]}
        assert {s.name for s in specs} == documented, f"README vs {model} options"
        for spec in specs:
            if not callable(spec.default):
                assert rows[spec.name][0].split()[0] == shown(spec.default), f"default of {spec.name}"


def test_readme_amp_options_match_the_option_specs():
    from models.registry import model_class
    section = readme_section("### AMP")
    specs = [s for s in model_class("AMP").option_specs() if s.available]
    for spec in specs:
        assert f"`{spec.name}`" in section, f"README's AMP section lacks {spec.name}"
    for name, cells in table_rows(section).items():
        spec = next(s for s in specs if s.name == name)
        if not callable(spec.default):
            assert cells[0].split()[0] == shown(spec.default), f"default of AMP's {name}"


def test_readme_merge_settings_match_merger_config():
    from merger.config import FIELDS, MergerConfig, edge_defaults
    rows = table_rows(readme_section("### Merge options"))
    defaults = MergerConfig()
    assert set(rows) == {f.name for f in FIELDS}
    for field_spec in FIELDS:
        cell = rows[field_spec.name][0]
        if field_spec.name in edge_defaults(100):   # "resolution / 25 (DFL: 0)": scaled with the model resolution
            formula = cell.split("(")[0].strip()
            for resolution in (96, 128, 256):
                assert round(eval(formula, {"resolution": resolution})) == \
                    edge_defaults(resolution)[field_spec.name], f"{field_spec.name} at {resolution}: {cell}"
            assert f"DFL: {shown(getattr(defaults, field_spec.name))}" in cell
            continue
        assert cell.split()[0] == shown(getattr(defaults, field_spec.name)), field_spec.name
        if field_spec.choices:
            for choice in field_spec.choices:
                if "XSeg" not in choice:
                    assert choice in rows[field_spec.name][1], f"{field_spec.name}: {choice} not documented"
