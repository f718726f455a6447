#!/usr/bin/env bash
# Makes a new workspace folder for a new project and makes it the one every numbered script uses from
# now on (remembered in current_workspace.txt in the toolkit folder). Then it lists the next steps.
#   bash scripts_linux/0_new_workspace.sh my_project       -> workspaces/my_project in the toolkit folder
#   bash scripts_linux/0_new_workspace.sh ~/videos/film1   -> that folder
# Without a name you are asked for one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

"$PYTHON_EXECUTABLE" "$DFL_ROOT/main.py" workspace new \
    "$@"
