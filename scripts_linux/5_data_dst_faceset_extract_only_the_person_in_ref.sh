#!/usr/bin/env bash
# Like 5_data_dst_faceset_extract.sh, but keeps only the faces of one person: the one in the
# reference photo IDENTITY_REF (setenv.sh; asked when it is not set). Faces of everyone else in
# the video are left out, so only that person is swapped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" extract \
    --input-dir "$WORKSPACE/data_dst" \
    --output-dir "$WORKSPACE/data_dst/aligned" \
    --output-debug \
    --filter-identity ${IDENTITY_REF:+"$IDENTITY_REF"}
