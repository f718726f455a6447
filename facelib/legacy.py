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


MAX_BUILT_BYTES = 64 << 20  # what a pickle may make its allow-listed callables build (arrays, bytes, containers)


def _numpy_attr(module: str, name: str):
    import importlib
    return getattr(importlib.import_module(module), name)


def _safe_dtype(*args) -> np.dtype:
    """`numpy.dtype` that refuses object dtypes (raw bytes must never become Python object pointers)."""
    dt = np.dtype(*args)
    if dt.hasobject:
        raise UnsafePickleError(f"refused numpy object dtype {dt!r} in pickle")
    return dt


def _enum_value(value):
    """Stand-in for DFL's IntEnum classes (FaceType, SampleType): keep the plain integer."""
    if not isinstance(value, int):
        raise UnsafePickleError(f"enum value {value!r} is not an integer")
    return int(value)


def _plain_text(value=""):
    """`str` of text or a number only: the text of a container could be gigabytes (shared sub-lists)."""
    if not isinstance(value, (str, int, float, complex, bool)):
        raise UnsafePickleError(f"refused str() of a {type(value).__name__} in pickle")
    return str(value)


class _ArrayType:
    """Stands for `numpy.ndarray` in a pickle: numpy's `_reconstruct` may name it; calling it is refused (a bare
    `ndarray(shape)` would allocate whatever shape the file asks for)."""

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError("refused numpy.ndarray(...) in pickle: arrays are built only from their bytes")


ARRAY_TYPE = _ArrayType()
_RECONSTRUCT = _numpy_attr("numpy._core.multiarray", "_reconstruct")


class _Budget:
    """What one load has built so far; more than `limit` bytes is refused (an 86-byte pickle can otherwise ask
    for `bytearray(200_000_000)`)."""

    def __init__(self, limit: int):
        self.limit, self.spent = limit, 0

    def spend(self, nbytes: int, what: str) -> None:
        self.spent += max(0, int(nbytes))
        if self.spent > self.limit:
            raise UnsafePickleError(f"refused: the pickle builds more than {self.limit >> 20} MB ({what}); DFL "
                                    f"metadata is far smaller")

    def container(self, kind):
        def build(*args):
            if not args:
                return kind()
            if len(args) == 1 and isinstance(args[0], (list, tuple, set, frozenset, dict, str, bytes)):
                self.spend(64 + 16 * len(args[0]), f"a {kind.__name__} of {len(args[0])} items")
                return kind(args[0])
            raise UnsafePickleError(f"refused {kind.__name__}() of a {type(args[0]).__name__} in pickle")
        return build

    def byte_string(self, kind):
        def build(value=b"", encoding: str | None = None):
            if isinstance(value, str) and encoding in ("latin1", "latin-1"):  # protocol 2 spells bytes this way
                value = value.encode("latin1")
            if not isinstance(value, (bytes, bytearray)):
                raise UnsafePickleError(f"refused {kind.__name__}({type(value).__name__}) in pickle: bytes are "
                                        f"built only from bytes")
            self.spend(len(value), f"{kind.__name__} of {len(value)} bytes")
            return kind(value)
        return build

    def latin1_bytes(self, text: str, encoding: str = "latin1") -> bytes:
        """Protocol-2 pickles spell bytes as `_codecs.encode(str, 'latin1')`; allow only that codec."""
        if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
            raise UnsafePickleError(f"refused _codecs.encode with codec {encoding!r}")
        self.spend(len(text), f"bytes of {len(text)}")
        return text.encode("latin1")

    def reconstruct(self, subtype, shape, dtype):
        """numpy's `_reconstruct(ndarray, shape, typecode)` with the size it allocates counted (numpy writes
        `(0,)`; the real shape comes with the array's bytes)."""
        if subtype is not ARRAY_TYPE and subtype is not np.ndarray:
            raise UnsafePickleError("refused numpy _reconstruct of a class other than ndarray")
        dt = _safe_dtype(dtype)
        dims = shape if isinstance(shape, tuple) else (shape,)
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in dims):
            raise UnsafePickleError(f"refused numpy array shape {shape!r} in pickle")
        nbytes = dt.itemsize
        for n in dims:
            nbytes *= n
        self.spend(nbytes, f"an array of shape {dims}")
        return _RECONSTRUCT(np.ndarray, dims, dt)


def _allowed_global(module: str, name: str, budget: _Budget):
    """The stand-in an allow-listed global gets while `budget` is spent; None for anything else."""
    if (module, name) in _PLAIN:
        return _PLAIN[(module, name)]
    if module in ("builtins", "__builtin__"):
        if name in ("dict", "list", "tuple", "set", "frozenset"):
            return budget.container(getattr(__import__("builtins"), name))
        if name in ("bytes", "bytearray"):
            return budget.byte_string(getattr(__import__("builtins"), name))
    if (module, name) == ("collections", "OrderedDict"):
        return budget.container(__import__("collections").OrderedDict)
    if (module, name) == ("_codecs", "encode"):
        return budget.latin1_bytes
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
        return budget.reconstruct
    return None


