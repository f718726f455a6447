"""Import DeepFaceLab's own models: `<name>_<MODEL>_data.dat` and its `*.npy` weight files become a model of this
toolkit (`data.json` + HDF5) under the same name, so a model trained for weeks in DeepFaceLab (or the SAEHDBW
fork) trains and merges on here. The DFL files are read, never changed.

DFL's files are pickles. They are read through `facelib.legacy.restricted_loads`, which refuses anything but plain
containers and numpy arrays. Weight names are DFL's own (`down1/downs_0/conv1/weight:0`) and only lose the `:0`;
optimizer slots `ms_<net>/<path>_0:0` become `ms/<net>/<path>`. The loss history and iteration count come along;
the preview sample is chosen again on the first run. The GAN and true-face discriminators (`GAN.npy`,
`code_discriminator.npy` and their optimizers) come along when their power is on.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np

from core import interact
from core.errors import UserError
from facelib.legacy import MAX_BUILT_BYTES, restricted_loads
from models.files import STATE_FORMAT, ModelFiles, list_models, publish_generation, write_failure

DATA_SUFFIX = "data.dat"
OPTIMIZER = "src_dst_opt"
XSEG = "XSeg"  # DFL's XSeg model has fixed file names: XSeg_data.dat, XSeg_256.npy, XSeg_256_opt.npy
XSEG_WEIGHTS, XSEG_OPTIMIZER, XSEG_OPTIONS = "XSeg_256.npy", "XSeg_256_opt.npy", ("face_type", "batch_size", "pretrain")
NETWORKS = {"df": ("encoder", "inter", "decoder_src", "decoder_dst"),
            "liae": ("encoder", "inter_AB", "inter_B", "decoder"),
            "AMP": ("encoder", "inter_src", "inter_dst", "decoder")}
OPTIMIZED = {"AMP": ("encoder", "decoder")}  # DFL's final AMP trains (and keeps optimizer state for) these only
RENAMED_OPTIONS = {"eyes_prio": "eyes_mouth_prio"}  # DFL 2.0 builds before 2021
# power -> (file and network name here and in DFL, DFL's variable scope inside the file, optimizer file)
DISCRIMINATORS = {"gan_power": ("GAN", "D_src", "GAN_opt"), "true_face_power": ("code_discriminator", "dis",
                                                                                 "D_code_opt")}


@dataclasses.dataclass
class DflModel:
    """What a DFL model folder holds for one model, converted to this toolkit's names."""

    name: str
    model_class: str
    iteration: int
    options: dict
    loss_history: np.ndarray               # N x 2 float32
    weights: dict[str, dict[str, np.ndarray]]
    optimizer: dict[str, np.ndarray] | None  # None: not found or not convertible (the optimizer starts fresh)
    extra_optimizers: dict[str, dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)  # discriminators'


def dfl_data_file(folder: Path, name: str, model_class: str) -> Path:
    if model_class == XSEG:
        return Path(folder) / f"{XSEG}_{DATA_SUFFIX}"
    return Path(folder) / f"{name}_{model_class}_{DATA_SUFFIX}"


def list_dfl_models(folder: Path, model_class: str) -> list[str]:
    """Names of the DeepFaceLab `model_class` models in `folder` (`<name>_<MODEL>_data.dat`), newest first; for
    XSeg ["XSeg"] when `XSeg_256.npy` is there (DFL's trained or generic XSeg; its data file is optional)."""
    if model_class == XSEG:
        return [XSEG] if (Path(folder) / XSEG_WEIGHTS).is_file() else []
    return list_models(folder, model_class, DATA_SUFFIX)


def _source_file(folder: Path, name: str, model_class: str) -> Path:
    """The file an import names and dates itself by: the data file, or XSeg's weights when it has none."""
    data = dfl_data_file(folder, name, model_class)
    return Path(folder) / XSEG_WEIGHTS if model_class == XSEG and not data.exists() else data


def _read_pickle(path: Path) -> object:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read the DeepFaceLab model file ({err.strerror or err})") from None
    try:  # weights come as their own bytes; beyond those, only the usual metadata allowance is built
        return restricted_loads(data, MAX_BUILT_BYTES + 2 * len(data))
    except UserError as err:
        raise UserError(f"{path}: {err}") from None


def _iteration(data: dict, source: Path) -> int:
    """DFL's iteration counter; anything but a non-negative whole number is a `UserError` naming the file."""
    value = data.get("iter", 0)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2 ** 53:
        raise UserError(f"{source}: not a DeepFaceLab model data file (its iter is {str(value)[:40]!r}, expected a "
                        f"non-negative whole number)")
    return int(value)


def _weights(path: Path) -> dict[str, np.ndarray]:
    raw = _read_pickle(path)
    if not isinstance(raw, dict) or not all(isinstance(v, (np.ndarray, np.generic)) for v in raw.values()):
        raise UserError(f"{path}: not a DeepFaceLab weights file (a dict of arrays)")
    return {str(k).removesuffix(":0"): np.asarray(v) for k, v in raw.items()}  # (scalars: the `iters` counter)


