"""`main.py util <cmd>`: faceset utilities (debug images, names, metadata sidecar, packing, info, contact sheet,
PNG->JPG, mask export, legacy DFL import of faces and of models, resize) and `clear-workspace`.

Every command that works on a faceset takes `--input-dir`; each command is one function in `UTIL_COMMANDS`.
DeepFaceLab's flag form (`util --input-dir DIR --pack-faceset [--unpack-faceset ...]`) runs the same commands, in
DFL's order.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from tqdm import tqdm

from core import config, interact
from core.errors import UserError
from core.fsio import atomic_write_text, input_folder, list_images
from core.imagelib.io import write_image
from core.imagelib.text import put_outlined_text
from core.workspace import Workspace
from facelib.face_type import FaceType
from facelib.identity import PeopleCounter
from facelib.landmarks import draw_landmarks, draw_rect_landmarks, estimate_pitch_yaw_roll
from facelib.meta import FaceFileError, FaceMeta, load_face, read_meta, save_face, write_meta
from facelib.xseg_polys import has_polys, render_polys
from mainscripts import resize
from models import dfl_import
from models.files import ModelFiles
from models.registry import MODELS
from samplelib import pak

FACE_EXTS = (".jpg", ".jpeg", ".png")
SIDECAR = "faceset_metadata.json"
DEBUG_SUFFIX = "_debug"
MASK_SUFFIX = "_mask"


def checked_input_dir(args: argparse.Namespace) -> Path:
    return input_folder(args.input_dir)


def _faces(folder: Path) -> list[Path]:
    """Face image files of `folder`, leaving out the debug and mask images this tool writes."""
    return [p for p in list_images(folder, FACE_EXTS)
            if not p.stem.endswith(DEBUG_SUFFIX) and MASK_SUFFIX not in p.stem]


def face_files(folder: Path) -> list[Path]:
    """`_faces(folder)`, or a UserError naming the folder when it holds none (e.g. they are in faceset.pak)."""
    files = _faces(folder)
    if not files:
        hint = "; they are in faceset.pak: run unpack-faceset first" if pak.has_pak(folder) else ""
        raise UserError(f"{folder}: no face images (.jpg/.png){hint}")
    return files


def read_meta_or_warn(path: Path) -> tuple[np.ndarray, FaceMeta] | None:
    try:
        image, meta = load_face(path)
    except FaceFileError as err:
        interact.log_warn(f"Skipping {err}")
        return None
    if meta is None:
        interact.log_warn(f"Skipping {path.name}: no face metadata")
        return None
    return image, meta


# ------------------------------------------------------------------------------------------------- commands ---

def add_landmarks_debug_images(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    written = 0
    for path in tqdm(face_files(folder), desc="Debug images", ascii=True):
        loaded = read_meta_or_warn(path)
        if loaded is None or loaded[1].landmarks is None:
            continue
        image, meta = loaded
        canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
        if meta.face_type == FaceType.MARK_ONLY.to_string():
            draw_rect_landmarks(canvas, meta.source_rect, meta.landmarks, FaceType.FULL, face_size=canvas.shape[0])
        else:
            draw_landmarks(canvas, meta.landmarks, transparent_mask=True)
        write_image(path.with_name(f"{path.stem}{DEBUG_SUFFIX}.jpg"), canvas, jpeg_quality=50)
        written += 1
    interact.log_info(f"Wrote {written} debug images into {folder}")
    return 0


def recover_original_filename(args: argparse.Namespace) -> int:
    """Rename faces to `<source frame stem>_<k><ext>` (k counts faces of the same frame), in two passes."""
    folder = checked_input_dir(args)
    plan: list[tuple[Path, str]] = []
    counts: Counter = Counter()
    for path in face_files(folder):
        try:
            meta = read_meta(path)
        except FaceFileError as err:
            interact.log_warn(f"Skipping {err}")
            continue
        if meta is None or not meta.source_filename:
            continue
        stem = Path(meta.source_filename).stem
        plan.append((path, f"{stem}_{counts[stem]}{path.suffix}"))
        counts[stem] += 1
    moving = {p for p, _ in plan}
    clash = next((name for _, name in plan if (folder / name).exists() and folder / name not in moving), None)
    if clash:
        raise UserError(f"{folder / clash} exists and is not one of the faces being renamed; move it away first")
    temps = []
    for i, (path, _) in enumerate(plan):
        temp = folder / f"_recover_{i:06d}{path.suffix}"
        path.rename(temp)
        temps.append(temp)
    for temp, (_, name) in zip(temps, plan):
        temp.rename(folder / name)
    interact.log_info(f"Renamed {len(plan)} faces in {folder} to their original frame names")
    return 0


def save_faceset_metadata(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    faces = {}
    for path in tqdm(face_files(folder), desc="Reading metadata", ascii=True):
        loaded = read_meta_or_warn(path)
        if loaded is None:
            continue
        image, meta = loaded
        faces[path.name] = {"shape": list(image.shape), "meta": meta.to_dict()}
    sidecar = folder / SIDECAR
    if sidecar.exists():  # saved before and not restored yet: keep what it holds for faces edited since
        kept = {name: entry for name, entry in _read_sidecar(sidecar).items()
                if name not in faces and _find_edited(folder, name)}
        if kept:
            interact.log_info(f"{sidecar} already holds the metadata of {len(kept)} faces that have none now "
                              "(edited?); it is kept for them")
        faces.update(kept)
    if not faces:
        raise UserError(f"{folder}: none of the images carries face metadata; nothing saved")
    atomic_write_text(sidecar, json.dumps({"version": 1, "faces": faces}))
    interact.log_info(f"Saved the metadata of {len(faces)} faces to {sidecar}. You can now edit the images in "
                      "another program (keep the file names; resizing is fine), then run restore-faceset-metadata.")
    return 0


def _read_sidecar(sidecar: Path) -> dict:
    try:
        faces = json.loads(sidecar.read_text(encoding="utf-8-sig"))["faces"]
        if not isinstance(faces, dict):
            raise TypeError("'faces' is not a dictionary")
        return faces
    except (ValueError, KeyError, TypeError, RecursionError) as err:
        raise UserError(f"{sidecar}: corrupt metadata file ({err})") from None


def _find_edited(folder: Path, name: str) -> Path | None:
    path = folder / name
    if path.exists():
        return path
    for ext in FACE_EXTS:  # an editor may have saved it in another format
        alt = path.with_suffix(ext)
        if alt.exists():
            return alt
    return None


def restore_faceset_metadata(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    sidecar = folder / SIDECAR
    if not sidecar.exists():
        raise UserError(f"{sidecar} not found; run save-faceset-metadata first")
    saved = _read_sidecar(sidecar)
    restored = 0
    for name, entry in tqdm(saved.items(), desc="Restoring metadata", ascii=True):
        if Path(name).name != name or name in ("", ".", "..") or "\\" in name:  # a crafted sidecar: stay inside
            interact.log_warn(f"Skipping {name!r}: not a file name in {sidecar.name}")
            continue
        path = _find_edited(folder, name)
        if path is None:
            interact.log_warn(f"{name}: missing, skipped")
            continue
        try:
            meta = FaceMeta.from_dict(entry["meta"])
            h, w = (int(v) for v in entry["shape"][:2])
            if not (0 < h <= 4096 and 0 < w <= 4096):
                raise ValueError(f"face size {w}x{h}")
            image = load_face(path)[0]
        except FaceFileError as err:
            interact.log_warn(f"Skipping {err}")
            continue
        except (ValueError, KeyError, TypeError) as err:
            interact.log_warn(f"Skipping {name}: bad entry in {sidecar.name} ({err})")
            continue
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LANCZOS4)
            save_face(path, image, meta, jpeg_quality=100)
        else:
            write_meta(path, meta)
        restored += 1
    interact.log_info(f"Restored the metadata of {restored} faces in {folder}")
    if restored < len(saved):  # the sidecar is the only copy of the missing faces' metadata: keep it
        interact.log_warn(f"{len(saved) - restored} faces were not restored; {sidecar} is kept so you can run "
                          "restore-faceset-metadata again once they are back")
        return 1
    sidecar.unlink()
    return 0


def pack_faceset(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    if pak.has_pak(folder):
        old = pak.PackedFaceset(pak.pak_path(folder))
        only_packed = [n for n in old.names() if not (folder / n).is_file()]
        if only_packed:  # overwriting would lose these faces: ask, and never do it unattended
            interact.log_warn(f"{old.path} holds {len(only_packed)} faces that are not loose files here "
                              f"(e.g. {only_packed[0]}); packing again would lose them. Unpack it first to keep them.")
            if not interact.input_bool("Overwrite it anyway?", False):
                raise UserError(f"{old.path}: not overwritten; run unpack-faceset first, then pack again")
        elif not interact.input_bool(f"{old.path} exists. Overwrite it?", True):
            return 1
    delete = args.delete_originals
    if delete is None:
        delete = interact.input_bool("Delete original files after packing?", True,
                                     help_message="The pack is verified before anything is deleted.")
    pak.pack_faceset(folder, delete_originals=delete)
    return 0


def unpack_faceset(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    if not pak.has_pak(folder):
        raise UserError(f"{pak.pak_path(folder)} not found")
    pak.unpack_faceset(folder)
    return 0


@dataclass
class FacesetInfo:
    count: int
    face_types: dict[str, int]
    sizes: dict[str, int]
    channels: dict[str, int]
    yaw_histogram: dict[str, int]
    unreadable: int
    packed: bool
    people: int = 0  # dlib face-descriptor groups (facelib.identity), from a sample of at most 200 faces


YAW_EDGES = list(range(-90, 91, 15))


def faceset_info(folder: Path) -> FacesetInfo:
    face_types: Counter = Counter()
    sizes: Counter = Counter()
    channels: Counter = Counter()
    yaws: Counter = Counter()
    count = 0
    packed = pak.has_pak(folder)
    names = pak.PackedFaceset(pak.pak_path(folder)).names() if packed else [p.name for p in _faces(folder)]
    faces = pak.iter_faces(folder)
    people = PeopleCounter(len(names))
    for _, image, meta in tqdm(faces, total=len(names), desc="Reading faces", ascii=True):
        count += 1
        people.add(image, meta)
        face_types[meta.face_type] += 1
        sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
        channels["gray" if image.ndim == 2 else "color"] += 1
        if meta.landmarks is not None:
            yaw = math.degrees(estimate_pitch_yaw_roll(meta.landmarks, size=image.shape[1])[1])
            i = min(len(YAW_EDGES) - 2, max(0, int((yaw + 90) // 15)))
            yaws[f"{YAW_EDGES[i]}..{YAW_EDGES[i + 1]}"] += 1
    if not count:
        others = f" ({len(names)} images without face data)" if names else ""
        raise UserError(f"{folder}: no aligned faces{others}")
    ordered_yaws = {f"{a}..{b}": yaws.get(f"{a}..{b}", 0) for a, b in zip(YAW_EDGES, YAW_EDGES[1:])}
    return FacesetInfo(count, dict(face_types), dict(sizes), dict(channels), ordered_yaws, len(names) - count, packed,
                       people.count())


def faceset_info_command(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    info = faceset_info(folder)
    if args.json:
        print(json.dumps(info.__dict__, indent=2))
        return 0
    lines = [f"Faceset {folder}{' (faceset.pak)' if info.packed else ''}",
             f"  faces: {info.count}" + (f"  (+{info.unreadable} images without face data)" if info.unreadable else ""),
             "  face types: " + ", ".join(f"{k} {v}" for k, v in sorted(info.face_types.items())),
             "  sizes: " + ", ".join(f"{k} ({v})" for k, v in sorted(info.sizes.items())),
             "  channels: " + ", ".join(f"{k} {v}" for k, v in sorted(info.channels.items())),
             f"  people: {info.people} (faces grouped by dlib's face descriptor; sort --by identity-groups splits them)",
             "  yaw (degrees, + = looking to one side, - = the other):"]
    peak = max(info.yaw_histogram.values(), default=0) or 1
    for label, n in info.yaw_histogram.items():
        lines.append(f"    {label:>9} {n:6d} {'#' * round(40 * n / peak)}")
    interact.log_info("\n".join(lines))
    return 0


def make_contact_sheet(folder: Path, thumb: int = 96, columns: int = 0, max_faces: int = 0) -> np.ndarray:
    """One BGR image: a grid of the faces of `folder` (or its faceset.pak), labelled with their names."""
    tiles = []
    for name, image, _ in pak.iter_faces(folder, with_meta_only=False):
        if DEBUG_SUFFIX in Path(name).stem:
            continue
        tile = cv2.resize(image, (thumb, thumb), interpolation=cv2.INTER_AREA)
        tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR) if tile.ndim == 2 else tile
        label = Path(name).stem[:14]
        put_outlined_text(tile, label, (2, thumb - 4), 0.3)
        tiles.append(tile)
        if max_faces and len(tiles) >= max_faces:
            break
    if not tiles:
        raise UserError(f"{folder}: no faces to show")
    columns = columns or max(1, math.ceil(math.sqrt(len(tiles))))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * thumb, columns * thumb, 3), 32, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * thumb:(r + 1) * thumb, c * thumb:(c + 1) * thumb] = tile
    return sheet


def _holds_frames(folder: Path) -> bool:
    return folder.is_dir() and any(p.stem.isdigit() for p in list_images(folder))


def default_sheet_path(folder: Path) -> Path:
    """`<faceset>_contact_sheet.png` beside the faceset, or one level up when that folder holds video frames
    (data_src/aligned -> workspace/data_src_aligned_contact_sheet.png), where extract and merge would take the
    sheet for a frame."""
    parent = folder.parent
    if _holds_frames(parent):
        return parent.parent / f"{parent.name}_{folder.name}_contact_sheet.png"
    return parent / f"{folder.name}_contact_sheet.png"


def _check_range(flag: str, value: int, low: int, high: int | None = None) -> None:
    if value < low or (high is not None and value > high):
        raise UserError(f"{flag} {value}: must be {low}-{high}" if high is not None else
                        f"{flag} {value}: must be {low} or more")


def contact_sheet(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    _check_range("--thumb-size", args.thumb_size, 16, 1024)
    _check_range("--columns", args.columns, 0)
    _check_range("--max-faces", args.max_faces, 0)
    output = Path(args.output_file).expanduser().absolute() if args.output_file else default_sheet_path(folder)
    if _holds_frames(output.parent):
        interact.log_warn(f"{output}: that folder holds video frames; extract and merge will treat the sheet as a "
                          "frame. Write it somewhere else.")
    sheet = make_contact_sheet(folder, args.thumb_size, args.columns, args.max_faces)
    write_image(output, sheet)
    interact.log_info(f"Wrote {output} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


def convert_png_to_jpg(args: argparse.Namespace) -> int:
    folder = checked_input_dir(args)
    _check_range("--jpeg-quality", args.jpeg_quality, 1, 100)
    converted = 0
    pngs = [p for p in face_files(folder) if p.suffix.lower() == ".png"]
    for path in tqdm(pngs, desc="PNG -> JPG", ascii=True):
        loaded = read_meta_or_warn(path)
        if loaded is None:
            continue
        target = path.with_suffix(".jpg")
        if target.exists():
            interact.log_warn(f"{target.name} exists, {path.name} left as it is")
            continue
        save_face(target, loaded[0], loaded[1], jpeg_quality=args.jpeg_quality)
        path.unlink()
        converted += 1
    interact.log_info(f"Converted {converted} PNG faces to JPG in {folder}")
    return 0


def import_dfl_faceset(args: argparse.Namespace) -> int:
    """Rewrite legacy DeepFaceLab faces (pickled metadata) with our JSON metadata; pixels are not recompressed."""
    folder = checked_input_dir(args)
    output = Path(args.output_dir).expanduser().absolute() if args.output_dir else folder
    if pak.has_pak(folder):
        packed = pak.PackedFaceset(pak.pak_path(folder))
        if packed.legacy:
            interact.log_info(f"{packed.path} is a DeepFaceLab pack; unpacking it (read safely) first")
            pak.unpack_faceset(folder)
    output.mkdir(parents=True, exist_ok=True)
    imported = skipped = 0
    for path in tqdm(face_files(folder), desc="Importing DFL faces", ascii=True):
        try:
            meta = read_meta(path)
        except FaceFileError as err:
            interact.log_warn(f"Skipping {err}")
            skipped += 1
            continue
        if meta is None:
            skipped += 1
            continue
        target = output / path.name
        if target != path:
            shutil.copy2(path, target)
        write_meta(target, meta)
        imported += 1
    interact.log_info(f"Imported {imported} faces into {output}" + (f"; skipped {skipped}" if skipped else ""))
    return 0 if imported or not skipped else 1


def import_dfl_model(args: argparse.Namespace) -> int:
    """Import DeepFaceLab's own models (`<name>_<MODEL>_data.dat` + `*.npy`) of every model class in --input-dir."""
    folder = checked_input_dir(args)
    output = Path(args.output_dir).expanduser().absolute() if args.output_dir else folder
    found = [(name, cls) for cls in MODELS for name in dfl_import.list_dfl_models(folder, cls)]
    if not found:
        raise UserError(f"{folder}: no DeepFaceLab model (<name>_SAEHD_data.dat, _SAEHDBW_, _Quick96_, _AMP_, or "
                        "XSeg_256.npy) found")
    output.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, cls in found:
        dst = ModelFiles(output, name, cls)
        if dst.data.exists():
            interact.log_info(f"{dst.data}: {name!r} ({cls}) is imported already; delete it to import it again")
            continue
        try:
            dfl_import.import_dfl_model(folder, name, cls, dst)
        except UserError as err:
            interact.log_err(str(err))
            failed += 1
    return 1 if failed else 0


