"""Where a model's files are (`ModelFiles`), which models a folder holds, and renaming and copying a model.

A model `<name>` of class `<MODEL>` keeps every file under the prefix `<name>_<MODEL>_` in its folder; the table
of those files is in `models/base.py`.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from core import fsio
from core.errors import UserError, describe_os_error

STATE_FORMAT = 1  # version of `<prefix>data.json`


class SaveFailed(UserError):
    """The model (or a backup) could not be written, e.g. the disk is full; what was saved before is intact."""


def write_failure(what: str, folder: Path, err: OSError, kept: str) -> SaveFailed:
    return SaveFailed(f"Could not write {what} in {folder}: {describe_os_error(err)}. {kept}")


@dataclass(frozen=True)
class ModelFiles:
    """Every path of one model in its folder."""

    folder: Path
    name: str
    model_class: str

    @property
    def full_name(self) -> str:
        return f"{self.name}_{self.model_class}"

    @property
    def prefix(self) -> str:
        return f"{self.full_name}_"

    def file(self, suffix: str) -> Path:
        return self.folder / f"{self.prefix}{suffix}"

    @property
    def data(self) -> Path:
        return self.file("data.json")

    @property
    def summary(self) -> Path:
        return self.file("summary.txt")

    def weights(self, generation: int) -> Path:
        return self.file(f"weights.{generation:06d}")

    @property
    def history(self) -> Path:
        return self.file("history")

    @property
    def backups(self) -> Path:
        return self.file("autobackups")

    @property
    def tensorboard(self) -> Path:
        return self.file("tensorboard")

    def all_paths(self) -> list[Path]:
        """Everything on disk that belongs to this model (for rename/delete)."""
        return sorted(p for p in self.folder.glob(f"{self.prefix}*") if p.name.startswith(self.prefix))

    def stale_generations(self, keep: int | None) -> list[Path]:
        found = []
        for path in self.folder.glob(f"{self.prefix}weights.*"):
            number = path.name[len(self.prefix) + len("weights."):]
            if keep is None or number != f"{keep:06d}":
                found.append(path)
        return found


def list_models(folder: Path, model_class: str, data_file: str = "data.json") -> list[str]:
    """Names of the `model_class` models in `folder` (by their `<name>_<MODEL>_<data_file>`), most recently saved
    first."""
    suffix = f"_{model_class}_{data_file}"
    files = [p for p in Path(folder).glob(f"*{suffix}") if p.is_file()]
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.name[: -len(suffix)] for p in files]


def other_class_models(folder: Path, model_class: str) -> dict[str, str]:
    """{name: class} of models of other classes in `folder`, DeepFaceLab's own (`_data.dat`) included (for a
    clear error when the wrong --model is used)."""
    found = {}
    for path in sorted(Path(folder).glob("*_data.*")):
        stem, _, ext = path.name.rpartition("_data.")
        name, _, cls = stem.rpartition("_")
        if ext in ("json", "dat") and name and cls != model_class:
            found.setdefault(name, cls)
    return found


def others_hint(folder: Path, model_class: str, word: str = "it holds") -> str:
    """` (it holds a (SAEHD), b (Quick96))` for the models of other classes in `folder`, or ``."""
    others = other_class_models(folder, model_class) if Path(folder).is_dir() else {}
    return f" ({word} {', '.join(f'{n} ({c})' for n, c in others.items())})" if others else ""


def _rename_prefixed(paths: Sequence[Path], old: str, new: str) -> None:
    """Give every path in `paths` whose name starts with prefix `old` the prefix `new` (deepest paths first)."""
    for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):
        if path.name.startswith(old):
            path.rename(path.with_name(new + path.name[len(old):]))


def rename_model(src: ModelFiles, dst: ModelFiles) -> None:
    """Rename model `src` to `dst` in its folder: its files and the prefixed files inside its weights and
    backup folders (the weights are looked up by the model's prefix)."""
    for top in src.all_paths():
        _rename_prefixed([*(top.rglob(f"{src.prefix}*") if top.is_dir() else ()), top], src.prefix, dst.prefix)


def publish_generation(staged: Path, weights: Path, data_path: Path, data: dict) -> None:
    """Make the written folder `staged` the weights folder `weights` (fsync, rename) and only then point the data
    file at it: a crash at any moment leaves a data file whose weights are complete."""
    fsync_tree(staged)
    if weights.exists():
        shutil.rmtree(weights)
    os.replace(staged, weights)
    fsio.atomic_write_text(data_path, json.dumps(data, indent=2))


def copy_model(src: ModelFiles, dst: ModelFiles) -> int:
    """Make model `dst` a copy of the last save of `src` (its data file and weights; not its previews, history or
    backups); returns the copied iteration. The data file comes last, so an interrupted copy leaves no model."""
    data = read_saved_model_data(src.data)
    generation = int(data.get("generation", 0))
    if not src.weights(generation).is_dir():
        raise UserError(f"{src.weights(generation)}: the weights of {src.full_name} are missing")
    weights = dst.weights(generation)
    tmp = weights.with_name(weights.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src.weights(generation), tmp)
        _rename_prefixed(list(tmp.iterdir()), src.prefix, dst.prefix)
        publish_generation(tmp, weights, dst.data, {**data, "name": dst.name})
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_failure(f"a copy of {src.full_name}", dst.folder, err, "Nothing was changed.") from None
    return int(data.get("iter", 0))


def read_model_data(path: Path) -> dict:
    return fsio.read_json_object(path, "model data file")


_DATA_FIELDS = {"format": int, "iter": int, "generation": int, "training_seconds": (int, float), "options": dict}


def read_saved_model_data(path: Path) -> dict:
    """A saved model's data file with its counters and options checked: `iter: "abc"` is a `UserError` naming the
    file and the field, not a traceback wherever the value is used."""
    data = read_model_data(path)
    for key, kind in _DATA_FIELDS.items():
        value = data.get(key, {} if kind is dict else 0)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is not dict and not 0 <= value < 2 ** 53):
            expected = "a dictionary" if kind is dict else "a non-negative " + ("whole " if kind is int else "") + \
                "number"
            raise UserError(f"{path}: damaged model file ({key} is {str(value)[:40]!r}, expected {expected})")
    return data


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
    fsio.fsync_dir(folder)
