"""`main.py sort --input-dir DIR --by METHOD`: order or clean an aligned faceset with one of DFL's sort methods.

Kept faces are renamed `00000.jpg, 00001.jpg, ...` in sorted order (two passes, so no file is ever
overwritten; the metadata inside each file is untouched). Rejected faces and images without face data are
moved to `<DIR>_trash`, never deleted. `identity-groups` moves each person's faces, names kept, into a sub-folder
person_1, person_2, ... instead. A packed faceset (`faceset.pak`) is unpacked, sorted and packed again (split into
person folders, it stays unpacked).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import input_folder, list_images
from facelib.meta import FaceFileError, read_meta
from mainscripts.sort_methods import DEFAULT_METHOD, SORT_METHODS, SortOptions, SortResult
from samplelib import pak

TMP_PREFIX = "_sorting_"


def trash_dir(folder: Path) -> Path:
    return folder.parent / f"{folder.name}_trash"


def free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():
        target = folder / f"{stem}_{n}{suffix}"
        n += 1
    return target


def group_dirs(folder: Path, count: int) -> list[Path]:
    """`count` new sub-folders person_1, person_2, ... of `folder` (numbers already taken are skipped)."""
    dirs, n = [], 1
    while len(dirs) < count:
        if not (folder / f"person_{n}").exists():
            dirs.append(folder / f"person_{n}")
        n += 1
    return dirs


def apply_result(folder: Path, result: SortResult) -> None:
    """Move `result.trash` to `<folder>_trash`, each of `result.groups` into its own person_N sub-folder (names
    kept), and rename `result.kept` to 00000.ext, 00001.ext, ... in order."""
    for group, target in zip(result.groups, group_dirs(folder, len(result.groups))):
        target.mkdir()
        for path in tqdm(group, desc=f"Moving to {target.name}", ascii=True):
            shutil.move(str(path), target / path.name)
        interact.log_info(f"Moved {len(group)} faces to {target}")
    if result.trash:
        trash = trash_dir(folder)
        trash.mkdir(exist_ok=True)
        for path in tqdm(result.trash, desc="Moving to trash", ascii=True):
            shutil.move(str(path), free_name(trash, path.name))
        interact.log_info(f"Moved {len(result.trash)} faces to {trash}")
    temps = [folder / f"{TMP_PREFIX}{i:05d}_{p.name}" for i, p in enumerate(result.kept)]
    clash = next((t for t in temps if t.exists()), None)
    if clash:
        raise UserError(f"{clash} exists (left by an interrupted sort?); rename or remove it and sort again")
    for path, temp in zip(tqdm(result.kept, desc="Renaming", ascii=True), temps):
        path.rename(temp)
    for i, (path, temp) in enumerate(zip(result.kept, temps)):
        temp.rename(folder / f"{i:05d}{path.suffix}")


def split_faces(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(aligned faces, other images): debug images, plain pictures and unreadable files carry no face data."""
    faces, others = [], []
    for path in paths:
        try:
            has_meta = read_meta(path) is not None
        except FaceFileError as err:  # say why (a refused pickle, bad metadata), not only "no face data"
            interact.log_warn(f"Not an aligned face: {err}")
            has_meta = False
        (faces if has_meta else others).append(path)
    return faces, others


def sort_folder(folder: Path, method: str, opts: SortOptions | None = None) -> SortResult:
    """Run sort `method` on the images of `folder` and apply the result; returns it (with the original paths).

    Images without face metadata (e.g. `_debug` images, pictures dropped in by hand) go to the trash whatever
    the method, so they are never renamed in among the faces.
    """
    opts = opts or SortOptions()
    paths = list_images(folder)
    if not paths:
        raise UserError(f"{folder}: no images to sort")
    paths, others = split_faces(paths)
    if others:
        interact.log_warn(f"{len(others)} images in {folder} are not aligned faces (no face data), e.g. "
                          f"{others[0].name}; they go to the trash")
    interact.log_info(f"Sorting {len(paths)} images of {folder} by {method} ({SORT_METHODS[method].description})")
    result = SORT_METHODS[method].func(paths, opts) if paths else SortResult([])
    result.trash = others + result.trash
    apply_result(folder, result)
    kept = f"{sum(map(len, result.groups))} in {len(result.groups)} person folders" if result.groups \
        else len(result.kept)
    interact.log_info(f"Kept {kept}, trashed {len(result.trash)}.")
    return result


