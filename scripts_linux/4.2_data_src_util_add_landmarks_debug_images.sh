#!/usr/bin/env bash
# Adds a copy of every face with its landmarks drawn (_debug.jpg files).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util add-landmarks-debug-images \
    --input-dir "$WORKSPACE/data_src/aligned"
