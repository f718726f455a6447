"""DFL-style prompts (`[y] Flip DST faces randomly ( y/n ?:help ) :`), the non-interactive policy and logging.

Non-interactive mode (`--non-interactive`, `DFL_NONINTERACTIVE=1`, or no TTY on stdin) never reads stdin: every
prompt returns its default (callers pass saved values as the default) and logs what it chose.
"""
from __future__ import annotations

import contextlib
import logging
import select
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

import colorama

from core import config

colorama.just_fix_windows_console()
log = logging.getLogger("dfl")
STOP_SIGNALS = ("SIGTERM", "SIGHUP")  # besides Ctrl-C's SIGINT: see `stop_signals_as_ctrl_c`

_COLORS = {
    logging.DEBUG: colorama.Style.DIM,
    logging.WARNING: colorama.Fore.YELLOW,
    logging.ERROR: colorama.Fore.RED,
    logging.CRITICAL: colorama.Fore.RED + colorama.Style.BRIGHT,
}


class _ColorFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        color = _COLORS.get(record.levelno)
        return f"{color}{text}{colorama.Style.RESET_ALL}" if color and sys.stderr.isatty() else text


def _setup_console() -> None:
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_ColorFormatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


_setup_console()


def batch_mode() -> None:
    """For unattended tools whose stdout is data (the benchmarks' JSON): quiet TensorFlow, never prompt, and
    send the console's log lines to stderr."""
    config.quiet_tensorflow_logs()
    config.override(non_interactive=True)
    for handler in log.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


@contextlib.contextmanager
def stop_signals_as_ctrl_c():
    """Inside, `kill` (SIGTERM: `timeout`, `docker stop`, a job scheduler) and a closed terminal (SIGHUP) raise
    KeyboardInterrupt like Ctrl-C, so a command stops the way it does on Ctrl-C: training saves the model, merge
    its progress. A signal already ignored stays ignored (`nohup` keeps a job running when the terminal closes).
    Only the main thread can set signal handlers; elsewhere this does nothing."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for name in STOP_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
                saved[name] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for name, handler in saved.items():
            signal.signal(getattr(signal, name), handler)


def add_log_file(folder: str | Path, command: str) -> Path | None:
    """Append every log line of this run to `folder/<date>_<command>.log`; returns the file (None if unwritable)."""
    try:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{datetime.now():%Y-%m-%d}_{command}.log"
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    return path


def log_info(msg: str) -> None:
    log.info(msg)


def log_warn(msg: str) -> None:
    log.warning(msg)


def log_err(msg: str) -> None:
    log.error(msg)


def is_interactive() -> bool:
    return not config.settings().non_interactive


# The prompt reader; tests replace it to feed answers.
read_line: Callable[[str], str] = input


def _ask(prompt: str, default_text: str, help_message: str | None) -> str | None:
    """Show `prompt`, return the stripped answer ('' for Enter); None means 'use the default'."""
    if not is_interactive():
        log_info(f"{prompt.rstrip(' :')} : {default_text} (non-interactive, default)")
        return None
    while True:
        try:
            answer = read_line(prompt).strip()
        except EOFError:
            log_info(f"{prompt.rstrip(' :')} : {default_text} (no input, default)")
            return None
        if answer == "?" and help_message:
            print(help_message)
            continue
        return answer


def _suffix(info: str, help_message: str | None) -> str:
    parts = [p for p in (info, "?:help" if help_message else "") if p]
    return f" ( {' '.join(parts)} ) : " if parts else " : "


def input_bool(text: str, default: bool, help_message: str | None = None) -> bool:
    """y/n question; also accepts 1/0 (the SAEHDBW fork's shortcut) and yes/no/true/false."""
    prompt = f"[{'y' if default else 'n'}] {text}{_suffix('y/n', help_message)}"
    while True:
        answer = _ask(prompt, "y" if default else "n", help_message)
        if not answer:
            return default
        word = answer.lower()
        if word in ("y", "yes", "1", "true"):
            return True
        if word in ("n", "no", "0", "false"):
            return False
        print("Please answer y or n (1 or 0).")


def _clamp(value, valid_range):
    if valid_range is None:
        return value
    low, high = valid_range
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


def _range_text(valid_range) -> str:
    if valid_range is None:
        return ""
    low, high = valid_range
    if low is None or high is None:  # an open range: clamping still applies, but "0-" would only confuse
        return ""
    return f"{low}-{high}"


def input_int(text: str, default: int, valid_range: tuple[int | None, int | None] | None = None,
              add_info: str | None = None, help_message: str | None = None) -> int:
    """Integer question; values outside `valid_range` are clamped into it."""
    return _input_parsed(text, default, default, int, "a whole number", valid_range, add_info, help_message)


def input_number(text: str, default: float, valid_range: tuple[float | None, float | None] | None = None,
                 add_info: str | None = None, help_message: str | None = None) -> float:
    """Float question; values outside `valid_range` are clamped into it."""
    return _input_parsed(text, default, float(default), float, "a number", valid_range, add_info, help_message)


def _input_parsed(text: str, shown: float, default: float, parse: Callable[[str], float], what: str,
                  valid_range: tuple | None, add_info: str | None, help_message: str | None) -> float:
    """Ask until the answer parses (`parse`), then clamp it into `valid_range`; no answer gives `default`."""
    info = add_info or _range_text(valid_range)
    prompt = f"[{shown}] {text}{_suffix(info, help_message)}"
    while True:
        answer = _ask(prompt, str(shown), help_message)
        if not answer:
            return _clamp(default, valid_range)
        try:
            return _clamp(parse(answer), valid_range)
        except ValueError:
            print(f"{answer!r} is not {what}.")


def input_str(text: str, default: str, valid_list: Sequence[str] | None = None, show_default: bool = True,
              help_message: str | None = None, lowercase: bool = True) -> str:
    """Text question; with `valid_list` only those answers (case-insensitive) are accepted."""
    info = "/".join(valid_list) if valid_list else ""
    prompt = f"[{default}] {text}{_suffix(info, help_message)}" if show_default else f"{text}{_suffix(info, help_message)}"
    while True:
        answer = _ask(prompt, str(default), help_message)
        if not answer:
            return default
        if valid_list is None:
            return answer.lower() if lowercase else answer
        for choice in valid_list:
            if answer.lower() == str(choice).lower():
                return choice
        print(f"Choose one of: {info}")


def input_in_time(text: str, seconds: float) -> bool:
    """Print `text` and wait up to `seconds` for Enter (DFL's override window). False when non-interactive."""
    if not is_interactive():
        return False
    print(text, flush=True)
    deadline = time.monotonic() + seconds
    try:
        if sys.platform == "win32":
            import msvcrt
            while time.monotonic() < deadline:
                if msvcrt.kbhit() and msvcrt.getwch() in "\r\n":
                    return True
                time.sleep(0.05)
            return False
        ready, _, _ = select.select([sys.stdin], [], [], seconds)
        if ready:
            sys.stdin.readline()
            return True
    except (OSError, ValueError):
        return False
    return False
