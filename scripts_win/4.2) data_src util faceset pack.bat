@echo off
rem Packs all faces into one faceset.pak file (faster to copy and to load).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util pack-faceset ^
    --input-dir "%WORKSPACE%\data_src\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
