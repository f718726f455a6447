#!/usr/bin/env bash
# The built-in demo: installs the requirements if needed, then runs the whole pipeline on two
# public-domain photos (extract, sort, grayscale, train SAEHDBW, merge, video) and writes
# workspace/result.mp4. About 6 minutes on a 2-core CPU. Options are passed on to "main.py demo",
# e.g.  bash scripts_linux/demo.sh --demo-minutes 10      (see: python main.py demo --help)
#       bash scripts_linux/demo.sh --colorize-minutes 2   (the face in the src person's colour)
set -euo pipefail
HERE="$(dirname "${BASH_SOURCE[0]}")"
bash "$HERE/setup.sh" --if-needed
source "$HERE/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" demo \
    --workspace "$WORKSPACE" \
    "$@"
