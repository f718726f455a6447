#!/usr/bin/env bash
# Makes one contact-sheet image of all faces in workspace/data_dst/aligned
# and opens it, so you can spot wrong faces quickly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" util contact-sheet \
    --input-dir "$WORKSPACE/data_dst/aligned" \
    --output-file "$WORKSPACE/data_dst_aligned_contact_sheet.png"

dfl_open "$WORKSPACE/data_dst_aligned_contact_sheet.png"
