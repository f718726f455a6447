"""bench/ scripts: each runs on a tiny input and prints only JSON on stdout, with the keys its docs promise.

Nothing here is timed: the numbers themselves are for people reading the benchmarks, not for tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str, timeout: int = 300):
    """Run `bench/<script>` and parse its whole stdout as JSON (progress bars and logs belong on stderr)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_sample_generator_bench(tiny_workspace):
    rows = _bench("samples.py", "--faceset", str(tiny_workspace.src_aligned), "--resolutions", "64",
                  "--batches", "3", "--no-workers")
    assert [(r["resolution"], r["channels"]) for r in rows] == [(64, 1), (64, 3)]
    for row in rows:
        assert row["sample_ms_per_batch"] > 0 and row["uncached_ms_per_batch"] > 0
    assert set(rows[0]["ratio_to_3ch"]) == {"sample_ms_per_batch", "uncached_ms_per_batch"}


@pytest.mark.parametrize("model, archi, extra, label", [
    ("SAEHDBW", "df-ud", {}, "res64 df-ud ae32 e16 d16 mask8 b2"),
    ("AMPBW", "df-udt", {"inter_dims": 24}, "res64 amp ae32 inter24 e16 d16 mask8 b2")])
def test_train_bench_row(tiny_workspace, model, archi, extra, label):
    """One config of bench/train.py (the child that each of its rows comes from), at tiny dims."""
    cfg = dict(model=model, resolution=64, archi=archi, channels=1, precision="float32", jit=False, batch_size=2,
               ae_dims=32, e_dims=16, d_dims=16, d_mask_dims=8, **extra)
    row = _bench("train.py", "--child", json.dumps(cfg), "--iters", "2", "--warmup", "0",
                 "--faceset", str(tiny_workspace.src_aligned))
    assert row["model"] == model and row["config"].startswith(label)
    assert row["ms_per_iter"] > 0 and row["peak_rss_mb"] > 100 and row["faces"] == "faceset"


def test_train_bench_ratios():
    from bench.train import add_ratios, plan, saehd96_ms, spec, DIMS, LEAN
    configs = [spec("SAEHD", 96, "df-ud", DIMS), spec("SAEHDBW", 96, "df-ud", DIMS), spec("SAEHDBW", 96, "df-ud", LEAN),
               spec("SAEHD", 96, "df-ud", DIMS, data_format="NHWC")]   # (another layout: not the twin)
    rows = [dict(ms_per_iter=800.0, step_cpu_ms=1600.0), dict(ms_per_iter=700.0, step_cpu_ms=1400.0),
            dict(ms_per_iter=250.0, step_cpu_ms=400.0), dict(ms_per_iter=100.0, step_cpu_ms=100.0)]
    add_ratios(rows, configs)
    gpu_only = [c for c in plan(False, gpu=True) if c not in plan(False)]
    assert {(c["data_format"], c["jit"]) for c in gpu_only} == {("NHWC", False), ("NHWC", True)}
    assert rows[0]["vs_dfl"] == round(800 / 1700, 3)
    assert rows[1]["vs_saehd"] == 0.875 and rows[1]["vs_saehd_cpu"] == 0.875
    assert rows[2]["speedup_vs_saehd96"] == 3.2 and rows[2]["speedup_vs_saehd96_cpu"] == 4.0
    assert saehd96_ms(rows, configs) == 100.0 and saehd96_ms(rows[1:3], configs[1:3]) is None
    amp = [c for c in plan(False) if c["model"].startswith("AMP")]
    amp_rows = [dict(ms_per_iter=900.0, step_cpu_ms=1800.0), dict(ms_per_iter=600.0, step_cpu_ms=1500.0),
                dict(ms_per_iter=3000.0, step_cpu_ms=6000.0), dict(ms_per_iter=2900.0, step_cpu_ms=5900.0)]
    add_ratios(amp_rows, amp)
    assert [(c["channels"], c["resolution"]) for c in amp] == [(3, 96), (1, 96), (3, 224), (1, 224)]
    assert amp_rows[1]["vs_amp"] == round(600 / 900, 3) and amp_rows[3]["vs_amp"] == round(2900 / 3000, 3)


def test_sort_bench():
    row = _bench("sort.py", "--count", "6", "--size", "64", "--workers", "1")
    assert row["faces"] == 6 and row["hist_faces_per_s"] > 0 and row["blur_faces_per_s"] > 0


def test_extract_bench():
    report = _bench("extract.py", "--frames", "2", "--workers", "1")
    detectors = {r["detector"]: r for r in report["results"]}
    assert set(detectors) >= {"blazeface", "dlib"}
    assert detectors["blazeface"]["job_jpg"]["faces"] == 2


def test_merge_bench():
    report = _bench("merge.py", "--frames", "2", "--workers", "1", "--resolution", "64", "--batch-size", "2",
                    "--cases", "saehdbw/overlay+rct")
    result = report["results"]["saehdbw/overlay+rct"]
    assert result["fps"] > 0 and report["frames"] == 2


def test_batch_mode_keeps_log_lines_off_stdout():
    code = "from core import interact; interact.batch_mode(); interact.log_info('a log line'); print('{}')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout == "{}\n" and "a log line" in proc.stderr


def test_xseg_bench(tiny_workspace):
    rows = _bench("xseg.py", "--resolution", "64", "--base-ch", "4", "--steps", "2", "--faceset",
                  str(tiny_workspace.src_aligned))
    assert [r["config"] for r in rows] == ["res64 base4 b4"]
    for key in ("step_ms", "predict_ms_per_face", "sample_ms_per_batch", "peak_rss_mb"):
        assert rows[0][key] > 0


def test_identity_bench():
    """Each person's filter keeps that person's faces only, and identity-groups splits the two people."""
    report = _bench("identity.py", "--frames", "2", "--size", "640x360", "--workers", "1")
    assert report["no_filter"]["per_side"] == {"left": 2, "right": 2}
    for name in ("filter_collins", "filter_hopper"):
        row = report[name]
        assert row["person_kept"] == 1.0 and row["other_kept"] == 0.0, row
        assert row["fps"] > 0 and row["cpu_ms_per_frame"] > 0 and 0 < row["descriptors_per_face"] <= 1
    groups = sorted(report["identity_groups"].values(), key=lambda c: c["left"])
    assert groups == [{"left": 0, "right": 2}, {"left": 2, "right": 0}]


@pytest.mark.slow
def test_footage_long_bench_on_a_short_clip():
    """`long` at 24 frames: every command of the workflow runs and is measured, and the result keeps every frame
    and the audio. (The group mode's reference is dlib's CNN on tiles, minutes per frame here: not in tests.)"""
    report = _bench("footage.py", "long", "--frames", "24", timeout=900)
    assert report["mode"] == "long" and report["result_frames"] == 24 and report["result_has_audio"]
    assert [r["command"] for r in report["commands"]] == ["extract-video", "extract", "train", "merge",
                                                          "video-from-sequence"]
    assert report["frames_with_faces"] >= 20
    for row in report["commands"]:
        assert row["seconds"] > 0 and row["peak_rss_mb_command"] > 0

