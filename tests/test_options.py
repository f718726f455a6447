"""Model options: prompts, locks, the override window, precedence, config-file validation, presets."""
from __future__ import annotations

import json
import math

import pytest

from core import config, interact
from core.errors import UserError
from models import options as opt
from models import presets

SPECS = opt.generic_options() + opt.saehd_options(3)
GRAY_SPECS = opt.generic_options() + opt.saehd_options(1)


@pytest.fixture
def answers(monkeypatch):
    """Interactive mode with scripted answers; returns the list of prompts that were shown."""
    shown: list[str] = []
    queue: list[str] = []

    def read_line(prompt: str) -> str:
        shown.append(prompt)
        return queue.pop(0) if queue else ""

    monkeypatch.setattr(interact, "read_line", read_line)
    config.override(non_interactive=False)
    yield queue, shown
    config.override(non_interactive=True)


def _asked_names(shown: list[str]) -> list[str]:
    by_prompt = {s.prompt: s.name for s in SPECS}
    return [name for p in shown for prompt, name in by_prompt.items() if f"] {prompt} (" in p]


def test_defaults_non_interactive():
    values = opt.resolve_options(SPECS, first_run=True).values
    assert values["resolution"] == 128 and values["archi"] == "liae-ud" and values["face_type"] == "f"
    assert values["d_mask_dims"] == 22  # d_dims // 3 rounded up to even
    assert values["batch_size"] == 4    # CPU default
    assert values["models_opt_on_gpu"] is False  # forced off on CPU
    assert values["gan_power"] == 0.0 and values["true_face_power"] == 0.0 and values["face_style_power"] == 0.0
    assert values["random_hsv_power"] == 0.0
    assert "random_hsv_power" not in opt.resolve_options(opt.saehd_options(1), first_run=True).values  # gray
    on_gpu = opt.resolve_options(SPECS, env=opt.OptionEnv(on_gpu=True, min_gpu_mem_gb=8)).values
    assert on_gpu["batch_size"] == 8 and on_gpu["models_opt_on_gpu"] is True


def test_a_rounded_resolution_is_said(log_messages):
    values = opt.resolve_options(SPECS, config={"resolution": 200}, first_run=True).values
    assert values["resolution"] == 192
    assert "resolution 200 rounded down to 192 (a multiple of 16)." in log_messages
    from types import SimpleNamespace
    from models.saehd import SAEHDModel
    values = SAEHDModel.finalize_options(SimpleNamespace(training=False), dict(values, archi="df-ud", resolution=112))
    assert values["resolution"] == 96
    assert "resolution 112 rounded down to 96 (archi df-ud needs a multiple of 32)." in log_messages


def test_first_run_asks_everything_and_normalises(answers):
    queue, shown = answers
    replies = {"resolution": "200", "archi": "LIAE-TDU", "e_dims": "33", "ct_mode": "sot", "batch_size": "6"}
    not_asked = ("masked_training", "models_opt_on_gpu",   # wf/head only, GPU only
                 "true_face_power", "gan_patch_size", "gan_dims")  # df archis only, with GAN power only
    queue.extend(replies.get(s.name, "") for s in SPECS if s.available and s.ask and s.name not in not_asked)
    values = opt.resolve_options(SPECS, first_run=True).values
    asked = _asked_names(shown)
    assert "resolution" in asked and "archi" in asked and "pretrain" in asked
    assert "masked_training" not in asked  # only asked for wf/head
    assert values["resolution"] == 192 and values["archi"] == "liae-udt" and values["e_dims"] == 34
    assert values["ct_mode"] == "sot" and values["batch_size"] == 6


def test_locked_options_are_not_reasked_in_override(answers):
    queue, shown = answers
    saved = opt.resolve_options(SPECS, first_run=True, config={"resolution": 96, "batch_size": 4}).values
    shown.clear()
    queue.extend(["", "", "5000"])  # autobackup, history, target_iter; the rest keep their defaults
    values = opt.resolve_options(SPECS, saved=saved, first_run=False, ask_override=True).values
    asked = _asked_names(shown)
    assert "target_iter" in asked and "batch_size" in asked and "lr_dropout" in asked
    assert not {"resolution", "archi", "ae_dims", "e_dims", "d_dims", "d_mask_dims", "face_type"} & set(asked)
    assert values["target_iter"] == 5000 and values["resolution"] == 96


def test_no_override_window_asks_nothing(answers):
    queue, shown = answers
    saved = opt.resolve_options(SPECS, first_run=True).values
    shown.clear()
    values = opt.resolve_options(SPECS, saved=saved, first_run=False, ask_override=False).values
    assert shown == [] and values == saved


def test_precedence_saved_preset_folder_default():
    folder = {"ae_dims": 128, "e_dims": 32, "d_dims": 48}
    preset = {"ae_dims": 512}
    new = opt.resolve_options(SPECS, preset=preset, folder_defaults=folder, first_run=True)
    assert new.values["ae_dims"] == 512 and new.sources["ae_dims"] == "preset"
    assert new.values["e_dims"] == 32 and new.sources["e_dims"] == "folder default"
    assert new.values["d_mask_dims"] == 16  # default derived from the folder's d_dims 48 -> 16
    assert new.values["resolution"] == 128 and new.sources["resolution"] == "default"
    existing = opt.resolve_options(SPECS, saved={"ae_dims": 64}, preset=preset, folder_defaults=folder,
                                   first_run=False)
    assert existing.values["ae_dims"] == 64 and existing.sources["ae_dims"] == "saved"


