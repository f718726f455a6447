@echo off
rem Trains AMPBW, the grayscale AMP: one channel end to end, so a small GPU can train a bigger or sharper
rem model, with AMP's morph factor at merge time. Uses data_src/aligned_bw and data_dst/aligned_bw when they
rem exist (4.2/5.2 resize to grayscale), otherwise the colour faces, converted to gray once at load time.
call "%~dp0..\setenv.bat"

set "SRC_DIR=%WORKSPACE%\data_src\aligned"
if exist "%WORKSPACE%\data_src\aligned_bw" set "SRC_DIR=%WORKSPACE%\data_src\aligned_bw"

set "DST_DIR=%WORKSPACE%\data_dst\aligned"
if exist "%WORKSPACE%\data_dst\aligned_bw" set "DST_DIR=%WORKSPACE%\data_dst\aligned_bw"

set "AMP_CONFIG_FILE_ARG="
if defined AMP_CONFIG_FILE set AMP_CONFIG_FILE_ARG=--config-file "%AMP_CONFIG_FILE%"
set "PRETRAINED_MODEL_DIR_ARG="
if defined PRETRAINED_MODEL_DIR set PRETRAINED_MODEL_DIR_ARG=--pretrained-model-dir "%PRETRAINED_MODEL_DIR%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" train ^
    --training-data-src-dir "%SRC_DIR%" ^
    --training-data-dst-dir "%DST_DIR%" ^
    --model-dir "%WORKSPACE%\model" ^
    --model AMPBW ^
    %AMP_CONFIG_FILE_ARG% ^
    %PRETRAINED_MODEL_DIR_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
