@echo off
rem Deletes the applied XSeg masks of every face in data_src/aligned (hand-drawn polygons stay).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" xseg remove ^
    --input-dir "%WORKSPACE%\data_src\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
