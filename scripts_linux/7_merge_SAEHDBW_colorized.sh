#!/usr/bin/env bash
# Merges the grayscale SAEHDBW face into the colour data_dst frames in the src person's colour:
# --bw-output colorize colours every predicted face with the Colorizer ("6) train Colorizer").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" merge \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/merged" \
    --output-mask-dir "$WORKSPACE/data_dst/merged_mask" \
    --aligned-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model SAEHDBW \
    --bw-output colorize \
    ${MERGE_CONFIG_FILE:+--config-file "$MERGE_CONFIG_FILE"}
