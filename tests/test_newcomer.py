"""The first hour, as a newcomer lives it (issue 26), on a copy of the toolkit in a temporary HOME with no Python on
PATH, only the toolkit's own interpreter (`.venv/bin/python`): `scripts_linux/demo.sh`, then the "your own video"
step the demo prints, on two new videos in the new workspace it makes, through the numbered Linux scripts it lists
with their default answers (no keyboard). Every command printed on the way is run exactly as printed; the demo's
workspace is byte-identical afterwards. And a Python without the requirements gets one line, not a traceback."""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_NAMES = re.compile(r"^(python|pip|pydoc|idle|2to3|pyvenv)")
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def copy_toolkit(dest: Path) -> Path:
    """The toolkit as a fresh clone of this working tree has it (tracked and new files, nothing ignored)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
            os.chmod(dest / name, src.stat().st_mode)
    return dest


def path_without_python(bin_dir: Path) -> str:
    """A PATH with the system's programs but no Python of any name (links in `bin_dir`)."""
    bin_dir.mkdir()
    for folder in map(Path, SYSTEM_PATH):
        for program in sorted(folder.iterdir()) if folder.is_dir() else ():
            link = bin_dir / program.name
            if not PYTHON_NAMES.match(program.name) and not link.exists() and os.access(program, os.X_OK):
                link.symlink_to(program)
    return str(bin_dir)


def newcomer_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "PATH": path_without_python(tmp_path / "bin"), "LANG": "C.UTF-8",
            "TMPDIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": "-1"}


