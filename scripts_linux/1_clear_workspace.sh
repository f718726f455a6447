#!/usr/bin/env bash
# Deletes what was made in the workspace folder (frames, faces, model, merged frames, results);
# data_src.* and data_dst.* videos are kept. You are asked to confirm first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util clear-workspace \
    --workspace "$WORKSPACE"
