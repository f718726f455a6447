"""Which GPUs TensorFlow sees, which ones the user picks, and setting TensorFlow up for them.

Probing runs in a spawned child process with a timeout, so a driver whose device listing never returns (the
SAEHDBW author's CUDA build) cannot hang the tool. Env overrides (read in core.config): `DFL_FORCE_CPU`, and the
fork's `force_gpu_data` which skips probing and reports one GPU named `forced_gpu_id` with `max_gpu_memory` bytes.
An empty device list means "run on the CPU".
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import time
from dataclasses import dataclass
from typing import Sequence

from core import config, interact
from core.errors import UserError


@dataclass(frozen=True)
class Device:
    """One GPU as TensorFlow numbers it."""

    index: int
    name: str
    total_mem: int  # bytes

    @property
    def total_mem_gb(self) -> float:
        return self.total_mem / 1024 ** 3

    def __str__(self) -> str:
        return f"[{self.index}] : {self.name} ({self.total_mem_gb:.2f}GB)"


def describe(devices: Sequence[Device]) -> str:
    """One line for logs and model summaries: 'CPU' or the chosen GPUs."""
    return "CPU" if not devices else ", ".join(str(d) for d in devices)


# --------------------------------------------------------------------------- probing

_GPU_NAME_RE = re.compile(r"name: (.*?)(?:, pci bus id|, compute capability|$)")


def _silence_native_logs() -> None:
    """Send the child's fd 1/2 to /dev/null: TensorFlow/CUDA start-up chatter would only confuse users."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)


def _list_gpus() -> list[tuple[int, str, int]]:
    config.quiet_tensorflow_logs()
    import tensorflow as tf
    from tensorflow.python.client import device_lib
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)  # the probe must not grab all VRAM
    found = []
    for dev in device_lib.list_local_devices():
        if dev.device_type == "GPU":
            match = _GPU_NAME_RE.search(dev.physical_device_desc or "")
            found.append((len(found), match.group(1) if match else dev.name, int(dev.memory_limit)))
    return found


def _probe_child(results: multiprocessing.Queue, hang_s: float) -> None:
    """Runs in the spawned child: puts ("ok", [(index, name, bytes), ...]) or ("error", message) on `results`."""
    _silence_native_logs()
    if hang_s:  # test hook: behave like a driver whose device listing never returns
        time.sleep(hang_s)
    try:
        results.put(("ok", _list_gpus()))
    except Exception as err:  # noqa: BLE001 - any failure is reported to the parent as text
        results.put(("error", f"{type(err).__name__}: {err}"))


