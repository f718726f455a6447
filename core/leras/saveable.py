"""Weights to and from HDF5 (one file per sub-network), crash-safe and pickle-free.

A file holds one dataset per variable path (`down1/downs_0/conv1/weight`) plus attributes `format`, `version`
and `network`. `save_many` writes every file to a temp name, fsyncs them all, then renames them all, so a crash
leaves either the old or the new file in each place and never a half-written one.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from types import MappingProxyType
from typing import Mapping, Sequence

import h5py
import numpy as np
import tensorflow as tf

from core.errors import UserError
from core.fsio import atomic_open
from core.interact import log_info, log_warn

FORMAT = "dfl-leras-weights"
VERSION = 1


class ConfigurationMismatch(UserError):
    """A weights file that reads fine but was saved for another configuration (names or shapes differ)."""


def _write(f, variables: dict[str, tf.Variable | np.ndarray], network: str) -> None:
    with h5py.File(f, "w") as h5:
        h5.attrs["format"] = FORMAT
        h5.attrs["version"] = VERSION
        h5.attrs["network"] = network
        for name, var in variables.items():
            h5.create_dataset(name, data=var.numpy() if hasattr(var, "numpy") else np.asarray(var))


def save_many(entries: list[tuple[str | os.PathLike, dict[str, tf.Variable | np.ndarray], str]]) -> None:
    """Save each `(path, variables or arrays, network_name)`; the renames happen only after every file is on disk."""
    with contextlib.ExitStack() as stack:
        for path, variables, network in entries:
            _write(stack.enter_context(atomic_open(path, "w+b")), variables, network)


def save_variables(path: str | os.PathLike, variables: dict[str, tf.Variable], network: str) -> None:
    save_many([(path, variables, network)])


def read_arrays(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Every dataset of a weights file as numpy arrays, and the file attributes; `UserError` if unreadable."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            h5.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                          if isinstance(obj, h5py.Dataset) else None)
    except FileNotFoundError:
        raise UserError(f"{path}: weights file is missing") from None
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"{path}: weights file is truncated or not an HDF5 weights file ({e})") from None
    if attrs.get("format") != FORMAT:
        raise UserError(f"{path}: not a weights file of this toolkit (format {attrs.get('format')!r})")
    return arrays, attrs


def load_variables(path: str | os.PathLike, variables: dict[str, tf.Variable], network: str | None = None) -> None:
    """Fill `variables` from `path`; every variable must be present with its exact shape (else `UserError`).

    Nothing is assigned unless the whole file checks out.
    """
    arrays, attrs = read_arrays(path)
    if network is not None and attrs.get("network") != network:
        raise UserError(f"{path}: holds network {attrs.get('network')!r}, expected {network!r}")
    missing = [name for name in variables if name not in arrays]
    if missing:
        raise ConfigurationMismatch(f"{path}: {len(missing)} weight(s) missing, e.g. {missing[0]!r} "
                                    f"(the file belongs to a different model configuration)")
    for name, var in variables.items():
        if tuple(arrays[name].shape) != tuple(var.shape):
            raise ConfigurationMismatch(f"{path}: weight {name!r} has shape {tuple(arrays[name].shape)}, the model "
                                        f"needs {tuple(var.shape)} (different resolution, archi or dims?)")
    for name, var in variables.items():
        var.assign(arrays[name].astype(var.dtype.as_numpy_dtype, copy=False))


class SavedNetworks:
    """Save/load for an engine with `nets` ({name: Module}) and an `optimizer` (with `variables()`): one
    `<prefix>_<net>.h5` per network plus `<prefix>_<optimizer_file>.h5`. Optional parts (`optional_nets`,
    `optional_optimizers`: discriminators) start fresh when their files are missing, or were saved for other
    settings (DFL re-initialises its GAN discriminator when its patch size or dims change)."""

    optimizer_file = "opt"
    nets: dict
    optimizer: object
    optional_nets: Mapping = MappingProxyType({})          # engines with discriminators set their own dicts
    optional_optimizers: Mapping = MappingProxyType({})

    def _saved_nets(self) -> dict:
        return {**self.nets, **self.optional_nets}

    def _saved_optimizers(self) -> dict:
        return {self.optimizer_file: self.optimizer, **self.optional_optimizers}

    @staticmethod
    def _path(folder: str | os.PathLike, prefix: str, name: str) -> Path:
        if prefix and not prefix.endswith("_"):
            prefix += "_"
        return Path(folder) / f"{prefix}{name}.h5"

    def file_names(self, prefix: str = "") -> list[str]:
        """The files `save` writes, for backups: one per network plus the optimizer state."""
        return [self._path("", prefix, n).name for n in [*self._saved_nets(), *self._saved_optimizers()]]

    def save(self, folder: str | os.PathLike, prefix: str = "") -> None:
        """Write every network and the optimizer state, all-or-nothing per file."""
        entries = [(self._path(folder, prefix, n), net.variables(), n) for n, net in self._saved_nets().items()]
        entries += [(self._path(folder, prefix, n), opt.variables(), n) for n, opt in self._saved_optimizers().items()]
        save_many(entries)

    def load(self, folder: str | os.PathLike, prefix: str = "", skip: Sequence[str] = ()) -> None:
        """Load every network not in `skip` (those keep their fresh init, e.g. inters after pretraining).

        A missing optimizer file is tolerated (fresh optimizer, with a warning); anything else missing,
        truncated or shaped differently raises `UserError` naming the file.
        """
        optional = {**self.optional_nets, **self.optional_optimizers}
        optimizers = self._saved_optimizers()
        for name, part in [*self._saved_nets().items(), *optimizers.items()]:
            path = self._path(folder, prefix, name)
            if name in skip or (name in optional and not path.exists()):
                continue  # (a discriminator switched on now starts fresh)
            if name in optimizers and not path.exists():
                log_warn(f"{path}: no optimizer state found, starting the optimizer fresh")
                continue
            try:
                load_variables(path, part.variables(), name)
            except ConfigurationMismatch:
                if name not in optional:
                    raise
                log_info(f"{path.name} was saved for other settings (e.g. GAN patch size or dims): {name} "
                         "starts fresh")
