"""`faceset.pak`: a whole faceset in one file, in our own safe format (no pickle).

Layout: ``SAEHDBW-PAK\\0`` (12 bytes) + u32 format version + u64 index length (little-endian) + UTF-8 JSON index
``{"version": 1, "entries": [{"name", "person", "offset", "size", "crc32"}]}`` + the files' raw bytes, unchanged
(metadata included). Offsets are relative to the first byte after the index. A legacy DeepFaceLab pak (pickled
table) is also readable, through `facelib.legacy`'s allow-list unpickler.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import atomic_open, fsync_dir, list_images, safe_join
from facelib import legacy
from facelib.meta import FaceFileError, FaceMeta, decode_face, load_face, meta_from_bytes

PAK_NAME = "faceset.pak"
MAGIC = b"SAEHDBW-PAK\0"
FORMAT_VERSION = 1
FACE_EXTS = (".jpg", ".jpeg", ".png")
_HEADER = struct.Struct("<12sIQ")


class PakError(UserError):
    """A faceset.pak that is corrupt, unsafe or unsupported; the message names the file."""


@dataclass(frozen=True)
class PakEntry:
    name: str  # file name (no folders)
    person: str | None  # person sub-folder of a "person faceset", else None
    start: int  # absolute byte range in the pak
    end: int
    crc32: int | None = None

    @property
    def relpath(self) -> str:
        return f"{self.person}/{self.name}" if self.person else self.name


def pak_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / PAK_NAME


def has_pak(folder: str | os.PathLike) -> bool:
    return pak_path(folder).is_file()


def _check_name(pak: Path, name: str, person: str | None) -> None:
    """Refuse entry names that are not plain file names, that would land outside the folder, that start with a
    dot (hidden files, and the temporary files of atomic writes) or that are the pak's own name, in any case
    (unpacking `faceset.pak` would overwrite the pack while it is being read)."""
    for part in (name, person):
        if part is None:
            continue
        if not isinstance(part, str) or not part or "/" in part or "\\" in part or part in (".", "..") or "\0" in part:
            raise PakError(f"{pak}: unsafe entry name {part!r}; refusing to use this pack")
        if part.startswith("."):
            raise PakError(f"{pak}: unsafe entry name {part!r} (a hidden file name); refusing to use this pack")
        if part.lower() in (PAK_NAME, pak.name.lower()):
            raise PakError(f"{pak}: unsafe entry name {part!r} (the pack's own name); refusing to use this pack")
    try:
        safe_join(pak.parent, f"{person}/{name}" if person else name)
    except ValueError as err:
        raise PakError(f"{pak}: {err}") from None


class PackedFaceset:
    """Read-only view of a faceset.pak (ours or DFL's). Cheap to pickle: workers reopen the file by path."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                head = f.read(_HEADER.size)
                if head.startswith(MAGIC):
                    self.entries = self._read_index(f, head, size)
                    self.legacy = False
                elif legacy.is_legacy_pak(head):
                    f.seek(0)
                    self.entries = [PakEntry(n, p, a, b) for n, p, a, b in legacy.read_legacy_pak_index(f, size)]
                    self.legacy = True
                else:
                    raise PakError(f"{self.path}: not a faceset.pak")
        except FileNotFoundError:
            raise PakError(f"{self.path}: file not found") from None
        except legacy.LegacyFormatError as err:
            raise PakError(f"{self.path}: {err}") from None
        except legacy.UnsafePickleError as err:
            raise PakError(f"{self.path}: {err}") from None
        for e in self.entries:
            _check_name(self.path, e.name, e.person)
        self._by_name = {e.relpath: e for e in self.entries}
        if len(self._by_name) != len(self.entries):
            raise PakError(f"{self.path}: duplicate entry names")

    def _read_index(self, f, head: bytes, size: int) -> list[PakEntry]:
        if len(head) < _HEADER.size:
            raise PakError(f"{self.path}: truncated header")
        _, version, index_len = _HEADER.unpack(head)
        if version > FORMAT_VERSION:
            raise PakError(f"{self.path}: pak format {version} is newer than this toolkit ({FORMAT_VERSION})")
        if _HEADER.size + index_len > size:
            raise PakError(f"{self.path}: truncated index")
        try:
            index = json.loads(f.read(index_len).decode("utf-8"))
            data_start = _HEADER.size + index_len
            entries = [PakEntry(e["name"], e.get("person"), data_start + int(e["offset"]),
                                data_start + int(e["offset"]) + int(e["size"]), e.get("crc32"))
                       for e in index["entries"]]
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as err:
            raise PakError(f"{self.path}: corrupt index ({' '.join(str(err).split())[:120]})") from None
        for e in entries:
            if not data_start <= e.start <= e.end <= size:
                raise PakError(f"{self.path}: entry {e.relpath!r} lies outside the file (truncated pack?)")
        return entries

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        """Entry names in pack order (`person/name` for person facesets)."""
        return [e.relpath for e in self.entries]

    def read_bytes(self, name: str) -> bytes:
        try:
            e = self._by_name[name]
        except KeyError:
            raise PakError(f"{self.path}: no entry named {name!r}") from None
        with open(self.path, "rb") as f:
            return self._read_entry(f, e)

    def _read_entry(self, f, e: PakEntry) -> bytes:
        f.seek(e.start)
        data = f.read(e.end - e.start)
        if len(data) != e.end - e.start or (e.crc32 is not None and zlib.crc32(data) != e.crc32):
            raise PakError(f"{self.path}: entry {e.relpath!r} is corrupt")
        return data

    def iter_entries(self) -> Iterator[tuple[PakEntry, bytes]]:
        """(entry, its bytes) in pack order, all read through one open file (checked against its CRC)."""
        with open(self.path, "rb") as f:
            for e in self.entries:
                yield e, self._read_entry(f, e)

    def read_meta(self, name: str) -> FaceMeta | None:
        return meta_from_bytes(self.read_bytes(name), f"{self.path}:{name}")

    def load_face(self, name: str) -> tuple[np.ndarray, FaceMeta | None]:
        return decode_face(self.read_bytes(name), f"{self.path}:{name}")


def _visible_faces(folder: Path) -> list[Path]:
    """Face files of `folder`, leaving out hidden ones (macOS `._name.jpg` companions, temporary files)."""
    return [p for p in list_images(folder, FACE_EXTS) if not p.name.startswith(".")]


def _collect(folder: Path, persons: bool) -> list[tuple[str | None, Path]]:
    files: list[tuple[str | None, Path]] = [(None, p) for p in _visible_faces(folder)]
    if persons:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files += [(sub.name, p) for p in _visible_faces(sub)]
    return files


def _has_face_meta(data: bytes, path: Path) -> bool:
    try:
        return meta_from_bytes(data, path) is not None
    except FaceFileError:
        return False


def pack_faceset(folder: str | os.PathLike, *, persons: bool | None = None, delete_originals: bool = False) -> Path:
    """Pack the faces of `folder` (and of its sub-folders as persons) into `folder/faceset.pak`; returns the pak.

    `persons=None` asks (default yes) when sub-folders exist. The pack is written atomically and verified
    byte-for-byte before any original is deleted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found")
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and _visible_faces(p)]
    if persons is None:
        persons = bool(subdirs) and interact.input_bool(
            f"{len(subdirs)} sub-folders found, pack them as a person faceset?", True,
            help_message="Each sub-folder name is stored as the person of its faces.")
    files = _collect(folder, persons)
    if not files:
        raise UserError(f"{folder}: no faces to pack")
    out = pak_path(folder)
    entries, offset = [], 0
    for person, p in files:
        size = p.stat().st_size
        entries.append({"name": p.name, "person": person, "offset": offset, "size": size})
        offset += size
    def index_bytes() -> bytes:
        return json.dumps({"version": FORMAT_VERSION, "entries": entries}, separators=(",", ":")).encode("utf-8")

    with atomic_open(out, "wb") as f:
        for e in entries:
            e["crc32"] = 0xFFFFFFFF  # placeholder of the widest spelling; the real index is never longer
        index_len = len(index_bytes())
        f.write(_HEADER.pack(MAGIC, FORMAT_VERSION, index_len) + b" " * index_len)
        faces = 0
        for (person, p), e in zip(tqdm(files, desc="Packing", ascii=True), entries):
            data = p.read_bytes()
            if len(data) != e["size"]:
                raise PakError(f"{p}: changed while packing")
            faces += _has_face_meta(data, p)
            e["crc32"] = zlib.crc32(data)
            f.write(data)
        f.seek(_HEADER.size)
        f.write(index_bytes().ljust(index_len))  # JSON tolerates the trailing spaces
    pak = PackedFaceset(out)
    for person, p in files:
        if pak.read_bytes(f"{person}/{p.name}" if person else p.name) != p.read_bytes():
            raise PakError(f"{out}: verification failed for {p.name}; originals kept")
    other = len(files) - faces
    others = f" and {other} other image{'s' if other > 1 else ''} (kept as they are)" if other else ""
    interact.log_info(f"Packed {faces} faces{others} into {out}")
    if delete_originals:
        for person, p in files:
            p.unlink()
        for sub in {p.parent for person, p in files if person}:
            if not any(sub.iterdir()):
                sub.rmdir()
    return out


def unpack_faceset(folder: str | os.PathLike, *, delete_pak: bool = True) -> int:
    """Write every entry of `folder/faceset.pak` back as a file; returns the count.

    Unsafe names are refused before anything is written (see `_check_name`). The entries are read through one
    open file into a hidden temporary folder beside them, then moved into place (files of the same name are
    replaced); any error on the way leaves the pak and the folder as they were.
    """
    folder = Path(folder)
    pak = PackedFaceset(pak_path(folder))
    targets = [safe_join(folder, e.relpath) for e in pak.entries]  # validate every target before writing anything
    in_the_way = next((t for t in targets if t.is_dir() or t == pak.path.resolve()), None)
    if in_the_way is not None:
        raise PakError(f"{pak.path}: cannot unpack {in_the_way.name!r}: a folder of that name is in the way")
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder))
    try:
        for e, data in tqdm(pak.iter_entries(), total=len(pak), desc="Unpacking", ascii=True):
            staged = staging / "new" / e.relpath
            staged.parent.mkdir(parents=True, exist_ok=True)
            with open(staged, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        _move_into_place(staging, [e.relpath for e in pak.entries], folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(folder)
    interact.log_info(f"Unpacked {len(pak)} faces into {folder}")
    if delete_pak:
        pak.path.unlink()
    return len(pak)


def _move_into_place(staging: Path, relpaths: list[str], folder: Path) -> None:
    """Move `staging/new/<rel>` to `folder/<rel>`, keeping replaced files in `staging/old` until all are moved;
    on an error everything moved is put back."""
    done: list[tuple[str, bool, bool]] = []  # (relpath, a file was replaced, its person folder was made)
    try:
        for rel in relpaths:
            target = folder / rel
            made_dir = not target.parent.exists()
            target.parent.mkdir(parents=True, exist_ok=True)
            replaced = target.exists()
            if replaced:
                (staging / "old" / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, staging / "old" / rel)
            done.append((rel, replaced, made_dir))
            os.replace(staging / "new" / rel, target)
    except BaseException:
        for rel, replaced, made_dir in reversed(done):
            target = folder / rel
            with contextlib.suppress(OSError):
                if target.exists() and not (staging / "new" / rel).exists():
                    os.replace(target, staging / "new" / rel)
                if replaced:
                    os.replace(staging / "old" / rel, target)
                if made_dir:
                    target.parent.rmdir()
        raise


def iter_faces(folder: str | os.PathLike, *,
               with_meta_only: bool = True) -> Iterator[tuple[str, np.ndarray, FaceMeta | None]]:
    """Yield (name, image, meta) from `folder/faceset.pak` if present, else from the images in `folder`.

    Unreadable faces are warned about and skipped; images without face metadata are skipped unless
    `with_meta_only=False`.
    """
    folder = Path(folder)
    if has_pak(folder):
        pak = PackedFaceset(pak_path(folder))
        sources = [(name, lambda n=name: pak.load_face(n)) for name in pak.names()]
    else:
        sources = [(p.name, lambda p=p: load_face(p)) for p in list_images(folder, FACE_EXTS)]
    for name, load in sources:
        try:
            image, meta = load()
        except (FaceFileError, PakError) as err:
            interact.log_warn(f"Skipping {err}")
            continue
        if meta is None and with_meta_only:
            continue
        yield name, image, meta
