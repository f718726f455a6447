"""A new model is one module and one registry line: a toy model declared and registered in this file only is
offered by `train --model`, `merge --model` and `exportdfm --model`, its merge question becomes a merge flag, and
listing the models (argparse) starts no TensorFlow."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import main as cli
from core.errors import UserError
from models import registry
from models.base import ModelBase
from models.options import OptionSpec

ROOT = Path(__file__).resolve().parents[1]


class ToyModel(ModelBase):
    """A gray face model with one merge question of its own; never built here."""

    MODEL_NAME = "Toy"
    CHANNELS = 1
    MERGEABLE = True
    EXPORTS_DFM = True

    @classmethod
    def merge_option_specs(cls) -> list[OptionSpec]:
        return [OptionSpec("toy_power", "Toy power", "float", 0.5, "How much of the toy the face takes.",
                           valid_range=(0.0, 1.0))]


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(registry.MODELS, "Toy", (__name__, "ToyModel"))   # the one registry line


def subparser(command: str) -> argparse.ArgumentParser:
    return cli.build_parser()._subparsers._group_actions[0].choices[command]


def model_choices(command: str) -> list[str]:
    [action] = [a for a in subparser(command)._actions if "--model" in a.option_strings]
    return list(action.choices)


def test_a_registered_model_is_offered_by_every_command(toy):
    assert "Toy" in model_choices("train")
    assert "Toy" in model_choices("merge")
    assert "Toy" in model_choices("exportdfm")
    assert registry.gray_models() == ["SAEHDBW", "AMPBW", "Toy"]   # the Colorizer colours it, resize feeds it
    assert "Toy" not in registry.preset_models()
    flag = {a.dest: a for a in subparser("merge")._actions}["toy_power"]
    assert flag.option_strings == ["--toy-power"] and flag.metavar == "0.0..1.0"
    assert flag.help == "Toy: How much of the toy the face takes. Asked when not given."


def test_the_merge_flag_of_a_model_reaches_its_merge_options(toy):
    from mainscripts.merge import model_merge_options
    parser = cli.build_parser()
    args = parser.parse_args(["merge", "--model", "Toy", "--toy-power", "0.25"])
    assert model_merge_options(args, ask=False) == {"toy_power": 0.25}
    assert model_merge_options(parser.parse_args(["merge", "--model", "Toy"]), ask=False) == {"toy_power": 0.5}
    with pytest.raises(UserError, match="--toy-power: 1.5 is outside 0.0..1.0"):
        model_merge_options(parser.parse_args(["merge", "--model", "Toy", "--toy-power", "1.5"]), ask=False)
    amp = parser.parse_args(["merge", "--model", "AMP", "--morph-factor", "0.5"])
    assert model_merge_options(amp, ask=False) == {"morph_factor": 0.5}   # each model asks only its own


def test_train_lists_the_options_of_a_registered_model(toy, capsys):
    assert cli.main(["train", "--model", "Toy", "--list-options"]) == 0
    assert "target_iter" in capsys.readouterr().out


def test_an_unregistered_model_is_offered_nowhere():
    for command in ("train", "merge", "exportdfm"):
        assert "Toy" not in model_choices(command)
    assert model_choices("merge") == ["SAEHD", "SAEHDBW", "Quick96", "AMP", "AMPBW"]
    assert model_choices("train") == ["SAEHD", "SAEHDBW", "Quick96", "AMP", "AMPBW", "XSeg", "Colorizer"]
    assert [o.flag for o in registry.merge_options()] == ["--morph-factor"]
    assert registry.merge_options()[0].models == ("AMP",)   # AMPBW, AMP's gray variant, asks it too


def test_listing_the_models_starts_no_tensorflow():
    code = ("import sys, main; main.build_parser(); from models import registry; "
            "[registry.model_class(n).option_specs() for n in registry.model_names()]; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
