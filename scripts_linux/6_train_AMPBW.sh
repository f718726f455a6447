#!/usr/bin/env bash
# Trains AMPBW, the grayscale AMP: one channel end to end, so a small GPU can train a bigger or sharper
# model, with AMP's morph factor at merge time. Uses data_src/aligned_bw and data_dst/aligned_bw when they
# exist (4.2/5.2 resize to grayscale), otherwise the colour faces, converted to gray once at load time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

SRC_DIR="$WORKSPACE/data_src/aligned"
if [ -d "$WORKSPACE/data_src/aligned_bw" ]; then SRC_DIR="$WORKSPACE/data_src/aligned_bw"; fi

DST_DIR="$WORKSPACE/data_dst/aligned"
if [ -d "$WORKSPACE/data_dst/aligned_bw" ]; then DST_DIR="$WORKSPACE/data_dst/aligned_bw"; fi

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" train \
    --training-data-src-dir "$SRC_DIR" \
    --training-data-dst-dir "$DST_DIR" \
    --model-dir "$WORKSPACE/model" \
    --model AMPBW \
    ${AMP_CONFIG_FILE:+--config-file "$AMP_CONFIG_FILE"} \
    ${PRETRAINED_MODEL_DIR:+--pretrained-model-dir "$PRETRAINED_MODEL_DIR"}
