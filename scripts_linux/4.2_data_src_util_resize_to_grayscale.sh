#!/usr/bin/env bash
# SAEHDBW: writes grayscale copies of the faces (resized, metadata kept)
# to workspace/data_src/aligned_bw. The SAEHDBW train script uses that folder when it exists.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" resize-to-grayscale \
    --input-dir "$WORKSPACE/data_src/aligned" \
    --output-dir "$WORKSPACE/data_src/aligned_bw"
