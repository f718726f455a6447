#!/usr/bin/env bash
# Makes a lossless workspace/result.mov (large file, no quality loss).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video video-from-sequence \
    --input-dir "$WORKSPACE/data_dst/merged" \
    --output-file "$WORKSPACE/result.mov" \
    --reference-file "$WORKSPACE/data_dst.*" \
    --include-audio \
    --lossless

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video video-from-sequence \
    --input-dir "$WORKSPACE/data_dst/merged_mask" \
    --output-file "$WORKSPACE/result_mask.mov" \
    --reference-file "$WORKSPACE/data_dst.*" \
    --no-include-audio \
    --lossless
