"""`main.py xseg <cmd>`: DeepFaceLab 2.0's XSeg tools on a folder of aligned faces.

  * `editor`: the polygon editor (`mainscripts.xseg_editor`);
  * `apply`: run a trained XSeg model on every face and store the result as its `xseg_mask`;
  * `remove`: delete the applied masks (`xseg_mask`), keeping the hand-drawn polygons;
  * `remove-labels` (DFL: `remove_labels`): delete the hand-drawn polygons (`xseg_polys`);
  * `fetch`: copy the faces that have polygons to `<input-dir>_xseg`.

Only the metadata of a face file changes (`write_meta`: pixels not recompressed, atomic); faces a command has
nothing to change are not written at all.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import atomic_write_bytes
from facelib.face_type import FaceType
from facelib.landmarks import get_transform_mat
from facelib.meta import FaceFileError, FaceMeta, read_meta, write_meta
from facelib.xseg_polys import has_polys
from mainscripts.util import checked_input_dir, face_files, originals_choice, read_meta_or_warn

MASK_SIZE = 256        # DFL stores XSeg masks as 256 x 256
FETCH_SUFFIX = "_xseg"


def _read_meta_or_warn(path: Path) -> FaceMeta | None:
    """The metadata of `path`; None (with a warning for a damaged file) when there is none to work on."""
    try:
        return read_meta(path)
    except FaceFileError as err:
        interact.log_warn(f"Skipping {err}")
        return None


def _warn_and_confirm(folder: Path, what: str) -> None:
    interact.log_info(f"Processing folder {folder}")
    interact.log_warn(f"!!! WARNING : {what} WILL BE REMOVED FROM THE FACES !!!")
    interact.input_str("Press enter to continue.", "", show_default=False, lowercase=False)


def _strip(args: argparse.Namespace, field: str, what: str, desc: str) -> int:
    """Set metadata `field` to None in every face of --input-dir that has it; only those files are rewritten."""
    folder = checked_input_dir(args)
    _warn_and_confirm(folder, what.upper())
    changed = 0
    for path in tqdm(face_files(folder), desc=desc, ascii=True):
        meta = _read_meta_or_warn(path)
        if meta is None or getattr(meta, field) is None:
            continue
        setattr(meta, field, None)
        write_meta(path, meta)
        changed += 1
    interact.log_info(f"Removed the {what} of {changed} faces in {folder}")
    return 0


def remove(args: argparse.Namespace) -> int:
    """Delete the applied (trained) XSeg masks; the hand-drawn polygons stay."""
    return _strip(args, "xseg_mask", "applied XSeg masks", "Removing XSeg masks")


def remove_labels(args: argparse.Namespace) -> int:
    """Delete the hand-drawn XSeg polygons; applied masks stay."""
    return _strip(args, "xseg_polys", "labeled XSeg polygons", "Removing XSeg polygons")


def fetch_dir(folder: Path) -> Path:
    return folder.parent / f"{folder.name}{FETCH_SUFFIX}"


def fetch(args: argparse.Namespace) -> int:
    """Copy the faces that carry XSeg polygons to `<input-dir>_xseg`, then offer to delete the originals."""
    folder = checked_input_dir(args)
    output = fetch_dir(folder)
    interact.log_info(f"Copying faces containing XSeg polygons to {output}")
    copied: list[Path] = []
    for path in tqdm(face_files(folder), desc="Fetching labeled faces", ascii=True):
        meta = _read_meta_or_warn(path)
        if meta is None or not has_polys(meta.xseg_polys):  # as the editor and XSeg training count them
            continue
        atomic_write_bytes(output / path.name, path.read_bytes())
        copied.append(path)
    interact.log_info(f"Copied {len(copied)} faces to {output}")
    if not copied:
        return 0
    delete = args.delete_originals
    if delete is None:
        delete = interact.input_bool("Delete original files?", True,
                                     help_message=f"Remove the {len(copied)} copied faces from {folder}.")
    if delete:
        for path in copied:
            path.unlink()
        interact.log_info(f"Deleted the {len(copied)} originals from {folder}")
    return 0


# ---------------------------------------------------------------------------------------------------- apply ---

@dataclass
class _Pending:
    """One face on its way through the model: its file, metadata, model input and the way back."""

    path: Path
    meta: FaceMeta
    model_input: np.ndarray        # R x R x 3 float32 BGR in [0, 1]
    crop_mat: np.ndarray | None    # aligned image (w x w) -> model face-type crop (w x w); None: same face type
    size: int                      # w, the aligned image's side


def _model_face_type(predictor) -> FaceType | None:
    """The face type the model was trained on; None (or DFL's "same") means each face's own."""
    name = getattr(predictor, "face_type", None)
    if name is None or str(name).lower() == "same":
        return None
    return FaceType.from_string(name)


def _prepare(path: Path, image: np.ndarray, meta: FaceMeta, face_type: FaceType | None,
             resolution: int) -> _Pending | None:
    """The model input for one face (DFL's apply_xseg): a re-crop to the model's face type when it differs
    from the face's own (in aligned-image space, with the face's landmarks), then a resize to R."""
    face = image.astype(np.float32) / 255.0
    if face.ndim == 2:
        face = np.repeat(face[..., None], 3, axis=2)
    w = face.shape[1]
    crop_mat = None
    try:
        differs = face_type is not None and face_type != FaceType.from_string(meta.face_type)
        if differs:
            if meta.landmarks is None:
                raise ValueError("no landmarks to re-crop it to the model's face type")
            crop_mat = get_transform_mat(meta.landmarks, w, face_type)
    except ValueError as err:
        interact.log_warn(f"Skipping {path.name}: {err}")
        return None
    if crop_mat is not None:
        face = cv2.warpAffine(face, crop_mat, (w, w), flags=cv2.INTER_LINEAR)
    if face.shape[:2] != (resolution, resolution):
        shrink = face.shape[0] > resolution or face.shape[1] > resolution
        face = cv2.resize(face, (resolution, resolution),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)
    return _Pending(path, meta, np.clip(face, 0, 1), crop_mat, w)


def _stored_mask(prediction: np.ndarray, item: _Pending) -> np.ndarray:
    """MASK_SIZE x MASK_SIZE 0/1 mask in the aligned image's frame from one R x R model output."""
    mask = np.asarray(prediction, np.float32).reshape(prediction.shape[:2])  # (noise below 0.1 is zeroed already)
    if item.crop_mat is not None:
        w = item.size
        mask = cv2.resize(mask, (w, w), interpolation=cv2.INTER_LINEAR)
        mask = cv2.warpAffine(mask, item.crop_mat, (w, w), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if mask.shape != (MASK_SIZE, MASK_SIZE):
        mask = cv2.resize(mask, (MASK_SIZE, MASK_SIZE), interpolation=cv2.INTER_LINEAR)
    return (mask >= 0.5).astype(np.float32)


def _flush(predictor, batch: list[_Pending]) -> int:
    """Predict `batch`, store each face's mask; returns how many files were rewritten."""
    if not batch:
        return 0
    predictions = np.asarray(predictor.predict(np.stack([item.model_input for item in batch])), np.float32)
    written = 0
    for item, prediction in zip(batch, predictions):
        mask = _stored_mask(prediction, item)
        old = item.meta.xseg_mask
        if old is not None and old.shape == mask.shape and np.array_equal(old >= 0.5, mask >= 0.5):
            continue  # the same mask is stored already: leave the file alone
        item.meta.xseg_mask = mask
        write_meta(item.path, item.meta)
        written += 1
    batch.clear()
    return written


def apply(args: argparse.Namespace) -> int:
    """Run the trained XSeg model of --model-dir on every face of --input-dir; store the masks."""
    folder = checked_input_dir(args)
    model_dir = Path(args.model_dir).expanduser().absolute()
    if not model_dir.is_dir():
        raise UserError(f"{model_dir}: model folder not found")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be 1 or more")
    files = face_files(folder)
    from models.xseg import load_xseg_predictor
    predictor = load_xseg_predictor(model_dir, cpu_only=args.cpu_only, force_gpu_idxs=args.force_gpu_idxs)
    face_type, resolution = _model_face_type(predictor), int(predictor.resolution)
    interact.log_info(f"Applying the trained XSeg model of {model_dir} "
                      f"({face_type.to_string() if face_type else 'same face type as each face'}, {resolution} px) "
                      f"to {folder}")
    batch: list[_Pending] = []
    predicted = written = skipped = 0
    for path in tqdm(files, desc="Applying XSeg", ascii=True):
        loaded = read_meta_or_warn(path)
        item = None if loaded is None else _prepare(path, *loaded, face_type, resolution)
        if item is None:
            skipped += 1
            continue
        batch.append(item)
        predicted += 1
        if len(batch) >= args.batch_size:
            written += _flush(predictor, batch)
    written += _flush(predictor, batch)
    unchanged = predicted - written
    interact.log_info(f"Applied XSeg to {written} faces in {folder}"
                      + (f"; {unchanged} already had that mask" if unchanged else "")
                      + (f"; skipped {skipped}" if skipped else ""))
    return 0


# --------------------------------------------------------------------------------------------------- editor ---

def editor(args: argparse.Namespace) -> int:
    from mainscripts import xseg_editor  # (OpenCV windows: loaded only for this command)
    return xseg_editor.main(args)


# ------------------------------------------------------------------------------------------------- registry ---

def _input_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-dir", required=True, help="Folder of aligned faces (e.g. workspace/data_dst/aligned).")


def _apply_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    p.add_argument("--model-dir", required=True, help="Folder of the trained XSeg model (workspace/model).")
    p.add_argument("--batch-size", type=int, default=8, help="Faces per model call (default 8).")
    p.add_argument("--cpu-only", action="store_true", help="Run the model on the CPU even when a GPU is present.")
    p.add_argument("--force-gpu-idxs", help="GPU index to use, e.g. 0 (default: asked, or the best one).")


def _fetch_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    originals_choice(p, "Delete the copied faces from --input-dir without asking",
                     "Keep the copied faces in --input-dir.")


@dataclass(frozen=True)
class XSegCommand:
    help: str
    func: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _input_dir_arg
    aliases: tuple[str, ...] = ()


XSEG_COMMANDS: dict[str, XSegCommand] = {
    "editor": XSegCommand("Draw XSeg polygons on the faces (include/exclude areas) in a window.", editor),
    "apply": XSegCommand("Apply a trained XSeg model to every face (stores the mask in the face file).", apply,
                         _apply_args),
    "remove": XSegCommand("Delete the applied XSeg masks of every face (hand-drawn polygons are kept).", remove),
    "remove-labels": XSegCommand("Delete the hand-drawn XSeg polygons of every face.", remove_labels,
                                 aliases=("remove_labels",)),
    "fetch": XSegCommand(f"Copy the faces that have XSeg polygons to <input-dir>{FETCH_SUFFIX}.", fetch,
                         _fetch_args),
}


def register(subparsers) -> None:
    p = subparsers.add_parser("xseg", help="XSeg masks: edit polygons, apply a trained model, fetch, remove.",
                              description="XSeg tools. Each command works on the faces in --input-dir.")
    commands = p.add_subparsers(dest="xseg_command", metavar="XSEG_COMMAND", required=True)
    for name, cmd in XSEG_COMMANDS.items():
        sub = commands.add_parser(name, aliases=list(cmd.aliases), help=cmd.help, description=cmd.help)
        cmd.add_arguments(sub)
        sub.set_defaults(func=cmd.func)
