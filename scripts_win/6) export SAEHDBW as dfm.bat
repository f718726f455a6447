@echo off
rem Exports the trained SAEHDBW model as a DeepFaceLive .dfm file (ONNX): model\<name>_SAEHDBW_model.dfm.
rem The grayscale model reads the live face's brightness and colours its face with the live face's
rem colour (as merge --bw-output luma): DeepFaceLive's colour transfer can stay off.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" exportdfm ^
    --model-dir "%WORKSPACE%\model" ^
    --model SAEHDBW

if not "%DFL_NONINTERACTIVE%"=="1" pause
