#!/usr/bin/env bash
# Trains the Colorizer on the colour src faces (data_src/aligned) into workspace/model: it learns
# the src person's colour from the brightness, so that "7) merge SAEHDBW colorized" gives the gray
# SAEHDBW face the colour of src instead of dst's. Press Enter in the preview window to save and stop.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" train \
    --training-data-src-dir "$WORKSPACE/data_src/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model Colorizer \
    ${COLORIZER_CONFIG_FILE:+--config-file "$COLORIZER_CONFIG_FILE"}
