"""Safe readers for DeepFaceLab's pickled formats: the APP15 dict of legacy aligned JPGs and legacy faceset.pak.

DFL stores metadata with `pickle`, which can run arbitrary code when loaded. Everything here goes through
`RestrictedUnpickler`, whose `find_class` admits only plain containers and what NumPy arrays and scalars need;
any other global (``os.system``, ``builtins.eval``, ...) is refused with `UnsafePickleError` before it exists.
"""
from __future__ import annotations

import io
import pickle
import struct
from typing import Any, BinaryIO

import cv2
import numpy as np

from core.errors import UserError

# DFL's FaceType IntEnum values (facelib/FaceType.py) -> DFL names.
DFL_FACE_TYPE_NAMES = {
    0: "half_face", 1: "midfull_face", 2: "full_face", 3: "full_face_no_align", 4: "whole_face",
    10: "head", 20: "head_no_align", 100: "mark_only",
}


class UnsafePickleError(UserError):
    """A pickle asked for something outside the allow-list; nothing from it was executed."""


class LegacyFormatError(UserError):
    """Bytes that do not have the structure of a DFL file."""


def _numpy_attr(module: str, name: str):
    import importlib
    return getattr(importlib.import_module(module), name)


def _safe_dtype(*args) -> np.dtype:
    """`numpy.dtype` that refuses object dtypes (raw bytes must never become Python object pointers)."""
    dt = np.dtype(*args)
    if dt.hasobject:
        raise UnsafePickleError(f"refused numpy object dtype {dt!r} in pickle")
    return dt


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """Protocol-2 pickles spell bytes as `_codecs.encode(str, 'latin1')`; allow only that codec."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"refused _codecs.encode with codec {encoding!r}")
    return text.encode("latin1")


def _enum_value(value):
    """Stand-in for DFL's IntEnum classes (FaceType, SampleType): keep the plain integer."""
    if not isinstance(value, int):
        raise UnsafePickleError(f"enum value {value!r} is not an integer")
    return int(value)


def _build_allow_list() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("builtins", name): getattr(__import__("builtins"), name)
        for name in ("dict", "list", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int", "float",
                     "complex", "bool", "slice", "range")
    }
    allowed[("__builtin__", "set")] = set  # protocol 2 pickles written by Python 2
    allowed[("_codecs", "encode")] = _latin1_bytes
    allowed[("collections", "OrderedDict")] = __import__("collections").OrderedDict
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = _safe_dtype
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _numpy_attr("numpy._core.multiarray", "_reconstruct")
        allowed[(f"{core}.multiarray", "scalar")] = _numpy_attr("numpy._core.multiarray", "scalar")
        allowed[(f"{core}.numeric", "_frombuffer")] = _numpy_attr("numpy._core.numeric", "_frombuffer")
    for enum_path in (("facelib.FaceType", "FaceType"), ("samplelib.Sample", "SampleType"),
                      ("facelib", "FaceType"), ("samplelib", "SampleType")):
        allowed[enum_path] = _enum_value
    return allowed


ALLOWED_GLOBALS = _build_allow_list()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose `find_class` returns only allow-listed callables."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refused to load '{module}.{name}': only plain data and numpy arrays "
                                    f"are allowed in DFL metadata") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refused persistent id in pickle")


def _dtype_is_plain(dt: np.dtype) -> bool:
    """No object items anywhere in `dt`, including flags a pickle's dtype state could have set by hand."""
    if dt.hasobject or dt.flags & 0x07:  # NPY_ITEM_REFCOUNT/HASOBJECT, NPY_LIST_PICKLE, NPY_ITEM_IS_POINTER
        return False
    if dt.subdtype is not None and not _dtype_is_plain(dt.subdtype[0]):
        return False
    return all(_dtype_is_plain(field[0]) for field in (dt.fields or {}).values())


