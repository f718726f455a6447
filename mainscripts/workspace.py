"""`main.py workspace new|use|show`: a workspace per project, and which one the numbered scripts use.

`new NAME` makes `workspaces/NAME` in the toolkit folder (or the folder NAME when it is a path) with DFL's empty
layout, makes it the current workspace and prints the next steps as commands; `use NAME` switches to an existing
one (`workspace` is the toolkit's own, the demo's); `show` says which one is current. The current workspace is
one line in `current_workspace.txt` in the toolkit folder, which setenv.sh / setenv.bat read (a WORKSPACE set in
the environment still wins).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from core import config, interact
from core.commands import ROOT, script_command
from core.errors import UserError
from core.workspace import (CURRENT_FILE, DEFAULT_NAME, WORKSPACES_DIR, Workspace, current_workspace,
                            free_workspace_name, known_workspaces, remember_current, workspace_folder)

# The numbered steps from two videos to result.mp4 (Linux script, Windows script, a note shown under it).
NEXT_STEPS: tuple[tuple[str, str, str], ...] = (
    ("2_extract_images_from_video_data_src", "2) extract images from video data_src", ""),
    ("3_extract_images_from_video_data_dst_FULL_FPS", "3) extract images from video data_dst FULL FPS", ""),
    ("4_data_src_faceset_extract", "4) data_src faceset extract", ""),
    ("4.2_data_src_util_resize_to_grayscale", "4.2) data_src util resize to grayscale", ""),
    ("5_data_dst_faceset_extract", "5) data_dst faceset extract", ""),
    ("5.2_data_dst_util_resize_to_grayscale", "5.2) data_dst util resize to grayscale", ""),
    ("6_train_SAEHDBW", "6) train SAEHDBW",
     "it trains until you stop it with Enter in the preview window or Ctrl+C; the model is saved and the next "
     "run continues it"),
    ("7_merge_SAEHDBW", "7) merge SAEHDBW", ""),
    ("8_merged_to_mp4", "8) merged to mp4", "writes result.mp4"),
)


def next_steps_text(ws: Workspace) -> str:
    """What to do in a new workspace, with every step as a command that runs as printed."""
    lines = ["Next:", "  1. Put your two videos into it:",
             f"       {ws.root / 'data_src.mp4'}   the face you want (mp4, avi, mov, mkv ... all work)",
             f"       {ws.root / 'data_dst.mp4'}   the video whose face is replaced",
             "  2. Run these in order (Enter takes the default answer of every question):"]
    for linux, windows, note in NEXT_STEPS:
        lines.append(f"       {script_command(linux, windows)}")
        if note:
            lines.append(f"           ({note})")
    lines.append("     Optional steps (look at the faces, sort them, XSeg masks, other models): README, "
                 "\"The numbered workflow\".")
    return "\n".join(lines)


def _warn_if_overridden(previous: Path, chosen: Path) -> None:
    """A WORKSPACE exported in the shell wins over current_workspace.txt: say so when it names a third folder."""
    configured = config.settings().workspace.expanduser().absolute()
    if configured not in (previous.absolute(), chosen.absolute(), Path(DEFAULT_NAME).absolute()):
        interact.log_warn(f"WORKSPACE is set in your environment ({configured}) and wins over {CURRENT_FILE}: "
                          "unset it (or set it to the new workspace) for the numbered scripts to use this one.")


def _use(folder: Path, root: Path, previous: Path) -> None:
    remembered = remember_current(root, folder)
    interact.log_info(f"The numbered scripts now use the workspace {folder} (remembered in {remembered}; "
                      f"{script_command('0_switch_workspace', '0) switch workspace')} switches to another).")
    _warn_if_overridden(previous, folder)


def new_workspace(name: str | None, root: Path) -> Path:
    """Make a workspace (DFL's empty layout), make it current and print the next steps; returns its folder."""
    if not name:
        name = interact.input_str("Name of the new workspace (or a folder)", free_workspace_name(root), lowercase=False,
                                  help_message=f"A plain name makes {WORKSPACES_DIR}/<name> in the toolkit "
                                               "folder; a path (with / or \\) makes that folder.")
    folder = workspace_folder(name, root)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"{folder}: already exists and is not empty; choose another name, or make it the current "
                        f"workspace: {script_command('0_switch_workspace', '0) switch workspace', name)}")
    previous = current_workspace(root)
    ws = Workspace(folder)
    ws.create()
    interact.log_info(f"Made the workspace {folder}.")
    _use(folder, root, previous)
    interact.log_info(next_steps_text(ws))
    return folder


def use_workspace(name: str | None, root: Path) -> Path:
    """Make an existing workspace the current one (asked from the known ones when no name is given)."""
    previous = current_workspace(root)
    if not name:
        known = known_workspaces(root)
        if not known:
            raise UserError(f"no workspace in {root} yet: make one with "
                            f"{script_command('0_new_workspace', '0) new workspace')}")
        listing = "\n".join(f"  [{i}] {p}{'  (current)' if p == previous else ''}" for i, p in enumerate(known))
        interact.log_info(f"Workspaces:\n{listing}")
        default = str(known.index(previous)) if previous in known else "0"
        answer = interact.input_str("Which workspace (number, name or folder)", default, lowercase=False)
        name = str(known[int(answer)]) if answer.isdigit() and int(answer) < len(known) else answer
    folder = workspace_folder(name, root)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such workspace; make it with "
                        f"{script_command('0_new_workspace', '0) new workspace', name)}")
    _use(folder, root, previous)
    return folder


def show_workspaces(root: Path) -> Path:
    current = current_workspace(root)
    interact.log_info(f"Current workspace of the numbered scripts: {current}"
                      + ("" if current.is_dir() else "  (not made yet)"))
    others = [p for p in known_workspaces(root) if p != current]
    if others:
        interact.log_info("Other workspaces:\n" + "\n".join(f"  {p}" for p in others))
    return current


def main(args: argparse.Namespace) -> int:
    if args.workspace_command == "new":
        new_workspace(args.name, ROOT)
    elif args.workspace_command == "use":
        use_workspace(args.name, ROOT)
    else:
        show_workspaces(ROOT)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "workspace", help="Make a new workspace for a project, or switch the numbered scripts to another one.",
        description=f"A workspace per project. The numbered scripts use {DEFAULT_NAME}/ in the toolkit folder "
                    f"unless {CURRENT_FILE} there names another (these commands write it; a WORKSPACE variable "
                    "set in the environment wins over both).")
    commands = p.add_subparsers(dest="workspace_command", metavar="WORKSPACE_COMMAND", required=True)
    new = commands.add_parser("new", help="Make a new workspace (DFL's empty layout) and make it the current one.")
    new.add_argument("name", nargs="?", help=f"A name (the folder {WORKSPACES_DIR}/NAME in the toolkit folder) or "
                                             "a folder path. Asked when missing.")
    use = commands.add_parser("use", help="Make an existing workspace the current one.")
    use.add_argument("name", nargs="?", help=f"A name in {WORKSPACES_DIR}/, `{DEFAULT_NAME}` (the toolkit's own, "
                                             "the demo's) or a folder path. Chosen from a list when missing.")
    commands.add_parser("show", help="Print the current workspace and the other known ones.")
    for sub in commands.choices.values():
        # writes no log into the workspace it leaves (the demo's, say): the command only switches
        sub.set_defaults(func=main, log_to_workspace=False)
