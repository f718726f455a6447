#!/usr/bin/env bash
# Sorts the faces in workspace/data_dst/aligned (you choose how: blur, yaw, histogram ...).
# Rejected faces are moved to aligned_trash, never deleted.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" sort \
    --input-dir "$WORKSPACE/data_dst/aligned"
