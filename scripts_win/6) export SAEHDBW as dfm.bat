@echo off
rem Exports the trained SAEHDBW model as a DeepFaceLive .dfm file (ONNX): model\<name>_SAEHDBW_model.dfm.
rem The grayscale model reads the live face's brightness and gives a gray face: pick colour transfer
rem rct in DeepFaceLive's Face merger to colour it.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" exportdfm ^
    --model-dir "%WORKSPACE%\model" ^
    --model SAEHDBW

if not "%DFL_NONINTERACTIVE%"=="1" pause
