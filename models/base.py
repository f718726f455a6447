"""ModelBase: choosing a model by name, options (ask / lock / override window / precedence), crash-safe
pickle-free save and load, autosave bookkeeping, autobackups, preview history and DFL's "Model Summary" box.

Files of model `<name>` of class `<MODEL>` in the model folder (`P = <name>_<MODEL>_`):

| file | content |
|---|---|
| `P data.json` | class, iteration, options, devices and the number of the current weights generation |
| `P weights.NNNNNN/` | one complete save: the engine's h5 files, `loss_history.npy`, `preview_sample.npz` |
| `P summary.txt` | the "Model Summary" box |
| `P preview.png`, `P loss.png` | headless previews; `P tensorboard/` TensorBoard scalars |
| `P history/`, `P autobackups/01..15/` | preview history; backups (each a loadable model folder) |
| `<MODEL>_default_options.json` | the first-run options of the last model created here: defaults for new ones |

A save writes a new generation folder under a temp name, fsyncs it, renames it, then atomically replaces
`data.json` to point at it and only then deletes the old generation: a kill -9 at any moment leaves a loadable
model. Nothing is pickled; arrays are read with `allow_pickle=False`.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core import config, fsio, interact
from core.errors import UserError
from facelib.face_type import FaceType
from models import dfl_import
from models import options as opt
from models.files import (STATE_FORMAT, ModelFiles, SaveFailed, copy_model, fsync_tree, list_models,  # noqa: F401
                          other_class_models, others_hint, publish_generation, read_model_data, read_saved_model_data,
                          rename_model, write_failure)
from models import preview as pv

MAX_BACKUPS = 15
OVERRIDE_WAIT_S = 2.0


@dataclass(frozen=True)
class MergeSpec:
    """What the merger needs to feed a model: face size, DFL face-type name (`full_face`...) and channels."""

    resolution: int
    face_type: str
    channels: int


class NonFiniteLoss(RuntimeError):
    """A training step produced a NaN or infinite loss."""


# --------------------------------------------------------------------------------------------- files and names

def _rename_or_delete(folder: Path, model_class: str, names: list[str], action: str) -> None:
    if action == "r":
        old = interact.input_str("Enter the name of the model you want to rename", names[0], lowercase=False)
        new = interact.input_str("Enter new name of the model", "", lowercase=False).replace("_", " ").strip()
        problem = name_problem(new) if new else None
        if old not in names or not new or new in names or problem:
            print(problem or "No such model, or the new name is empty or taken.")
            return
        rename_model(ModelFiles(folder, old, model_class), ModelFiles(folder, new, model_class))
    else:
        name = interact.input_str("Enter the name of the model you want to delete", names[0], lowercase=False)
        if name not in names:
            print("No such model.")
            return
        for path in ModelFiles(folder, name, model_class).all_paths():
            shutil.rmtree(path) if path.is_dir() else path.unlink()


_BAD_NAME_CHARS = set('/\\:*?"<>|')


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a model (its files are `<name>_<MODEL>_...` in the model folder), or None."""
    if not name.strip(". "):
        return "a model name needs a letter or digit"
    bad = sorted(c for c in set(name) if c in _BAD_NAME_CHARS or ord(c) < 32)
    return f"a model name cannot contain {' '.join(map(repr, bad))}" if bad else None


def _typed_name(answer: str) -> str | None:
    """A name typed at the model prompt (underscores become spaces, as in DFL), or None after saying why not."""
    name = answer.replace("_", " ").strip() or "new"
    problem = name_problem(name)
    if problem:
        print(f"{name!r}: {problem}.")
        return None
    return name


