@echo off
rem Deletes the hand-drawn XSeg polygons of every face in data_dst/aligned (applied masks stay).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" xseg remove-labels ^
    --input-dir "%WORKSPACE%\data_dst\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
