@echo off
rem Trains the Colorizer on the colour src faces (data_src\aligned) into workspace\model: it learns
rem the src person's colour from the brightness, so that "7) merge SAEHDBW colorized" gives the gray
rem SAEHDBW face the colour of src instead of dst's. Press Enter in the preview window to save and stop.
call "%~dp0..\setenv.bat"

set "COLORIZER_CONFIG_FILE_ARG="
if defined COLORIZER_CONFIG_FILE set COLORIZER_CONFIG_FILE_ARG=--config-file "%COLORIZER_CONFIG_FILE%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" train ^
    --training-data-src-dir "%WORKSPACE%\data_src\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model Colorizer ^
    %COLORIZER_CONFIG_FILE_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
