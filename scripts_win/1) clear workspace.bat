@echo off
rem Deletes everything inside the workspace folder (frames, faces, model, result).
rem You are asked to confirm first.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util clear-workspace ^
    --input-dir "%WORKSPACE%"

if not "%DFL_NONINTERACTIVE%"=="1" pause
