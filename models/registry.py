"""The trainable models by name (`--model`), and `load_model` for the trainer and the merger.

Model modules are imported on first use, so listing the names (e.g. for `--help`) does not start TensorFlow.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Sequence

from core.errors import UserError
from models.base import MergeSpec, ModelBase  # noqa: F401  (re-exported for the merger)
from models.dfl_import import import_new_models

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
