#!/usr/bin/env bash
# Finds the face in every data_dst frame and saves aligned faces in
# workspace/data_dst/aligned, plus frames with landmarks drawn in data_dst/aligned_debug.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/aligned" \
    --output-debug
