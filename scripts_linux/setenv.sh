#!/usr/bin/env bash
# setenv.sh - the settings every numbered script in scripts_linux/ reads first (they "source" it).
#
# Open it in a text editor to change something. Lines starting with "#" are comments and do nothing.
# To switch a setting ON, delete the "# " in front of its "export" line; to switch it OFF, put "# " back.
# A value already set in your shell wins over the defaults below, e.g.
#     WORKSPACE=~/faceswap/project1 bash scripts_linux/4_data_src_faceset_extract.sh

# ---- Where things are ------------------------------------------------------------------------------

# DFL_ROOT: the toolkit folder, the one that holds main.py. Found automatically from this file's place.
export DFL_ROOT="${DFL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# DFL_ROOT_SAEHDBW: in the original SAEHDBW fork the grayscale model lived in a second copy of
# DeepFaceLab. Here SAEHDBW is built in, so this is the same folder (kept for the fork's own scripts).
export DFL_ROOT_SAEHDBW="${DFL_ROOT_SAEHDBW:-$DFL_ROOT}"

# WORKSPACE: the folder with your videos (data_src.mp4, data_dst.mp4) and everything made from them.
# One workspace per project: "bash scripts_linux/0_new_workspace.sh NAME" makes workspaces/NAME in the
# toolkit folder and remembers it in current_workspace.txt there; "0_switch_workspace.sh" switches to
# another one. Without that file it is the toolkit's own "workspace" folder (the demo's).
if [ -z "${WORKSPACE:-}" ] && [ -s "$DFL_ROOT/current_workspace.txt" ]; then
    WORKSPACE="$(head -n 1 "$DFL_ROOT/current_workspace.txt" | tr -d '\r')"
fi
export WORKSPACE="${WORKSPACE:-$DFL_ROOT/workspace}"

# PYTHON_EXECUTABLE: the Python that has the requirements installed: the toolkit's own virtual
# environment .venv when scripts_linux/setup.sh made one, otherwise the first python3 / python on your
# PATH that has them (the modules main.py checks), otherwise python3.
if [ -z "${PYTHON_EXECUTABLE:-}" ]; then
    if [ -x "$DFL_ROOT/.venv/bin/python" ]; then
        PYTHON_EXECUTABLE="$DFL_ROOT/.venv/bin/python"
    else
        for candidate in python3 python; do
            if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ("numpy", "cv2", "tqdm", "colorama", "tensorflow")))' 2>/dev/null; then
                PYTHON_EXECUTABLE="$(command -v "$candidate")"
                break
            fi
        done
        PYTHON_EXECUTABLE="${PYTHON_EXECUTABLE:-$(command -v python3 || command -v python || echo python3)}"
    fi
fi
export PYTHON_EXECUTABLE

# ---- Graphics card (GPU) ---------------------------------------------------------------------------
# Normally there is nothing to change here: the toolkit lists your GPUs and asks which one to use (or
# uses the processor when there is no usable GPU). For GPU support install TensorFlow with CUDA:
#     bash scripts_linux/setup.sh --gpu

# DFL_FORCE_CPU: use the processor even when a GPU is present (slow, but it always works).
# export DFL_FORCE_CPU=1

# force_gpu_data: some drivers never answer when the toolkit asks for the list of GPUs, and then
# "nothing happens" for minutes after a train or merge script starts. Switch this on to skip that
# question: the first GPU is used directly, and the two lines after it only give the name and the
# memory size (in bytes) the toolkit assumes for it. The memory size also picks the default batch
# size, so set it close to the card's real memory.
# The setting is ON whenever the variable exists, even when empty ("export force_gpu_data=").
# To switch it off, comment the line out (or run: unset force_gpu_data). Never set it to 0.
# export force_gpu_data=1
# export forced_gpu_id="Unknown CUDA GPU"
# export max_gpu_memory=1556925644

# ---- Examples: uncomment ONE block -----------------------------------------------------------------

