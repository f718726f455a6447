@echo off
rem Deletes what was made in the workspace folder (frames, faces, model, merged frames, results);
rem data_src.* and data_dst.* videos are kept. You are asked to confirm first.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util clear-workspace ^
    --workspace "%WORKSPACE%"

if not "%DFL_NONINTERACTIVE%"=="1" pause
