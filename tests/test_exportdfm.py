"""`main.py exportdfm`: trained SAEHD / SAEHDBW models as DeepFaceLive `.dfm` files, run back with onnxruntime."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest

from core.fsio import list_images
from mainscripts.exportdfm import CHECK_TOLERANCE
from models.registry import load_model
from tests.fixtures_training import TINY_OPTIONS

pytestmark = pytest.mark.usefixtures("cpu_float32_for_the_module")


@pytest.fixture(scope="module", params=[("SAEHD", "df-ud"), ("SAEHDBW", "liae-ud")], ids=["SAEHD", "SAEHDBW"])
def trained(request, faces, tmp_path_factory):
    kind, archi = request.param
    model = load_model(kind, tmp_path_factory.mktemp(kind), training=True, src_dir=faces[0], dst_dir=faces[1],
                       force_model_name="live", cpu_only=True, config_options=dict(TINY_OPTIONS, archi=archi))
    for _ in range(2):
        model.train_one_iter()
    model.save()
    yield model
    model.close()


def _colour_faces(folder, size: int, count: int = 3) -> np.ndarray:
    return np.stack([cv2.resize(cv2.imread(str(p)), (size, size), interpolation=cv2.INTER_AREA)
                     for p in list_images(folder)[:count]]).astype(np.float32) / 255


def test_the_dfm_swaps_like_the_model_under_deepfacelabs_names(trained, faces, log_messages):
    import main
    assert main.main(["--non-interactive", "exportdfm", "--model-dir", str(trained.folder),
                      "--model", trained.MODEL_NAME]) == 0
    dfm = trained.folder / f"live_{trained.MODEL_NAME}_model.dfm"
    assert any(m.startswith(f"Wrote {dfm}") and "onnxruntime gives the model's output" in m for m in log_messages)
    session = onnxruntime.InferenceSession(str(dfm), providers=["CPUExecutionProvider"])
    (face_input,) = session.get_inputs()
    assert face_input.name == "in_face:0" and face_input.shape[1:] == [64, 64, 3]
    assert [o.name for o in session.get_outputs()] == ["out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0"]

    bgr = _colour_faces(faces[1], 64)
    dst_mask, face, src_mask = session.run(None, {"in_face:0": bgr})  # DeepFaceLive takes them in this order
    model_in = bgr if trained.CHANNELS == 3 else cv2.cvtColor(bgr.reshape(-1, 64, 3), cv2.COLOR_BGR2GRAY).reshape(
        -1, 64, 64, 1)
    want_face, want_src_mask, want_dst_mask = trained.predict(model_in)
    assert face.shape == bgr.shape and dst_mask.shape == src_mask.shape == (len(bgr), 64, 64, 1)
    if trained.CHANNELS == 1:  # the live face's colour with the model's brightness, as merge --bw-output luma
        want_face = np.clip(bgr + (want_face - model_in), 0, 1)
        ycrcb = [cv2.cvtColor(f, cv2.COLOR_BGR2YCrCb) for f in (bgr[0], face[0])]
        unclipped = (face[0] > 0.01).all(-1) & (face[0] < 0.99).all(-1)
        np.testing.assert_allclose(ycrcb[1][unclipped, 1:], ycrcb[0][unclipped, 1:], atol=2e-3)  # same Cr, Cb
    # onnxruntime and TensorFlow pick different kernels per CPU: the same bound exportdfm itself checks with
    np.testing.assert_allclose(face, want_face, atol=CHECK_TOLERANCE)
    np.testing.assert_allclose(src_mask, want_src_mask, atol=CHECK_TOLERANCE)
    np.testing.assert_allclose(dst_mask, want_dst_mask, atol=CHECK_TOLERANCE)
    if trained.CHANNELS == 1:
        assert any("grayscale model" in m and "live face's colour" in m for m in log_messages)


def test_a_folder_without_the_model_is_a_one_line_error(tmp_path, log_messages):
    import main
    assert main.main(["--non-interactive", "exportdfm", "--model-dir", str(tmp_path), "--model", "SAEHD"]) == 1
    assert not list(tmp_path.glob("*.dfm"))
    errors = [m for m in log_messages if str(tmp_path) in m]
    assert errors and "SAEHD" in errors[-1]


def test_the_export_runs_on_pure_python_protobuf_when_it_can_choose():
    """With protobuf's C backend tf2onnx keeps a copy of the weights per optimizer pass (16 GB for a 128 px DFL
    default model); exportdfm picks the pure-Python backend before anything imports protobuf."""
    import subprocess
    import sys
    code = ("from mainscripts.exportdfm import use_pure_python_protobuf; use_pure_python_protobuf(); "
            "from google.protobuf.internal import api_implementation; print(api_implementation.Type())")
    env = {k: v for k, v in os.environ.items() if k != "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip() == "python"


def test_an_export_that_does_not_match_the_model_is_not_written(trained, monkeypatch, tmp_path, log_messages):
    import main
    from mainscripts import exportdfm
    if trained.CHANNELS == 1:
        pytest.skip("one model is enough for the refusal")
    earlier = tmp_path / "live.dfm"
    earlier.write_bytes(b"an earlier export")
    monkeypatch.setattr(exportdfm, "check_with_onnxruntime", lambda data, faces, want: 0.5)
    assert main.main(["--non-interactive", "exportdfm", "--model-dir", str(trained.folder), "--model", "SAEHD",
                      "--output-file", str(earlier)]) == 1
    assert earlier.read_bytes() == b"an earlier export"
    assert any(str(earlier) in m and "not written" in m for m in log_messages)


def test_a_colorized_dfm_gives_the_gray_face_the_colorizers_colour(trained, faces, tmp_path, log_messages):
    import main
    from models.colorizer import ColorizerModel
    if trained.CHANNELS == 3:
        assert main.main(["--non-interactive", "exportdfm", "--model-dir", str(trained.folder), "--model", "SAEHD",
                          "--colorize", "--output-file", str(tmp_path / "x.dfm")]) == 1
        assert any("--colorize" in m and "grayscale" in m for m in log_messages)
        return
    colorizer = ColorizerModel(trained.folder, training=True, src_dir=faces[0], silent_start=True, cpu_only=True,
                               config_options={"resolution": 128, "base_ch": 4, "batch_size": 2})
    try:  # 128 px beside the 64 px model: the .dfm resizes the face in and the colour back out
        colorizer.train_one_iter()
        colorizer.save()
        dfm = tmp_path / "colour.dfm"
        assert main.main(["--non-interactive", "exportdfm", "--model-dir", str(trained.folder), "--model", "SAEHDBW",
                          "--colorize", "--output-file", str(dfm)]) == 0
        assert any("src person's colour" in m for m in log_messages)
        bgr = _colour_faces(faces[1], 64)
        session = onnxruntime.InferenceSession(str(dfm), providers=["CPUExecutionProvider"])
        _, face, _ = session.run(None, {"in_face:0": bgr})
        gray = cv2.cvtColor(bgr.reshape(-1, 64, 3), cv2.COLOR_BGR2GRAY).reshape(-1, 64, 64, 1)
        want = colorizer.colorize(trained.predict(gray)[0])
    finally:
        colorizer.close()
    np.testing.assert_allclose(face, want, atol=CHECK_TOLERANCE)  # 1.4e-4 on CI's CPU
    live_colour = np.clip(bgr + (trained.predict(gray)[0] - gray), 0, 1)      # what the plain SAEHDBW .dfm gives
    assert np.abs(face - live_colour).mean() > 0.01
