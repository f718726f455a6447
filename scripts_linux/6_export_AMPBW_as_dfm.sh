#!/usr/bin/env bash
# Exports the trained AMPBW model as a DeepFaceLive .dfm file (ONNX): model/<name>_AMPBW_model.dfm.
# It reads the live face's brightness and gives its face in the live face's colour; its morph factor is a
# second input, DeepFaceLive's morph slider.
# Load it in DeepFaceLive: copy it into DeepFaceLive's dfm_models folder, then choose it in the Face swapper.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" exportdfm \
    --model-dir "$WORKSPACE/model" \
    --model AMPBW
