"""`main.py train`: open or create a model, then train it in a worker thread while the main thread runs the
preview window (or, headless, waits for Enter / Ctrl-C). Saves on autosave, `s`, target iteration and exit;
stops cleanly on a NaN loss or an out-of-memory error with advice instead of a trace."""
from __future__ import annotations

import argparse
import logging
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from core import config, interact
from core.errors import UserError
from mainscripts.trainer_window import CHOOSER_LINES, Action, TrainerWindow, TrainerWindowState
from models import options as opt
from models import preview as pv
from models.base import ModelBase, NonFiniteLoss, SaveFailed
from models.registry import model_names, preset_models

NAN_ADVICE = ("To keep training stable: set lr_dropout to n, turn clipgrad on (y), or use smaller "
              "ae_dims/e_dims/d_dims (a new model).")
OOM_ADVICE = ("lower batch_size (now {batch}), or use a smaller model (resolution, ae_dims, e_dims, d_dims), "
              "or on a GPU set models_opt_on_gpu to n.")


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="Train a model: SAEHD, SAEHDBW, Quick96, AMP, XSeg (masks) or Colorizer.",
                              description="Train a model on aligned src and dst faces. Enter (or Ctrl-C) saves "
                                          "and stops; the model is also saved every autosave interval.")
    p.add_argument("--training-data-src-dir", type=Path, help="Aligned faces of the person to put in (src).")
    p.add_argument("--training-data-dst-dir", type=Path, help="Aligned faces of the video to change (dst).")
    p.add_argument("--pretraining-data-dir", type=Path,
                   help="A folder or faceset.pak of many different faces, for pretrain mode.")
    p.add_argument("--pretrained-model-dir", type=Path,
                   help="A model folder holding a model of the same class (e.g. one pretrained on many faces): a new "
                        "model starts as a copy of its newest one; pretrain mode is switched off unless asked for.")
    p.add_argument("--model-dir", type=Path, help="Folder that holds the model files (required to train).")
    p.add_argument("--model", default="SAEHD", choices=model_names(), help="Model class to train.")
    p.add_argument("--no-preview", action="store_true",
                   help="No preview window: write the preview and loss graph as PNGs next to the model.")
    p.add_argument("--cpu-only", action="store_true", help="Train on the CPU even when a GPU is present.")
    p.add_argument("--force-gpu-idxs", help="Comma-separated GPU indexes to use, e.g. 0 or 0,1.")
    p.add_argument("--force-model-name", help="Use (or create) the model with this name without asking.")
    p.add_argument("--debug", action="store_true",
                   help="DFL's debug mode: batches are made in the training process (a failing face shows its "
                        "whole traceback) and debug lines are printed.")
    p.add_argument("--silent-start", action="store_true",
                   help="Pick the most recent model and the best GPU without asking.")
    p.add_argument("--config-file", type=Path,
                   help="JSON object of options under DFL's names; with it nothing is asked.")
    p.add_argument("--preset", help="Start a new model from a named configuration: "
                                    "H64, H128, DF, LIAEF128, SAE (DFL 1.0 models), BW96, BW192 (SAEHDBW fork).")
    p.add_argument("--list-options", action="store_true", help="Print the options of --model and exit.")
    p.add_argument("--execute-program", nargs=2, action="append", default=[], metavar=("SECONDS", "COMMAND"),
                   help="Run COMMAND (a shell command line) SECONDS after training starts; a negative SECONDS "
                        "runs it every |SECONDS|. Repeatable. E.g. --execute-program 3600 \"shutdown -h now\".")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from models import presets
    from models.registry import load_model, model_class

    if args.debug:
        config.override(sample_workers=0)
        interact.log.setLevel(logging.DEBUG)
        interact.log.debug("debug mode: sample generators run in this process")
    cls = model_class(args.model)
    programs = parse_programs(args.execute_program)
    if args.list_options:
        print(opt.options_table(cls.option_specs()))
        return 0
    specs = cls.option_specs()
    config_options = opt.read_config_file(args.config_file, specs) if args.config_file else None
    preset = None
    if args.preset and not cls.TAKES_PRESETS:
        raise UserError(f"--preset makes {' and '.join(preset_models())} models; {cls.MODEL_NAME} does not take it")
    if args.preset:
        preset = opt.validate_config(specs, presets.get_preset(args.preset), f"preset {args.preset}")
    for flag, folder in (("--training-data-src-dir", args.training_data_src_dir),
                         ("--training-data-dst-dir", args.training_data_dst_dir),
                         ("--pretraining-data-dir", args.pretraining_data_dir),
                         ("--pretrained-model-dir", args.pretrained_model_dir)):
        if folder is not None and not folder.exists():
            raise UserError(f"{folder}: {flag} not found")
    if args.model_dir is None:
        raise UserError("train needs --model-dir")
    if not cls.NEEDS_DST:
        if args.training_data_src_dir is None:
            raise UserError(f"train --model {cls.MODEL_NAME} needs --training-data-src-dir")
    elif args.pretraining_data_dir is None and (args.training_data_src_dir is None
                                                or args.training_data_dst_dir is None):
        # (pretraining on a faceset of many faces needs neither: a model pretrained first is trained on them later)
        raise UserError("train needs --training-data-src-dir and --training-data-dst-dir, or --pretraining-data-dir "
                        "to pretrain")
    try:
        model = load_model(cls.MODEL_NAME, args.model_dir, training=True,
                           src_dir=args.training_data_src_dir, dst_dir=args.training_data_dst_dir,
                           pretraining_dir=args.pretraining_data_dir, pretrained_dir=args.pretrained_model_dir,
                           force_model_name=args.force_model_name,
                           silent_start=args.silent_start or config_options is not None, cpu_only=args.cpu_only,
                           force_gpu_idxs=args.force_gpu_idxs, config_options=config_options, preset=preset)
    except Exception as err:  # noqa: BLE001 - only memory errors are translated, the rest re-raised
        if _is_oom(err):
            interact.log_err(f"Out of memory while building the model: "
                             f"{OOM_ADVICE.format(batch=(config_options or {}).get('batch_size', '?'))}")
            return 1
        raise
    show_window = not args.no_preview and config.settings().has_display and interact.is_interactive()
    try:
        return Trainer(model, show_window=show_window, programs=programs).run()
    finally:
        model.close()


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, MemoryError):
        return True
    # TensorFlow not imported yet: the error cannot be one of its own (and importing it would print its banner).
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(err, tf.errors.ResourceExhaustedError)


