@echo off
rem Makes a new workspace folder for a new project (workspaces\NAME in the toolkit folder, or a folder
rem path you type) and makes it the one every numbered script uses from now on (remembered in
rem current_workspace.txt in the toolkit folder). You are asked for the name; then it lists the next steps.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" workspace new %*

if not "%DFL_NONINTERACTIVE%"=="1" pause
