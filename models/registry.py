"""The trainable models by name (`--model`), what each can do, and `load_model` for the trainer and the merger.

A model is one module (or package) with a `ModelBase` subclass, plus one line in `MODELS`. What it can do is
declared on its class (`CHANNELS`, `MERGEABLE`, `EXPORTS_DFM`, `NEEDS_DST`, `TAKES_PRESETS`, `FIXED_NAME`,
`merge_option_specs`, `files_in`); every choice list, merge flag and check of the commands is built from here.
Model modules import TensorFlow only when a model is built, so listing the models (e.g. for `--help`) is quick.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from core.errors import UserError
from models.base import MergeSpec, ModelBase  # noqa: F401  (re-exported for the merger)
from models.dfl_import import import_new_models
from models.options import OptionSpec, range_text

# name -> (module, class)
MODELS: dict[str, tuple[str, str]] = {
    "SAEHD": ("models.saehd", "SAEHDModel"),
    "SAEHDBW": ("models.saehdbw", "SAEHDBWModel"),
    "Quick96": ("models.quick96", "Quick96Model"),
    "AMP": ("models.amp", "AMPModel"),
    "AMPBW": ("models.amp", "AMPBWModel"),
    "XSeg": ("models.xseg", "XSegModel"),
    "Colorizer": ("models.colorizer", "ColorizerModel"),
}


def model_class(name: str) -> type[ModelBase]:
    """The class registered as `name` (case-insensitive); unknown names are a `UserError` listing the models."""
    for key, (module, cls) in MODELS.items():
        if key.lower() == str(name).strip().lower():
            return getattr(importlib.import_module(module), cls)
    raise UserError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")


def model_names(where: Callable[[type[ModelBase]], bool] | None = None) -> list[str]:
    """The registered names, in registry order, whose class passes `where` (all when None)."""
    return [name for name in MODELS if where is None or where(model_class(name))]


def mergeable_models() -> list[str]:
    """`merge --model`: the models whose faces go into the frames."""
    return model_names(lambda cls: cls.MERGEABLE)


def dfm_models() -> list[str]:
    """`exportdfm --model`: the models that export a DeepFaceLive `.dfm`."""
    return model_names(lambda cls: cls.EXPORTS_DFM)


def gray_models() -> list[str]:
    """The mergeable models of one gray channel (SAEHDBW, AMPBW): trained on the gray facesets, coloured by the
    Colorizer."""
    return model_names(lambda cls: cls.MERGEABLE and cls.CHANNELS == 1)


def preset_models() -> list[str]:
    """The models `train --preset` makes."""
    return model_names(lambda cls: cls.TAKES_PRESETS)


@dataclass(frozen=True)
class MergeOption:
    """A model's merge question as `merge` offers it: one flag for every model that asks it."""

    spec: OptionSpec
    models: tuple[str, ...]   # the models that ask it; variants (a subclass of a listed model, AMPBW) left out

    @property
    def flag(self) -> str:
        return "--" + self.spec.name.replace("_", "-")

    @property
    def metavar(self) -> str | None:
        if self.spec.valid_range is not None:
            return range_text(self.spec.valid_range)
        if self.spec.kind == "bool":
            return "y/n"
        return "/".join(self.spec.choices) if self.spec.choices else None

    @property
    def help(self) -> str:
        return f"{', '.join(self.models)}: {self.spec.flag_help or self.spec.help} Asked when not given."


def merge_options() -> list[MergeOption]:
    """Every mergeable model's own merge questions (`merge_option_specs`), once per option name."""
    owners: dict[str, list[type[ModelBase]]] = {}
    specs: dict[str, OptionSpec] = {}
    for name in mergeable_models():
        cls = model_class(name)
        for spec in cls.merge_option_specs():
            specs.setdefault(spec.name, spec)
            owners.setdefault(spec.name, []).append(cls)
    return [MergeOption(spec, tuple(cls.MODEL_NAME for cls in owners[key]
                                    if not any(cls is not other and issubclass(cls, other) for other in owners[key])))
            for key, spec in specs.items()]


def load_model(name: str, model_dir: str | os.PathLike, *, training: bool = False,
               force_model_name: str | None = None, cpu_only: bool = False,
               force_gpu_idxs: str | Sequence[int] | None = None, silent_start: bool = False,
               **kwargs) -> ModelBase:
    """Open (or, when training, create) a model of class `name` in `model_dir`.

    For merging (`training=False`) nothing is asked except which saved model to use; the result offers
    `merge_spec()` and `predict(faces)`. Training keyword arguments: `src_dir`, `dst_dir`, `pretraining_dir`,
    `config_options` (a validated config-file dict), `preset` (options dict), `pretrained_dir` (a new model starts
    as a copy of the newest model of its class there). DeepFaceLab's own models of this class in `model_dir`
    (`<name>_<MODEL>_data.dat`) are imported first, once (`models.dfl_import`).
    """
    cls = model_class(name)
    import_new_models(Path(model_dir), cls.MODEL_NAME)
    return cls(model_dir, training=training, force_model_name=force_model_name, cpu_only=cpu_only,
               force_gpu_idxs=force_gpu_idxs, silent_start=silent_start, **kwargs)
