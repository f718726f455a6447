"""SAEHD / SAEHDBW / Quick96 on the real two-identity faceset (tiny_workspace): train, save, load, continue;
file guards; the NaN guard; backups; pretraining; the merger interface. Tiny networks at resolution 64; one
shared SAEHD model for the lifecycle tests so the file stays quick on a CPU."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core import config, interact
from core.errors import UserError
from models import presets
from models.base import ModelFiles, NonFiniteLoss
from models.registry import load_model
from tests.fixtures_training import TINY_OPTIONS

TINY = TINY_OPTIONS
pytestmark = pytest.mark.usefixtures("cpu_float32_for_the_module")


def _model(kind, folder, faces, options=None, name="t", **kw):
    return load_model(kind, folder, training=True, src_dir=faces[0], dst_dir=faces[1], force_model_name=name,
                      cpu_only=True, config_options=dict(TINY, **(options or {})), **kw)


@pytest.fixture(scope="module")
def saehd(faces, tmp_path_factory):
    """A tiny SAEHD model trained 3 iterations and saved."""
    model = _model("SAEHD", tmp_path_factory.mktemp("saehd"), faces)
    for _ in range(3):
        model.train_one_iter()
    model.save()
    yield model
    model.close()


def test_save_load_continues_with_same_iteration_and_loss(saehd, faces):
    saehd.save()
    batch = saehd.last_sample
    reloaded = _model("SAEHD", saehd.folder, faces, options={})
    try:
        assert reloaded.iter == saehd.iter and reloaded.loss_history == saehd.loss_history
        assert reloaded.options == saehd.options
        # Same weights and optimizer state: the next step on the same batch gives the same loss.
        assert saehd.engine.train_step(*batch) == pytest.approx(reloaded.engine.train_step(*batch), rel=1e-5)
        reloaded.train_one_iter()
        assert reloaded.iter == saehd.iter + 1 and len(reloaded.loss_history) == reloaded.iter
    finally:
        reloaded.close()
    summary = (saehd.folder / "t_SAEHD_summary.txt").read_text()
    assert "Model Summary" in summary and f"Current iteration: {saehd.iter}" in summary and "df-ud" in summary
    assert json.loads((saehd.folder / "SAEHD_default_options.json").read_text())["ae_dims"] == 32


def test_two_hundred_iterations_lower_the_loss(saehd):
    start = saehd.iter
    for _ in range(200):
        saehd.train_one_iter()
    history = saehd.loss_array()[start:]
    first, last = history[:10].mean(axis=0), history[-10:].mean(axis=0)
    assert (last < 0.75 * first).all(), (first, last)


def test_nan_loss_is_caught_and_last_save_restored(saehd):
    saehd.save()
    saved_iter = saehd.iter
    variable = next(iter(saehd.engine.nets["encoder"].variables().values()))
    good = variable.numpy()
    variable.assign(np.full(variable.shape, np.nan, np.float32))
    with pytest.raises(NonFiniteLoss):
        saehd.train_one_iter()
    assert saehd.iter == saved_iter
    assert saehd.restore_last_save()
    np.testing.assert_array_equal(variable.numpy(), good)
    assert all(np.isfinite(saehd.train_one_iter()))


def test_backups_rotate_and_are_loadable(saehd, monkeypatch, tmp_path):
    import models.base as base
    monkeypatch.setattr(base, "MAX_BACKUPS", 2)
    for _ in range(3):
        saehd.train_one_iter()
        saehd.save()
        saehd.create_backup()
    root = saehd.folder / "t_SAEHD_autobackups"
    assert sorted(p.name for p in root.iterdir()) == ["01", "02"]
    assert any(p.name.startswith("preview_SAEHD") for p in (root / "01").iterdir())
    newest = json.loads((root / "01" / "t_SAEHD_data.json").read_text())
    older = json.loads((root / "02" / "t_SAEHD_data.json").read_text())
    assert newest["iter"] == saehd.iter == older["iter"] + 1
    copy = shutil.copytree(root / "01", tmp_path / "restored")
    assert load_model("SAEHD", copy, training=False, cpu_only=True).iter == saehd.iter


def test_a_full_disk_during_save_keeps_the_last_save(saehd, monkeypatch):
    import errno
    import models.base as base
    saehd.save()
    saved_iter, files_before = saehd.iter, sorted(p.name for p in saehd.folder.iterdir())
    saehd.train_one_iter()

    def disk_full(folder, *args, **kwargs):
        (Path(folder) / "half_written.h5").write_bytes(b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(saehd.engine, "save", disk_full)
        with pytest.raises(base.SaveFailed, match=r"No space left on device \(free some disk space and run it "
                                                  r"again\)\. The model on disk is still the one saved at "
                                                  f"iteration {saved_iter}"):
            saehd.save()
    assert sorted(p.name for p in saehd.folder.iterdir()) == files_before  # no temp folder left behind
    with monkeypatch.context() as patch:
        patch.setattr(base.shutil, "copytree", lambda src, dst: disk_full(Path(dst).parent))
        with pytest.raises(base.SaveFailed, match="Could not write a backup .* older backups are kept"):
            saehd.create_backup()
    assert not list(saehd.files.backups.glob("*.tmp"))
    assert load_model("SAEHD", saehd.folder, training=False, cpu_only=True).iter == saved_iter


def test_wrong_class_truncated_and_missing_files_are_clear_errors(saehd, tmp_path):
    saehd.save()
    folder = tmp_path / "model"
    folder.mkdir()
    for path in saehd.folder.glob("t_SAEHD_*"):
        if "autobackups" not in path.name:
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, folder / path.name)
    with pytest.raises(UserError, match="SAEHD model"):
        load_model("SAEHDBW", folder, training=False, force_model_name="t", cpu_only=True)
    weights = next(folder.glob("t_SAEHD_weights.*/*encoder.h5"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="encoder"):
        load_model("SAEHD", folder, training=False, cpu_only=True)
    (folder / "t_SAEHD_data.json").write_text('{"model_class": "SAEHD", "iter"')
    with pytest.raises(UserError, match="t_SAEHD_data.json"):
        load_model("SAEHD", folder, training=False, cpu_only=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no saved SAEHD model"):
        load_model("SAEHD", tmp_path / "empty", training=False, cpu_only=True)


def test_a_batch_smaller_than_the_chosen_gpus_is_refused(tmp_path, faces):
    from core.leras.device import Device
    two = [Device(0, "GPU A", 8 << 30), Device(1, "GPU B", 8 << 30)]
    with pytest.raises(UserError, match="batch_size 1 is smaller than the 2 GPUs"):
        _model("SAEHDBW", tmp_path, faces, options={"batch_size": 1}, devices=two)


def test_saehdbw_with_preset_trains_on_gray_faces(tmp_path, faces):
    dims = {"ae_dims": 32, "e_dims": 16, "d_dims": 16, "d_mask_dims": 16, "batch_size": 4, "ct_mode": "lct"}
    model = load_model("SAEHDBW", tmp_path, training=True, src_dir=faces[0], dst_dir=faces[1], cpu_only=True,
                       config_options=dims, preset=presets.get_preset("BW96"))
    try:
        o = model.options
        assert (o["resolution"], o["archi"], o["ae_dims"]) == (96, "df-ud", 32)  # preset, then config file wins
        model.train_one_iter()
        warped, target, mask, _ = model.last_sample[0]
        assert warped.shape == target.shape == (4, 96, 96, 1) and mask.shape == (4, 96, 96, 1)
        previews = model.get_previews()
        assert [name for name, _ in previews] == ["SAEHDBW", "SAEHDBW masked"]
        image = previews[0][1]
        assert image.shape == (4 * 96, 5 * 96, 3) and np.array_equal(image[..., 0], image[..., 2])
        model.save()
    finally:
        model.close()
    for_merge = load_model("SAEHDBW", tmp_path, training=False, cpu_only=True)
    spec = for_merge.merge_spec()
    assert (spec.resolution, spec.face_type, spec.channels) == (96, "full_face", 1) and for_merge.iter == 1
    face, src_mask, dst_mask = for_merge.predict(target)
    assert face.shape == src_mask.shape == dst_mask.shape == (4, 96, 96, 1)


def test_quick96_builds_without_questions(tmp_path, faces, monkeypatch):
    shown = []
    monkeypatch.setattr(interact, "read_line", lambda prompt: shown.append(prompt) or "")
    monkeypatch.setattr(config, "_settings", dataclasses.replace(config.settings(), non_interactive=False))
    model = load_model("Quick96", tmp_path, training=True, src_dir=faces[0], dst_dir=faces[1],
                       force_model_name="q", cpu_only=True)
    try:
        assert shown == []
        o = model.options
        assert (o["resolution"], o["face_type"], o["archi"], o["batch_size"]) == (96, "f", "df-ud", 4)
        assert model.engine.param_counts()["total"] == 38_294_330  # the architecture reference's count
        cfg = model.engine.config
        assert cfg.learning_rate == pytest.approx(2e-4) and not cfg.adabelief and cfg.lr_dropout_keep == 0.3
    finally:
        model.close()


def test_random_hsv_power_reaches_the_src_generator_only(saehd, monkeypatch):
    assert saehd.options["random_hsv_power"] == 0.0
    monkeypatch.setitem(saehd.options, "random_hsv_power", 0.05)
    sides = saehd.sample_settings()
    assert sides["src"]["random_hsv_power"] == 0.05 and sides["dst"].get("random_hsv_power", 0.0) == 0.0


POWERS = {"gan_power": 0.1, "gan_patch_size": 8, "gan_dims": 4, "true_face_power": 0.1, "face_style_power": 1.0}


def test_pretrain_switch_off_resets_iterations_and_inters(tmp_path, faces):
    model = _model("SAEHD", tmp_path, faces, {"pretrain": True, "random_hsv_power": 0.1, **POWERS}, name="p",
                   pretraining_dir=faces[0])
    try:
        assert not model.engine.optional_nets and not model.engine.generator_terms  # powers off while pretraining
        side = model.sample_settings()["dst"]
        assert side["random_flip"] and side["uniform_yaw"] and not side["random_warp"]
        assert model.sample_settings()["src"]["random_hsv_power"] == 0.0
        model.train_one_iter()
        model.save()
        encoder = {k: v.numpy() for k, v in model.engine.nets["encoder"].variables().items()}
        inter = {k: v.numpy() for k, v in model.engine.nets["inter"].variables().items()}
    finally:
        model.close()
    after = _model("SAEHD", tmp_path, faces, {"pretrain": False}, name="p")
    try:
        assert after.iter == 0 and after.loss_history == []
        for k, v in after.engine.nets["encoder"].variables().items():
            np.testing.assert_array_equal(v.numpy(), encoder[k])
        assert any(not np.array_equal(v.numpy(), inter[k]) for k, v in after.engine.nets["inter"].variables().items())
        assert set(after.engine.optional_nets) == {"GAN", "code_discriminator"} and after.engine.generator_terms
    finally:
        after.close()
    merging = load_model("SAEHD", tmp_path, training=False, force_model_name="p", cpu_only=True)
    try:
        assert not merging.engine.optional_nets  # a merge builds no discriminators
    finally:
        merging.close()


def test_a_new_model_starts_from_a_pretrained_model_dir(tmp_path, faces, log_messages):
    pretrained = _model("SAEHD", tmp_path / "pretrained", faces, {"pretrain": True}, name="many faces",
                        pretraining_dir=faces[0])
    try:
        pretrained.train_one_iter()
        pretrained.save()
        encoder = {k: v.numpy() for k, v in pretrained.engine.nets["encoder"].variables().items()}
    finally:
        pretrained.close()
    model = _model("SAEHD", tmp_path / "project", faces, name="mine", pretrained_dir=tmp_path / "pretrained")
    try:
        assert model.iter == 0 and model.pretrain_just_disabled and not model.options["pretrain"]
        for k, v in model.engine.nets["encoder"].variables().items():
            np.testing.assert_array_equal(v.numpy(), encoder[k])
        model.train_one_iter()
        model.save()
    finally:
        model.close()
    again = _model("SAEHD", tmp_path / "project", faces, name="mine", pretrained_dir=tmp_path / "pretrained")
    try:  # an existing model keeps itself
        assert again.iter == 1 and any("exists already" in m for m in log_messages)
    finally:
        again.close()
    weights = sorted(p.name for p in (tmp_path / "project").glob("mine_SAEHD_weights.*/*.h5"))
    assert weights and all(name.startswith("mine_SAEHD_") for name in weights)
    assert json.loads(ModelFiles(tmp_path / "pretrained", "many faces", "SAEHD").data.read_text())["iter"] == 1
    with pytest.raises(UserError, match="holds no saved SAEHDBW model .it holds many faces .SAEHD.."):
        _model("SAEHDBW", tmp_path / "other", faces, name="gray", pretrained_dir=tmp_path / "pretrained")




def test_faces_of_the_wrong_type_are_the_one_error(tmp_path, faces, log_messages):
    with pytest.raises(UserError, match="is a full_face face but the model trains whole_face"):
        load_model("SAEHD", tmp_path, training=True, src_dir=faces[0], dst_dir=faces[1], cpu_only=True,
                   config_options=dict(TINY_OPTIONS, face_type="wf"))
    assert not any("no XSeg mask" in m for m in log_messages)   # (the hint on wf faces would only confuse)


def test_learning_rate_reaches_the_optimizer(saehd, monkeypatch):
    assert saehd.engine.optimizer.lr == 5e-5                       # DFL's
    monkeypatch.setitem(saehd.options, "learning_rate", 1.5e-4)
    assert saehd.engine_config().learning_rate == 1.5e-4
