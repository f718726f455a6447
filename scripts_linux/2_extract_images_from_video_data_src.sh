#!/usr/bin/env bash
# Turns workspace/data_src.* (the video with the face you want) into frames
# in workspace/data_src. You are asked for the FPS (0 = every frame) and png/jpg.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video extract-video \
    --input-file "$WORKSPACE/data_src.*" \
    --output-dir "$WORKSPACE/data_src"
