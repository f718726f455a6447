@echo off
rem Prints a summary of workspace/data_dst/aligned: count, face types, sizes, gray/color, yaw spread.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util faceset-info ^
    --input-dir "%WORKSPACE%\data_dst\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
