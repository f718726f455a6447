@echo off
rem Like step 5, but you place every face yourself in a window.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\aligned" ^
    --detector manual ^
    --output-debug

if not "%DFL_NONINTERACTIVE%"=="1" pause
