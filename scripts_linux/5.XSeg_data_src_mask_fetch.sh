#!/usr/bin/env bash
# Copies the faces of data_src/aligned that have XSeg polygons to data_src/aligned_xseg,
# then asks whether to delete them from aligned (default yes).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" xseg fetch \
    --input-dir "$WORKSPACE/data_src/aligned"
