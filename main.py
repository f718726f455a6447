#!/usr/bin/env python3
"""Command-line entry point: one argparse tree; each subcommand lives in a `mainscripts/` module."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import multiprocessing
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:   # started with `python -I` / `-P`: find the toolkit
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import commands as _commands  # noqa: E402 - standard library only, like core.config
from core import config as _config  # noqa: E402

_config.quiet_tensorflow_logs()

# Each module defines `register(subparsers)`, which adds its parser(s) with `set_defaults(func=main)`; a parser
# with `log_to_workspace=False` writes no log file into a workspace (the command chooses or makes one itself).
COMMAND_MODULES = ("extract", "sort", "resize", "train", "merge", "exportdfm", "video", "util", "xseg", "demo",
                   "doctor", "workspace")


# DeepFaceLab features this toolkit does not have: one line saying why, instead of argparse's "invalid choice".
MISSING_DFL_FEATURES = {
    ("--super-resolution-power",): "merge --super-resolution-power: DeepFaceLab's super resolution is its pretrained "
                                   "4x FaceEnhancer, whose weights ship with no package (and nothing downloads here); "
                                   "sharpen the face with --sharpen-mode gaussian --blursharpen-amount N instead",
    ("facesettool", "enhance"): "facesettool enhance: it runs DeepFaceLab's pretrained FaceEnhancer, whose weights "
                                "ship with no package; it is not available",
}


def missing_dfl_feature(argv: list[str]) -> str | None:
    """Why a DeepFaceLab command line asks for something this toolkit lacks (`MISSING_DFL_FEATURES`), or None."""
    tokens = [part for arg in argv for part in (arg.split("=", 1) if arg.startswith("--") else [arg])]
    for words, reason in MISSING_DFL_FEATURES.items():
        if any(tuple(tokens[i:i + len(words)]) == words for i in range(len(tokens))):
            return reason
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="SAEHDBW face-swap toolkit: DeepFaceLab 2.0 workflow with a grayscale SAEHD model.")
    parser.add_argument("--non-interactive", action="store_true",
                        help="Never prompt: use saved values or defaults (also DFL_NONINTERACTIVE=1, or no TTY).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"mainscripts.{name}") is not None:
            module = importlib.import_module(f"mainscripts.{name}")
            if hasattr(module, "register"):
                module.register(subparsers)
    return parser


def _workspace_for(args: argparse.Namespace) -> Path | None:
    """The workspace a command works in: an ancestor of a path argument holding data_src/data_dst or their videos;
    else the configured one, unless the command was given existing files or folders outside every workspace (its
    log then goes to no workspace: a command never writes into a workspace it was not given)."""
    from core import config
    from core.workspace import Workspace
    elsewhere = False
    for value in vars(args).values():
        if not isinstance(value, (str, Path)) or not value:
            continue
        path = Path(value).expanduser().absolute()
        for folder in (path, *path.parents):
            ws = Workspace(folder)
            if ws.data_src.is_dir() or ws.data_dst.is_dir() or ws.video("data_src") or ws.video("data_dst"):
                return folder
        elsewhere = elsewhere or path.exists()
    ws = config.settings().workspace
    return ws if ws.is_dir() and not elsewhere else None


def _lacking_requirements(err: ModuleNotFoundError | None, argv: list[str]) -> int:
    """One line instead of a traceback when this Python lacks the requirements (see core/commands.py)."""
    module = err.name if err is not None else _commands.missing_key_module()
    print(_commands.lacking_requirements_line(module or "?", argv), file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv_list = sys.argv[1:] if argv is None else list(argv)
    missing = missing_dfl_feature(argv_list)
    if missing:
        print(f"Error: {missing}", file=sys.stderr)
        return 2
    if _commands.missing_key_module():
        return _lacking_requirements(None, argv_list)
    try:
        return _run(argv_list)
    except ModuleNotFoundError as err:
        if _commands.is_own_module(err.name):
            raise
        return _lacking_requirements(err, argv_list)


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from core import config, interact
    from core.errors import UserError, describe_os_error
    from core.workspace import Workspace
    if args.non_interactive:
        config.override(non_interactive=True)
    if getattr(args, "cpu_only", False):
        config.override(force_cpu=True)
    workspace = _workspace_for(args) if getattr(args, "log_to_workspace", True) else None
    if workspace is not None:
        interact.add_log_file(Workspace(workspace).logs, args.command)
    interact.log.debug("argv: %s", sys.argv)
    for hint in config.fork_env_hints():
        interact.log_info(hint)
    try:
        with interact.stop_signals_as_ctrl_c():
            code = args.func(args)
    except KeyboardInterrupt:
        interact.log_err("Interrupted.")
        return 130
    except (UserError, FileNotFoundError, NotADirectoryError) as err:
        interact.log_err(f"Error: {err}")
        return 1
    except OSError as err:  # disk full, read-only or forbidden folder: what happened, where, what to do
        interact.log_err(f"Error: {describe_os_error(err)}")
        return 1
    return int(code or 0)


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    sys.exit(main())
