#!/usr/bin/env bash
# Trains the AMP model (DeepFaceLab's amplifier: the swap can be dialled between dst and src when merging)
# on data_src/aligned and data_dst/aligned into workspace/model. Whole-face (wf) faces by default.
# Press Enter in the preview window (or Ctrl+C here) to save and stop; run again to continue.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" train \
    --training-data-src-dir "$WORKSPACE/data_src/aligned" \
    --training-data-dst-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model AMP \
    ${AMP_CONFIG_FILE:+--config-file "$AMP_CONFIG_FILE"} \
    ${PRETRAINED_MODEL_DIR:+--pretrained-model-dir "$PRETRAINED_MODEL_DIR"}
