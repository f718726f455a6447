#!/usr/bin/env bash
# Trains Quick96: a small fixed model (96 px, full face) to check a faceset quickly. No questions.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" train \
    --training-data-src-dir "$WORKSPACE/data_src/aligned" \
    --training-data-dst-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model Quick96 \
    ${TRAIN_CONFIG_FILE:+--config-file "$TRAIN_CONFIG_FILE"} \
    ${PRETRAINED_MODEL_DIR:+--pretrained-model-dir "$PRETRAINED_MODEL_DIR"}
