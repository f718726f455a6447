@echo off
rem Unpacks faceset.pak back into separate face files.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util unpack-faceset ^
    --input-dir "%WORKSPACE%\data_src\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
