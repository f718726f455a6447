"""`main.py demo`: its CLI, the workspace it builds from the built-in photos, and its safety rules.
The full demo (about 10 minutes) is not run here; tests/test_scripts.py runs the same pipeline on a tiny scale."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from core.errors import UserError
from core.workspace import Workspace
from mainscripts import demo

ROOT = Path(__file__).resolve().parents[1]
SMALL = demo.DemoClips(src_frames=10, dst_frames=12, size=(320, 240), fps=24.0)


def test_demo_help_lists_its_flags():
    out = subprocess.run([sys.executable, "main.py", "demo", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for flag in ("--workspace", "--demo-minutes", "--colorize-minutes", "--keep", "--cpu-only"):
        assert flag in out.stdout
    assert "demo" in subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True,
                                    text=True, timeout=120).stdout


@pytest.fixture(scope="module")
def demo_videos(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    demo.build_demo_videos(ws, SMALL)
    return ws


def test_build_demo_videos_makes_two_clips_with_sound(demo_videos: Workspace):
    from core.ffmpeg import probe
    for stem, frames in (("data_src", SMALL.src_frames), ("data_dst", SMALL.dst_frames)):
        path = demo_videos.video(stem)
        assert path is not None and path.suffix == ".mp4"
        info = probe(path)
        assert (info.width, info.height, info.frame_count) == (*SMALL.size, frames)
        assert info.fps == pytest.approx(SMALL.fps, abs=0.01) and info.has_audio


def read_frames(path: Path) -> list[np.ndarray]:
    from core.ffmpeg import extract_frames
    out = path.parent / f"{path.stem}_frames"
    extract_frames(path, out, fps=0, ext="png")
    return [cv2.imread(str(p)) for p in sorted(out.glob("*.png"))]


def test_demo_clips_move_change_light_and_show_different_people(demo_videos: Workspace, astronaut_bgr, hopper_bgr):
    src = read_frames(demo_videos.video("data_src"))
    dst = read_frames(demo_videos.video("data_dst"))
    assert len(src) == SMALL.src_frames and len(dst) == SMALL.dst_frames
    # the camera moves: frames differ much more than video compression noise
    assert np.abs(src[0].astype(int) - src[len(src) // 2]).mean() > 10
    brightness = [f.mean() for f in dst]
    assert max(brightness) - min(brightness) > 10
    # each clip shows its own photo: its first frame matches that photo's colours better than the other one's
    def hist(img):
        h = cv2.calcHist([img], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3)
        return cv2.normalize(h, h).flatten()
    for frame, own, other in ((src[0], astronaut_bgr, hopper_bgr), (dst[0], hopper_bgr, astronaut_bgr)):
        assert cv2.compareHist(hist(frame), hist(own), cv2.HISTCMP_CORREL) > \
            cv2.compareHist(hist(frame), hist(other), cv2.HISTCMP_CORREL)


def test_prepare_workspace_never_touches_other_work(tmp_path: Path):
    user = tmp_path / "project"
    user.mkdir()
    (user / "data_src.mp4").write_bytes(b"my own video")
    with pytest.raises(UserError, match="did not make"):
        demo.prepare_workspace(user, keep=False)
    assert (user / "data_src.mp4").read_bytes() == b"my own video"
    # through the CLI: a clear one-line error and exit code 1, before any heavy work starts
    assert cli.main(["demo", "--workspace", str(user), "--demo-minutes", "0.1"]) == 1


def test_prepare_workspace_wipes_an_old_demo_unless_keep(tmp_path: Path):
    ws = demo.prepare_workspace(tmp_path / "new" / "ws", keep=False)
    assert (ws.root / demo.MARKER).exists()
    (ws.root / "model").mkdir()
    (ws.root / "model" / "weights.h5").write_bytes(b"w")
    (ws.root / "result.mp4").write_bytes(b"r")
    demo.prepare_workspace(ws.root, keep=True)
    assert (ws.root / "model" / "weights.h5").exists() and (ws.root / "result.mp4").exists()
    demo.prepare_workspace(ws.root, keep=False)
    assert sorted(p.name for p in ws.root.iterdir()) == [demo.MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert demo.prepare_workspace(empty, keep=False).root == empty


def test_demo_minutes_must_be_positive(tmp_path: Path):
    assert cli.main(["demo", "--workspace", str(tmp_path / "ws"), "--demo-minutes", "0"]) == 1
    assert not (tmp_path / "ws").exists()


def test_comparison_sheet_stacks_originals_over_results(tmp_path: Path):
    ws = Workspace(tmp_path)
    ws.merged.mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(ws.data_dst / f"{i:05d}.png"), np.full((40, 60, 3), 50, np.uint8))
        cv2.imwrite(str(ws.merged / f"{i:05d}.png"), np.full((40, 60, 3), 200, np.uint8))
    sheet_path = demo.comparison_sheet(ws, tmp_path / "cmp.png", count=3)
    sheet = cv2.imread(str(sheet_path))
    assert sheet.shape == (80, 180, 3)
    assert sheet[:40].mean() == pytest.approx(50, abs=1) and sheet[40:].mean() == pytest.approx(200, abs=1)
    assert demo.comparison_sheet(Workspace(tmp_path / "none"), tmp_path / "x.png") is None


def test_demo_train_options_are_valid_saehdbw_options():
    if importlib.util.find_spec("models.saehdbw") is None:
        pytest.skip("models/saehdbw.py is not written yet")
    from models import options as opt
    from models.registry import model_class
    specs = model_class("SAEHDBW").option_specs()
    values = opt.validate_config(specs, demo.demo_train_options(), "demo")
    assert values["resolution"] <= demo.DemoPlan().gray_size
    assert values["target_iter"] == 0  # the demo stops training by time, not by iteration


def test_synthetic_frames_show_a_blurred_backdrop_around_the_photo():
    """Around the moving photo the frame is a smooth, blurred backdrop (edge pixels replicated outward drew streaks
    over up to half of the demo's frames)."""
    from core.sample_media import Motion, synth_frames
    photo = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)   # detail everywhere
    for frame in synth_frames(photo, 4, (320, 240), Motion(pan=0.1, zoom=0.1, roll_deg=15, light=0.0), seed=1):
        lap = np.abs(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F))
        assert (lap < 2).mean() > 0.2          # the backdrop around the photo is smooth
        assert (lap > 20).mean() > 0.3         # and the photo itself keeps its detail


