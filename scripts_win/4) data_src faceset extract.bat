@echo off
rem Finds the face in every data_src frame and saves aligned faces
rem (JPG with embedded landmarks) in workspace/data_src/aligned.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_src" ^
    --output-dir "%WORKSPACE%\data_src\aligned"

if not "%DFL_NONINTERACTIVE%"=="1" pause
