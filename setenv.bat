@echo off
rem =================================================================================================
rem  setenv.bat - the settings every numbered script in scripts_win\ reads first.
rem
rem  Open it with Notepad to change something. Lines starting with "rem" are comments and do nothing.
rem  To switch a setting ON, delete the "rem " in front of its "set" line.
rem  To switch it OFF again, put "rem " back in front of it.
rem =================================================================================================

rem ---- Where things are ---------------------------------------------------------------------------

rem DFL_ROOT: the toolkit folder, the one that holds main.py. Found automatically (it is where this
rem file lives), so you normally never change it.
set "DFL_ROOT=%~dp0"
if "%DFL_ROOT:~-1%"=="\" set "DFL_ROOT=%DFL_ROOT:~0,-1%"

rem DFL_ROOT_SAEHDBW: in the original SAEHDBW fork the grayscale model lived in a second copy of
rem DeepFaceLab. Here SAEHDBW is built in, so this is the same folder. It is kept so that .bat files
rem written for the fork (which call "%DFL_ROOT_SAEHDBW%\main.py") keep working.
set "DFL_ROOT_SAEHDBW=%DFL_ROOT%"

rem WORKSPACE: the folder with your videos (data_src.mp4, data_dst.mp4) and everything made from them.
rem One workspace per project: "scripts_win\0) new workspace.bat" makes workspaces\NAME in the toolkit
rem folder and remembers it in current_workspace.txt there; "0) switch workspace.bat" switches to another
rem one. Without that file it is the toolkit's own "workspace" folder (the demo's). To fix one folder for
rem good instead, set it here, e.g.  set "WORKSPACE=D:\faceswap\project1"
if not defined WORKSPACE if exist "%DFL_ROOT%\current_workspace.txt" set /p WORKSPACE=<"%DFL_ROOT%\current_workspace.txt"
if not defined WORKSPACE set "WORKSPACE=%DFL_ROOT%\workspace"

rem PYTHON_EXECUTABLE: the Python that has the toolkit's requirements installed. If you made the
rem virtual environment .venv inside the toolkit folder (see README), it is used; otherwise the
rem "python" found on your PATH. Put the full path here if you installed Python somewhere else, e.g.
rem   set "PYTHON_EXECUTABLE=C:\Python311\python.exe"
if not defined PYTHON_EXECUTABLE if exist "%DFL_ROOT%\.venv\Scripts\python.exe" set "PYTHON_EXECUTABLE=%DFL_ROOT%\.venv\Scripts\python.exe"
if not defined PYTHON_EXECUTABLE set "PYTHON_EXECUTABLE=python"

rem ---- Graphics card (GPU) ------------------------------------------------------------------------
rem Normally there is nothing to change here: the toolkit lists your GPUs and asks which one to use
rem (or uses the processor when there is no usable GPU).

rem DFL_FORCE_CPU: use the processor (CPU) even when a GPU is present. Slow, but it always works,
rem and it keeps the GPU free for something else (for example merging on the CPU while training).
rem set DFL_FORCE_CPU=1

rem force_gpu_data: some NVIDIA drivers never answer when the toolkit asks for the list of GPUs, and
rem then "nothing happens" for minutes after you start a train or merge script. Switch this on to
rem skip that question: the first GPU is used directly, and the two lines after it only give the
rem name and the memory size (in bytes) the toolkit assumes for it. The memory size also picks the
rem default batch size, so set it close to your card's real memory.
rem Any value turns it on (the toolkit only checks that the name is set); use 1 to be clear.
rem set force_gpu_data=1
rem set forced_gpu_id=Unknown CUDA GPU
rem set max_gpu_memory=1556925644

rem ---- Examples: copy ONE block below, then delete the "rem " at the start of its set lines -------

rem Example A - GeForce GTX 750 Ti, 2 GB (Windows leaves about 1.45 GB of it for programs).
rem   This is the card the SAEHDBW fork was made on. Train SAEHDBW, e.g. resolution 192, archi df-udt,
rem   ae_dims 128, e_dims 48, d_dims 32, d_mask_dims 16, batch size 6 (see README, "SAEHDBW guide").
rem set force_gpu_data=1
rem set forced_gpu_id=NVIDIA GeForce GTX 750 Ti
rem set max_gpu_memory=1556925644

rem Example B - an 8 GB card (GTX 1070/1080, RTX 2070, RTX 3060 Ti ...). Only needed if the GPU list
rem   hangs; without it the real name and memory are read from the driver.
rem set force_gpu_data=1
rem set forced_gpu_id=NVIDIA GeForce RTX 2070
rem set max_gpu_memory=8589934592

rem Example C - no NVIDIA card, or keep the GPU free: everything runs on the processor.
rem set DFL_FORCE_CPU=1

rem ---- Other settings -----------------------------------------------------------------------------

rem Minutes between automatic saves while training (default 25).
rem set user_dfl_save_interval_min=25

rem Iterations between two pictures of the preview history (default 500).
rem set preview_period=500

rem How many processor cores merging uses (default: all of them).
rem set default_merge_cpu_count=2

rem Never ask questions: use saved answers or defaults (for unattended runs; no "pause" at the end).
rem set DFL_NONINTERACTIVE=1

rem Answers for the train / merge scripts in a file instead of typed in (see README, "Config files").
rem set "TRAIN_CONFIG_FILE=%WORKSPACE%\train_config.json"
rem set "MERGE_CONFIG_FILE=%WORKSPACE%\merge_config.json"
rem Options of the XSeg mask model ("5.XSeg) train"), e.g. {"resolution": 128, "base_ch": 16} for a CPU.
rem set "XSEG_CONFIG_FILE=%WORKSPACE%\xseg_config.json"
rem Options of the Colorizer ("6) train Colorizer"), e.g. {"resolution": 128, "base_ch": 32} on a GPU.
rem set "COLORIZER_CONFIG_FILE=%WORKSPACE%\colorizer_config.json"
rem Options of the AMP and AMPBW models ("6) train AMP" / "AMPBW"; they differ from SAEHD's), e.g. {"resolution": 128, "face_type": "f"}.
rem set "AMP_CONFIG_FILE=%WORKSPACE%\amp_config.json"
rem AMP's morph factor for "7) merge AMP" / "AMPBW" (0.0 .. 1.0; 1.0 = the full src face) instead of the question.
rem set AMP_MORPH_FACTOR=1.0

rem A folder (or faceset.pak) of many different faces for pretraining mode of SAEHD / SAEHDBW.
rem set "PRETRAINING_DATA_DIR=%DFL_ROOT%\pretrain_faces"

rem A model folder with a model pretrained on many faces (made with PRETRAINING_DATA_DIR): a NEW model in
rem workspace\model starts as a copy of it, with pretraining switched off (same model type only).
rem set "PRETRAINED_MODEL_DIR=%DFL_ROOT%\pretrained_models\SAEHDBW_192"

rem A photo of the one person to keep (or one of their aligned faces, or a folder of such pictures) for
rem "5) data_dst faceset extract (only the person in ref)": the faces of everyone else are left out.
rem set "IDENTITY_REF=%WORKSPACE%\ref.jpg"
