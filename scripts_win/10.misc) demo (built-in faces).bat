@echo off
rem Runs the whole pipeline on two built-in public-domain photos and writes
rem workspace/result.mp4. Takes about 6 minutes on a 2-core CPU. The demo always uses the toolkit's own
rem workspace folder (never the project "0) new workspace" made), unless WORKSPACE is set before it starts.
set "DEMO_WORKSPACE=%WORKSPACE%"
call "%~dp0..\setenv.bat"
if not defined DEMO_WORKSPACE set "DEMO_WORKSPACE=%DFL_ROOT%\workspace"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" demo ^
    --workspace "%DEMO_WORKSPACE%" %*

if not "%DFL_NONINTERACTIVE%"=="1" pause
