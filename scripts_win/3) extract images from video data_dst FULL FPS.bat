@echo off
rem Turns workspace/data_dst.* (the video whose face gets replaced) into
rem frames in workspace/data_dst, keeping every frame (full FPS).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video extract-video ^
    --input-file "%WORKSPACE%\data_dst.*" ^
    --output-dir "%WORKSPACE%\data_dst" ^
    --fps 0

if not "%DFL_NONINTERACTIVE%"=="1" pause
