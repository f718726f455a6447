#!/usr/bin/env bash
# Deletes everything inside the workspace folder (frames, faces, model, result).
# You are asked to confirm first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util clear-workspace \
    --input-dir "$WORKSPACE"
