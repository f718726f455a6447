#!/usr/bin/env bash
# Saves the faces' metadata to a side file, so you can edit the images
# in another program (which would drop the metadata) ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util save-faceset-metadata \
    --input-dir "$WORKSPACE/data_src/aligned"
