@echo off
rem Like step 4, but you place every face yourself in a window
rem (mouse to aim, wheel to size, Enter to accept, Space to skip, h for help).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_src" ^
    --output-dir "%WORKSPACE%\data_src\aligned" ^
    --detector manual

if not "%DFL_NONINTERACTIVE%"=="1" pause
