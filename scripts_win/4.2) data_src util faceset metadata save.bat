@echo off
rem Saves the faces' metadata to a side file, so you can edit the images
rem in another program (which would drop the metadata) ...
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util save-faceset-metadata ^
    --input-dir "%WORKSPACE%\data_src\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
