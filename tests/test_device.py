"""core.leras.device: env overrides, the probe's timeout, index parsing, the GPU prompt and TensorFlow setup."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core import config, interact
from core.errors import UserError
from core.leras import device
from core.leras.device import Device

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_settings():
    saved = dataclasses.asdict(config.settings())
    yield
    config.override(**saved)


def test_force_gpu_data_skips_probing_and_reports_the_forced_gpu(restore_settings):
    config.override(force_gpu_data=True, forced_gpu_id="3dfx Voodoo", max_gpu_memory=1024)
    start = time.monotonic()
    assert device.list_devices(timeout=0.001) == [Device(0, "3dfx Voodoo", 1024)]
    assert time.monotonic() - start < 0.5  # no child process was started
    assert device.choose_devices() == [Device(0, "3dfx Voodoo", 1024)]
    assert device.choose_devices(force_gpu_idxs="0") == [Device(0, "3dfx Voodoo", 1024)]
    with pytest.raises(UserError, match="no GPU with index 1"):
        device.choose_devices(force_gpu_idxs="0,1")


def test_force_cpu_and_cpu_only_mean_no_gpu(restore_settings):
    config.override(force_gpu_data=True)
    assert device.choose_devices(cpu_only=True) == []
    config.override(force_cpu=True)
    assert device.list_devices() == []
    assert device.choose_devices(force_gpu_idxs="0") == []


def test_forced_gpu_indexes_fall_back_to_the_cpu_when_no_gpu_is_visible(log_messages):
    if device.list_devices():
        pytest.skip("this machine has a GPU")
    assert device.choose_devices(force_gpu_idxs="0") == []
    assert any("--force-gpu-idxs 0: no GPU is visible" in m and "using the CPU" in m for m in log_messages)


def test_hanging_probe_is_abandoned_after_the_timeout(log_messages):
    start = time.monotonic()
    assert device.probe_devices(timeout=1.0, hang_s=120) is None
    assert time.monotonic() - start < 10
    assert any("no answer within 1 s" in m and "force_gpu_data" in m for m in log_messages)


def test_real_probe_answers_with_a_device_list():
    found = device.probe_devices(timeout=120)
    assert isinstance(found, list)  # [] on a CPU-only machine, GPUs with names and memory otherwise
    for gpu in found:
        assert gpu.name and gpu.total_mem > 0


def test_parse_device_idxs():
    assert device.parse_device_idxs("0,1") == [0, 1]
    assert device.parse_device_idxs(" 2, 0 2 ") == [2, 0]
    assert device.parse_device_idxs([1]) == [1]
    for bad in ("", "a", "0;x", "-1"):
        with pytest.raises(UserError):
            device.parse_device_idxs(bad)


GPUS = [Device(0, "small", 4 << 30), Device(1, "big", 24 << 30), Device(2, "big too", 24 << 30)]


def test_gpu_prompt_defaults_to_best_retries_bad_answers_and_accepts_cpu(restore_settings, monkeypatch, capsys):
    config.override(non_interactive=True)
    assert device.ask_choose_device_idxs(GPUS) == [GPUS[1]]  # most memory, lowest index on ties
    config.override(non_interactive=False)
    answers = iter(["7", "2,0"])
    monkeypatch.setattr(interact, "read_line", lambda prompt: next(answers))
    assert device.ask_choose_device_idxs(GPUS) == [GPUS[2], GPUS[0]]
    out = capsys.readouterr().out
    assert "[1] : big (24.00GB)" in out and "no GPU with index 7" in out
    monkeypatch.setattr(interact, "read_line", lambda prompt: "CPU")
    assert device.ask_choose_device_idxs(GPUS) == []


def test_silent_start_takes_the_best_of_several_gpus_without_asking(restore_settings, monkeypatch):
    config.override(non_interactive=False)
    monkeypatch.setattr(device, "list_devices", lambda: GPUS)
    monkeypatch.setattr(interact, "read_line", lambda prompt: pytest.fail("asked: " + prompt))
    assert device.choose_devices(ask=False) == [GPUS[1]]
    monkeypatch.setattr(interact, "read_line", lambda prompt: "2")
    assert device.choose_devices() == [GPUS[2]]


def test_configure_tensorflow_hides_gpus_for_cpu_runs():
    # A fresh interpreter, so this process's TensorFlow device state stays untouched for other tests. Its
    # TF_CPP_MIN_LOG_LEVEL is the toolkit's default: the GPU query must not print absl's E0000 lines
    # ("failed call to cuInit" on a machine without a GPU).
    code = textwrap.dedent("""
        from core import config
        config.quiet_tensorflow_logs()
        import tensorflow as tf
        from core.leras.device import configure_tensorflow
        configure_tensorflow([])
        print("visible", len(tf.config.get_visible_devices("GPU")))
        print("sum", float(tf.reduce_sum(tf.ones((2, 2)))))
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "visible 0" in out.stdout and "sum 4.0" in out.stdout
    assert not [line for line in out.stderr.splitlines() if line.startswith("E0000")], out.stderr


def test_import_tensorflow_keeps_native_start_up_lines_off_the_console():
    # Regression: `doctor` ended with absl's "oneDNN custom operations are on" / "Could not find cuda drivers"
    # lines, which TF_CPP_MIN_LOG_LEVEL does not silence; stderr must work again afterwards.
    code = textwrap.dedent("""
        import sys
        from core.leras.device import import_tensorflow
        tf = import_tensorflow()
        assert import_tensorflow() is tf and hasattr(tf, "constant")
        print("stderr still works", file=sys.stderr)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "stderr still works"
