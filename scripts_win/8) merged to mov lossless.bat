@echo off
rem Makes a lossless workspace/result.mov (large file, no quality loss).
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video video-from-sequence ^
    --input-dir "%WORKSPACE%\data_dst\merged" ^
    --output-file "%WORKSPACE%\result.mov" ^
    --reference-file "%WORKSPACE%\data_dst.*" ^
    --include-audio ^
    --lossless

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video video-from-sequence ^
    --input-dir "%WORKSPACE%\data_dst\merged_mask" ^
    --output-file "%WORKSPACE%\result_mask.mov" ^
    --reference-file "%WORKSPACE%\data_dst.*" ^
    --no-include-audio ^
    --lossless

if not "%DFL_NONINTERACTIVE%"=="1" pause