def _build_plain() -> dict[tuple[str, str], Any]:
    """Allow-listed globals that build nothing bigger than the pickle's own bytes."""
    builtins = __import__("builtins")
    plain: dict[tuple[str, str], Any] = {("builtins", name): getattr(builtins, name)
                                         for name in ("int", "float", "complex", "bool", "slice")}
    plain[("builtins", "str")] = _plain_text
    plain[("numpy", "ndarray")] = ARRAY_TYPE
    plain[("numpy", "dtype")] = _safe_dtype
    for core in ("numpy.core", "numpy._core"):
        plain[(f"{core}.multiarray", "scalar")] = _numpy_attr("numpy._core.multiarray", "scalar")
        plain[(f"{core}.numeric", "_frombuffer")] = _numpy_attr("numpy._core.numeric", "_frombuffer")
    for enum_path in (("facelib.FaceType", "FaceType"), ("samplelib.Sample", "SampleType"),
                      ("facelib", "FaceType"), ("samplelib", "SampleType")):
        plain[enum_path] = _enum_value
    return plain


_PLAIN = _build_plain()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose `find_class` returns only allow-listed callables, and those that allocate count what they
    build against `limit` bytes. No `range` (``list(range(3e7))``), bytes only from bytes (not from a size)."""

    def __init__(self, file, limit: int = MAX_BUILT_BYTES):
        super().__init__(file)
        self.budget = _Budget(limit)

    def find_class(self, module: str, name: str):
        found = _allowed_global(module, name, self.budget)
        if found is None:
            raise UnsafePickleError(f"refused to load '{module}.{name}': only plain data and numpy arrays "
                                    f"are allowed in DFL metadata")
        return found

    def persistent_load(self, pid):
        raise UnsafePickleError("refused persistent id in pickle")


def _dtype_is_plain(dt: np.dtype) -> bool:
    """No object items anywhere in `dt`, including flags a pickle's dtype state could have set by hand."""
    if dt.hasobject or dt.flags & 0x07:  # NPY_ITEM_REFCOUNT/HASOBJECT, NPY_LIST_PICKLE, NPY_ITEM_IS_POINTER
        return False
    if dt.subdtype is not None and not _dtype_is_plain(dt.subdtype[0]):
        return False
    return all(_dtype_is_plain(field[0]) for field in (dt.fields or {}).values())


def _check_plain(obj: Any) -> None:
    """Refuse loaded data holding arrays or dtypes whose item flags were tampered with (see `_dtype_is_plain`).
    Each object is looked at once (a pickle can share one sub-list a million times), at most 100 levels deep."""
    seen: set[int] = set()
    stack = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 100:
            raise LegacyFormatError("pickle data nested too deeply")
        if isinstance(item, (np.ndarray, np.generic, np.dtype)):
            dt = item if isinstance(item, np.dtype) else item.dtype
            if not _dtype_is_plain(dt):
                raise UnsafePickleError(f"refused numpy data with object-like dtype flags ({dt!r})")
        elif isinstance(item, (dict, list, tuple, set, frozenset)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = (x for kv in item.items() for x in kv) if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def restricted_loads(data: bytes, limit: int = MAX_BUILT_BYTES) -> Any:
    """`pickle.loads` through the allow-list, building at most `limit` bytes beyond the pickle's own. Raises
    UnsafePickleError or LegacyFormatError, never runs code."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), limit).load()
    except UserError:
        raise
    except Exception as err:  # malformed pickle streams raise a zoo of exception types
        raise LegacyFormatError(f"unreadable pickle data ({type(err).__name__}: {str(err)[:120]})") from None
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

def _polys(value) -> list | None:
    """DFL `seg_ie_polys` (dict {'polys': [{'type', 'pts'}]} or the older list of (type, pts)) -> our list of
    {'type', 'pts'} (the values themselves are checked by `FaceMeta.from_dict`)."""
    if value is None or (isinstance(value, (list, tuple, dict)) and not value):
        return None
    items = value.get("polys") if isinstance(value, dict) else value
    if not isinstance(items, (list, tuple)):
        raise LegacyFormatError(f"bad face metadata: seg_ie_polys: {type(value).__name__} {repr(value)[:40]}, "
                                f"expected a list of polygons")
    polys = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            polys.append({"type": item.get("type", 1), "pts": item.get("pts", [])})
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            polys.append({"type": item[0], "pts": item[1]})
        else:
            raise LegacyFormatError(f"bad face metadata: seg_ie_polys[{i}]: {repr(item)[:40]}, expected "
                                    f"(type, points)")
    return polys


def dfl_dict_to_fields(d: dict) -> dict:
    """Map a legacy DFL metadata dict to the stored-value names of `FaceMeta.from_dict`, which checks every value
    (unknown legacy keys are dropped)."""
    face_type = d.get("face_type", "full_face")
    if isinstance(face_type, (int, np.integer)) and not isinstance(face_type, bool):
        face_type = DFL_FACE_TYPE_NAMES.get(int(face_type), "full_face")
    mask = d.get("xseg_mask") if d.get("xseg_mask") is not None else d.get("xseg_mask_compressed")
    mod = d.get("eyebrows_expand_mod")
    return {
        "face_type": face_type,
        "landmarks": d.get("landmarks"),
        "source_filename": d.get("source_filename"),
        "source_rect": d.get("source_rect"),
        "source_landmarks": d.get("source_landmarks"),
        "image_to_face_mat": d.get("image_to_face_mat"),
        "eyebrows_expand_mod": 1.0 if mod is None or (isinstance(mod, (int, float)) and mod == 0) else mod,
        "xseg_polys": _polys(d.get("seg_ie_polys")),
        "xseg_mask": bytes(mask) if isinstance(mask, bytearray) else mask,
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
