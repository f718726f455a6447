#!/usr/bin/env bash
# Merges the grayscale AMPBW face into the colour data_dst frames. --bw-output luma keeps the frame's own
# colours and replaces only the brightness of the face. It asks the morph factor first (1.0 = the full src
# face; AMP_MORPH_FACTOR in setenv.sh answers it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" merge \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/merged" \
    --output-mask-dir "$WORKSPACE/data_dst/merged_mask" \
    --aligned-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model AMPBW \
    --bw-output luma \
    ${AMP_MORPH_FACTOR:+--morph-factor "$AMP_MORPH_FACTOR"} \
    ${MERGE_CONFIG_FILE:+--config-file "$MERGE_CONFIG_FILE"}
