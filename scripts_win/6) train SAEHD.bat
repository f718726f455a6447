@echo off
rem Trains the SAEHD model (colour) on data_src/aligned and data_dst/aligned into workspace/model.
rem Press Enter in the preview window (or Ctrl+C here) to save and stop; run again to continue.
call "%~dp0..\setenv.bat"

set "TRAIN_CONFIG_FILE_ARG="
if defined TRAIN_CONFIG_FILE set TRAIN_CONFIG_FILE_ARG=--config-file "%TRAIN_CONFIG_FILE%"
set "PRETRAINED_MODEL_DIR_ARG="
if defined PRETRAINED_MODEL_DIR set PRETRAINED_MODEL_DIR_ARG=--pretrained-model-dir "%PRETRAINED_MODEL_DIR%"
set "PRETRAINING_DATA_DIR_ARG="
if defined PRETRAINING_DATA_DIR set PRETRAINING_DATA_DIR_ARG=--pretraining-data-dir "%PRETRAINING_DATA_DIR%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" train ^
    --training-data-src-dir "%WORKSPACE%\data_src\aligned" ^
    --training-data-dst-dir "%WORKSPACE%\data_dst\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model SAEHD ^
    %TRAIN_CONFIG_FILE_ARG% ^
    %PRETRAINED_MODEL_DIR_ARG% ^
    %PRETRAINING_DATA_DIR_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