def probe_devices(timeout: float, hang_s: float = 0.0) -> list[Device] | None:
    """Ask TensorFlow in a child process; None (with a warning) when it hung past `timeout` seconds or failed."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_probe_child, args=(results, hang_s), daemon=True, name="dfl-device-probe")
    child.start()
    deadline = time.monotonic() + timeout
    answer = None
    try:
        while answer is None and time.monotonic() < deadline:
            try:
                answer = results.get(timeout=min(0.2, max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                if not child.is_alive() and results.empty():
                    answer = ("error", f"the probe process died (exit code {child.exitcode})")
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
        results.close()
    if answer is None:
        interact.log_warn(f"GPU probing gave no answer within {timeout:g} s. If your driver hangs while listing "
                          "devices, set force_gpu_data (see README).")
        return None
    status, payload = answer
    if status != "ok":
        interact.log_warn(f"GPU probing failed: {payload}")
        return None
    return [Device(i, name, mem) for i, name, mem in payload]


_probed: list[Device] | None = None


def list_devices(timeout: float | None = None) -> list[Device]:
    """The GPUs to offer ([] = CPU only), honouring force_cpu and force_gpu_data. Probed once per process."""
    s = config.settings()
    if s.force_cpu:
        return []
    if s.force_gpu_data:
        return [Device(0, s.forced_gpu_id, s.max_gpu_memory)]
    global _probed
    if _probed is None:
        timeout = s.device_probe_timeout if timeout is None else timeout
        found = probe_devices(timeout)
        if found is None:
            interact.log_warn("Using the CPU.")
        _probed = found or []
    return list(_probed)


# --------------------------------------------------------------------------- choosing

def parse_device_idxs(text: str | Sequence[int]) -> list[int]:
    """'0,1' / '0 1' / [0, 1] → [0, 1]; anything else raises UserError."""
    if not isinstance(text, str):
        return [int(i) for i in text]
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise UserError(f"--force-gpu-idxs: {text!r} is not a comma-separated list of GPU indexes like 0,1")
    return list(dict.fromkeys(int(p) for p in parts))


def _pick(devices: Sequence[Device], idxs: Sequence[int]) -> list[Device]:
    by_index = {d.index: d for d in devices}
    missing = [i for i in idxs if i not in by_index]
    if missing:
        seen = describe(devices) if devices else "none"
        raise UserError(f"--force-gpu-idxs: no GPU with index {', '.join(map(str, missing))} (GPUs seen: {seen})")
    return [by_index[i] for i in idxs]


def best_device(devices: Sequence[Device]) -> Device:
    """The GPU with the most memory (lowest index on ties)."""
    return max(devices, key=lambda d: (d.total_mem, -d.index))


def ask_choose_device_idxs(devices: Sequence[Device], allow_cpu: bool = True) -> list[Device]:
    """DFL's GPU prompt: show the GPUs, default to the best one; 'cpu' picks the CPU."""
    default = str(best_device(devices).index)
    lines = ["Choose one or several GPU idxs (separated by comma)."]
    if allow_cpu:
        lines.append("[CPU] : CPU")
    lines += [f"  {d}" for d in devices]
    print("\n".join(lines))
    while True:
        answer = interact.input_str("Which GPU indexes to choose?", default, lowercase=True,
                                    help_message="Type GPU numbers like 0 or 0,1" + (", or cpu." if allow_cpu else "."))
        if allow_cpu and answer.strip() == "cpu":
            return []
        try:
            return _pick(devices, parse_device_idxs(answer))
        except UserError as err:
            if not interact.is_interactive():
                raise
            print(err)


def choose_devices(cpu_only: bool = False, force_gpu_idxs: str | Sequence[int] | None = None,
                   ask: bool = True) -> list[Device]:
    """The devices to train/merge on ([] = CPU): forced indexes, the only GPU, DFL's prompt among several, or
    without a prompt (`ask` False: silent start, a config file) the GPU with the most memory."""
    if cpu_only or config.settings().force_cpu:
        return []
    devices = list_devices()
    if force_gpu_idxs not in (None, "", []):
        idxs = parse_device_idxs(force_gpu_idxs)
        if not devices:  # as DFL: a machine (or TensorFlow build) without GPUs runs on the CPU
            interact.log_warn(f"--force-gpu-idxs {','.join(map(str, idxs))}: no GPU is visible to TensorFlow "
                              "(no CUDA build or driver; see `main.py doctor`); using the CPU.")
            return []
        return _pick(devices, idxs)
    if len(devices) <= 1:
        return devices
    if ask and interact.is_interactive():
        return ask_choose_device_idxs(devices)
    best = best_device(devices)
    interact.log_info(f"Using the GPU with the most memory: {best}")
    return [best]


# --------------------------------------------------------------------------- TensorFlow setup

def import_tensorflow():
    """`import tensorflow` with its native start-up lines ("oneDNN custom operations are on", "Could not find
    cuda drivers") kept off the console: absl prints them before TF_CPP_MIN_LOG_LEVEL is read."""
    import sys
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    config.quiet_tensorflow_logs()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr descriptor (e.g. some embedded consoles): import as is
        saved = None
    try:
        if saved is not None:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
        import tensorflow as tf
    finally:
        if saved is not None:
            with contextlib.suppress(OSError):
                os.dup2(saved, 2)
            os.close(saved)
    return tf


def configure_tensorflow(devices: Sequence[Device]) -> None:
    """Make only `devices` visible to TensorFlow (none = CPU) with memory growth per settings.

    Call before any graph or tensor is built; afterwards TensorFlow refuses changes (logged, not fatal).
    """
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    wanted = [gpus[d.index] for d in devices if d.index < len(gpus)]
    if devices and not wanted:
        interact.log_warn(f"TensorFlow sees no GPU matching {describe(devices)}; running on the CPU")
    try:
        tf.config.set_visible_devices(wanted, "GPU")
        if config.settings().gpu_memory_growth:
            for gpu in wanted:
                tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as err:  # runtime already initialised
        interact.log_warn(f"Could not change TensorFlow devices after start-up ({err}); keeping its defaults")
