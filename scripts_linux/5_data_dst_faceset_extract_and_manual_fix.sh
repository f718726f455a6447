#!/usr/bin/env bash
# Automatic extraction, then a window opens only for the frames
# where no face was found, so you can place those faces by hand.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/aligned" \
    --output-debug \
    --manual-fix
