#!/usr/bin/env bash
# Installs what the toolkit needs. Run it once after downloading the toolkit.
#
#   bash scripts_linux/setup.sh              make the virtual environment .venv in the toolkit folder
#                                            (if missing) and install requirements.txt + requirements-dev.txt
#   bash scripts_linux/setup.sh --gpu        the same, plus TensorFlow with NVIDIA CUDA support
#   bash scripts_linux/setup.sh --if-needed  do nothing when the Python in use already has every
#                                            requirement (demo.sh and test.sh call it this way)
#
# The Python used to make .venv is $PYTHON if set, else python3.11, else python3 (3.11 recommended).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS=("$ROOT/requirements.txt" "$ROOT/requirements-dev.txt")

gpu=0
if_needed=0
for arg in "$@"; do
    case "$arg" in
        --gpu) gpu=1 ;;
        --if-needed) if_needed=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "Unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done

# requirements_met PYTHON: true when PYTHON has every distribution the requirement files name,
# in a version inside the given range (ranges are checked when the 'packaging' module is there).
requirements_met() {
    "$1" - "${REQS[@]}" <<'PY'
import re
import sys
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:
    Requirement = None
problems = []
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0]
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} (missing)")
            continue
        if Requirement is not None and not Requirement(line).specifier.contains(version, prereleases=True):
            problems.append(f"{name} {version} (wanted {line})")
if problems:
    print("Not installed yet: " + ", ".join(problems))
    sys.exit(1)
PY
}

current_python() {
    if [ -x "$VENV/bin/python" ]; then echo "$VENV/bin/python"; else command -v python3 || command -v python; fi
}

if [ "$if_needed" = 1 ] && [ "$gpu" = 0 ]; then
    py="$(current_python)"
    if requirements_met "$py"; then
        echo "Requirements already installed for $py"
        exit 0
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    base="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    echo "Creating the virtual environment $VENV with $base ($("$base" --version 2>&1))"
    "$base" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -r "${REQS[0]}" -r "${REQS[1]}"
if [ "$gpu" = 1 ]; then
    # The CUDA build of TensorFlow brings its own CUDA and cuDNN libraries (Linux only).
    "$VENV/bin/python" -m pip install "tensorflow[and-cuda]$(grep -E '^tensorflow[<>=]' "${REQS[0]}" | sed 's/^tensorflow//')"
fi
requirements_met "$VENV/bin/python"
echo "Setup done. The numbered scripts will use $VENV/bin/python"