def format_iteration(iteration: int, seconds: float | None, losses) -> str:
    """DFL's line: `[hh:mm:ss][#000123][0531ms][0.8211][0.7711]` (slow steps show `[12.34s]`; after a save the
    losses are the means since the previous save and the time field says `saved`)."""
    if seconds is None:
        took = "saved"
    else:
        took = f"{seconds:0.4f}"[:5] + "s" if seconds >= 10 else f"{int(seconds * 1000):04d}ms"
    return f"[{datetime.now():%H:%M:%S}][#{iteration:06d}][{took}]" + "".join(f"[{x:.4f}]" for x in losses)


@dataclass
class ScheduledProgram:
    """DFL's `--execute-program`: a command run once `seconds` after training starts, or every |seconds| when
    `seconds` is negative. DFL ran a Python snippet; here it is a shell command line (`python -c ...` runs
    Python)."""

    seconds: float
    command: str
    runs: int = 0

    def due(self, elapsed: float) -> bool:
        if self.seconds < 0:
            return elapsed >= -self.seconds * (self.runs + 1)
        return self.runs == 0 and elapsed >= self.seconds


def parse_programs(pairs: list[list[str]]) -> list[ScheduledProgram]:
    programs = []
    for seconds, command in pairs:
        try:
            value = float(seconds)
        except ValueError:
            raise UserError(f"--execute-program: {seconds!r} is not a number of seconds") from None
        if value == 0 or not command.strip():
            raise UserError(f"--execute-program {seconds} {command!r}: give a non-zero number of seconds and a "
                            "command")
        programs.append(ScheduledProgram(value, command))
    return programs


def run_due_programs(programs: list[ScheduledProgram], elapsed: float) -> None:
    """Start (without waiting for them) the programs whose time has come."""
    for prog in programs:
        if prog.due(elapsed):
            prog.runs += 1
            interact.log_info(f"Running scheduled program: {prog.command}")
            try:
                subprocess.Popen(prog.command, shell=True)
            except OSError as err:
                interact.log_warn(f"--execute-program {prog.command!r} could not start: {err}")


