#!/usr/bin/env bash
# Runs the test suite: installs the requirements if needed, then "python -m pytest -q" in the
# toolkit folder. Extra arguments go to pytest, e.g.  bash scripts_linux/test.sh -k scripts
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
bash "$HERE/setup.sh" --if-needed
source "$HERE/setenv.sh"

cd "$DFL_ROOT"
"$PYTHON_EXECUTABLE" -m pytest -q "$@"
