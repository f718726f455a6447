#!/usr/bin/env bash
# Renames the faces back to the frame names they were extracted from.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util recover-original-filename \
    --input-dir "$WORKSPACE/data_dst/aligned"
