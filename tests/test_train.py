"""`main.py train` end to end (headless), the trainer's commands, its NaN / out-of-memory guards and DFL's
iteration line. Tiny models at resolution 64 on the real tiny workspace."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from core import config, interact
from mainscripts.train import Trainer, format_iteration
from mainscripts.trainer_window import Action
from models.registry import load_model
from tests.fixtures_training import training_test_settings

ROOT = Path(__file__).resolve().parents[1]
TINY = {"resolution": 64, "archi": "df-ud", "ae_dims": 32, "e_dims": 16, "d_dims": 16, "d_mask_dims": 16,
        "batch_size": 4}
LINE = r"\[\d\d:\d\d:\d\d\]\[#{it}\]\[{took}\]\[\d+\.\d{{4}}\]\[\d+\.\d{{4}}\]"


pytestmark = pytest.mark.usefixtures("cpu_float32")


def _train_args(ws, model_dir, cfg_path, *extra):
    return ["train", "--training-data-src-dir", str(ws.src_aligned), "--training-data-dst-dir",
            str(ws.dst_aligned), "--model-dir", str(model_dir), "--no-preview", "--cpu-only",
            "--config-file", str(cfg_path), *extra]


def _events(folder):
    """{tag: [(step, value)]} from the TensorBoard event files in `folder`."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2
    found: dict[str, list] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    found.setdefault(value.tag, []).append(
                        (event.step, float(tf.make_ndarray(value.tensor))))
    return found


def test_format_iteration_matches_dfl():
    assert re.fullmatch(LINE.format(it="000123", took="0531ms"), format_iteration(123, 0.5312, (0.82114, 0.7711)))
    assert re.fullmatch(LINE.format(it="000007", took=r"12\.34s"), format_iteration(7, 12.3456, (1.0, 2.0)))
    assert "[saved]" in format_iteration(9, None, (1.0, 2.0))


def test_cli_trains_to_target_then_continues_and_a_stop_signal_saves(tiny_workspace, tmp_path, log_messages,
                                                                monkeypatch):
    # At a terminal, but with a config file: nothing is asked (model name, device, options).
    config.override(preview_period=2, sample_workers=1, non_interactive=False)  # real background workers here
    monkeypatch.setattr(interact, "read_line", lambda prompt: pytest.fail(f"asked: {prompt}"))
    cfg = tmp_path / "options.json"
    cfg.write_text(json.dumps(dict(TINY, target_iter=4, write_preview_history=True)))
    model_dir = tmp_path / "model"
    assert cli.main(_train_args(tiny_workspace, model_dir, cfg)) == 0
    data = json.loads((model_dir / "new_SAEHD_data.json").read_text())
    assert data["iter"] == 4 and data["options"]["ae_dims"] == 32
    preview = cv2.imread(str(model_dir / "new_SAEHD_preview.png"))
    loss = cv2.imread(str(model_dir / "new_SAEHD_loss.png"))
    assert preview is not None and preview.shape[1] == 64 * 5 and loss is not None
    history = model_dir / "new_SAEHD_history" / "SAEHD"
    assert {"0000002.jpg", "0000004.jpg", "_last.jpg"} <= {p.name for p in history.iterdir()}
    scalars = _events(model_dir / "new_SAEHD_tensorboard")
    assert [step for step, _ in scalars["src_loss"]] == [1, 2, 3, 4] and len(scalars["dst_loss"]) == 4
    assert any(re.search(LINE.format(it="000004", took="saved"), m) for m in log_messages)
    assert any("Reached target iteration" in m for m in log_messages)

    # Continue the same model in a real `main.py train` process (no TTY: nothing is asked) and stop it with
    # SIGTERM sent to its whole process group (`docker stop`, a closed terminal's SIGHUP, Ctrl-C's SIGINT all
    # take the same way): it must save and exit cleanly, its sample workers must not die first; locked
    # options stay.
    cfg.write_text(json.dumps({"target_iter": 0}))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", DFL_TRAIN_PRECISION="float32", DFL_SAMPLE_WORKERS="1")
    child = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *_train_args(tiny_workspace, model_dir, cfg,
                                                                                "--silent-start")],
                             cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    for line in child.stdout:
        output.append(line)
        if line.startswith("Starting."):
            time.sleep(3.0)  # a few iterations
            os.killpg(child.pid, signal.SIGTERM)
            break
    output += child.stdout.readlines()
    assert child.wait(120) == 0, "".join(output)[-3000:]
    data = json.loads((model_dir / "new_SAEHD_data.json").read_text())
    assert data["iter"] > 4 and data["options"]["target_iter"] == 0 and data["options"]["resolution"] == 64
    assert any(re.search(LINE.format(it=f"{data['iter']:06d}", took="saved"), line) for line in output)
    steps = sorted(step for step, _ in _events(model_dir / "new_SAEHD_tensorboard")["src_loss"])
    assert steps == list(range(1, data["iter"] + 1))


