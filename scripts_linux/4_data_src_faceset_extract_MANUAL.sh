#!/usr/bin/env bash
# Like step 4, but you place every face yourself in a window
# (mouse to aim, wheel to size, Enter to accept, Space to skip, h for help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_src" \
    --output-dir "$WORKSPACE/data_src/aligned" \
    --detector manual
