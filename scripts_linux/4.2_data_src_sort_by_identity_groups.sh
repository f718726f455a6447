#!/usr/bin/env bash
# Splits workspace/data_src/aligned into one sub-folder per person (person_1 holds the most faces),
# for a src video with several people in it: keep the folder of your person as data_src/aligned.
# Faces that look like no one else's go to aligned_trash, never deleted.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" sort \
    --input-dir "$WORKSPACE/data_src/aligned" \
    --by identity-groups
