@echo off
rem Finds the face in every data_dst frame and saves aligned faces in
rem workspace/data_dst/aligned, plus frames with landmarks drawn in data_dst/aligned_debug.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\aligned" ^
    --output-debug

if not "%DFL_NONINTERACTIVE%"=="1" pause
