@echo off
rem Opens the XSeg editor on data_dst/aligned: draw include/exclude polygons on the faces
rem (the labels the XSeg model trains on).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" xseg editor ^
    --input-dir "%WORKSPACE%\data_dst\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
