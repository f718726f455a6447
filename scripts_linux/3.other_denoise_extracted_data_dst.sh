#!/usr/bin/env bash
# Optional: reduces noise in the data_dst frames (temporal filter, strength 1-20).
# Works in place; keep a copy of the frames if you may want them back.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video denoise-image-sequence \
    --input-dir "$WORKSPACE/data_dst"
