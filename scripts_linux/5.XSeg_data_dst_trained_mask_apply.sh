#!/usr/bin/env bash
# Applies the trained XSeg model of workspace/model to every face in data_dst/aligned
# (the mask is stored in each face file; the merger's XSeg mask modes and masked training use it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" xseg apply \
    --input-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model"
