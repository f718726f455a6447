@echo off
rem Puts the trained AMP face into every data_dst frame: data_dst/merged (frames)
rem and data_dst/merged_mask (masks). It asks the morph factor first (1.0 = the full src face; AMP_MORPH_FACTOR
rem in setenv.bat answers it). Interactive window: Tab shows the keys.
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
    --model AMP ^
    %AMP_MORPH_FACTOR_ARG% ^
    %MERGE_CONFIG_FILE_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
