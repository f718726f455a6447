#!/usr/bin/env bash
# Opens the XSeg editor on data_src/aligned: draw include/exclude polygons on the faces
# (the labels the XSeg model trains on).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" xseg editor \
    --input-dir "$WORKSPACE/data_src/aligned"
