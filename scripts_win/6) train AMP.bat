@echo off
rem Trains the AMP model (DeepFaceLab's amplifier: the swap can be dialled between dst and src when merging)
rem on data_src/aligned and data_dst/aligned into workspace/model. Whole-face (wf) faces by default.
rem Press Enter in the preview window (or Ctrl+C here) to save and stop; run again to continue.
call "%~dp0..\setenv.bat"

set "AMP_CONFIG_FILE_ARG="
if defined AMP_CONFIG_FILE set AMP_CONFIG_FILE_ARG=--config-file "%AMP_CONFIG_FILE%"
set "PRETRAINED_MODEL_DIR_ARG="
if defined PRETRAINED_MODEL_DIR set PRETRAINED_MODEL_DIR_ARG=--pretrained-model-dir "%PRETRAINED_MODEL_DIR%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" train ^
    --training-data-src-dir "%WORKSPACE%\data_src\aligned" ^
    --training-data-dst-dir "%WORKSPACE%\data_dst\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model AMP ^
    %AMP_CONFIG_FILE_ARG% ^
    %PRETRAINED_MODEL_DIR_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
