#!/usr/bin/env bash
# Prints a summary of workspace/data_src/aligned: count, face types, sizes, gray/color, yaw spread.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util faceset-info \
    --input-dir "$WORKSPACE/data_src/aligned"
