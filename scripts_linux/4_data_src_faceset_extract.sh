#!/usr/bin/env bash
# Finds the face in every data_src frame and saves aligned faces
# (JPG with embedded landmarks) in workspace/data_src/aligned.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_src" \
    --output-dir "$WORKSPACE/data_src/aligned"
