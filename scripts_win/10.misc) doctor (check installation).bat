@echo off
rem Prints versions, devices, ffmpeg and detector weights, and says what is missing.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" doctor

if not "%DFL_NONINTERACTIVE%"=="1" pause
