@echo off
rem Resizes the faces (and optionally changes the face type), keeping their colour and metadata.
rem (For SAEHDBW's grayscale copies use the 'resize to grayscale' step.)
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util faceset-resize ^
    --input-dir "%WORKSPACE%\data_src\aligned" ^
    --color

if not "%DFL_NONINTERACTIVE%"=="1" pause