def test_a_bad_gpu_index_is_one_line_without_tensorflow_banners(tiny_workspace, tmp_path):
    cfg = tmp_path / "options.json"
    cfg.write_text(json.dumps(TINY))
    args = [a for a in _train_args(tiny_workspace, tmp_path / "model", cfg) if a != "--cpu-only"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *args, "--force-gpu-idxs", "gpu0"], cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Error: --force-gpu-idxs: 'gpu0' is not a comma-separated list of GPU indexes" in proc.stdout
    assert "oneDNN" not in proc.stdout + proc.stderr and "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_stop_signals_raise_ctrl_c_and_nohup_is_respected():
    from core.interact import stop_signals_as_ctrl_c
    before_term, before_hup = signal.getsignal(signal.SIGTERM), signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_signals_as_ctrl_c():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN     # started under nohup: stays ignored
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # (the handler runs between bytecodes of this thread)
        assert signal.getsignal(signal.SIGTERM) == before_term
    finally:
        signal.signal(signal.SIGHUP, before_hup)


def test_debug_flag_makes_batches_in_process_and_prints_debug_lines(tmp_path, log_messages):
    import logging
    with training_test_settings():
        config.override(sample_workers=2)
        try:
            assert cli.main(["train", "--debug", "--model", "SAEHDBW", "--model-dir", str(tmp_path)]) == 1
            assert config.settings().sample_workers == 0
            assert "debug mode: sample generators run in this process" in log_messages
        finally:
            interact.log.setLevel(logging.INFO)


def test_src_and_dst_are_needed_unless_pretraining(tmp_path, log_messages):
    assert cli.main(["train", "--model-dir", str(tmp_path), "--model", "SAEHDBW"]) == 1
    assert "or --pretraining-data-dir to pretrain" in log_messages[-1]


def test_config_file_unknown_key_is_an_error(tiny_workspace, tmp_path, log_messages):
    cfg = tmp_path / "options.json"
    cfg.write_text(json.dumps(dict(TINY, ae_dimz=64)))
    assert cli.main(_train_args(tiny_workspace, tmp_path / "model", cfg)) == 1
    assert any("ae_dimz" in m and "options.json" in m for m in log_messages)
    assert not (tmp_path / "model").exists() or not list((tmp_path / "model").glob("*_data.json"))


@pytest.fixture(scope="module")
def model(tiny_workspace, tmp_path_factory):
    """One tiny SAEHD model shared by the trainer tests below (each leaves it usable)."""
    with training_test_settings():
        model = load_model("SAEHD", tmp_path_factory.mktemp("trainer"), training=True,
                           src_dir=tiny_workspace.src_aligned, dst_dir=tiny_workspace.dst_aligned,
                           force_model_name="m", cpu_only=True, config_options=TINY)
        yield model
        model.close()


def test_commands_backup_and_exit_save_the_model(model):
    trainer = Trainer(model)

    def press_keys():
        while model.iter < 3 and not trainer.finished.is_set():
            time.sleep(0.05)
        trainer.commands.put(Action.BACKUP)
        trainer.commands.put(Action.EXIT)

    threading.Thread(target=press_keys, daemon=True).start()
    assert trainer.run() == 0
    saved = json.loads((model.folder / "m_SAEHD_data.json").read_text())
    assert saved["iter"] == model.iter >= 3
    assert (model.folder / "m_SAEHD_autobackups" / "01" / "m_SAEHD_data.json").exists()


def test_a_continued_session_shows_a_preview_after_its_first_iteration(model, monkeypatch):
    """DFL shows the preview at once, not only after `preview_period` iterations or the next autosave."""
    trainer, published, start = Trainer(model), [], model.iter
    publish = trainer._publish_previews
    monkeypatch.setattr(trainer, "_publish_previews", lambda *a: (published.append(model.iter), publish(*a)))

    def stop_soon():
        while model.iter < start + 3 and not trainer.finished.is_set():
            time.sleep(0.05)
        trainer.commands.put(Action.EXIT)

    threading.Thread(target=stop_soon, daemon=True).start()
    assert trainer.run() == 0
    assert published[0] == start + 1


