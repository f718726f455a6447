"""DeepFaceLab's own model files (pickled `data.dat` + `*.npy` weights, written here in DFL's layout as the
reference describes it) are imported: by train and merge for the models in their --model-dir, by
`--pretrained-model-dir`, and by `util import-dfl-model`. Weights, optimizer state, iteration and loss history
carry over; a hostile pickle is refused without running anything."""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import main as cli
from core.leras.saveable import read_arrays
from models.dfl_import import import_new_models
from models.files import ModelFiles
from models.registry import load_model
from tests.fixtures_training import TINY_OPTIONS

TINY = {**TINY_OPTIONS, "archi": "liae-ud"}
pytestmark = pytest.mark.usefixtures("cpu_float32_for_the_module")


@pytest.fixture(scope="module")
def trained(faces, tmp_path_factory):
    """A tiny SAEHDBW LIAE model trained 3 iterations and saved, and a batch to compare steps on."""
    model = load_model("SAEHDBW", tmp_path_factory.mktemp("ours"), training=True, src_dir=faces[0],
                       dst_dir=faces[1], force_model_name="orig", cpu_only=True, config_options=TINY)
    for _ in range(3):
        model.train_one_iter()
    model.save()
    yield model
    model.close()


DFL_SCOPES = {"GAN": "D_src", "code_discriminator": "dis"}  # DFL's variable scopes of the discriminators
OPTIMIZERS = ("src_dst_opt", "GAN_opt", "D_code_opt")


def _dfl_optimizer_key(key: str) -> str:
    """Our `ms/encoder/down1/...` -> DFL's `ms_encoder/down1/..._0:0` (slot name `ms_<var name, ':' -> '_'>`),
    `ms/GAN/...` -> `ms_D_src/..._0:0`."""
    if key == "iters":
        return "iters:0"
    slot, net, path = key.split("/", 2)
    return f"{slot}_{DFL_SCOPES.get(net, net)}/{path}_0:0"