def _optimizer_name(key: str) -> str:
    """`ms_encoder/down1/conv1/weight_0` -> `ms/encoder/down1/conv1/weight`; `iters` stays."""
    slot, sep, path = key.partition("_")
    return f"{slot}/{path.removesuffix('_0')}" if sep and "/" in path else key


def _optimizer(path: Path, weights: dict[str, dict[str, np.ndarray]],
               scopes: dict[str, str] | None = None) -> dict[str, np.ndarray] | None:
    """The optimizer state under our names, or None (with a warning) when it does not cover every weight.
    `scopes`: DFL's variable scope -> our network name, where they differ (`D_src` -> `GAN`)."""
    if not path.exists():
        return None
    state = {_optimizer_name(k): v for k, v in _weights(path).items()}
    for theirs, ours in (scopes or {}).items():
        state = {_rescoped(k, theirs, ours): v for k, v in state.items()}
    slots = {k.split("/", 1)[0] for k in state if "/" in k}
    needed = {f"{slot}/{net}/{name}" for slot in slots for net, ws in weights.items() for name in ws}
    if "iters" not in state or not slots or not needed <= state.keys():
        interact.log_warn(f"{path}: optimizer state not in the expected layout; the optimizer starts fresh")
        return None
    return {k: state[k] for k in ("iters", *sorted(needed))}


def _rescoped(key: str, theirs: str, ours: str) -> str:
    """`ms/D_src/in_conv/weight` -> `ms/GAN/in_conv/weight`."""
    slot, sep, path = key.partition("/")
    return f"{slot}/{ours}/{path[len(theirs) + 1:]}" if sep and path.startswith(theirs + "/") else key


def _discriminators(folder: Path, prefix: str, options: dict) -> tuple[dict, dict]:
    """DFL's GAN and true-face discriminators of the powers that are on: (weights by network, optimizer states
    by file); one whose file is missing starts fresh here, with a warning."""
    weights, optimizers = {}, {}
    for power, (net, scope, opt_file) in DISCRIMINATORS.items():
        if not (isinstance(options.get(power), (int, float)) and options[power] != 0):
            continue
        path = folder / f"{prefix}{net}.npy"
        if not path.exists():
            interact.log_warn(f"{path}: missing while {power} is on; the discriminator starts fresh here")
            continue
        weights[net] = _weights(path)
        state = _optimizer(folder / f"{prefix}{opt_file}.npy", {net: weights[net]}, {scope: net})
        if state is not None:
            optimizers[opt_file] = state
    return weights, optimizers


def _options(raw: dict) -> dict:
    """DFL's option values that are plain numbers, flags or words, under this toolkit's keys (the model's
    option specs check each value when it loads, and fall back to the default for a bad one)."""
    plain = {RENAMED_OPTIONS.get(str(k), str(k)): v.item() if isinstance(v, np.generic) else v for k, v in raw.items()}
    return {k: v for k, v in plain.items() if isinstance(v, (bool, int, float, str))}


def _plain_rows(raw, columns: int) -> bool:
    """A list of rows of `columns` numbers (checked before numpy would expand lists a pickle may share)."""
    number = (int, float, np.integer, np.floating)
    return isinstance(raw, np.ndarray) or (isinstance(raw, (list, tuple)) and all(
        isinstance(row, (list, tuple, np.ndarray)) and len(row) == columns and all(isinstance(v, number) for v in row)
        for row in raw))


def _loss_history(data: dict, columns: int, source: Path) -> np.ndarray:
    try:
        raw = data.get("loss_history")
        if raw is not None and not _plain_rows(raw, columns):
            raise ValueError("not rows of numbers")
        history = np.asarray([] if raw is None else raw, np.float32).reshape(-1, columns)
        if not np.isfinite(history).all():
            raise ValueError("non-finite losses")
        return history
    except (TypeError, ValueError):
        interact.log_warn(f"{source}: unreadable loss history; it starts empty")
        return np.zeros((0, columns), np.float32)


def read_dfl_xseg(folder: Path) -> DflModel:
    """DFL's XSeg model of `folder`: 256 px, 32 base channels; face type and batch size from `XSeg_data.dat`
    when it is there (DFL's generic XSeg ships without one: whole face)."""
    folder = Path(folder)
    data_path = dfl_data_file(folder, XSEG, XSEG)
    data = _read_pickle(data_path) if data_path.exists() else {}
    if not isinstance(data, dict) or not isinstance(data.get("options", {}), dict):
        raise UserError(f"{data_path}: not a DeepFaceLab model data file")
    iteration = _iteration(data, data_path)
    options = {k: v for k, v in _options(data.get("options", {})).items() if k in XSEG_OPTIONS}
    options = {"face_type": "wf", **options, "resolution": 256, "base_ch": 32}
    weights = {XSEG: _weights(folder / XSEG_WEIGHTS)}
    return DflModel(XSEG, XSEG, iteration, options, _loss_history(data, 1, data_path), weights,
                    _optimizer(folder / XSEG_OPTIMIZER, weights))


