#!/usr/bin/env bash
# Like step 5, but you place every face yourself in a window.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/aligned" \
    --detector manual \
    --output-debug
