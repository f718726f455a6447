#!/usr/bin/env bash
# Prints versions, devices, ffmpeg and detector weights, and says what is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" doctor
