#!/usr/bin/env bash
# Give a video file as the argument to cut a part of it
# (you are asked for the start and end time). The cut is saved next to it as <name>_cut.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

if [ $# -lt 1 ]; then
    echo "Usage: bash $0 VIDEO_FILE   (cuts a part of VIDEO_FILE; you are asked for the start and end time)" >&2
    exit 2
fi

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" video cut-video \
    --input-file "$1"
