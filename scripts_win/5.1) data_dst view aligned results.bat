@echo off
rem Makes one contact-sheet image of all faces in workspace/data_dst/aligned
rem and opens it, so you can spot wrong faces quickly.
call "%~dp0..\setenv.bat"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" util contact-sheet ^
    --input-dir "%WORKSPACE%\data_dst\aligned" ^
    --output-file "%WORKSPACE%\data_dst_aligned_contact_sheet.png"

if exist "%WORKSPACE%\data_dst_aligned_contact_sheet.png" start "" "%WORKSPACE%\data_dst_aligned_contact_sheet.png"

if not "%DFL_NONINTERACTIVE%"=="1" pause
