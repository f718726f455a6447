@echo off
rem Optional: reduces noise in the data_dst frames (temporal filter, strength 1-20).
rem Works in place; keep a copy of the frames if you may want them back.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video denoise-image-sequence ^
    --input-dir "%WORKSPACE%\data_dst"

if not "%DFL_NONINTERACTIVE%"=="1" pause
