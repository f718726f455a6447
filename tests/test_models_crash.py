"""Crash safety: a child process changes the weights and saves in a loop and is killed with SIGKILL at random
moments inside a save; every time, the model folder must still load as one complete, consistent save."""
from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from models.registry import load_model

ROOT = Path(__file__).resolve().parents[1]
TINY = {"resolution": 64, "archi": "df-ud", "ae_dims": 32, "e_dims": 16, "d_dims": 16, "d_mask_dims": 16,
        "batch_size": 4}
STEP = 1e-3  # what the child adds to every weight per iteration

CHILD = textwrap.dedent(f"""
    import sys, time
    import numpy as np
    from core import config
    config.override(force_cpu=True, train_precision="float32", non_interactive=True)
    from models.registry import load_model
    model = load_model("SAEHD", sys.argv[1], training=False, cpu_only=True)
    weights = [v for net in model.engine.nets.values() for v in net.variables().values()]
    while True:
        for v in weights:
            v.assign_add(np.full(v.shape, {STEP}, np.float32))
        model.iter += 1
        model.loss_history.append((1.0 / model.iter, 2.0 / model.iter))
        print("begin", model.iter, time.monotonic(), flush=True)
        model.save()
        print("saved", model.iter, time.monotonic(), flush=True)
""")


pytestmark = pytest.mark.usefixtures("cpu_float32")


def _run_and_kill(folder: Path, rng: random.Random, log: Path) -> int:
    """Run the saving child; after one timed save, SIGKILL it at a random point inside a later save.
    Returns the last iteration the child reported as completely saved."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    with open(log, "w") as errors:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=errors, text=True)
        lines: queue.Queue[tuple[str, int, float]] = queue.Queue()
        saved: list[int] = []

        def read() -> None:
            for line in child.stdout:  # the child also logs other lines (model choice...): skip those
                parts = line.split()
                if len(parts) == 3 and parts[0] in ("begin", "saved"):
                    if parts[0] == "saved":
                        saved.append(int(parts[1]))
                    lines.put((parts[0], int(parts[1]), float(parts[2])))

        threading.Thread(target=read, daemon=True).start()

        deadline = time.monotonic() + 180

        def next_line() -> tuple[str, int, float]:
            while True:
                try:
                    return lines.get(timeout=0.5)
                except queue.Empty:
                    if child.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("the saving child died or stalled:\n" + log.read_text()[-3000:])

        try:
            begin = next_line()
            done = next_line()
            duration = done[2] - begin[2]  # how long one save takes in the child
            while next_line()[0] != "begin":
                pass
            time.sleep(rng.uniform(0.0, duration))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
    time.sleep(0.2)  # let the reader drain the pipe
    return max(saved)


def test_kill_9_during_save_leaves_a_loadable_model(tiny_workspace, tmp_path):
    folder = tmp_path / "model"
    model = load_model("SAEHD", folder, training=True, src_dir=tiny_workspace.src_aligned,
                       dst_dir=tiny_workspace.dst_aligned, force_model_name="k", cpu_only=True, config_options=TINY)
    try:
        model.save()
        initial = {(n, k): v.numpy() for n, net in model.engine.nets.items() for k, v in net.variables().items()}
    finally:
        model.close()
    faces = np.random.default_rng(0).random((2, 64, 64, 3), np.float32)
    rng = random.Random(5)
    previous, interrupted = 0, 0
    for _ in range(3):
        last_saved = _run_and_kill(folder, rng, tmp_path / "child_stderr.txt")
        interrupted += len(list(folder.glob("k_SAEHD_weights.*"))) > 1  # a half-written generation is left
        loaded = load_model("SAEHD", folder, training=False, cpu_only=True)
        # One complete save: the last one the child finished, or the one it was in if the kill came after
        # the switch to the new generation; never a mix of two saves.
        assert loaded.iter in (last_saved, last_saved + 1) and loaded.iter > previous
        assert len(loaded.loss_history) == loaded.iter
        assert loaded.loss_history[-1] == pytest.approx((1.0 / loaded.iter, 2.0 / loaded.iter))
        for n, net in loaded.engine.nets.items():
            for k, v in net.variables().items():
                np.testing.assert_allclose(v.numpy() - initial[n, k], STEP * loaded.iter, rtol=0, atol=1e-5)
        face, _, _ = loaded.predict(faces)
        assert np.isfinite(face).all() and face.shape == (2, 64, 64, 3)
        previous = loaded.iter
    assert interrupted >= 1, "no kill landed inside a save"
    loaded.save()  # the next save clears whatever a killed save left half-written
    assert [p.name for p in folder.glob("k_SAEHD_weights.*")] == [f"k_SAEHD_weights.{loaded.generation:06d}"]
    assert not list(folder.glob(".*.tmp"))
    assert json.loads((folder / "k_SAEHD_data.json").read_text())["iter"] == loaded.iter
