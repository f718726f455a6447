#!/usr/bin/env bash
# Exports the trained SAEHDBW model as a DeepFaceLive .dfm file (ONNX): model/<name>_SAEHDBW_model.dfm.
# The grayscale model reads the live face's brightness and gives a gray face: pick colour transfer
# rct in DeepFaceLive's Face merger to colour it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" exportdfm \
    --model-dir "$WORKSPACE/model" \
    --model SAEHDBW
