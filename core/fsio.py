"""Atomic file writes, image listing with natural sort, and safe path joins."""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

from core.errors import UserError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
_UMASK = os.umask(0o022)
os.umask(_UMASK)
NEW_FILE_MODE = 0o666 & ~_UMASK  # what open() would give; mkstemp's own 0600 hid faces and models from other users


def natural_key(path: str | os.PathLike) -> list:
    """Sort key that orders `frame2` before `frame10`."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", Path(path).name)]


def input_folder(folder: str | os.PathLike) -> Path:
    """`folder` made absolute (home expanded), or a UserError when it is not an existing folder."""
    path = Path(folder).expanduser().absolute()
    if not path.is_dir():
        raise UserError(f"{path}: input folder not found")
    return path


def list_images(folder: str | os.PathLike, exts: tuple[str, ...] = IMAGE_EXTS) -> list[Path]:
    """Image files directly inside `folder`, naturally sorted; a missing folder gives []."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts), key=natural_key)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames) to disk; silently skipped where the OS can't."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def naming(err: OSError, path: str | os.PathLike) -> OSError:
    """`err`, naming `path` when it names no file (a write that fails on a full disk names none)."""
    return err if err.filename or not err.errno else OSError(err.errno, err.strerror, str(path))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temp file beside `path`; on success fsync it and rename it over `path`.

    On any exception the temp file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with contextlib.suppress(OSError):
            os.chmod(tmp, NEW_FILE_MODE)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise naming(err, path) from err
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def safe_join(base: str | os.PathLike, name: str) -> Path:
    """Join `name` under `base`, refusing absolute names and `..` escapes."""
    base = Path(base).resolve()
    target = (base / name).resolve()
    if Path(name).is_absolute() or (target != base and base not in target.parents):
        raise ValueError(f"unsafe file name {name!r}: it would escape {base}")
    return target


class _NonFinite(ValueError):
    """A JSON number spelled NaN, Infinity or too large for a float."""


def _not_finite(word: str):
    raise _NonFinite(word)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def read_json_object(path: str | os.PathLike, what: str) -> dict:
    """Read a JSON object from `path` (a UTF-8 byte-order mark, as Windows Notepad writes, is fine); a missing,
    unreadable or non-object file is a `UserError` naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"), parse_constant=_not_finite, parse_float=_finite_float)
    except _NonFinite as err:
        raise UserError(f"{path}: the {what} holds {err}, not a finite number") from None
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found") from None
    except (OSError, ValueError, RecursionError) as err:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise UserError(f"{path}: damaged or not a JSON {what} ({' '.join(str(err).split())[:160]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: the {what} must hold a JSON object")
    return data