def select_model_name(folder: Path, model_class: str, force_name: str | None = None,
                      silent_start: bool = False, allow_new: bool = True) -> str:
    """DFL's model choice: a forced name, the newest (silent start; a new model named "new" when there is none),
    or the numbered list with rename/delete."""
    folder = Path(folder)
    if not allow_new and not list_models(folder, model_class) and not force_name:
        raise UserError(f"{folder}: no saved {model_class} model{others_hint(folder, model_class)}")
    if force_name:
        if name_problem(force_name):
            raise UserError(f"--force-model-name {force_name!r}: {name_problem(force_name)}")
        others = other_class_models(folder, model_class)
        if force_name not in list_models(folder, model_class) and force_name in others:
            raise UserError(f"{folder}: model {force_name!r} is a {others[force_name]} model, not {model_class}; "
                            f"use --model {others[force_name]}")
        return force_name
    while True:
        names = list_models(folder, model_class)
        if not names:
            if silent_start or not interact.is_interactive():   # nobody to ask: say which model is made
                interact.log_info(f"{'Silent start: no' if silent_start else 'No'} saved {model_class} model in "
                                  f"{folder}{others_hint(folder, model_class, 'beside')}: creating the new model "
                                  f"'new' ({model_class} files new_{model_class}_*).")
                return "new"
            name = _typed_name(interact.input_str("No saved models found. Enter a name of a new model", "new",
                                                  lowercase=False, help_message="A new model is created with this name."))
            if name:
                return name
            continue
        if silent_start:
            interact.log_info(f"Silent start: choosing the most recent model {names[0]!r}.")
            return names[0]
        lines = ["Choose one of saved models, or enter a name to create a new model.",
                 "[r] : rename", "[d] : delete", ""]
        lines += [f"[{i}] : {n}{' - latest' if i == 0 else ''}" for i, n in enumerate(names)]
        interact.log_info("\n".join(lines))
        answer = interact.input_str("", "0", show_default=False, lowercase=False)
        if answer.isdigit() and int(answer) < len(names):
            return names[int(answer)]
        if answer.lower() in ("r", "d"):
            _rename_or_delete(folder, model_class, names, answer.lower())
            continue
        name = _typed_name(answer)
        if name:
            return name


# --------------------------------------------------------------------------------------------- state files

def _pack_sample(sample) -> dict[str, np.ndarray]:
    """(src batch, dst batch) of float [0,1] arrays -> uint8 arrays for `preview_sample.npz`."""
    arrays = {}
    for side, batch in zip(("src", "dst"), sample):
        for i, array in enumerate(batch):
            arrays[f"{side}{i}"] = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    return arrays


def _unpack_sample(npz) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    sides = []
    for side in ("src", "dst"):
        keys = sorted((k for k in npz.files if k.startswith(side)), key=lambda k: int(k[len(side):]))
        sides.append([npz[k].astype(np.float32) / 255.0 for k in keys])
    return (sides[0], sides[1]) if sides[0] and sides[1] else None


# --------------------------------------------------------------------------------------------- the base class

