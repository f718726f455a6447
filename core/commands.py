"""The commands the toolkit prints for the user to run: they must run as printed. A `main.py` command line names
the Python that runs this one (it has the requirements), a numbered script names this platform's file, and a
Python without the requirements gets one line saying which interpreter or script to use instead.

Standard library only: `main.py` imports this before it knows whether the requirements are installed.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent    # the toolkit folder, the one that holds main.py
MAIN_PY = ROOT / "main.py"
IS_WINDOWS = os.name == "nt"
# Imported by every command; a Python that has these has the requirements installed (setenv.sh asks the same).
KEY_MODULES = ("numpy", "cv2", "tqdm", "colorama", "tensorflow")
# The toolkit's own top-level packages: a missing one of these is a broken checkout, not a missing requirement.
OWN_PACKAGES = ("core", "facelib", "samplelib", "models", "merger", "mainscripts", "bench", "main")


def quote(parts: Sequence[str | Path]) -> str:
    """One command line from `parts`, quoted for this platform's shell (bash, or cmd.exe on Windows)."""
    parts = [str(p) for p in parts]
    return subprocess.list2cmdline(parts) if IS_WINDOWS else shlex.join(parts)


def main_command(*args: str | Path) -> str:
    """`<this Python> <toolkit>/main.py ARGS`: this Python has the requirements, since it runs the toolkit."""
    return quote([sys.executable, MAIN_PY, *args])


def script_path(linux_name: str, windows_name: str) -> Path:
    """A numbered script of this platform: `scripts_linux/<linux_name>.sh` or `scripts_win\\<windows_name>.bat`."""
    return ROOT / "scripts_win" / f"{windows_name}.bat" if IS_WINDOWS else ROOT / "scripts_linux" / f"{linux_name}.sh"


def script_command(linux_name: str, windows_name: str, *args: str | Path) -> str:
    """The command line that runs a numbered script (they read setenv and pick the toolkit's Python)."""
    path = script_path(linux_name, windows_name)
    return quote([path, *args]) if IS_WINDOWS else quote(["bash", path, *args])


def venv_python(root: Path = ROOT) -> Path:
    """The Python of the toolkit's own virtual environment (`scripts_linux/setup.sh` makes it)."""
    return root / ".venv" / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")


def missing_key_module() -> str | None:
    """The first of `KEY_MODULES` this Python cannot import, or None (found without importing anything)."""
    import importlib.util
    for name in KEY_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def is_own_module(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in OWN_PACKAGES


def _executable_with_requirements(python: str) -> str | None:
    """`python`'s own executable (a launcher such as a pyenv shim resolved) when it has the requirements."""
    check = (f"import importlib.util as u, sys; "
             f"sys.exit(0 if all(u.find_spec(m) for m in {KEY_MODULES!r}) and not print(sys.executable) else 1)")
    try:
        run = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return (run.stdout.strip() or python) if run.returncode == 0 else None


def python_with_requirements() -> str | None:
    """A Python that has the requirements when started plainly: the toolkit's `.venv`, else `python3` / `python`
    on PATH (this very one too, when only a flag such as `-S` or `-I` hid them)."""
    candidates = [str(venv_python())] + [found for name in ("python3", "python") if (found := shutil.which(name))]
    for python in dict.fromkeys([*candidates, sys.executable]):
        found = _executable_with_requirements(python) if Path(python).exists() else None
        if found:
            return found
    return None


def lacking_requirements_line(module: str, argv: Sequence[str]) -> str:
    """One line for a Python that lacks the requirements: which interpreter (or script) to use instead."""
    head = f"Error: this Python ({sys.executable}) lacks the toolkit's requirements (no module named {module!r})."
    if missing_key_module() is None:   # the right Python, with a requirement missing: complete its installation
        return (f"{head} Install them into it: "
                f"{quote([sys.executable, '-m', 'pip', 'install', '-r', ROOT / 'requirements.txt'])}")
    other = python_with_requirements()
    if other:
        return (f"{head} Run it with the Python that has them: {quote([other, MAIN_PY, *argv])}  "
                f"(the numbered scripts in {'scripts_win' if IS_WINDOWS else 'scripts_linux'} use it by themselves)")
    install = ("see README, Installation (py -3.11 -m venv .venv, then .venv\\Scripts\\python -m pip install -r "
               "requirements.txt)" if IS_WINDOWS else quote(["bash", ROOT / "scripts_linux" / "setup.sh"]))
    return (f"{head} Install them once: {install}; then use the numbered scripts, or "
            f"{quote([venv_python(), MAIN_PY, *argv])}")
