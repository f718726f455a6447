#!/usr/bin/env bash
# ... and puts the saved metadata back into the edited images.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util restore-faceset-metadata \
    --input-dir "$WORKSPACE/data_src/aligned"