def run(command: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    """Run one printed command line as a user pastes it into bash, with no keyboard (default answers)."""
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"`{command}` failed ({done.returncode}):\n{out[-4000:]}"
    assert "Traceback" not in out, f"`{command}`:\n{out[-4000:]}"
    print(f"{time.monotonic() - started:6.1f} s  {command[-70:]}")
    return done.stdout


def run_until_saved_then_ctrl_c(command: str, env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    """Start training as printed, and press Ctrl+C (SIGINT to the terminal's process group) once it has saved its
    first iteration, as the printed note says: it saves and ends normally."""
    proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    started = time.monotonic()
    lines, deadline = [], time.monotonic() + timeout
    try:
        for line in proc.stdout:
            lines.append(line)
            if re.search(r"\[#000001\]\[saved\]", line):
                os.killpg(proc.pid, signal.SIGINT)
                break
            assert time.monotonic() < deadline, "training did not save its first iteration in time"
        lines += proc.stdout.readlines()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = "".join(lines)
    print(f"{time.monotonic() - started:6.1f} s  {command[-70:]}")
    assert code == 0 and "Traceback" not in out, f"`{command}` ended with {code}:\n{out[-4000:]}"
    return out


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def printed_after(label: str, text: str) -> str:
    """The command printed after `label` on one line of `text`."""
    match = re.search(rf"^{re.escape(label)}\s+(\S.*)$", text, re.M)
    assert match, f"nothing printed after {label!r}:\n{text[-3000:]}"
    return match[1].strip()


def make_own_videos(ws: Path) -> None:
    """Two videos of the user's own: other people than the demo's (the roles swapped), smaller, with sound."""
    from core.ffmpeg import write_video
    from core.sample_media import Motion, astronaut, grace_hopper, synth_frames
    src = grace_hopper()[30:414, 0:512]
    dst = astronaut()[0:300, 30:430]
    write_video(synth_frames(src, 12, (320, 240), Motion(pan=0.05, zoom=0.1, roll_deg=8.0, light=0.2), seed=5),
                ws / "data_src.mp4", fps=24.0, audio=True, tone_hz=300)
    write_video(synth_frames(dst, 12, (320, 240), Motion(pan=0.04, zoom=0.1, roll_deg=6.0, light=0.2), seed=6),
                ws / "data_dst.mp4", fps=24.0, audio=True, tone_hz=500)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_from_the_demo_to_result_mp4_of_ones_own_video(tmp_path: Path):
    from core.ffmpeg import probe

    toolkit = copy_toolkit(tmp_path / "toolkit")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", toolkit / ".venv"],
                   check=True)
    env = newcomer_env(tmp_path)
    user_dir = Path(env["HOME"])
    assert subprocess.run(["bash", "-c", "command -v python python3"], env=env).returncode != 0

    # 1. The demo, as README's quick start runs it (as short as its flags allow).
    demo_out = run(f"bash {shlex.quote(str(toolkit / 'scripts_linux' / 'demo.sh'))} --demo-minutes 0.05", env,
                   user_dir)
    demo_ws = toolkit / "workspace"
    assert (demo_ws / "result.mp4").is_file() and (demo_ws / "demo_merge_config.json").is_file()
    before = tree_digest(demo_ws)
    venv_python = toolkit / ".venv" / "bin" / "python"
    for logged in re.findall(r"^\$ (\S+)", demo_out, re.M):            # the commands it logs name the .venv Python
        assert Path(logged) == venv_python, logged

    # "Train longer" runs as printed (checked with --help appended: the real run trains for 10 minutes).
    longer = printed_after("Train longer:", demo_out)
    assert "usage:" in run(f"{longer} --help", env, user_dir)

    # 2. "Your own video": a new workspace, which it prints the steps for.
    own = run(printed_after("Your own video:", demo_out), env, user_dir)
    new_ws = Path(re.search(r"^\s+(\S+)/data_src\.mp4\s", own, re.M)[1])
    assert new_ws.is_dir() and new_ws.parent == toolkit / "workspaces"
    assert (toolkit / "current_workspace.txt").read_text().strip() == str(new_ws)
    make_own_videos(new_ws)
    steps = [line.strip() for line in own.splitlines() if line.strip().startswith("bash ")]
    assert [Path(shlex.split(s)[1]).name for s in steps] == [
        "2_extract_images_from_video_data_src.sh", "3_extract_images_from_video_data_dst_FULL_FPS.sh",
        "4_data_src_faceset_extract.sh", "4.2_data_src_util_resize_to_grayscale.sh", "5_data_dst_faceset_extract.sh",
        "5.2_data_dst_util_resize_to_grayscale.sh", "6_train_SAEHDBW.sh", "7_merge_SAEHDBW.sh", "8_merged_to_mp4.sh"]

    # 3. The steps, as printed, with their default answers.
    for step in steps:
        if "6_train" in step:
            out = run_until_saved_then_ctrl_c(step, env, user_dir)
            assert "creating the new model 'new'" in out.split("Model Summary")[0]   # said before the summary
            continue
        out = run(step, env, user_dir)
        if "7_merge" in step:                       # merge prints its next step: the result (and mask) video
            printed = re.findall(r"^  (\S*python\S* .*video-from-sequence.*)$", out, re.M)
            assert len(printed) == 2, out[-3000:]
            for command in printed:
                run(command, env, user_dir)
    gray = list((new_ws / "data_src" / "aligned_bw").glob("*.jpg"))
    assert gray and all(size == 176 for size in {probe_face_size(p) for p in gray[:3]})
    info = probe(new_ws / "result.mp4")
    assert (info.width, info.height, info.frame_count) == (320, 240, 12) and info.has_audio
    assert sorted(p.name for p in (new_ws / "data_dst" / "merged").glob("*.png")) == \
        sorted(p.name for p in (new_ws / "data_dst").glob("*.png"))

    # 4. Nothing of this touched the demo's workspace.
    assert tree_digest(demo_ws) == before


def probe_face_size(path: Path) -> int:
    import cv2
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[1]


@pytest.mark.parametrize("flags", [["-I", "-S"], ["-E"]], ids=["isolated-no-site", "bare-venv"])
def test_a_python_without_the_requirements_gets_one_line(tmp_path: Path, flags: list[str]):
    """`main.py` started by a Python that lacks the requirements says in one line which interpreter to use."""
    python = sys.executable
    if flags == ["-E"]:                         # a bare virtual environment: no site-packages of its own
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "bare"], check=True)
        python = str(tmp_path / "bare" / "bin" / "python")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([python, *flags, str(ROOT / "main.py"), "doctor"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 1 and not done.stdout, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    line = lines[0]
    assert "lacks the toolkit's requirements" in line and "no module named" in line
    # it names a Python that has them, with the same command: that command runs as printed
    suggested = shlex.split(line.split("Run it with the Python that has them: ", 1)[1].split("  (")[0])
    assert suggested[1:] == [str(ROOT / "main.py"), "doctor"]
    check = subprocess.run([suggested[0], "-c", "import tqdm, cv2, numpy"], capture_output=True, timeout=120)
    assert check.returncode == 0
