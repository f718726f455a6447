@echo off
rem Makes another existing workspace the one every numbered script uses: you choose it from the list
rem ("workspace" is the toolkit's own, the demo's).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" workspace use %*

if not "%DFL_NONINTERACTIVE%"=="1" pause