def read_dfl_model(folder: Path, name: str, model_class: str) -> DflModel:
    """Read DFL model `name` of `model_class` from `folder`; a missing, unsafe or damaged file is a `UserError`."""
    if model_class == XSEG:
        return read_dfl_xseg(folder)
    data_path = dfl_data_file(folder, name, model_class)
    data = _read_pickle(data_path)
    if not isinstance(data, dict) or not isinstance(data.get("options", {}), dict):
        raise UserError(f"{data_path}: not a DeepFaceLab model data file")
    iteration = _iteration(data, data_path)
    options = _options(data.get("options", {}))
    if model_class == "AMP":
        layout = "AMP"
        options.setdefault("inter_dims", options.get("ae_dims", 256))  # AMP before inter_dims: inters of ae_dims
    else:
        layout = str(options.get("archi", "df")).lower().split("-")[0]
        if layout not in ("df", "liae"):
            raise UserError(f"{data_path}: archi {layout!r} (an early DeepFaceLab 2.0 design) cannot be imported; "
                            f"only df and liae models can")
    prefix = f"{name}_{model_class}_"
    weights = {}
    for net in NETWORKS[layout]:
        path = Path(folder) / f"{prefix}{net}.npy"
        if not path.exists():
            raise UserError(f"{path}: missing; the DeepFaceLab model {name!r} needs it")
        weights[net] = _weights(path)
    optimized = {net: weights[net] for net in OPTIMIZED.get(layout, weights)}
    optimizer = _optimizer(Path(folder) / f"{prefix}{OPTIMIZER}.npy", optimized)
    extra_weights, extra_optimizers = _discriminators(Path(folder), prefix, options)
    return DflModel(name, model_class, iteration, options, _loss_history(data, 2, data_path),
                    {**weights, **extra_weights}, optimizer, extra_optimizers)


def write_model(model: DflModel, dst: ModelFiles, source: Path) -> None:
    """Write `model` as toolkit model `dst`: weights generation 1 first (temp name, fsync, rename), `data.json`
    last, so an interrupted import leaves no half model. `data.json` gets the DFL data file's time."""
    from core.leras.saveable import save_many  # (TensorFlow is only imported when a model is written)
    weights = dst.weights(1)
    tmp = weights.with_name(weights.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    entries = [(tmp / f"{dst.prefix}{net}.h5", arrays, net) for net, arrays in model.weights.items()]
    xseg = dst.model_class == XSEG
    optimizer = f"{XSEG}_opt" if xseg else OPTIMIZER  # (the engines' optimizer file names)
    if model.optimizer is not None:
        entries.append((tmp / f"{dst.prefix}{optimizer}.h5", model.optimizer, optimizer))
    entries += [(tmp / f"{dst.prefix}{name}.h5", state, name) for name, state in model.extra_optimizers.items()]
    data = {"format": STATE_FORMAT, "model_class": dst.model_class, "name": dst.name, "iter": model.iteration,
            "generation": 1, "options": model.options, "loss_names": ["loss"] if xseg else ["src_loss", "dst_loss"],
            "training_seconds": 0.0, "devices": [], "saved_at": datetime.now().isoformat(timespec="seconds"),
            "imported_from": str(source)}
    try:
        tmp.mkdir(parents=True)
        save_many(entries)
        with open(tmp / "loss_history.npy", "wb") as f:
            np.save(f, model.loss_history, allow_pickle=False)
        publish_generation(tmp, weights, dst.data, data)
        mtime = source.stat().st_mtime
        os.utime(dst.data, (mtime, mtime))
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_failure(f"the imported model {dst.full_name}", dst.folder, err, "Nothing was changed.") from None


def import_dfl_model(folder: Path, name: str, model_class: str, dst: ModelFiles | None = None) -> int:
    """Import DFL model `name` from `folder` as `dst` (default: the same name and folder); returns its iteration."""
    dst = dst or ModelFiles(Path(folder), name, model_class)
    source = _source_file(Path(folder), name, model_class)
    model = read_dfl_model(folder, name, model_class)
    write_model(model, dst, source)
    interact.log_info(f"Imported the DeepFaceLab model {name!r} ({model_class}, iteration {model.iteration}) from "
                      f"{source.name} as {dst.data.name}" + ("" if model.optimizer is not None else
                                                              " (without optimizer state)") + ".")
    return model.iteration


def import_new_models(folder: Path, model_class: str) -> list[str]:
    """Import every DFL `model_class` model in `folder` that has no toolkit counterpart yet; a model that cannot
    be imported is skipped with a warning. Returns the imported names."""
    if not Path(folder).is_dir():
        return []
    imported = []
    for name in list_dfl_models(folder, model_class):
        if ModelFiles(Path(folder), name, model_class).data.exists():
            continue
        try:
            import_dfl_model(folder, name, model_class)
            imported.append(name)
        except UserError as err:
            interact.log_warn(f"DeepFaceLab model {name!r} not imported: {err}")
    return imported
