@echo off
rem Splits workspace/data_src/aligned into one sub-folder per person (person_1 holds the most faces),
rem for a src video with several people in it: keep the folder of your person as data_src/aligned.
rem Faces that look like no one else's go to aligned_trash, never deleted.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" sort ^
    --input-dir "%WORKSPACE%\data_src\aligned" ^
    --by identity-groups

if not "%DFL_NONINTERACTIVE%"=="1" pause