def test_demo_saves_its_merge_settings_for_reuse_and_feathers_the_mask(tmp_path: Path):
    """The demo merges from demo_merge_config.json beside its train config: a MERGE_CONFIG_FILE a user can reuse."""
    from merger.config import MergeSession
    ws = Workspace(tmp_path)
    path = demo.write_merge_config(ws, demo.DemoPlan())
    assert path == ws.root / "demo_merge_config.json"
    base = MergeSession.load(path).base
    assert (base.mask_mode, base.color_transfer_mode) == ("dst", "rct") and base.blur_mask_modifier > 0
    args = cli.build_parser().parse_args(["merge", "--model", "SAEHDBW", "--config-file", str(path)])
    assert args.config_file == str(path)


def test_demo_colorize_merges_in_src_colour_without_pulling_it_back_to_dst():
    plan = demo.DemoPlan()
    assert (plan.bw_output, plan.merge_config().color_transfer_mode) == ("luma", "rct")
    colorize = demo.DemoPlan(colorize_minutes=2)
    assert (colorize.bw_output, colorize.merge_config().color_transfer_mode) == ("colorize", "none")
    assert colorize.merge_config().mask_mode == "dst" and plan.merge_settings["color_transfer_mode"] == "rct"


def test_demo_summary_prints_next_steps_that_run_as_printed(tmp_path: Path):
    """The closing lines name this Python (it has the requirements) and the numbered script for a new workspace;
    tests/test_newcomer.py runs them."""
    import shlex
    text = demo.DemoRun(Workspace(tmp_path / "ws"), demo.DemoPlan(), SMALL, keep=False).summary(60.0)
    longer = shlex.split(text.split("Train longer:", 1)[1].splitlines()[0])
    assert longer[:3] == [sys.executable, str(ROOT / "main.py"), "demo"] and "--keep" in longer
    own = shlex.split(text.split("Your own video:", 1)[1].splitlines()[0])
    assert own[0] == "bash" and Path(own[1]) == ROOT / "scripts_linux" / "0_new_workspace.sh" and len(own) == 3
    assert "demo_merge_config.json" in text and "MERGE_CONFIG_FILE" in text and "python main.py" not in text


def test_demo_trains_the_colorizer_only_when_asked(tmp_path: Path):
    ws = Workspace(tmp_path / "ws")
    def titles(plan):
        return [title for title, _ in demo.DemoRun(ws, plan, SMALL, keep=False).steps()]
    assert not any("Colorizer" in t for t in titles(demo.DemoPlan()))
    steps = titles(demo.DemoPlan(colorize_minutes=1.5))
    colorizer = next(i for i, t in enumerate(steps) if "Colorizer" in t)
    assert "1.5 minutes" in steps[colorizer] and "SAEHDBW" in steps[colorizer - 1] and "colorize" in steps[colorizer + 1]
    with pytest.raises(UserError, match="--colorize-minutes"):
        demo.main(cli.build_parser().parse_args(["demo", "--workspace", str(tmp_path / "new"),
                                                 "--colorize-minutes", "-1"]))
    assert not (tmp_path / "new").exists()


def test_demo_trains_the_colorizer_for_its_minutes(tiny_workspace, tmp_path: Path, cpu_float32_for_the_module):
    ws = Workspace(tmp_path / "ws")
    ws.model.mkdir(parents=True)
    result = demo.train_for_minutes(ws, "Colorizer", 0.02, tiny_workspace.src_aligned)
    assert result["iterations"] >= 1 and result["this_run"] == result["iterations"]
    assert Path(result["preview"]).is_file() and result["loss"]
