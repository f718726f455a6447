#!/usr/bin/env bash
# Deletes the applied XSeg masks of every face in data_src/aligned (hand-drawn polygons stay).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" xseg remove \
    --input-dir "$WORKSPACE/data_src/aligned"
