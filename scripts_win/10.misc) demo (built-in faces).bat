@echo off
rem Runs the whole pipeline on two built-in public-domain photos and writes
rem workspace/result.mp4. Takes about 6 minutes on a 2-core CPU.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" demo ^
    --workspace "%WORKSPACE%"

if not "%DFL_NONINTERACTIVE%"=="1" pause
