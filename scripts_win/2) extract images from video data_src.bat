@echo off
rem Turns workspace/data_src.* (the video with the face you want) into frames
rem in workspace/data_src. You are asked for the FPS (0 = every frame) and png/jpg.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video extract-video ^
    --input-file "%WORKSPACE%\data_src.*" ^
    --output-dir "%WORKSPACE%\data_src"

if not "%DFL_NONINTERACTIVE%"=="1" pause