def write_dfl_model(model, folder: Path, name: str = "pretty", options: dict | None = None,
                    as_array: bool = False) -> Path:
    """Write `model`'s last save as DeepFaceLab would have: `<name>_SAEHDBW_data.dat` and pickled `.npy` dicts."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{name}_{model.MODEL_NAME}_"
    weights = model.files.weights(model.generation)
    for h5 in weights.glob("*.h5"):
        arrays, attrs = read_arrays(h5)
        rename = _dfl_optimizer_key if attrs["network"] in OPTIMIZERS else (lambda k: f"{k}:0")
        (folder / f"{prefix}{attrs['network']}.npy").write_bytes(
            pickle.dumps({rename(k): v for k, v in arrays.items()}, 4))
    data = {"iter": model.iter, "options": options if options is not None else dict(model.options),
            "loss_history": np.asarray(model.loss_history, np.float32) if as_array else
                            [list(map(np.float32, row)) for row in model.loss_history],
            "sample_for_preview": None, "choosed_gpu_indexes": None}
    path = folder / f"{prefix}data.dat"
    path.write_bytes(pickle.dumps(data, 4))
    os.utime(path, (1_600_000_000, 1_600_000_000))
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.suffix in (".dat", ".npy")}


def test_merge_imports_a_dfl_model_and_predicts_the_same(trained, faces, tmp_path, log_messages):
    dfl_options = {**trained.options, "lr_dropout": False, "eyes_prio": False, "gan_power": 0.1}
    del dfl_options["eyes_mouth_prio"]
    data_dat = write_dfl_model(trained, tmp_path, options=dfl_options)
    before = _digest(tmp_path)
    model = load_model("SAEHDBW", tmp_path, training=False, cpu_only=True)
    try:
        assert model.name == "pretty" and model.iter == trained.iter
        np.testing.assert_allclose(np.asarray(model.loss_history), np.asarray(trained.loss_history), rtol=1e-6)
        assert model.options["archi"] == "liae-ud" and model.options["lr_dropout"] == "n"
        faces_in = trained.last_sample[1][1][:2]  # dst targets
        for ours, theirs in zip(model.predict(faces_in), trained.predict(faces_in)):
            np.testing.assert_allclose(ours, theirs, atol=1e-6)
    finally:
        model.close()
    assert _digest(tmp_path) == before, "the DFL files must not change"
    imported = ModelFiles(tmp_path, "pretty", "SAEHDBW").data
    assert imported.stat().st_mtime == data_dat.stat().st_mtime  # listed by the DFL model's age
    assert any("Imported the DeepFaceLab model 'pretty'" in m for m in log_messages)
    assert any("pretty_SAEHDBW_GAN.npy: missing while gan_power is on" in m for m in log_messages)
    assert import_new_models(tmp_path, "SAEHDBW") == []  # once only


def test_training_goes_on_from_a_dfl_model_with_its_optimizer_state(trained, faces, tmp_path):
    write_dfl_model(trained, tmp_path / "dfl")
    batch = trained.last_sample
    model = load_model("SAEHDBW", tmp_path / "new", training=True, src_dir=faces[0], dst_dir=faces[1],
                       force_model_name="mine", cpu_only=True, pretrained_dir=tmp_path / "dfl",
                       config_options={"batch_size": 4})
    try:
        assert model.iter == trained.iter and not list((tmp_path / "dfl").glob("*.json"))
        reference = load_model("SAEHDBW", trained.folder, training=True, src_dir=faces[0], dst_dir=faces[1],
                               force_model_name="orig", cpu_only=True, config_options={"batch_size": 4})
        try:  # same weights and optimizer state: two steps on the same batch give the same second loss
            losses = [[m.engine.train_step(*batch) for _ in range(2)][1] for m in (model, reference)]
            assert losses[0] == pytest.approx(losses[1], rel=1e-5)
        finally:
            reference.close()
    finally:
        model.close()


def test_a_hostile_or_broken_dfl_model_is_refused_without_running_it(trained, tmp_path, log_messages):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "model"
    write_dfl_model(trained, folder, name="evil")
    (folder / "evil_SAEHDBW_data.dat").write_bytes(pickle.dumps({"iter": 1, "options": Exploit()}))
    write_dfl_model(trained, folder, name="cut")
    (folder / "cut_SAEHDBW_inter_B.npy").unlink()
    assert import_new_models(folder, "SAEHDBW") == []
    assert not marker.exists()
    text = "\n".join(log_messages)
    assert "evil_SAEHDBW_data.dat: refused to load" in text
    assert "cut_SAEHDBW_inter_B.npy: missing" in text
    assert not list(folder.glob("*.json")) and not list(folder.glob("*weights*"))
    assert cli.main(["util", "import-dfl-model", "--input-dir", str(folder)]) == 1


def test_util_import_dfl_model_writes_to_another_folder(trained, tmp_path):
    write_dfl_model(trained, tmp_path / "dfl", name="a b", as_array=True)  # (some builds kept an array)
    assert cli.main(["util", "import-dfl-model", "--input-dir", str(tmp_path / "dfl"),
                     "--output-dir", str(tmp_path / "out")]) == 0
    data = ModelFiles(tmp_path / "out", "a b", "SAEHDBW")
    assert data.data.exists() and {p.name for p in data.weights(1).iterdir()} >= {
        "a b_SAEHDBW_encoder.h5", "a b_SAEHDBW_inter_AB.h5", "a b_SAEHDBW_inter_B.h5", "a b_SAEHDBW_decoder.h5",
        "a b_SAEHDBW_src_dst_opt.h5", "loss_history.npy"}
    assert not list((tmp_path / "dfl").glob("*.json"))
    assert np.load(data.weights(1) / "loss_history.npy").shape == (len(trained.loss_history), 2)
    assert cli.main(["util", "import-dfl-model", "--input-dir", str(tmp_path / "out")]) == 1  # nothing DFL there


def test_the_gan_and_true_face_discriminators_come_along(faces, tmp_path):
    powers = {"gan_power": 0.1, "gan_patch_size": 8, "gan_dims": 4, "true_face_power": 0.1}
    model = load_model("SAEHDBW", tmp_path / "ours", training=True, src_dir=faces[0], dst_dir=faces[1],
                       force_model_name="orig", cpu_only=True, config_options={**TINY_OPTIONS, **powers})
    try:
        for _ in range(2):
            model.train_one_iter()
        model.save()
        write_dfl_model(model, tmp_path / "dfl")
        names = {p.name for p in (tmp_path / "dfl").iterdir()}
        assert {"pretty_SAEHDBW_GAN.npy", "pretty_SAEHDBW_D_code_opt.npy"} <= names
        imported = load_model("SAEHDBW", tmp_path / "dfl", training=True, src_dir=faces[0], dst_dir=faces[1],
                              cpu_only=True)
        try:
            for net, opt in (("GAN", "GAN_opt"), ("code_discriminator", "D_code_opt")):
                ours, theirs = model.engine.optional_nets[net], imported.engine.optional_nets[net]
                for name, var in ours.variables().items():
                    np.testing.assert_array_equal(theirs.variables()[name].numpy(), var.numpy())
                state = imported.engine.optional_optimizers[opt].variables()
                assert int(state["iters"].numpy()) == 2
                for name, var in model.engine.optional_optimizers[opt].variables().items():
                    np.testing.assert_array_equal(state[name].numpy(), var.numpy())
        finally:
            imported.close()
    finally:
        model.close()
