#!/usr/bin/env bash
# Exports the trained SAEHD model as a DeepFaceLive .dfm file (ONNX): model/<name>_SAEHD_model.dfm.
# Load it in DeepFaceLive: copy it into DeepFaceLive's dfm_models folder, then choose it in the Face swapper.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" exportdfm \
    --model-dir "$WORKSPACE/model" \
    --model SAEHD