def face_mask_image(image: np.ndarray, meta: FaceMeta) -> np.ndarray | None:
    """uint8 0/255 mask at the face's size: its applied XSeg mask binarised at 0.5, else its drawn polygons
    (DFL's export order); None when it has neither."""
    h, w = image.shape[:2]
    if meta.xseg_mask is not None:
        mask = cv2.resize(meta.xseg_mask, (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5
    elif has_polys(meta.xseg_polys):
        mask = render_polys(meta.xseg_polys, (h, w)) > 0
    else:
        return None
    return mask.astype(np.uint8) * 255


def export_faceset_mask(args: argparse.Namespace) -> int:
    """DFL's `--export-faceset-mask`: `<stem>_mask.jpg` (quality 100) beside every face that has a mask."""
    folder = checked_input_dir(args)
    written, without = 0, []
    for path in tqdm(face_files(folder), desc="Exporting masks", ascii=True):
        loaded = read_meta_or_warn(path)
        if loaded is None:
            continue
        mask = face_mask_image(*loaded)
        if mask is None:
            without.append(path.name)
            continue
        write_image(path.with_name(f"{path.stem}{MASK_SUFFIX}.jpg"), mask, jpeg_quality=100)
        written += 1
    if without:
        interact.log_warn(f"{len(without)} faces have neither an applied XSeg mask nor drawn polygons, e.g. "
                          f"{without[0]}: no mask written for them")
    if not written:
        raise UserError(f"{folder}: no face has an XSeg mask or polygons to export (draw them with `xseg editor` "
                        f"or apply a trained XSeg model with `xseg apply`)")
    interact.log_info(f"Wrote {written} masks (<name>{MASK_SUFFIX}.jpg) into {folder}")
    return 0


def faceset_resize(args: argparse.Namespace) -> int:
    return resize.run(args)


def _workspace_targets(ws: Workspace) -> list[Path]:
    """What clear-workspace removes: everything inside data_src/, data_dst/ and model/, and the results."""
    targets: list[Path] = []
    for folder in (ws.data_src, ws.data_dst, ws.model):
        if folder.is_dir():
            targets += sorted(folder.iterdir())
    targets += [p for p in (ws.result, ws.result_mask) if p.exists()]
    return targets


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def clear_workspace(args: argparse.Namespace) -> int:
    root = Path(args.workspace or config.settings().workspace).expanduser().absolute()
    if not root.is_dir():
        raise UserError(f"{root}: workspace folder not found")
    ws = Workspace(root)
    targets = _workspace_targets(ws)
    if not targets:
        interact.log_info(f"{root} is already clear.")
        ws.create()
        return 0
    listing = "\n".join(f"  {p.relative_to(root)}{'/' if p.is_dir() else ''}  ({_size(p) / 1e6:.1f} MB)"
                        for p in targets)
    kept = [p.name for p in (ws.video("data_src"), ws.video("data_dst")) if p]
    interact.log_info(f"clear-workspace will delete:\n{listing}\n"
                      f"and keep: {', '.join(kept) or 'no source videos found'}, logs/ and any other files.")
    if not (args.yes or interact.input_bool("Delete these files?", False,
                                            help_message="Frames, aligned faces, merged frames, the model and "
                                                         "the result videos are removed for good.")):
        interact.log_info("Nothing deleted." + ("" if interact.is_interactive() else " Pass --yes to confirm."))
        return 1
    for path in targets:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    ws.create()
    interact.log_info(f"Cleared {root}")
    return 0


# ------------------------------------------------------------------------------------------------- registry ---

@dataclass(frozen=True)
class UtilCommand:
    help: str
    func: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


def _input_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-dir", required=True, help="Folder of aligned faces.")


def originals_choice(p: argparse.ArgumentParser, delete_help: str, keep_help: str) -> None:
    """`--delete-originals` / `--keep-originals` (dest `delete_originals`; None: ask, default yes)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--delete-originals", dest="delete_originals", action="store_true", default=None,
                       help=f"{delete_help} (asked when missing; default yes).")
    group.add_argument("--keep-originals", dest="delete_originals", action="store_false", help=keep_help)


def _pack_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    originals_choice(p, "Delete the face files once the pack is written and verified",
                     "Keep the face files next to the pack.")


def _info_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    p.add_argument("--json", action="store_true", help="Print the summary as JSON.")


def _sheet_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    p.add_argument("--output-file", default=None,
                   help="PNG to write (default: <input-dir>_contact_sheet.png beside the faceset, or one folder up "
                        "when the faceset's folder holds frames, as data_src/aligned does).")
    p.add_argument("--thumb-size", type=int, default=96, help="Size of each face in the grid, 16-1024 pixels.")
    p.add_argument("--columns", type=int, default=0, help="Faces per row (0 = square grid).")
    p.add_argument("--max-faces", type=int, default=0, help="Show at most this many faces (0 = all).")


def _png_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    p.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality 1-100.")


def _import_args(p: argparse.ArgumentParser) -> None:
    _input_dir_arg(p)
    p.add_argument("--output-dir", default=None, help="Write the converted faces here (default: in place).")


def _import_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-dir", required=True, help="DeepFaceLab model folder (workspace/model).")
    p.add_argument("--output-dir", default=None, help="Write the imported models here (default: the same folder; "
                                                       "the DeepFaceLab files are never changed).")


def _clear_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", "--input-dir", dest="workspace", default=None,
                   help="Workspace folder (default: the configured workspace).")
    p.add_argument("--yes", action="store_true", help="Delete without asking.")


UTIL_COMMANDS: dict[str, UtilCommand] = {
    "add-landmarks-debug-images": UtilCommand(
        "Write <name>_debug.jpg next to each face with its landmarks drawn.", add_landmarks_debug_images),
    "recover-original-filename": UtilCommand(
        "Rename faces back to <source frame>_<n> from their metadata.", recover_original_filename),
    "save-faceset-metadata": UtilCommand(
        f"Save every face's metadata to {SIDECAR}, so the images can be edited elsewhere.", save_faceset_metadata),
    "restore-faceset-metadata": UtilCommand(
        f"Put the metadata from {SIDECAR} back into edited faces (resizing them back if needed).",
        restore_faceset_metadata),
    "pack-faceset": UtilCommand("Pack the faces into one faceset.pak file.", pack_faceset, _pack_args),
    "unpack-faceset": UtilCommand("Unpack faceset.pak back into face files.", unpack_faceset),
    "faceset-info": UtilCommand("Count faces, face types, sizes, gray/colour and a yaw histogram.",
                                faceset_info_command, _info_args),
    "contact-sheet": UtilCommand("Write one PNG grid of the faces for a quick look.", contact_sheet, _sheet_args),
    "export-faceset-mask": UtilCommand(
        f"Write <name>{MASK_SUFFIX}.jpg beside each face: its applied XSeg mask (binarised), else its drawn polygons.",
        export_faceset_mask),
    "convert-png-to-jpg": UtilCommand("Convert PNG faces to JPG, keeping their metadata.", convert_png_to_jpg,
                                      _png_args),
    "import-dfl-faceset": UtilCommand(
        "Convert legacy DeepFaceLab faces (pickled metadata, read safely) to this toolkit's format.",
        import_dfl_faceset, _import_args),
    "import-dfl-model": UtilCommand(
        "Import DeepFaceLab's own SAEHD/SAEHDBW/Quick96/AMP models (pickled .dat/.npy, read safely); train and merge "
        "also do this by themselves for the models in their --model-dir.", import_dfl_model, _import_model_args),
    "faceset-resize": UtilCommand("Resize faces keeping their metadata and colour (DFL's faceset resize); "
                                  "--grayscale makes it the same as resize-to-grayscale.", faceset_resize,
                                  functools.partial(resize.add_arguments, grayscale_default=False)),
    "clear-workspace": UtilCommand("Delete frames, faces, merged frames, the model and results; keep the videos.",
                                   clear_workspace, _clear_args),
}


# DeepFaceLab's `util` flags, in the order DFL runs them, and the commands they stand for.
DFL_FLAGS = {"--add-landmarks-debug-images": "add-landmarks-debug-images",
             "--recover-original-aligned-filename": "recover-original-filename",
             "--save-faceset-metadata": "save-faceset-metadata",
             "--restore-faceset-metadata": "restore-faceset-metadata",
             "--pack-faceset": "pack-faceset",
             "--unpack-faceset": "unpack-faceset",
             "--export-faceset-mask": "export-faceset-mask"}


def main(args: argparse.Namespace) -> int:
    return UTIL_COMMANDS[args.util_command].func(args)


def run_dfl_flags(args: argparse.Namespace, parsers: dict[str, argparse.ArgumentParser]) -> int:
    """`util --input-dir DIR --pack-faceset ...`: each flagged command, parsed as `util <cmd> --input-dir DIR`."""
    chosen = [name for name in DFL_FLAGS.values() if name in (args.dfl_commands or ())]
    if not chosen:
        raise UserError(f"util needs a command ({', '.join(UTIL_COMMANDS)}) or one of DeepFaceLab's flags "
                        f"({', '.join(DFL_FLAGS)}); see `main.py util --help`")
    if not args.dfl_input_dir:
        raise UserError("util's DeepFaceLab flags need --input-dir DIR")
    for name in chosen:
        code = UTIL_COMMANDS[name].func(parsers[name].parse_args(["--input-dir", args.dfl_input_dir]))
        if code:
            return code
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("util", help="Faceset utilities and clear-workspace.",
                              description="Faceset utilities. Each command works on the faces in --input-dir.")
    commands = p.add_subparsers(dest="util_command", metavar="UTIL_COMMAND")
    parsers = {}
    for name, cmd in UTIL_COMMANDS.items():
        parsers[name] = sub = commands.add_parser(name, help=cmd.help, description=cmd.help)
        (cmd.add_arguments or _input_dir_arg)(sub)
        sub.set_defaults(func=main)
    dfl = p.add_argument_group("DeepFaceLab's flag form", "util --input-dir DIR --pack-faceset: the same commands")
    dfl.add_argument("--input-dir", dest="dfl_input_dir", default=None, metavar="DIR", help="Folder of aligned faces.")
    for flag, name in DFL_FLAGS.items():
        dfl.add_argument(flag, dest="dfl_commands", action="append_const", const=name, help=f"= util {name}")
    p.set_defaults(func=lambda args: run_dfl_flags(args, parsers))
    tool = subparsers.add_parser("facesettool", help="DeepFaceLab's name for `util faceset-resize`.")
    resize_cmd = tool.add_subparsers(dest="tool_command", metavar="TOOL", required=True).add_parser(
        "resize", help=UTIL_COMMANDS["faceset-resize"].help)
    UTIL_COMMANDS["faceset-resize"].add_arguments(resize_cmd)
    resize_cmd.set_defaults(func=faceset_resize)
