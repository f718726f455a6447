@echo off
rem SAEHDBW: writes grayscale copies of the faces (resized, metadata kept)
rem to workspace/data_src/aligned_bw. The SAEHDBW train script uses that folder when it exists.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" resize-to-grayscale ^
    --input-dir "%WORKSPACE%\data_src\aligned" ^
    --output-dir "%WORKSPACE%\data_src\aligned_bw"

if not "%DFL_NONINTERACTIVE%"=="1" pause
