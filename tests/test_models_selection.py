"""Model naming in a model folder: newest-first listing, DFL's choose/rename/delete prompt, other-class guards."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from core import config, interact
from core.errors import UserError
from models.base import ModelFiles, list_models, select_model_name


def _fake_model(folder: Path, name: str, model_class: str = "SAEHD", mtime: float = 1_000_000) -> ModelFiles:
    files = ModelFiles(folder, name, model_class)
    files.data.write_text("{}")
    files.summary.write_text("summary")
    files.weights(1).mkdir()
    (files.weights(1) / f"{files.prefix}encoder.h5").write_bytes(b"w")  # the real layout: prefixed inside too
    (files.weights(1) / "loss_history.npy").write_bytes(b"h")
    backup = files.backups / "01" / files.weights(1).name
    backup.mkdir(parents=True)
    (backup / f"{files.prefix}encoder.h5").write_bytes(b"b")
    (backup.parent / files.data.name).write_text("{}")
    os.utime(files.data, (mtime, mtime))
    return files


@pytest.fixture
def answers(monkeypatch):
    queue: list[str] = []
    monkeypatch.setattr(interact, "read_line", lambda prompt: queue.pop(0) if queue else "")
    config.override(non_interactive=False)
    yield queue
    config.override(non_interactive=True)


def test_listing_is_newest_first_and_per_class(tmp_path):
    _fake_model(tmp_path, "old", mtime=1_000_000)
    _fake_model(tmp_path, "recent one", mtime=2_000_000)
    _fake_model(tmp_path, "gray", "SAEHDBW")
    assert list_models(tmp_path, "SAEHD") == ["recent one", "old"]
    assert list_models(tmp_path, "SAEHDBW") == ["gray"]


def test_non_interactive_picks_newest_or_new(tmp_path):
    assert select_model_name(tmp_path, "SAEHD") == "new"
    _fake_model(tmp_path, "a", mtime=1_000_000)
    _fake_model(tmp_path, "b", mtime=2_000_000)
    assert select_model_name(tmp_path, "SAEHD") == "b"
    assert select_model_name(tmp_path, "SAEHD", silent_start=True) == "b"
    assert select_model_name(tmp_path, "SAEHD", force_name="zzz") == "zzz"


def test_other_class_is_a_clear_error(tmp_path):
    _fake_model(tmp_path, "gray", "SAEHDBW")
    with pytest.raises(UserError, match="SAEHDBW"):
        select_model_name(tmp_path, "SAEHD", force_name="gray")
    assert select_model_name(tmp_path, "SAEHD", silent_start=True) == "new"  # a new SAEHD beside it
    with pytest.raises(UserError, match="no saved SAEHD model"):
        select_model_name(tmp_path, "SAEHD", allow_new=False)
    (tmp_path / "old one_Quick96_data.dat").write_bytes(b"")  # a DeepFaceLab model counts too
    with pytest.raises(UserError, match=r"it holds gray \(SAEHDBW\), old one \(Quick96\)"):
        select_model_name(tmp_path, "SAEHD", allow_new=False)


def test_silent_start_never_asks_even_at_a_terminal(tmp_path, answers, monkeypatch):
    monkeypatch.setattr(interact, "read_line", lambda prompt: pytest.fail("asked: " + prompt))
    assert select_model_name(tmp_path, "SAEHD", silent_start=True) == "new"
    _fake_model(tmp_path, "mine")
    assert select_model_name(tmp_path, "SAEHD", silent_start=True) == "mine"


def test_interactive_rename_then_choose(tmp_path, answers):
    _fake_model(tmp_path, "first", mtime=1_000_000)
    _fake_model(tmp_path, "second", mtime=2_000_000)
    answers.extend(["r", "first", "re_named", "1"])
    name = select_model_name(tmp_path, "SAEHD")
    assert name == "re named"  # underscores in new names become spaces, as in DFL
    renamed = ModelFiles(tmp_path, "re named", "SAEHD")
    assert renamed.data.exists() and renamed.summary.exists()
    assert sorted(p.name for p in renamed.weights(1).iterdir()) == ["loss_history.npy", "re named_SAEHD_encoder.h5"]
    backup = renamed.backups / "01"
    assert sorted(p.name for p in backup.rglob("*")) == ["re named_SAEHD_data.json", "re named_SAEHD_encoder.h5",
                                                        "re named_SAEHD_weights.000001"]
    assert not ModelFiles(tmp_path, "first", "SAEHD").all_paths()


def test_interactive_delete_and_new_name(tmp_path, answers):
    _fake_model(tmp_path, "keep", mtime=1_000_000)
    _fake_model(tmp_path, "drop", mtime=2_000_000)
    answers.extend(["d", "drop", "my_new_model"])
    assert select_model_name(tmp_path, "SAEHD") == "my new model"
    assert list_models(tmp_path, "SAEHD") == ["keep"]
    assert not ModelFiles(tmp_path, "drop", "SAEHD").all_paths()


def test_names_that_cannot_be_file_names_are_refused(tmp_path, answers):
    with pytest.raises(UserError, match="--force-model-name 'a/b': a model name cannot contain '/'"):
        select_model_name(tmp_path, "SAEHD", force_name="a/b")
    answers.extend(["x:y", "good_one"])  # the prompt asks again after a bad name
    assert select_model_name(tmp_path, "SAEHD") == "good one"
