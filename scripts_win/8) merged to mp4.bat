@echo off
rem Makes workspace/result.mp4 from data_dst/merged with the sound and frame rate of data_dst,
rem and workspace/result_mask.mp4 from the masks.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video video-from-sequence ^
    --input-dir "%WORKSPACE%\data_dst\merged" ^
    --output-file "%WORKSPACE%\result.mp4" ^
    --reference-file "%WORKSPACE%\data_dst.*" ^
    --include-audio

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" video video-from-sequence ^
    --input-dir "%WORKSPACE%\data_dst\merged_mask" ^
    --output-file "%WORKSPACE%\result_mask.mp4" ^
    --reference-file "%WORKSPACE%\data_dst.*" ^
    --no-include-audio

if not "%DFL_NONINTERACTIVE%"=="1" pause
