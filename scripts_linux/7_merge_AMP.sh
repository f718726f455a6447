#!/usr/bin/env bash
# Puts the trained AMP face into every data_dst frame: data_dst/merged (frames)
# and data_dst/merged_mask (masks). It asks the morph factor first (1.0 = the full src face; AMP_MORPH_FACTOR
# in setenv.sh answers it). Interactive window: Tab shows the keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" merge \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/merged" \
    --output-mask-dir "$WORKSPACE/data_dst/merged_mask" \
    --aligned-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model AMP \
    ${AMP_MORPH_FACTOR:+--morph-factor "$AMP_MORPH_FACTOR"} \
    ${MERGE_CONFIG_FILE:+--config-file "$MERGE_CONFIG_FILE"}
