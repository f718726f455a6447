#!/usr/bin/env bash
# The built-in demo: installs the requirements if needed, then runs the whole pipeline on two
# public-domain photos (extract, sort, grayscale, train SAEHDBW, merge, video) and writes
# workspace/result.mp4. About 6 minutes on a 2-core CPU. Options are passed on to "main.py demo",
# e.g.  bash scripts_linux/demo.sh --demo-minutes 10      (see: python main.py demo --help)
#       bash scripts_linux/demo.sh --colorize-minutes 2   (the face in the src person's colour)
# The demo always uses the toolkit's own workspace folder (never the project 0_new_workspace.sh made),
# unless WORKSPACE is set before it starts.
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
DEMO_WORKSPACE="${WORKSPACE:-}"
bash "$HERE/setup.sh" --if-needed
source "$HERE/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" demo \
    --workspace "${DEMO_WORKSPACE:-$DFL_ROOT/workspace}" \
    "$@"