def test_nan_loss_stops_restores_and_advises(model, log_messages, monkeypatch):
    monkeypatch.setitem(model.options, "target_iter", model.iter + 50)
    model.save()
    saved_iter = model.iter
    weight = next(iter(model.engine.nets["decoder_src"].variables().values()))
    weight.assign(np.full(weight.shape, np.inf, np.float32))
    assert Trainer(model).run() == 1
    message = next(m for m in log_messages if "Training stopped" in m)
    assert f"iteration {saved_iter}" in message and "clipgrad" in message and "lr_dropout" in message
    assert np.isfinite(weight.numpy()).all() and model.iter == saved_iter


def test_a_failing_autosave_lets_training_go_on_and_a_failing_final_save_exits_1(model, log_messages,
                                                                                monkeypatch):
    import errno
    from models.base import SaveFailed
    model.train_one_iter()  # (a batch to preview)
    real_save, calls = model.save, []

    def save_fails_twice():
        calls.append(model.iter)
        if len(calls) <= 2:
            raise SaveFailed(f"Could not write the model in {model.folder}: No space left on device.")
        real_save()

    real_save()  # (a save on disk: a failing autosave only warns)
    monkeypatch.setattr(model, "save", save_fails_twice)
    def disk_full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("mainscripts.train.pv.write_image", disk_full)  # the headless preview PNGs fail too
    trainer = Trainer(model)
    trainer._save()                        # an autosave: reported, training goes on, exit code untouched
    assert trainer.exit_code == 0 and "the next autosave tries again" in log_messages[-1]
    trainer._save(final=True)              # the save at exit / target iteration: exit code 1
    assert trainer.exit_code == 1 and "tries again" not in log_messages[-1]
    assert trainer._save()                 # a later save that works
    assert calls == [model.iter] * 3 and any("preview and loss graph could not be written" in m
                                             for m in log_messages)
    data = model.files.data
    data.rename(data.with_suffix(".away"))  # nothing of the model on disk (a folder it may not write to)
    try:
        calls.clear()
        trainer = Trainer(model)
        assert trainer._save() is False and trainer.exit_code == 1 and "Training stops" in log_messages[-1]
    finally:
        data.with_suffix(".away").rename(data)


def test_out_of_memory_is_explained_not_raised(model, log_messages, monkeypatch):
    import tensorflow as tf

    def exhausted(*_):  # what TensorFlow raises when an allocation fails (cannot be provoked safely here)
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[4,64,64,128]")

    monkeypatch.setattr(model.engine, "train_step", exhausted)
    assert Trainer(model).run() == 1
    message = next(m for m in log_messages if "Out of memory" in m)
    assert "batch_size (now 4)" in message and "models_opt_on_gpu" in message


def test_execute_program_runs_once_or_every_period(tmp_path):
    from mainscripts.train import parse_programs, run_due_programs
    once, repeat = parse_programs([["5", f"echo x >> {tmp_path / 'once'}"], ["-2", f"echo x >> {tmp_path / 'rep'}"]])
    for elapsed in (1.0, 2.5, 5.0, 6.5, 7.0):
        run_due_programs([once, repeat], elapsed)
    deadline = time.time() + 10
    while time.time() < deadline and not ((tmp_path / "once").exists() and (tmp_path / "rep").exists()
                                          and len((tmp_path / "rep").read_text().split()) == 3):
        time.sleep(0.05)
    assert (tmp_path / "once").read_text().split() == ["x"]            # at 5 s, once
    assert (tmp_path / "rep").read_text().split() == ["x"] * 3          # at 2.5, 5.0 (4 s) and 6.5 (6 s)


def test_execute_program_bad_seconds_is_a_one_line_error(tiny_workspace, tmp_path, log_messages):
    cfg = tmp_path / "options.json"
    cfg.write_text(json.dumps(TINY))
    args = _train_args(tiny_workspace, tmp_path / "model", cfg, "--execute-program", "soon", "true")
    assert cli.main(args) == 1
    assert any("--execute-program" in m and "'soon'" in m for m in log_messages)
