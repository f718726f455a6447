@echo off
rem Trains the XSeg mask model on the labeled faces of data_src/aligned and data_dst/aligned
rem into workspace/model. Press Enter in the preview window (or Ctrl+C here) to save and stop.
call "%~dp0..\setenv.bat"

set "XSEG_CONFIG_FILE_ARG="
if defined XSEG_CONFIG_FILE set XSEG_CONFIG_FILE_ARG=--config-file "%XSEG_CONFIG_FILE%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" train ^
    --training-data-src-dir "%WORKSPACE%\data_src\aligned" ^
    --training-data-dst-dir "%WORKSPACE%\data_dst\aligned" ^
    --model-dir "%WORKSPACE%\model" ^
    --model XSeg ^
    %XSEG_CONFIG_FILE_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
