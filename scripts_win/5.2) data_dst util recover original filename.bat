@echo off
rem Renames the faces back to the frame names they were extracted from.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util recover-original-filename ^
    --input-dir "%WORKSPACE%\data_dst\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
