@echo off
rem Merges the grayscale SAEHDBW face into the colour data_dst frames in the src person's colour:
rem --bw-output colorize colours every predicted face with the Colorizer ("6) train Colorizer").
call "%~dp0..\setenv.bat"

set "MERGE_CONFIG_FILE_ARG="
if defined MERGE_CONFIG_FILE set MERGE_CONFIG_FILE_ARG=--config-file "%MERGE_CONFIG_FILE%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" merge ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\merged" ^
    --output-mask-dir "%WORKSPACE%\data_dst\merged_mask" ^
    --aligned-dir "%WORKSPACE%\data_dst\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model SAEHDBW ^
    --bw-output colorize ^
    %MERGE_CONFIG_FILE_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
