#!/usr/bin/env bash
# Makes workspace/result.avi (and result_mask.avi) from the merged frames.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video video-from-sequence \
    --input-dir "$WORKSPACE/data_dst/merged" \
    --output-file "$WORKSPACE/result.avi" \
    --reference-file "$WORKSPACE/data_dst.*" \
    --include-audio

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video video-from-sequence \
    --input-dir "$WORKSPACE/data_dst/merged_mask" \
    --output-file "$WORKSPACE/result_mask.avi" \
    --reference-file "$WORKSPACE/data_dst.*" \
    --no-include-audio
