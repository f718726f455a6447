"""The XSeg mask model: it learns, `main.py train --model XSeg` trains and saves it, `xseg apply` uses it."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from facelib.meta import read_meta, write_meta
from models.xseg import load_xseg_predictor
from models.xseg_engine import XSegEngine, XSegEngineConfig

pytestmark = pytest.mark.usefixtures("cpu_float32_for_the_module")

TINY = {"face_type": "f", "batch_size": 4, "resolution": 64, "base_ch": 4}


def _hull_labels(folder: Path, names: list[str] | None = None) -> None:
    """Give faces an include polygon: the convex hull of their landmarks."""
    for path in sorted(folder.glob("*.jpg")):
        if names is None or path.name in names:
            meta = read_meta(path)
            meta.xseg_polys = [{"type": 1, "pts": cv2.convexHull(meta.landmarks.astype(np.float32))[:, 0]}]
            write_meta(path, meta)


@pytest.fixture
def workspace(real_faceset, tmp_path) -> Path:
    src = real_faceset.copy_to(tmp_path / "data_src" / "aligned")
    _hull_labels(src)
    dst = tmp_path / "data_dst" / "aligned"
    dst.mkdir(parents=True)
    for name in real_faceset.groups["base"][:3]:
        (dst / name).write_bytes((src / name).read_bytes())
    for path in dst.iterdir():  # dst faces without labels: what `xseg apply` is for
        meta = read_meta(path)
        meta.xseg_polys = None
        write_meta(path, meta)
    return tmp_path


def _train(ws: Path, **options) -> int:
    cfg = ws / "xseg.json"
    cfg.write_text(json.dumps({**TINY, **options}))
    return cli.main(["--non-interactive", "train", "--model", "XSeg", "--no-preview",
                     "--training-data-src-dir", str(ws / "data_src" / "aligned"),
                     "--training-data-dst-dir", str(ws / "data_dst" / "aligned"),
                     "--model-dir", str(ws / "model"), "--config-file", str(cfg)])


def test_the_network_learns_a_mask():
    rng = np.random.default_rng(0)
    images = rng.random((4, 64, 64, 3)).astype(np.float32) * 0.3
    masks = np.zeros((4, 64, 64, 1), np.float32)
    masks[:, 16:48, 16:48] = 1.0
    images[:, 16:48, 16:48] += 0.5  # a bright square to find
    engine = XSegEngine(XSegEngineConfig(resolution=64, base_ch=8, seed=1, lr_dropout_keep=1.0,
                                         learning_rate=1e-3))
    losses = [engine.train_step(images, masks) for _ in range(40)]
    assert losses[-1] < 0.6 * losses[0]
    pred = engine.predict(images)
    assert pred.shape == (4, 64, 64, 1)
    assert pred[:, 20:44, 20:44].mean() > pred[:, :8].mean() + 0.2


def test_train_save_reload_and_apply(workspace):
    assert _train(workspace, target_iter=6) == 0
    model_dir = workspace / "model"
    data = json.loads((model_dir / "XSeg_XSeg_data.json").read_text())
    assert data["iter"] == 6 and data["model_class"] == "XSeg"
    assert (model_dir / "XSeg_XSeg_preview.png").exists() and (model_dir / "XSeg_XSeg_loss.png").exists()

    model = load_xseg_predictor(model_dir, cpu_only=True)
    assert (model.face_type, model.resolution) == ("full_face", 64)
    faces = np.random.default_rng(2).random((2, 64, 64, 3)).astype(np.float32)
    first = model.predict(faces)
    again = load_xseg_predictor(model_dir, cpu_only=True).predict(faces)
    np.testing.assert_allclose(first, again, atol=1e-6)
    assert model.predict(faces[..., :1]).shape == (2, 64, 64, 1)  # gray faces are fed as three channels

    dst = workspace / "data_dst" / "aligned"
    assert cli.main(["--non-interactive", "xseg", "apply", "--input-dir", str(dst), "--model-dir",
                     str(model_dir), "--cpu-only"]) == 0
    for path in dst.iterdir():
        mask = read_meta(path).xseg_mask
        assert mask is not None and mask.shape == (256, 256)
        assert set(np.unique(mask)) <= {0.0, 1.0}

    assert _train(workspace, target_iter=8) == 0  # training goes on from the saved iteration
    assert json.loads((model_dir / "XSeg_XSeg_data.json").read_text())["iter"] == 8
    assert _train(workspace, target_iter=2, restart_training=True) == 0   # DFL's "Restart training?"
    data = json.loads((model_dir / "XSeg_XSeg_data.json").read_text())
    assert data["iter"] == 2 and data["options"]["restart_training"] is False


def test_clear_errors(workspace, tmp_path, log_messages):
    for path in (workspace / "data_src" / "aligned").iterdir():
        meta = read_meta(path)
        meta.xseg_polys = meta.xseg_mask = None
        write_meta(path, meta)
    assert _train(workspace, target_iter=1) == 1
    assert "No segmented faces found" in "\n".join(log_messages)
    assert _train(workspace, target_iter=1, pretrain=True) == 1
    assert "--pretraining-data-dir" in "\n".join(log_messages)
    assert cli.main(["--non-interactive", "xseg", "apply", "--input-dir", str(workspace / "data_dst" / "aligned"),
                     "--model-dir", str(tmp_path)]) == 1
    assert "no trained XSeg model" in "\n".join(log_messages)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_merge_uses_the_xseg_model_of_the_model_folder(tiny_workspace, tmp_path, log_messages):
    import shutil

    from core.workspace import Workspace
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    shutil.copytree(tiny_workspace.data_dst, ws.data_dst, ignore=shutil.ignore_patterns("merged*", "predicted"))
    shutil.copytree(tiny_workspace.src_aligned, ws.src_aligned)
    _hull_labels(ws.src_aligned)
    face_model = tmp_path / "saehdbw.json"
    face_model.write_text(json.dumps({"resolution": 64, "face_type": "f", "archi": "df", "ae_dims": 32, "e_dims": 16,
                                      "d_dims": 16, "d_mask_dims": 16, "batch_size": 4, "target_iter": 2}))
    common = ["--training-data-src-dir", str(ws.src_aligned), "--training-data-dst-dir", str(ws.dst_aligned),
              "--model-dir", str(ws.model), "--no-preview"]
    assert cli.main(["--non-interactive", "train", "--model", "SAEHDBW", "--config-file", str(face_model),
                     *common]) == 0

    def merge(mask_mode: str, out: str, *extra: str) -> int:
        return cli.main(["--non-interactive", "merge", "--input-dir", str(ws.data_dst), "--output-dir",
                         str(ws.root / out), "--output-mask-dir", str(ws.root / f"{out}_mask"), "--model-dir",
                         str(ws.model), "--model", "SAEHDBW", "--workers", "1", "--mask-mode", mask_mode, *extra])

    assert merge("XSeg-prd*XSeg-dst", "merged_x") == 1                # no XSeg model in the folder yet
    assert "needs a trained XSeg model" in "\n".join(log_messages)
    cfg = tmp_path / "xseg.json"
    cfg.write_text(json.dumps({**TINY, "target_iter": 2}))
    assert cli.main(["--non-interactive", "train", "--model", "XSeg", "--config-file", str(cfg), *common]) == 0
    assert merge("XSeg-prd*XSeg-dst", "merged_x") == 0 and merge("dst", "merged_d") == 0
    assert merge("XSeg-dst", "merged_s", "--smooth-mask", "1") == 0      # temporal mask smoothing keeps XSeg's masks
    frames = sorted(p.name for p in ws.data_dst.glob("*.png"))
    for out in ("merged_x", "merged_s"):
        assert sorted(p.name for p in (ws.root / out).glob("*.png")) == frames
        differ = [not np.array_equal(cv2.imread(str(ws.root / f"{out}_mask" / n)),
                                     cv2.imread(str(ws.root / "merged_d_mask" / n))) for n in frames]
        assert all(differ)   # the masks came from the XSeg model, not the landmark hull


def test_deepfacelabs_xseg_model_is_imported_and_applied(workspace):
    """DFL's XSeg files (pickles: XSeg_data.dat, XSeg_256.npy, XSeg_256_opt.npy, DFL's variable names) in the model
    folder: `xseg apply` imports them once and predicts what the original network predicts."""
    import pickle

    dfl = XSegEngine(XSegEngineConfig(seed=3))          # DFL's size: 256 px, 32 base channels
    model_dir = workspace / "model"
    model_dir.mkdir()
    weights = {f"{k}:0": v.numpy() for k, v in dfl.nets["XSeg"].variables().items()}
    (model_dir / "XSeg_256.npy").write_bytes(pickle.dumps(weights, 4))
    slots = {f"acc_XSeg/{k}_0:0": np.full(v.shape, 0.25, np.float32) for k, v in dfl.nets["XSeg"].variables().items()}
    (model_dir / "XSeg_256_opt.npy").write_bytes(pickle.dumps({"iters:0": np.int64(77), **slots}, 4))
    (model_dir / "XSeg_data.dat").write_bytes(pickle.dumps(
        {"iter": 77, "options": {"face_type": "f", "batch_size": 8}, "loss_history": [[0.5], [0.4]]}, 4))

    dst = workspace / "data_dst" / "aligned"
    assert cli.main(["--non-interactive", "xseg", "apply", "--input-dir", str(dst), "--model-dir", str(model_dir),
                     "--cpu-only"]) == 0
    assert all(read_meta(p).xseg_mask is not None for p in dst.iterdir())
    data = json.loads((model_dir / "XSeg_XSeg_data.json").read_text())
    assert data["iter"] == 77 and data["options"]["face_type"] == "f" and data["options"]["batch_size"] == 8

    model = load_xseg_predictor(model_dir, cpu_only=True)
    faces = np.random.default_rng(4).random((1, 256, 256, 3)).astype(np.float32)
    expected = dfl.predict(faces)
    expected[expected < 0.1] = 0.0                          # DFL's XSegNet.extract drops the noise below 0.1
    got = model.predict(faces)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.any((got > 0) & (got < 0.1))
    acc = model.engine.optimizer.variables()
    assert int(acc["iters"].numpy()) == 77 and float(acc["acc/XSeg/conv01/conv/weight"].numpy().max()) == 0.25
    np.testing.assert_allclose(model.loss_array(), [[0.5], [0.4]])


@pytest.mark.slow
def test_the_xseg_scripts_train_apply_and_remove(workspace, tmp_path):
    """`5.XSeg_train.sh` with XSEG_CONFIG_FILE, then the trained-mask apply and remove scripts, in a workspace."""
    import os
    import subprocess
    import sys
    root = Path(cli.__file__).resolve().parent
    cfg = tmp_path / "xseg_config.json"
    cfg.write_text(json.dumps({**TINY, "target_iter": 2}))
    env = {**os.environ, "WORKSPACE": str(workspace), "DFL_NONINTERACTIVE": "1", "XSEG_CONFIG_FILE": str(cfg),
           "PYTHON_EXECUTABLE": sys.executable, "DFL_FORCE_CPU": "1", "CUDA_VISIBLE_DEVICES": "-1"}
    dst = workspace / "data_dst" / "aligned"
    for script, masks in (("5.XSeg_train.sh", False), ("5.XSeg_data_dst_trained_mask_apply.sh", True),
                          ("5.XSeg_data_dst_trained_mask_remove.sh", False)):
        run = subprocess.run(["bash", str(root / "scripts_linux" / script)], env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"{script}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        assert all((read_meta(p).xseg_mask is not None) == masks for p in dst.iterdir()), script
    data = json.loads((workspace / "model" / "XSeg_XSeg_data.json").read_text())
    assert data["iter"] == 2 and data["options"]["resolution"] == 64     # the config file was used


def test_whole_face_and_head_models_warn_about_faces_without_xseg_masks(workspace):
    from models.saehd import missing_xseg_hint
    from samplelib.loader import load_samples
    folder = workspace / "data_dst" / "aligned"
    samples = load_samples(folder)
    assert missing_xseg_hint(samples, "f", folder) is None                     # the hull is a full face's mask
    hint = missing_xseg_hint(samples, "head", folder)
    assert hint.startswith(f"{folder}: {len(samples)} of {len(samples)} faces have no XSeg mask") and "hair" in hint
    assert "turn masked_training off" in hint
    assert "masked_training" not in missing_xseg_hint(samples, "wf", folder, can_unmask=False)  # AMP has no such option
    for path in folder.iterdir():
        meta = read_meta(path)
        meta.xseg_mask = np.ones((256, 256), np.float32)
        write_meta(path, meta)
    assert missing_xseg_hint(load_samples(folder), "wf", folder) is None
