#!/usr/bin/env bash
# Trains the XSeg mask model on the labeled faces of data_src/aligned and data_dst/aligned
# into workspace/model. Press Enter in the preview window (or Ctrl+C here) to save and stop.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" train \
    --training-data-src-dir "$WORKSPACE/data_src/aligned" \
    --training-data-dst-dir "$WORKSPACE/data_dst/aligned" \
    --model-dir "$WORKSPACE/model" \
    --model XSeg \
    ${XSEG_CONFIG_FILE:+--config-file "$XSEG_CONFIG_FILE"}
