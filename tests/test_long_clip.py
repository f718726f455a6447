"""The 3,000-frame 1080p two-person clip through extract-video, extract, train, merge and video-from-sequence
(`bench/footage.py long`): every frame comes back, with its sound, and memory stays flat. About 20 minutes on a
2-core CPU, so it is out of the default run: `python -m pytest -m long`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.long
@pytest.mark.timeout(7200)
def test_the_long_1080p_clip_passes_every_stage_with_flat_memory():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "footage.py"), "long"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=7000, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["result_frames"] == result["frames"] == 3000
    assert result["result_has_audio"]
    assert result["frames_with_faces"] == 3000
    assert result["rss_flat_within_15pct"], result["commands"]