def _check_plain(obj: Any, depth: int = 0) -> None:
    """Refuse loaded data holding arrays or dtypes whose item flags were tampered with (see `_dtype_is_plain`)."""
    if depth > 100:
        raise LegacyFormatError("pickle data nested too deeply")
    if isinstance(obj, (np.ndarray, np.generic, np.dtype)):
        dt = obj if isinstance(obj, np.dtype) else obj.dtype
        if not _dtype_is_plain(dt):
            raise UnsafePickleError(f"refused numpy data with object-like dtype flags ({dt!r})")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _check_plain(key, depth + 1)
            _check_plain(value, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            _check_plain(item, depth + 1)


def restricted_loads(data: bytes) -> Any:
    """`pickle.loads` through the allow-list. Raises UnsafePickleError or LegacyFormatError, never runs code."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data)).load()
    except UserError:
        raise
    except Exception as err:  # malformed pickle streams raise a zoo of exception types
        raise LegacyFormatError(f"unreadable pickle data ({type(err).__name__}: {err})") from None
    _check_plain(obj)
    return obj


# ----------------------------------------------------------------------------------------------- JPEG APP15 ---

def parse_app15(payload: bytes) -> dict | None:
    """The DFL metadata dict pickled in an APP15 segment payload; None for an empty dict."""
    obj = restricted_loads(payload)
    if not isinstance(obj, dict):
        raise LegacyFormatError("DFL metadata is not a dict")
    return obj or None


def is_dfl_app15(payload: bytes) -> bool:
    """True for an APP15 payload that looks like a pickle (DFL's), as opposed to another program's APP15."""
    return payload[:1] == b"\x80"


# ------------------------------------------------------------------------------------ DFL dict -> our fields ---

def _points(value) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float32)
    return arr.reshape(-1, 2) if arr.size else None


def _polys(value) -> list | None:
    """DFL `seg_ie_polys` (dict {'polys': [{'type', 'pts'}]} or the older list of (type, pts)) -> our list."""
    if not value:
        return None
    items = value.get("polys", []) if isinstance(value, dict) else value
    polys = []
    for item in items:
        if isinstance(item, dict):
            kind, pts = item.get("type", 1), item.get("pts", [])
        else:
            kind, pts = item
        pts = np.asarray(pts, dtype=np.float32).reshape(-1, 2)
        if len(pts):
            polys.append({"type": int(kind), "pts": pts})
    return polys or None


def _xseg_mask(value) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim == 1 and arr.dtype == np.uint8:  # DFL stores the encoded PNG/JPEG bytes
        img = cv2.imdecode(arr, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise LegacyFormatError("undecodable xseg_mask")
        arr = img
    arr = arr.astype(np.float32)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr / 255.0 if arr.max(initial=0) > 1.0 else arr


def dfl_dict_to_fields(d: dict) -> dict:
    """Map a legacy DFL metadata dict to `FaceMeta` keyword arguments (unknown legacy keys are dropped)."""
    face_type = d.get("face_type", "full_face")
    if isinstance(face_type, int):
        face_type = DFL_FACE_TYPE_NAMES.get(face_type, "full_face")
    rect = d.get("source_rect")
    mat = d.get("image_to_face_mat")
    return {
        "face_type": str(face_type),
        "landmarks": _points(d.get("landmarks")),
        "source_filename": None if d.get("source_filename") is None else str(d["source_filename"]),
        "source_rect": None if rect is None else [int(v) for v in np.asarray(rect).reshape(-1)[:4]],
        "source_landmarks": _points(d.get("source_landmarks")),
        "image_to_face_mat": None if mat is None else np.asarray(mat, dtype=np.float64).reshape(2, 3),
        "eyebrows_expand_mod": float(d.get("eyebrows_expand_mod") or 1.0),
        "xseg_polys": _polys(d.get("seg_ie_polys")),
        "xseg_mask": _xseg_mask(d.get("xseg_mask") if d.get("xseg_mask") is not None
                                else d.get("xseg_mask_compressed")),
    }


# ---------------------------------------------------------------------------------------- legacy faceset.pak ---

def is_legacy_pak(head: bytes) -> bool:
    """True when the first 8 bytes look like a DFL faceset.pak (u64 version 1)."""
    return head[:8] == struct.pack("<Q", 1)


def read_legacy_pak_index(f: BinaryIO, file_size: int) -> list[tuple[str, str | None, int, int]]:
    """Entries (filename, person_name, start, end) of a DFL `faceset.pak` (version 1), its table read safely."""
    try:
        version, table_size = struct.unpack("<QQ", f.read(16))
        if version != 1 or 16 + table_size > file_size:
            raise LegacyFormatError(f"not a DFL faceset.pak version 1 (version {version})")
        configs = restricted_loads(f.read(table_size))
        if not isinstance(configs, list):
            raise LegacyFormatError("DFL faceset.pak sample table is not a list")
        n = len(configs)
        offsets = struct.unpack(f"<{n + 1}Q", f.read(8 * (n + 1)))
    except struct.error:
        raise LegacyFormatError("truncated DFL faceset.pak") from None
    data_start = 16 + table_size + 8 * (n + 1)
    entries = []
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, dict) or not isinstance(cfg.get("filename"), str):
            raise LegacyFormatError(f"DFL faceset.pak entry {i} has no filename")
        start = data_start + offsets[i]
        # DFL writes the final offset as an absolute position; reading to EOF covers both spellings.
        end = data_start + offsets[i + 1] if i + 1 < n else file_size
        if not data_start <= start <= min(end, file_size):
            raise LegacyFormatError(f"DFL faceset.pak entry {i} points outside the file")
        person = cfg.get("person_name")
        entries.append((cfg["filename"], person if isinstance(person, str) else None, start, min(end, file_size)))
    return entries