class Trainer:
    """One training session: the worker thread trains, the calling thread shows the window or waits.
    The caller owns the model (and closes it)."""

    def __init__(self, model: ModelBase, show_window: bool = False, programs: list[ScheduledProgram] | None = None):
        self.model = model
        self.show_window = show_window
        self.programs = programs or []
        self.commands: queue.Queue[Action] = queue.Queue()
        self.finished = threading.Event()
        self.exit_code = 0
        self.error: BaseException | None = None
        self._previews: list[tuple[str, np.ndarray]] = []
        self._previews_version = 0
        self._lock = threading.Lock()
        self.scalars = pv.ScalarLog(model.files.tensorboard)
        self._tty = sys.stdout.isatty()
        self._last_line = 0.0

    # ------------------------------------------------------------------ entry

    def run(self) -> int:
        interact.log_info(self.model.summary_text())
        if (self.show_window and self.model.options.get("write_preview_history")
                and self.model.sample_for_preview is None
                and interact.input_bool("Choose image for the preview history", False,
                                        help_message="Pick the faces the history images will show.")):
            self._choose_preview_sample()
        worker = threading.Thread(target=self._worker, name="dfl-trainer", daemon=True)
        worker.start()
        try:
            self._window_loop() if self.show_window else self._headless_loop()
        except KeyboardInterrupt:
            self.commands.put(Action.EXIT)
        while worker.is_alive():
            try:
                worker.join(0.2)
            except KeyboardInterrupt:
                self.commands.put(Action.EXIT)
        self.scalars.close()
        if self.error is not None:
            raise self.error
        return self.exit_code

    def _headless_loop(self) -> None:
        watch_stdin = interact.is_interactive() and sys.stdin is not None and sys.stdin.isatty()
        while not self.finished.wait(0.2):
            if watch_stdin and sys.platform != "win32":
                ready, _, _ = select.select([sys.stdin], [], [], 0)
                if ready:
                    sys.stdin.readline()
                    self.commands.put(Action.EXIT)

    def _window_loop(self) -> None:
        window = TrainerWindow(TrainerWindowState())
        seen, drawn_at = -1, 0.0
        try:
            while not self.finished.is_set():
                with self._lock:
                    version, previews = self._previews_version, self._previews
                if version != seen:
                    window.state.set_previews(previews)
                    seen = version
                if window.state.needs_redraw or time.monotonic() - drawn_at > 1.0:
                    window.show(self.model.loss_array(), self.model.iter, self.model.info_line())
                    drawn_at = time.monotonic()
                action = window.poll(50)
                if action in (Action.EXIT, Action.SAVE, Action.BACKUP, Action.REFRESH_PREVIEW):
                    self.commands.put(action)
        finally:
            window.close()

    def _choose_preview_sample(self) -> None:
        """DFL's chooser: show training batches until Enter; that batch becomes the history's fixed sample."""
        m = self.model
        window = TrainerWindow(TrainerWindowState(help_lines=CHOOSER_LINES))
        try:
            sample = None
            action = Action.REFRESH_PREVIEW
            while action is not Action.EXIT:
                if action is Action.REFRESH_PREVIEW or sample is None:
                    sample = m.next_sample(fresh_preview=True)
                    window.state.set_previews(m.get_previews(sample))
                if window.state.needs_redraw:
                    window.show(m.loss_array(), m.iter, m.info_line())
                action = window.poll(50)
            m.sample_for_preview = ([a[:4] for a in sample[0]], [a[:4] for a in sample[1]])
        finally:
            window.close()

    # ------------------------------------------------------------------ worker

    def _worker(self) -> None:
        try:
            self._train()
        except NonFiniteLoss as err:
            self.exit_code = 1
            self._print_newline()
            restored = self.model.restore_last_save()
            where = f"restored to its last save (iteration {self.model.iter})" if restored else \
                "not saved (nothing had been saved yet)"
            interact.log_err(f"Training stopped: the {err}. The model was {where}. {NAN_ADVICE}")
        except Exception as err:  # noqa: BLE001
            if _is_oom(err):
                self.exit_code = 1
                self._print_newline()
                interact.log.debug("out of memory: %s", str(err).splitlines()[0] if str(err) else err)
                interact.log_err("Out of memory while training: "
                                 + OOM_ADVICE.format(batch=self.model.options.get("batch_size", "?")))
            else:
                self.error = err
        finally:
            self.finished.set()

    def _train(self) -> None:
        m = self.model
        interval = max(1, config.settings().autosave_minutes) * 60.0
        next_autosave = time.time() + interval
        reached = m.is_reached_target()
        target = int(m.options.get("target_iter", 0) or 0)
        if reached:
            interact.log_info("The model has already reached its target iteration.")
            if not self.show_window:
                return
            self._publish_previews()
        else:
            if m.iter == 0:
                can_pretrain = any(spec.name == "pretrain" for spec in m.option_specs())  # not Quick96
                if can_pretrain and not m.options.get("pretrain") and not m.pretrain_just_disabled:
                    interact.log_info("Tip: start from a model pretrained on many faces (pretrain mode with "
                                      "--pretraining-data-dir, then --pretrained-model-dir) and it learns your two "
                                      "faces much sooner.")
                interact.log_info("Trying to do the first iteration. If an error occurs, reduce the model "
                                  "parameters.")
            goal = f" Target iteration: {target}." if target else ""
            interact.log_info(f"Starting.{goal} Press Enter (or Ctrl-C) to stop training and save the model.")
        started_at = time.monotonic()
        first_of_session = True
        while True:
            run_due_programs(self.programs, time.monotonic() - started_at)
            for action in self._drain_commands():
                if action is Action.EXIT:
                    if not reached:
                        self._save(final=True)
                    return
                if action is Action.SAVE:
                    if not self._save():
                        return
                elif action is Action.BACKUP:
                    self._print_newline()
                    self._backup("Backup")
                elif action is Action.REFRESH_PREVIEW:
                    if reached:  # not training any more: draw a fresh batch to look at
                        m.last_sample = m.next_sample(fresh_preview=True)
                    self._publish_previews()
            if reached:
                time.sleep(0.1)
                continue
            started = time.perf_counter()
            losses = m.train_one_iter()
            took = time.perf_counter() - started
            m.training_seconds += took
            self.scalars.scalars(m.iter, dict(zip(m.LOSS_NAMES, losses)))
            self._show_line(format_iteration(m.iter, took, losses))
            if m.iter == 1 or time.time() >= next_autosave:
                while time.time() >= next_autosave:
                    next_autosave += interval
                if not self._save():
                    return
            elif first_of_session or m.iter % m.preview_period() == 0:  # DFL: a preview as soon as it can
                self._publish_previews()
            first_of_session = False
            if m.should_write_preview_history():
                self._keep_going(m.write_preview_history, "preview history")
            if m.is_reached_target():
                if m.iter != 1 or self.exit_code:  # iteration 1 was just saved above (unless that failed)
                    self._save(final=True)
                interact.log_info("Reached target iteration.")
                reached = True
                if not self.show_window:
                    return

    def _drain_commands(self) -> list[Action]:
        actions = []
        while True:
            try:
                actions.append(self.commands.get_nowait())
            except queue.Empty:
                return actions

    def _save(self, final: bool = False) -> bool:
        """Save (and autobackup when due); False when training must stop. A failed write is reported: an
        autosave lets training go on and tries again next time, unless nothing of the model could ever be
        saved (a folder it may not write to: hours of training would be lost); a `final` save (exit, target
        reached) that fails, or that stop, make the exit code 1."""
        m = self.model
        means = m.mean_loss_since_save()
        try:
            m.save()
        except SaveFailed as err:
            self._print_newline()
            stop = final or not m.files.data.exists()
            if final:
                advice = ""
            elif stop:
                advice = " Training stops here, or every iteration from now on would be lost too."
            else:
                advice = " Training goes on; the next autosave tries again."
            interact.log_err(f"{err}{advice}")
            if stop:
                self.exit_code = 1
            return not stop
        self._print_newline()
        interact.log_info(format_iteration(m.iter, None, means))
        if m.backup_due():
            self._backup("Autobackup")
        self._publish_previews()
        self.scalars.flush()
        return True

    def _backup(self, kind: str) -> None:
        try:
            interact.log_info(f"{kind} written to {self.model.create_backup()}")
        except SaveFailed as err:
            interact.log_err(str(err))

    @staticmethod
    def _keep_going(write: Callable[[], None], what: str) -> None:
        """Write files that only people look at; a failure (disk full) is a warning, training goes on."""
        try:
            write()
        except OSError as err:
            interact.log_warn(f"The {what} could not be written: {err.strerror or err}")

    def _publish_previews(self, sample=None) -> None:
        """New previews for the window, or (headless) the preview/loss PNGs and a TensorBoard image."""
        m = self.model
        previews = m.get_previews(sample)
        with self._lock:
            self._previews = previews
            self._previews_version += 1
        if self.show_window or not previews:
            return
        history = m.loss_array()
        name, image = previews[0]

        def write() -> None:
            pv.write_image(m.files.file("preview.png"), pv.compose(image, history, m.iter, [m.info_line()]))
            pv.write_image(m.files.file("loss.png"), pv.loss_graph(history, 800, 200, m.iter))
        self._keep_going(write, "preview and loss graph")
        self.scalars.image(m.iter, name, image)

    # ------------------------------------------------------------------ console

    def _show_line(self, line: str) -> None:
        if self._tty:
            sys.stdout.write("\r" + line)
            sys.stdout.flush()
        elif time.monotonic() - self._last_line >= 10.0:
            self._last_line = time.monotonic()
            interact.log_info(line)

    def _print_newline(self) -> None:
        if self._tty:
            sys.stdout.write("\n")
            sys.stdout.flush()
