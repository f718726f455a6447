@echo off
rem Opens workspace/data_dst/aligned_debug: every frame with its landmarks.
rem Delete frames with wrong landmarks, then run 'MANUAL RE-EXTRACT DELETED ALIGNED_DEBUG'.
call "%~dp0..\setenv.bat"

if exist "%WORKSPACE%\data_dst\aligned_debug" start "" "%WORKSPACE%\data_dst\aligned_debug"

if not "%DFL_NONINTERACTIVE%"=="1" pause
