#!/usr/bin/env bash
# Packs all faces into one faceset.pak file (faster to copy and to load).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util pack-faceset \
    --input-dir "$WORKSPACE/data_src/aligned"
