@echo off
rem Exports the trained AMP model as a DeepFaceLive .dfm file (ONNX): model\<name>_AMP_model.dfm.
rem Its morph factor is a second input, DeepFaceLive's morph slider.
rem Load it in DeepFaceLive: copy it into DeepFaceLive's dfm_models folder, then choose it in the Face swapper.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" exportdfm ^
    --model-dir "%WORKSPACE%\model" ^
    --model AMP

if not "%DFL_NONINTERACTIVE%"=="1" pause
