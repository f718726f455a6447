#!/usr/bin/env bash
# Resizes the faces (and optionally changes the face type), keeping their colour and metadata.
# (For SAEHDBW's grayscale copies use the 'resize to grayscale' step.)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util faceset-resize \
    --input-dir "$WORKSPACE/data_src/aligned" \
    --color
