@echo off
rem Drag and drop a video file onto this script to cut a part of it
rem (you are asked for the start and end time). The cut is saved next to it as <name>_cut.
call "%~dp0..\setenv.bat"

if "%~1"=="" (echo Drag and drop a video file onto this script. & pause & exit /b 1)

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video cut-video ^
    --input-file "%~1"

if not "%DFL_NONINTERACTIVE%"=="1" pause
