#!/usr/bin/env bash
# Merges the grayscale SAEHDBW face into the colour data_dst frames. --bw-output luma keeps
# the frame's own colours and replaces only the brightness of the face (gray = whole frame gray).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" merge \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/merged" \
    --output-mask-dir "$WORKSPACE/data_dst/merged_mask" \
    --aligned-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model SAEHDBW \
    --bw-output luma \
    ${MERGE_CONFIG_FILE:+--config-file "$MERGE_CONFIG_FILE"}