def _sort_packed(folder: Path, method: str, opts: SortOptions) -> SortResult:
    if list_images(folder):
        raise UserError(f"{folder} holds both {pak.PAK_NAME} and loose images; unpack or move one of them first")
    packed = pak.PackedFaceset(pak.pak_path(folder))
    if any(e.person for e in packed.entries):
        raise UserError(f"{packed.path} is a person faceset; unpack it (util unpack-faceset) and sort each person")
    interact.log_info(f"{packed.path}: unpacking to sort; it is packed again afterwards.")
    pak.unpack_faceset(folder)
    result = sort_folder(folder, method, opts)
    if result.groups:
        interact.log_info(f"The faces stay unpacked in the person folders of {folder}: keep the person you want "
                          "and pack that folder with util pack-faceset.")
    else:
        pak.pack_faceset(folder, persons=False, delete_originals=True)
    return result


# Names DeepFaceLab's `--by` choices offer (and fail on) for its best-faces selections.
DFL_ALIASES = {"final-by-blur": "final", "final-by-size": "final-fast"}


def choose_method() -> str:
    keys = list(SORT_METHODS)
    menu = "\n".join(f"[{i}] {SORT_METHODS[k].description} ({k})" for i, k in enumerate(keys))
    interact.log_info(f"Choose sorting method:\n{menu}")
    index = interact.input_int("Sort method", keys.index(DEFAULT_METHOD), valid_range=(0, len(keys) - 1),
                               help_message="Pick the number of a sort method.")
    return keys[index]


def main(args: argparse.Namespace) -> int:
    folder = input_folder(args.input_dir)
    if args.target_count is not None and args.target_count < 1:
        raise UserError(f"--target-count {args.target_count}: must be 1 or more (the number of faces to keep)")
    method = DFL_ALIASES.get(args.by, args.by) or choose_method()
    opts = SortOptions(target_count=args.target_count, workers=args.workers, reference=args.ref,
                       identity_threshold=args.identity_threshold)
    if pak.has_pak(folder):
        _sort_packed(folder, method, opts)
    else:
        sort_folder(folder, method, opts)
    interact.log_info("Done.")
    return 0


def register(subparsers) -> None:
    methods = "\n".join(f"  {m.key:<22} {m.explain}" for m in SORT_METHODS.values())
    p = subparsers.add_parser(
        "sort", help="Sort or clean an aligned faceset.", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Order the faces of a folder by a measure, or throw out the weak ones. Kept faces are\n"
                    "renamed 00000.jpg, 00001.jpg, ... in the new order; rejected faces, and images without\n"
                    "face data (e.g. _debug images), go to <folder>_trash.\n"
                    f"A faceset.pak is unpacked, sorted and packed again.\n\nmethods:\n{methods}")
    p.add_argument("--input-dir", required=True, help="Folder of aligned faces (or holding faceset.pak).")
    p.add_argument("--by", choices=[*SORT_METHODS, *DFL_ALIASES], default=None, metavar="METHOD",
                   help=f"Sort method; without it a menu is shown (non-interactive: {DEFAULT_METHOD}). "
                        f"DFL's final-by-blur / final-by-size are final / final-fast.")
    p.add_argument("--target-count", type=int, default=None,
                   help="final / final-fast: how many faces to keep (asked when missing, default 2000).")
    p.add_argument("--ref", nargs="+", type=Path, metavar="REF",
                   help="identity: the person to keep, in a photo, an aligned face or a folder of them (asked when "
                        "missing).")
    p.add_argument("--identity-threshold", type=float, default=None,
                   help="identity / identity-groups: the largest face-descriptor distance between faces of one "
                        "person (asked when missing, default 0.6, dlib's).")
    p.add_argument("--workers", type=int, default=0,
                   help="Worker processes for the per-image measures (0 = automatic, 1 = none).")
    p.set_defaults(func=main)
