@echo off
rem Copies the faces of data_dst/aligned that have XSeg polygons to data_dst/aligned_xseg,
rem then asks whether to delete them from aligned (default yes).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" xseg fetch ^
    --input-dir "%WORKSPACE%\data_dst\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
