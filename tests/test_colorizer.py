"""The Colorizer: it learns the src faces' colour from their luma, keeps a gray face's brightness, survives a save,
refuses gray facesets, and `merge --bw-output colorize` gives SAEHDBW's faces the src colour.

The src faces are tinted green first, so that "the colour came from src" is something the test can see: the
dst person (Grace Hopper) is not green, and `--bw-output luma` keeps her colour."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from facelib.meta import load_face, save_face

pytestmark = pytest.mark.usefixtures("cpu_float32_for_the_module")

TINY = {"resolution": 64, "base_ch": 8, "batch_size": 4}
TINT = np.array([0.55, 1.0, 0.55], np.float32)     # BGR gains: green faces


def tinted_copy(folder: Path, target: Path) -> Path:
    """The faces of `folder` with their metadata, tinted green (blue and red channels darkened)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.jpg")):
        image, meta = load_face(path)
        tinted = image.astype(np.float32) * TINT
        save_face(target / path.name, tinted.astype(np.uint8), meta, jpeg_quality=95)
    return target


def mean_chroma(faces: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Mean (Cr, Cb) inside the masks of N BGR faces."""
    ycc = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2YCrCb) for f in faces.astype(np.float32)])
    return ycc[masks[..., 0] > 0.5][:, 1:].mean(0)


def new_colorizer(model_dir: Path, faces: Path, **options):
    from models.colorizer import ColorizerModel
    return ColorizerModel(model_dir, training=True, src_dir=faces, silent_start=True,
                          config_options={**TINY, **options})


@pytest.mark.slow
def test_it_learns_the_src_colour_and_keeps_the_brightness(real_faceset, tmp_path):
    green = tinted_copy(real_faceset.dir, tmp_path / "green")
    model = new_colorizer(tmp_path / "model", green)
    try:
        batches = []
        for step in range(120):
            model.train_one_iter()
            if step >= 110:         # the faces of the last ten batches: one batch of 4 alone is too noisy a truth
                batches.append(model.last_sample[0][1:3])
        faces, masks = (np.concatenate(parts) for parts in zip(*batches))
        gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[..., None] for f in faces])
        colored = model.colorize(gray)
        assert colored.shape == faces.shape
        untinted = np.clip(faces / TINT, 0.0, 1.0)
        truth, neutral, natural, predicted = (mean_chroma(x, masks) for x in
                                              (faces, np.repeat(gray, 3, axis=3), untinted, colored))
        # green faces have Cb (and Cr) below gray's 0.5: along the line from gray to them the prediction went at
        # least halfway and not past twice as far (after 120 steps on batches of 4 it may overshoot a little), and
        # it is nearer to them than to the faces' natural colour
        towards = np.dot(predicted - neutral, truth - neutral) / np.dot(truth - neutral, truth - neutral)
        print(f"chroma: truth {truth}, natural {natural}, predicted {predicted}, {towards:.2f} of the way")
        assert 0.5 < towards < 2.0
        assert np.linalg.norm(predicted - truth) < np.linalg.norm(predicted - natural)
        back = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in colored])[..., None]
        assert np.abs(back - gray).max() < 2e-3         # the brightness is the input's, even where colour saturates

        bigger = np.stack([cv2.resize(g, (96, 96))[..., None] for g in gray])   # any face size: resized in and out
        assert model.colorize(bigger).shape == (len(gray), 96, 96, 3)
        model.save()
        before = model.colorize(gray)
    finally:
        model.close()

    from models.colorizer import ColorizerModel
    loaded = ColorizerModel(tmp_path / "model", training=False, silent_start=True)
    np.testing.assert_allclose(loaded.colorize(gray), before, atol=1e-6)
    assert loaded.iter == 120


def test_training_refuses_gray_faces_and_needs_the_src_dir(real_faceset, tmp_path, log_messages):
    gray = tmp_path / "gray"
    gray.mkdir()
    for path in real_faceset.dir.glob("*.jpg"):
        image, meta = load_face(path)
        save_face(gray / path.name, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), meta)
    train = ["--non-interactive", "train", "--model", "Colorizer", "--model-dir", str(tmp_path / "model"),
             "--no-preview"]
    assert cli.main(train + ["--training-data-src-dir", str(gray)]) == 1
    assert any("grayscale" in m and "data_src/aligned" in m for m in log_messages)
    assert cli.main(train) == 1
    assert any("needs --training-data-src-dir" in m for m in log_messages)


def test_colour_is_desaturated_only_where_it_would_leave_the_gamut():
    from models.colorizer_engine import luma_chroma_to_bgr
    luma = np.array([[[0.5], [0.02], [0.97]]], np.float32)
    chroma = np.array([[[0.6, 0.45], [0.7, 0.3], [0.6, 0.45]]], np.float32)   # a skin tone, a strong red
    out = luma_chroma_to_bgr(luma, chroma).numpy()
    expected = np.clip(cv2.cvtColor(np.concatenate([luma, chroma], 2), cv2.COLOR_YCrCb2BGR), 0, 1)
    np.testing.assert_allclose(out[0, 0], expected[0, 0], atol=1e-6)       # in gamut: OpenCV's conversion
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), luma[..., 0], atol=1e-4)
    ycc = cv2.cvtColor(out, cv2.COLOR_BGR2YCrCb)
    assert 0.5 < ycc[0, 1, 1] < 0.7 and 0.5 < ycc[0, 2, 1] < 0.6            # still reddish, less so


def test_face_type_follows_the_folders_saehdbw_model(tmp_path):
    from models.colorizer import folder_face_type
    (tmp_path / "bw_SAEHDBW_data.json").write_text(json.dumps({"iter": 1, "options": {"face_type": "mf"}}))
    assert folder_face_type(tmp_path) == "mf"
    assert folder_face_type(tmp_path / "nothing") is None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_merge_colorize_gives_the_faces_the_src_colour(tiny_workspace, tmp_path, log_messages):
    from core.workspace import Workspace
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    shutil.copytree(tiny_workspace.data_dst, ws.data_dst, ignore=shutil.ignore_patterns("merged*", "predicted"))
    green = tinted_copy(tiny_workspace.src_aligned, tmp_path / "green")
    bw = tmp_path / "bw.json"
    bw.write_text(json.dumps({"resolution": 64, "face_type": "f", "archi": "df", "ae_dims": 32, "e_dims": 16,
                              "d_dims": 16, "d_mask_dims": 16, "batch_size": 4, "target_iter": 2}))
    assert cli.main(["--non-interactive", "train", "--training-data-src-dir", str(green), "--training-data-dst-dir",
                     str(ws.dst_aligned), "--model-dir", str(ws.model), "--model", "SAEHDBW", "--config-file",
                     str(bw), "--no-preview"]) == 0

    def merge(bw_output: str, out: str) -> int:
        return cli.main(["--non-interactive", "merge", "--input-dir", str(ws.data_dst), "--output-dir",
                         str(tmp_path / out), "--output-mask-dir", str(tmp_path / f"{out}_mask"), "--model-dir",
                         str(ws.model), "--model", "SAEHDBW", "--bw-output", bw_output, "--workers", "1",
                         "--mask-mode", "dst", "--color-transfer-mode", "none"])

    assert merge("colorize", "merged") == 1                             # no Colorizer yet: said before any work
    assert any("--bw-output colorize needs a trained Colorizer" in m for m in log_messages)

    colorizer = tmp_path / "colorizer.json"
    colorizer.write_text(json.dumps({**TINY, "target_iter": 60}))
    assert cli.main(["--non-interactive", "train", "--model", "Colorizer", "--training-data-src-dir", str(green),
                     "--model-dir", str(ws.model), "--config-file", str(colorizer), "--no-preview"]) == 0
    assert json.loads((ws.model / "Colorizer_Colorizer_data.json").read_text())["options"]["face_type"] == "f"
    assert (ws.model / "Colorizer_Colorizer_preview.png").exists()

    assert merge("luma", "luma") == 0
    assert merge("colorize", "merged") == 0
    greener = 0
    frames = sorted(p.name for p in ws.data_dst.glob("*.png"))
    for name in frames:
        luma, colored = (cv2.imread(str(tmp_path / d / name)).astype(np.float32) for d in ("luma", "merged"))
        mask = cv2.imread(str(tmp_path / "merged_mask" / name), cv2.IMREAD_GRAYSCALE) > 128
        if mask.sum() < 50:
            continue
        np.testing.assert_allclose(cv2.cvtColor(colored, cv2.COLOR_BGR2GRAY)[mask],
                                   cv2.cvtColor(luma, cv2.COLOR_BGR2GRAY)[mask], atol=6)   # same brightness
        g_minus_rb = lambda img: float((img[..., 1] - (img[..., 0] + img[..., 2]) / 2)[mask].mean())  # noqa: E731
        greener += g_minus_rb(colored) > g_minus_rb(luma) + 10
    assert greener >= len(frames) // 2

    log_messages.clear()
    assert merge("colorize", "merged") == 0                             # nothing changed: nothing to merge
    assert any("already merged" in m for m in log_messages)
    colorizer.write_text(json.dumps({**TINY, "target_iter": 61}))
    assert cli.main(["--non-interactive", "train", "--model", "Colorizer", "--training-data-src-dir", str(green),
                     "--model-dir", str(ws.model), "--config-file", str(colorizer), "--no-preview"]) == 0
    log_messages.clear()
    assert merge("colorize", "merged") == 0                             # a new Colorizer state: merged again
    assert not any("already merged" in m for m in log_messages)


def test_a_colorizer_for_another_face_type_is_refused(tmp_path, real_faceset):
    from core.errors import UserError
    from models.colorizer import load_colorizer
    model = new_colorizer(tmp_path / "model", real_faceset.dir, face_type="h", target_iter=1)
    try:
        model.save()
    finally:
        model.close()
    with pytest.raises(UserError, match="colours half_face faces but the model predicts full_face"):
        load_colorizer(tmp_path / "model", "full_face")
