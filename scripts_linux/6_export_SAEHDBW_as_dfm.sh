#!/usr/bin/env bash
# Exports the trained SAEHDBW model as a DeepFaceLive .dfm file (ONNX): model/<name>_SAEHDBW_model.dfm.
# The grayscale model reads the live face's brightness and colours its face with the live face's
# colour (as merge --bw-output luma): DeepFaceLive's colour transfer can stay off.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" exportdfm \
    --model-dir "$WORKSPACE/model" \
    --model SAEHDBW
