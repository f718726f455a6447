@echo off
rem Sorts the faces in workspace/data_src/aligned (you choose how: blur, yaw, histogram ...).
rem Rejected faces are moved to aligned_trash, never deleted.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" sort ^
    --input-dir "%WORKSPACE%\data_src\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
