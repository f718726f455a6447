@echo off
rem Applies the trained XSeg model of workspace/model to every face in data_src/aligned
rem (the mask is stored in each face file; the merger's XSeg mask modes and masked training use it).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" xseg apply ^
    --input-dir "%WORKSPACE%\data_src\aligned" ^
    --model-dir "%WORKSPACE%\model"

if not "%DFL_NONINTERACTIVE%"=="1" pause
