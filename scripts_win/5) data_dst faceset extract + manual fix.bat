@echo off
rem Automatic extraction, then a window opens only for the frames
rem where no face was found, so you can place those faces by hand.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\aligned" ^
    --output-debug ^
    --manual-fix

if not "%DFL_NONINTERACTIVE%"=="1" pause
