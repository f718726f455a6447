@echo off
rem Like "5) data_dst faceset extract", but keeps only the faces of one person: the one in the
rem reference photo IDENTITY_REF (setenv.bat; asked when it is not set). Faces of everyone else in
rem the video are left out, so only that person is swapped.
call "%~dp0..\setenv.bat"

set "IDENTITY_REF_ARG=--filter-identity"
if defined IDENTITY_REF set IDENTITY_REF_ARG=--filter-identity "%IDENTITY_REF%"

"%PYTHON_EXECUTABLE%" "%DFL_ROOT%\main.py" extract ^
    --input-dir "%WORKSPACE%\data_dst" ^
    --output-dir "%WORKSPACE%\data_dst\aligned" ^
    --output-debug ^
    %IDENTITY_REF_ARG%

if not "%DFL_NONINTERACTIVE%"=="1" pause
