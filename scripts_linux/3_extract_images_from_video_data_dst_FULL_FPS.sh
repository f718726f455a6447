#!/usr/bin/env bash
# Turns workspace/data_dst.* (the video whose face gets replaced) into
# frames in workspace/data_dst, keeping every frame (full FPS).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video extract-video \
    --input-file "$WORKSPACE/data_dst.*" \
    --output-dir "$WORKSPACE/data_dst" \
    --fps 0
