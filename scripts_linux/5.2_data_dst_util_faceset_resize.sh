#!/usr/bin/env bash
# Resizes the faces (and optionally changes the face type), keeping their metadata.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util faceset-resize \
    --input-dir "$WORKSPACE/data_dst/aligned"