# Example A - GeForce GTX 750 Ti, 2 GB (the card the SAEHDBW fork was made on). Train SAEHDBW, e.g.
#   resolution 192, archi df-udt, ae_dims 128, e_dims 48, d_dims 32, d_mask_dims 16, batch size 6.
# export force_gpu_data=1
# export forced_gpu_id="NVIDIA GeForce GTX 750 Ti"
# export max_gpu_memory=1556925644

# Example B - an 8 GB card (GTX 1070/1080, RTX 2070, RTX 3060 Ti ...), only if the GPU list hangs.
# export force_gpu_data=1
# export forced_gpu_id="NVIDIA GeForce RTX 2070"
# export max_gpu_memory=8589934592

# Example C - no NVIDIA card, or keep the GPU free: everything runs on the processor.
# export DFL_FORCE_CPU=1

# ---- Other settings --------------------------------------------------------------------------------

# Minutes between automatic saves while training (default 25).
# export user_dfl_save_interval_min=25

# Iterations between two pictures of the preview history (default 500).
# export preview_period=500

# How many processor cores merging uses (default: all of them).
# export default_merge_cpu_count=2

# Never ask questions: use saved answers or defaults (for unattended runs).
# export DFL_NONINTERACTIVE=1

# Answers for the train / merge scripts in a file instead of typed in (see README, "Config files").
# export TRAIN_CONFIG_FILE="$WORKSPACE/train_config.json"
# export MERGE_CONFIG_FILE="$WORKSPACE/merge_config.json"
# Options of the XSeg mask model (5.XSeg_train.sh), e.g. {"resolution": 128, "base_ch": 16} for a CPU.
# export XSEG_CONFIG_FILE="$WORKSPACE/xseg_config.json"
# Options of the Colorizer (6_train_Colorizer.sh), e.g. {"resolution": 128, "base_ch": 32} on a GPU.
# export COLORIZER_CONFIG_FILE="$WORKSPACE/colorizer_config.json"
# Options of the AMP and AMPBW models (6_train_AMP.sh, 6_train_AMPBW.sh; they differ from SAEHD's), e.g. {"resolution": 128, "face_type": "f"}.
# export AMP_CONFIG_FILE="$WORKSPACE/amp_config.json"
# AMP's morph factor for 7_merge_AMP.sh and 7_merge_AMPBW.sh (0.0 .. 1.0; 1.0 = the full src face) instead of the question.
# export AMP_MORPH_FACTOR=1.0

# A folder (or faceset.pak) of many different faces for the pretraining mode of SAEHD / SAEHDBW.
# export PRETRAINING_DATA_DIR="$DFL_ROOT/pretrain_faces"

# A model folder with a model pretrained on many faces (made with PRETRAINING_DATA_DIR): a NEW model in
# workspace/model starts as a copy of it, with pretraining switched off (same model type only).
# export PRETRAINED_MODEL_DIR="$DFL_ROOT/pretrained_models/SAEHDBW_192"

# A photo of the one person to keep (or one of their aligned faces, or a folder of such pictures) for
# 5_data_dst_faceset_extract_only_the_person_in_ref.sh: the faces of everyone else are left out.
# export IDENTITY_REF="$WORKSPACE/ref.jpg"

# ---- Helpers used by the numbered scripts ----------------------------------------------------------

# dfl_open PATH: show a file or folder in the desktop's viewer, or say where it is when headless.
dfl_open() {
    if [ ! -e "$1" ]; then
        echo "Not found: $1" >&2
    elif [ "${DFL_NONINTERACTIVE:-0}" != 1 ] && command -v open >/dev/null 2>&1 && [ "$(uname)" = Darwin ]; then
        open "$1"
    elif [ "${DFL_NONINTERACTIVE:-0}" != 1 ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } \
            && command -v xdg-open >/dev/null 2>&1; then
        xdg-open "$1" >/dev/null 2>&1 &
    else
        echo "Open this to look at it: $1"
    fi
}
