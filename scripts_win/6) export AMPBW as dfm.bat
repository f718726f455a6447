@echo off
rem Exports the trained AMPBW model as a DeepFaceLive .dfm file (ONNX): model\<name>_AMPBW_model.dfm.
rem It reads the live face's brightness and gives its face in the live face's colour; its morph factor is a
rem second input, DeepFaceLive's morph slider.
rem Load it in DeepFaceLive: copy it into DeepFaceLive's dfm_models folder, then choose it in the Face swapper.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" exportdfm ^
    --model-dir "%WORKSPACE%\model" ^
    --model AMPBW

if not "%DFL_NONINTERACTIVE%"=="1" pause
