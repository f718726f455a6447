@echo off
rem Look through data_dst/aligned_debug and delete the frames whose landmarks are wrong;
rem this script then asks you to place the face by hand in exactly those frames.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\aligned" ^
    --output-debug ^
    --manual-output-debug-fix

if not "%DFL_NONINTERACTIVE%"=="1" pause