class ModelBase:
    """A trainable model in a model folder. Subclasses set `MODEL_NAME`, `CHANNELS` and implement the hooks
    `model_option_specs`, `build_engine`, `build_generators`, `get_previews`, `merge_spec` and `predict`.

    What a model can do is declared on its class, where `models.registry` and the commands read it without
    building the model (class attributes and class methods; no TensorFlow)."""

    MODEL_NAME = "Model"
    CHANNELS = 3            # 1: gray faces end to end (SAEHDBW, AMPBW)
    NEEDS_DST = True        # trains on src and dst faces (False: src only, as the Colorizer)
    TAKES_PRESETS = False   # `train --preset` (the SAEHD configurations of models.presets)
    MERGEABLE = False       # `merge --model`: its faces go into the frames (`merge_spec`, `predict`)
    EXPORTS_DFM = False     # `exportdfm --model`: `dfm_function` is DeepFaceLive's graph of it
    FIXED_NAME: str | None = None   # one model of the class per folder, named this (XSeg, Colorizer): never asked
    SESSION_OPTIONS_ONLY = False    # generic options: only the session ones, never asked (Quick96, XSeg, Colorizer)
    LOSS_NAMES = ("src_loss", "dst_loss")

    def __init__(self, model_dir: str | os.PathLike, *, training: bool = False,
                 src_dir: str | os.PathLike | None = None, dst_dir: str | os.PathLike | None = None,
                 pretraining_dir: str | os.PathLike | None = None, force_model_name: str | None = None,
                 silent_start: bool = False, cpu_only: bool = False,
                 force_gpu_idxs: str | Sequence[int] | None = None, config_options: dict | None = None,
                 preset: dict | None = None, devices: list | None = None,
                 pretrained_dir: str | os.PathLike | None = None):
        self.folder = Path(model_dir)
        self.training = training
        self.merge_values: dict = {}
        self.src_dir = Path(src_dir) if src_dir else None
        self.dst_dir = Path(dst_dir) if dst_dir else None
        self.pretraining_dir = Path(pretraining_dir) if pretraining_dir else None
        if training:
            self.folder.mkdir(parents=True, exist_ok=True)
        elif not self.folder.is_dir():
            raise UserError(f"{self.folder}: model folder not found")

        if devices is None:
            devices = self._choose_devices(cpu_only, force_gpu_idxs, ask=not silent_start)
        self.devices = devices
        force_model_name = self.FIXED_NAME or force_model_name
        self.name = select_model_name(self.folder, self.MODEL_NAME, force_model_name, silent_start,
                                      allow_new=training)
        self.files = ModelFiles(self.folder, self.name, self.MODEL_NAME)
        seeded = training and pretrained_dir is not None and self._start_from_pretrained(Path(pretrained_dir))

        data = self._read_data() if self.files.data.exists() else None
        if data is None and not training:
            raise UserError(f"{self.folder}: no {self.MODEL_NAME} model named {self.name!r} to load")
        self.first_run = data is None
        self.iter = int(data["iter"]) if data else 0
        self.generation = int(data.get("generation", 0)) if data else 0
        self.training_seconds = float(data.get("training_seconds", 0.0)) if data else 0.0
        saved_options = dict(data.get("options", {})) if data else {}
        self.loss_history: list[tuple[float, ...]] = []
        self.sample_for_preview = None
        self.last_sample = None
        if data:
            self._read_generation_arrays()

        # a model pretrained on many faces, started for two faces: pretraining ends here unless asked to go on
        ends_pretraining = seeded and self.pretraining_dir is None and "pretrain" not in (config_options or {})
        self.options = self._resolve_options({**saved_options, "pretrain": False} if ends_pretraining
                                             else saved_options, config_options, preset, silent_start)
        self.pretrain_just_disabled = bool(saved_options.get("pretrain")) and not self.options.get("pretrain")
        if self.pretrain_just_disabled:
            interact.log_info("Pretraining switched off: the iteration count restarts at 0 and the "
                              "intermediate layers are re-initialised.")
            self.iter, self.loss_history, self.sample_for_preview = 0, [], None

        self.engine = self.build_engine()
        if data:
            self._load_engine_weights()
        self.src_gen = self.dst_gen = None
        if training:
            if self.first_run:
                fsio.atomic_write_text(self.folder / f"{self.MODEL_NAME}_default_options.json",
                                       json.dumps(self.options, indent=2))
            self.src_gen, self.dst_gen = self.build_generators()
            self._last_backup = time.time()
            self._save_iter = self.iter

    def _start_from_pretrained(self, folder: Path) -> bool:
        """`--pretrained-model-dir`: a new model starts as a copy of the newest model of this class in `folder`,
        or of the newest DeepFaceLab model there (True); an existing model ignores it (False)."""
        if self.files.data.exists():
            interact.log_info(f"The model {self.name!r} exists already; --pretrained-model-dir only starts new models.")
            return False
        names = list_models(folder, self.MODEL_NAME) if folder.is_dir() else []
        dfl_names = dfl_import.list_dfl_models(folder, self.MODEL_NAME) if folder.is_dir() and not names else []
        if not names and not dfl_names:
            raise UserError(f"{folder}: --pretrained-model-dir holds no saved {self.MODEL_NAME} model"
                            f"{others_hint(folder, self.MODEL_NAME)}")
        if names:
            iteration = copy_model(ModelFiles(folder, names[0], self.MODEL_NAME), self.files)
        else:  # a DeepFaceLab model: imported straight into this model's files, the folder is left as it is
            names = dfl_names
            iteration = dfl_import.import_dfl_model(folder, names[0], self.MODEL_NAME, self.files)
        interact.log_info(f"Starting the model {self.name!r} from the pretrained model {names[0]!r} in {folder} "
                          f"(iteration {iteration}).")
        return True

    @classmethod
    def files_in(cls, folder: str | os.PathLike, name: str | None = None) -> ModelFiles:
        """The files of this class's model `name` in `folder` (by default its `FIXED_NAME` one)."""
        return ModelFiles(Path(folder), name or cls.FIXED_NAME or "", cls.MODEL_NAME)

    # ------------------------------------------------------------------ hooks for subclasses

    @classmethod
    def model_option_specs(cls) -> list[opt.OptionSpec]:
        return []

    @classmethod
    def generic_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.generic_options(asked=not cls.SESSION_OPTIONS_ONLY, session_only=cls.SESSION_OPTIONS_ONLY)

    def finalize_options(self, values: dict) -> dict:
        """Cross-option rules after resolution (e.g. resolution rounding that depends on the archi)."""
        return values

    def build_engine(self):
        raise NotImplementedError

    def build_generators(self):
        raise NotImplementedError

    @staticmethod
    def sample_workers() -> int:
        """Sample-generator processes per generator (DFL_SAMPLE_WORKERS; default half the CPUs, as DFL)."""
        workers = config.settings().sample_workers
        return max(1, (os.cpu_count() or 2) // 2) if workers < 0 else workers

    def get_previews(self, sample=None) -> list[tuple[str, np.ndarray]]:
        return []

    def merge_spec(self) -> MergeSpec:
        raise NotImplementedError

    def predict(self, faces: np.ndarray):
        raise NotImplementedError

    @classmethod
    def merge_option_specs(cls) -> list[opt.OptionSpec]:
        """What merging asks of this model before the frames (DFL's model merger questions; AMP: morph factor)."""
        return []

    def set_merge_options(self, values: dict) -> None:
        """Take the answers to `merge_option_specs` for the following `predict` calls (as `merge_values`)."""
        self.merge_values = dict(values)

    def networks_to_reinit(self) -> tuple[str, ...]:
        """Networks that start fresh instead of being loaded (SAEHD: the inters once pretraining ends)."""
        return ()

    # ------------------------------------------------------------------ options

    @classmethod
    def option_specs(cls) -> list[opt.OptionSpec]:
        """Asking order: DFL's generic questions first, then the model's own."""
        return cls.generic_option_specs() + cls.model_option_specs()

    @property
    def face_type(self) -> str:
        """The DFL face type name of the model's faces (`whole_face`...)."""
        return FaceType.from_string(self.options["face_type"]).to_string()

    @property
    def resolution(self) -> int:
        return int(self.options["resolution"])

    def option_env(self) -> opt.OptionEnv:
        mems = [getattr(d, "total_mem", 0) / 1024 ** 3 for d in self.devices]
        return opt.OptionEnv(on_gpu=bool(self.devices), min_gpu_mem_gb=min(mems) if mems else 2.0,
                             has_pretraining_data=self.pretraining_dir is not None, first_run=self.first_run)

    def _resolve_options(self, saved: dict, config_options: dict | None, preset: dict | None,
                         silent_start: bool) -> dict:
        specs = self.option_specs()
        defaults_file = self.folder / f"{self.MODEL_NAME}_default_options.json"
        folder_defaults = {}
        if self.first_run and defaults_file.exists():
            with contextlib.suppress(UserError):
                folder_defaults = read_model_data(defaults_file)
        if preset and not self.first_run:
            interact.log_info("The preset only applies to new models; this model keeps its saved options.")
        ask_override = False
        changeable = any(s.ask and s.available and not s.lock for s in specs)
        if self.training and not self.first_run and config_options is None and not silent_start and changeable:
            ask_override = interact.input_in_time("Press enter in 2 seconds to override model settings.",
                                                  OVERRIDE_WAIT_S)
        if not self.training:
            config_options = {}  # loading for the merger: never ask, use what was saved
        result = opt.resolve_options(specs, saved=saved, preset=preset, folder_defaults=folder_defaults,
                                     config=config_options, first_run=self.first_run, ask_override=ask_override,
                                     env=self.option_env(), saved_source=str(self.files.data))
        return self.finalize_options(result.values)

    # ------------------------------------------------------------------ devices

    @staticmethod
    def _choose_devices(cpu_only: bool, force_gpu_idxs, ask: bool = True) -> list:
        from core.leras import device
        devices = device.choose_devices(cpu_only=cpu_only, force_gpu_idxs=force_gpu_idxs, ask=ask)
        device.configure_tensorflow(devices)
        return devices

    # ------------------------------------------------------------------ load

    def _read_data(self) -> dict:
        data = read_saved_model_data(self.files.data)
        cls = data.get("model_class")
        if cls != self.MODEL_NAME:
            raise UserError(f"{self.files.data}: this is a {cls} model folder entry, not {self.MODEL_NAME}; "
                            f"use --model {cls}")
        for key in ("iter", "options", "generation"):
            if key not in data:
                raise UserError(f"{self.files.data}: damaged model file (no {key!r})")
        if data.get("format", 0) > STATE_FORMAT:
            raise UserError(f"{self.files.data}: saved by a newer version of this toolkit")
        return data

    def _generation_dir(self) -> Path:
        folder = self.files.weights(self.generation)
        if not folder.is_dir():
            raise UserError(f"{folder}: the weights of {self.files.full_name} are missing; "
                            f"restore a copy from {self.files.backups}")
        return folder

    def _read_generation_arrays(self) -> None:
        folder = self._generation_dir()
        try:
            history = np.load(folder / "loss_history.npy", allow_pickle=False)
            if history.ndim != 2:
                raise ValueError(f"loss history has shape {history.shape}")
            self.loss_history = [tuple(map(float, row)) for row in history]
            sample_path = folder / "preview_sample.npz"
            if sample_path.exists():
                with np.load(sample_path, allow_pickle=False) as npz:
                    self.sample_for_preview = _unpack_sample(npz)
        except (OSError, ValueError, KeyError, EOFError) as err:
            raise UserError(f"{folder}: damaged model state ({err}); restore a copy from {self.files.backups}") \
                from None

    def _load_engine_weights(self) -> None:
        folder = self._generation_dir()
        skip = self.networks_to_reinit()
        try:
            self.engine.load(folder, self.files.prefix, skip=skip) if skip else self.engine.load(folder, self.files.prefix)
        except UserError as err:
            raise UserError(f"{err} (model {self.files.full_name}; backups are in {self.files.backups})") from None
        except (OSError, KeyError, ValueError) as err:
            raise UserError(f"{folder}: damaged or incompatible weights ({err})") from None

    def restore_last_save(self) -> bool:
        """Reload weights, iteration and history from disk (after a NaN); False when nothing was saved yet."""
        if not self.files.data.exists():
            return False
        data = self._read_data()
        self.iter, self.generation = int(data["iter"]), int(data["generation"])
        self._read_generation_arrays()
        self.pretrain_just_disabled = False
        self._load_engine_weights()
        self._save_iter = self.iter
        return True

    # ------------------------------------------------------------------ save

    def _data_dict(self, generation: int | None = None) -> dict:
        return {
            "format": STATE_FORMAT,
            "model_class": self.MODEL_NAME,
            "name": self.name,
            "iter": self.iter,
            "generation": self.generation if generation is None else generation,
            "options": self.options,
            "loss_names": list(self.LOSS_NAMES),
            "training_seconds": round(self.training_seconds, 1),
            "devices": [{"index": d.index, "name": d.name, "total_mem": d.total_mem} for d in self.devices],
            "saved_at": datetime.now().isoformat(timespec="seconds"),
        }

    def save(self) -> None:
        """Write a complete new generation, switch `data.json` to it atomically, then drop the old one.

        A failed write (disk full, folder gone) raises `SaveFailed` and leaves the last save in place."""
        new_generation = self.generation + 1
        final = self.files.weights(new_generation)
        tmp = final.with_name(final.name + ".tmp")
        try:
            for stale in (tmp, final):
                if stale.exists():
                    shutil.rmtree(stale)
            tmp.mkdir(parents=True)
            self.engine.save(tmp, self.files.prefix)
            history = np.asarray(self.loss_history, np.float32).reshape(len(self.loss_history),
                                                                        len(self.LOSS_NAMES))
            with open(tmp / "loss_history.npy", "wb") as f:
                np.save(f, history, allow_pickle=False)
            if self.sample_for_preview is not None:
                with open(tmp / "preview_sample.npz", "wb") as f:
                    np.savez(f, **_pack_sample(self.sample_for_preview))
            publish_generation(tmp, final, self.files.data, self._data_dict(new_generation))
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            kept = (f"The model on disk is still the one saved at iteration {self._save_iter}."
                    if self.files.data.exists() else "Nothing of this model was saved yet.")
            raise write_failure("the model", self.folder, err, kept) from None
        self.generation = new_generation
        for stale in self.files.stale_generations(keep=self.generation):
            shutil.rmtree(stale, ignore_errors=True)
        for junk in self.folder.glob(f".{self.files.prefix}*.tmp"):  # temp files of a save that was killed
            junk.unlink(missing_ok=True)
        self._save_iter = self.iter
        try:
            fsio.atomic_write_text(self.files.summary, self.summary_text() + "\n")
        except OSError as err:  # the model itself is saved; the summary is for people
            interact.log_warn(f"{self.files.summary}: not updated ({err.strerror or err})")

    # ------------------------------------------------------------------ training

    def next_sample(self, fresh_preview: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The next (src batch, dst batch) to train on and to preview (`fresh_preview`: a person asked for new
        preview faces; SAEHD draws both batches every time anyway)."""
        return next(self.src_gen), next(self.dst_gen)

    def train_step(self, sample) -> tuple[float, ...]:
        """The engine's update on one `next_sample()`; the losses to report."""
        return tuple(float(x) for x in self.engine.train_step(*sample))

    def train_one_iter(self) -> tuple[float, ...]:
        """One optimisation step on the next sample; returns the losses (NonFiniteLoss if bad)."""
        self.last_sample = sample = self.next_sample()
        if self.sample_for_preview is None:
            self.sample_for_preview = tuple([a[:4] for a in side] for side in sample)
        losses = self.train_step(sample)
        if not all(math.isfinite(x) for x in losses):
            raise NonFiniteLoss(f"loss is {losses} at iteration {self.iter + 1}")
        self.iter += 1
        self.loss_history.append(losses)
        return losses

    def is_reached_target(self) -> bool:
        target = int(self.options.get("target_iter", 0) or 0)
        return target != 0 and self.iter >= target

    def loss_array(self) -> np.ndarray:
        return np.asarray(self.loss_history, np.float32).reshape(len(self.loss_history), len(self.LOSS_NAMES))

    def mean_loss_since_save(self) -> tuple[float, ...]:
        count = self.iter - self._save_iter
        recent = self.loss_array()[-count:] if count > 0 else self.loss_array()[-1:]
        return tuple(float(x) for x in recent.mean(axis=0)) if len(recent) else ()

    def preview_period(self) -> int:
        return max(1, config.settings().preview_period)

    def should_write_preview_history(self) -> bool:
        return bool(self.options.get("write_preview_history")) and self.iter % self.preview_period() == 0

    def write_preview_history(self) -> None:
        if self.iter == 0 and self.files.history.exists():
            shutil.rmtree(self.files.history, ignore_errors=True)
        previews = self.get_previews(self.sample_for_preview)
        pv.write_history(self.files.history, previews, self.loss_array(), self.iter)

    def backup_due(self) -> bool:
        hours = int(self.options.get("autobackup_hour", 0) or 0)
        return hours > 0 and time.time() - self._last_backup >= hours * 3600

    def create_backup(self) -> Path:
        """Copy the last save into `autobackups/01` (rotating 01..15) with the current previews."""
        if not self.files.data.exists():
            self.save()
        root = self.files.backups
        tmp = root / "01.tmp"
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            shutil.copy2(self.files.data, tmp / self.files.data.name)
            if self.files.summary.exists():
                shutil.copy2(self.files.summary, tmp / self.files.summary.name)
            weights = self.files.weights(self.generation)
            shutil.copytree(weights, tmp / weights.name)
            for name, image in self.get_previews(self.last_sample or self.sample_for_preview):
                pv.write_image(tmp / f"preview_{name}.jpg", pv.compose(image, self.loss_array(), self.iter))
            fsync_tree(tmp)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise write_failure("a backup", root, err, "The model itself is saved and older backups are kept.") \
                from None
        shutil.rmtree(root / f"{MAX_BACKUPS:02d}", ignore_errors=True)
        for index in range(MAX_BACKUPS - 1, 0, -1):
            if (root / f"{index:02d}").exists():
                os.replace(root / f"{index:02d}", root / f"{index + 1:02d}")
        os.replace(tmp, root / "01")
        self._last_backup = time.time()
        return root / "01"

    def close(self) -> None:
        for gen in (self.src_gen, self.dst_gen):
            if gen is not None and hasattr(gen, "close"):
                gen.close()

    # ------------------------------------------------------------------ summary

    def summary_options(self) -> list[tuple[str, Any]]:
        """Options in the summary's order: the model's own, then the generic ones (as DFL shows them)."""
        specs = [s for s in self.model_option_specs() + self.generic_option_specs() if s.name in self.options]
        return [(s.name, self.options[s.name]) for s in specs]

    def summary_text(self) -> str:
        """DFL's "Model Summary" box: name, iteration, options and the devices it runs on."""
        rows = self.summary_options()
        width_name = max([len(k) for k, _ in rows] + [17]) + 1
        values = [opt.display(v) for _, v in rows] + [str(self.iter), self.files.full_name]
        values += [d.name for d in self.devices]
        width_value = max(len(v) for v in values) + 1
        total = width_name + width_value + 2
        blank = f"=={' ' * total}=="

        def row(key: str, value: str) -> str:
            return f"=={key:>{width_name}}: {value:<{width_value}}=="

        lines = [f"=={' Model Summary ':=^{total}}==", blank, row("Model name", self.files.full_name), blank,
                 row("Current iteration", str(self.iter)), blank, f"=={' Model Options ':-^{total}}==", blank]
        lines += [row(k, opt.display(v)) for k, v in rows]
        lines += [blank, f"=={' Running On ':-^{total}}==", blank]
        if not self.devices:
            lines.append(row("Using device", "CPU"))
        for d in self.devices:
            lines += [row("Device index", str(d.index)), row("Name", d.name),
                      row("VRAM", f"{d.total_mem / 1024 ** 3:.2f}GB")]
        lines += [blank, f"=={'=' * total}=="]
        return "\n".join(lines)

    def info_line(self) -> str:
        """One line for the preview window (the fork shows the trained model in the window)."""
        o = self.options
        parts = [self.files.full_name, f"iter {self.iter}"]
        if "resolution" in o:
            parts.append(f"{o.get('archi')} {o['resolution']}px {o.get('face_type')} "
                         f"ae{o.get('ae_dims')} e{o.get('e_dims')} d{o.get('d_dims')} m{o.get('d_mask_dims')}")
        parts.append(f"bs {o.get('batch_size', '?')}")
        parts.append("gray" if self.CHANNELS == 1 else "color")
        return " | ".join(parts)
