#!/usr/bin/env bash
# Makes another existing workspace the one every numbered script uses, e.g.
#   bash scripts_linux/0_switch_workspace.sh workspace      -> the toolkit's own workspace (the demo's)
#   bash scripts_linux/0_switch_workspace.sh my_project     -> workspaces/my_project
# Without a name you choose from the list of workspaces.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" workspace use \
    "$@"
