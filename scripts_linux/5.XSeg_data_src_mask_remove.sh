#!/usr/bin/env bash
# Deletes the hand-drawn XSeg polygons of every face in data_src/aligned (applied masks stay).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" xseg remove-labels \
    --input-dir "$WORKSPACE/data_src/aligned"
