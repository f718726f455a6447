#!/usr/bin/env bash
# Opens workspace/data_dst/aligned_debug: every frame with its landmarks.
# Delete frames with wrong landmarks, then run 'MANUAL RE-EXTRACT DELETED ALIGNED_DEBUG'.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setenv.sh"

dfl_open "$WORKSPACE/data_dst/aligned_debug"
