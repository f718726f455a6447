@echo off
rem Trains Quick96: a small fixed model (96 px, full face) to check a faceset quickly. No questions.
call "%~dp0..\setenv.bat"

set "TRAIN_CONFIG_FILE_ARG="
if defined TRAIN_CONFIG_FILE set TRAIN_CONFIG_FILE_ARG=--config-file "%TRAIN_CONFIG_FILE%"
set "PRETRAINED_MODEL_DIR_ARG="
if defined PRETRAINED_MODEL_DIR set PRETRAINED_MODEL_DIR_ARG=--pretrained-model-dir "%PRETRAINED_MODEL_DIR%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" train ^
    --training-data-src-dir "%WORKSPACE%\data_src\aligned" ^
    --training-data-dst-dir "%WORKSPACE%\data_dst\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model Quick96 ^
    %TRAIN_CONFIG_FILE_ARG% ^
    %PRETRAINED_MODEL_DIR_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
