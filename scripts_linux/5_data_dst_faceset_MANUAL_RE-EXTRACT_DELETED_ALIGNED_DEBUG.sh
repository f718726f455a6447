#!/usr/bin/env bash
# Look through data_dst/aligned_debug and delete the frames whose landmarks are wrong;
# this script then asks you to place the face by hand in exactly those frames.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/aligned" \
    --output-debug \
    --manual-output-debug-fix