@pytest.fixture
def log_lines():
    """Messages logged through core.interact during the test."""
    import logging
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    interact.log.addHandler(handler)
    yield lines
    interact.log.removeHandler(handler)


def test_config_file_overrides_changeable_but_not_locked(log_lines):
    saved = opt.resolve_options(SPECS, first_run=True).values
    result = opt.resolve_options(SPECS, saved=saved, first_run=False,
                                 config={"resolution": 256, "batch_size": 12, "random_warp": False})
    assert result.values["resolution"] == 128  # locked: keeps the saved value
    assert result.values["batch_size"] == 12 and result.values["random_warp"] is False
    assert any("resolution is locked" in line for line in log_lines)


def test_config_file_unknown_key_and_bad_values(tmp_path):
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"resolution": 64, "ae_dimz": 32}))
    with pytest.raises(UserError, match="ae_dimz"):
        opt.read_config_file(path, SPECS)
    gray_path = tmp_path / "gray.json"
    gray_path.write_text(json.dumps({"random_hsv_power": 0.1}))   # a colour-only option on the gray model
    with pytest.raises(UserError, match="not available"):
        opt.read_config_file(gray_path, GRAY_SPECS)
    for bad, word in (({"resolution": 1000}, "resolution"), ({"face_type": "x"}, "face_type"),
                      ({"archi": "dfx-u"}, "archi"), ({"random_warp": "maybe"}, "random_warp"),
                      ({"gan_power": 9.0}, "gan_power")):
        path.write_text(json.dumps(bad))
        with pytest.raises(UserError, match=word):
            opt.read_config_file(path, SPECS)
    path.write_text("{ truncated")
    with pytest.raises(UserError, match="options.json"):
        opt.read_config_file(path, SPECS)


def test_config_file_accepts_dfl_spellings(tmp_path):
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"face_type": "whole_face", "random_warp": "n", "lr_dropout": True,
                                "masked_training": 1, "gan_power": 0.0, "archi": "DF-UD"}))
    values = opt.read_config_file(path, SPECS)
    assert values == {"face_type": "wf", "random_warp": False, "lr_dropout": "y", "masked_training": True,
                      "gan_power": 0.0, "archi": "df-ud"}


def test_non_finite_numbers_are_refused_and_a_notepad_bom_is_fine(tmp_path, answers):
    # Regression (issue 25): `gan_power: NaN` was accepted and saved; a config saved by Notepad (BOM) refused.
    path = tmp_path / "options.json"
    for text in ('{"gan_power": NaN}', '{"gan_power": Infinity}', '{"gan_power": 1e999}', '{"gan_power": "nan"}',
                 '{"ae_dims": "inf"}'):
        path.write_text(text)
        with pytest.raises(UserError, match="options.json.*(finite|whole number)"):
            opt.read_config_file(path, SPECS)
    path.write_bytes(b"\xef\xbb\xbf" + b'{\r\n  "gan_power": 0.5,\r\n  "archi": "df"\r\n}\r\n')
    assert opt.read_config_file(path, SPECS) == {"gan_power": 0.5, "archi": "df"}
    queue, shown = answers
    (gan,) = [s for s in SPECS if s.name == "gan_power"]
    queue += ["nan"]  # typed at the prompt
    assert math.isfinite(gan.prompt_value(0.0))


def test_a_stored_locked_option_that_is_not_valid_stops_the_load(log_lines):
    saved = opt.resolve_options(SPECS, first_run=True).values
    with pytest.raises(UserError, match="data.json: the stored option archi 'xyz' is not valid .unknown archi"):
        opt.resolve_options(SPECS, saved={**saved, "archi": "xyz"}, first_run=False, saved_source="data.json")
    values = opt.resolve_options(SPECS, saved={**saved, "gan_power": float("nan")}, first_run=False).values
    assert values["gan_power"] == 0.0  # not locked: the default, with a warning
    assert any("Ignoring the stored value" in line and "gan_power" in line for line in log_lines)


def test_gray_model_limits_color_transfer():
    (ct,) = [s for s in GRAY_SPECS if s.name == "ct_mode"]
    assert ct.choices == ("none", "lct", "sot")
    with pytest.raises(UserError, match="ct_mode"):
        opt.validate_config(GRAY_SPECS, {"ct_mode": "rct"}, "cfg")


def test_presets_are_valid_saehd_configs():
    for name in presets.PRESETS:
        values = opt.validate_config(SPECS, presets.get_preset(name), name)
        assert values["resolution"] % 16 == 0
    assert presets.get_preset("liaef128")["archi"] == "liae"
    with pytest.raises(UserError, match="H64"):
        presets.get_preset("H256")


def test_options_table_lists_every_available_option():
    table = opt.options_table(SPECS)
    for spec in SPECS:
        assert (f"`{spec.name}`" in table) == spec.available


def test_learning_rate_is_dfls_unless_a_config_file_sets_it(answers, tmp_path):
    queue, shown = answers
    values = opt.resolve_options(SPECS, first_run=True).values
    assert values["learning_rate"] == 5e-5
    assert not any("Learning rate" in prompt for prompt in shown)      # never asked, as in DFL
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"learning_rate": 1.5e-4}))
    from_file = opt.read_config_file(path, SPECS)
    assert opt.resolve_options(SPECS, config=from_file, first_run=True).values["learning_rate"] == 1.5e-4
    path.write_text(json.dumps({"learning_rate": 0.5}))
    with pytest.raises(UserError, match="learning_rate"):
        opt.read_config_file(path, SPECS)
