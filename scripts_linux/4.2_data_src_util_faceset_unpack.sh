#!/usr/bin/env bash
# Unpacks faceset.pak back into separate face files.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util unpack-faceset \
    --input-dir "$WORKSPACE/data_src/aligned"
