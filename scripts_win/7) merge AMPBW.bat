@echo off
rem Merges the grayscale AMPBW face into the colour data_dst frames. --bw-output luma keeps the frame's own
rem colours and replaces only the brightness of the face. It asks the morph factor first (1.0 = the full src
rem face; AMP_MORPH_FACTOR in setenv.bat answers it).
call "%~dp0..\setenv.bat"

set "AMP_MORPH_FACTOR_ARG="
if defined AMP_MORPH_FACTOR set AMP_MORPH_FACTOR_ARG=--morph-factor "%AMP_MORPH_FACTOR%"
set "MERGE_CONFIG_FILE_ARG="
if defined MERGE_CONFIG_FILE set MERGE_CONFIG_FILE_ARG=--config-file "%MERGE_CONFIG_FILE%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" merge ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\merged" ^
    --output-mask-dir "%WORKSPACE%\data_dst\merged_mask" ^
    --aligned-dir "%WORKSPACE%\data_dst\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model AMPBW ^
    --bw-output luma ^
    %AMP_MORPH_FACTOR_ARG% ^
    %MERGE_CONFIG_FILE_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
