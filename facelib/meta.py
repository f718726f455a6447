"""`FaceMeta`, the metadata every aligned face carries, and its home inside the image file.

The metadata is JSON (numpy arrays as lists, the XSeg mask as a base64 PNG) embedded so the picture still opens
in any viewer and survives copying:
  * JPEG: one or more APP11 segments, each payload = ``SAEHDBW-META\\0`` + index (u16) + count (u16) + JSON part;
  * PNG: one iTXt chunk with keyword ``SAEHDBW-META`` (zlib-compressed text).
Legacy DeepFaceLab JPGs (a pickled dict in APP15) are read through the allow-list unpickler of `facelib.legacy`;
writing new metadata replaces such a segment with ours.
"""
from __future__ import annotations

import base64
import copy
import json
import struct
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from core.errors import UserError
from core.fsio import atomic_write_bytes
from core.imagelib.io import MAX_FACE_PIXELS, ImageReadError, check_declared_size, decode_image
from facelib import legacy
from facelib.face_type import FaceType

META_VERSION = 1
META_KEY = b"SAEHDBW-META"
JPEG_PREFIX = META_KEY + b"\0"
APP11, APP15, SOS = 0xEB, 0xEF, 0xDA
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SEGMENT_PAYLOAD = 65533  # a JPEG segment length is 16-bit and counts its own 2 bytes
_JPEG_PART = MAX_SEGMENT_PAYLOAD - len(JPEG_PREFIX) - 4
MAX_META_BYTES = 16 << 20  # a face's metadata (JSON, inflated): far above any real face's, refused beyond
MAX_COORD = 1e6            # |coordinate| of any point, rect or matrix entry; larger is nonsense, not a face
MAX_POLY_POINTS = 1 << 20  # all XSeg polygon points of a face together


class FaceFileError(UserError):
    """An aligned-face file that cannot be read or written; the message names the file."""


class _Corrupt(Exception):
    """Internal: a structural problem, re-raised as FaceFileError with the file name."""


class BadMetaField(ValueError):
    """A metadata value of the wrong type, shape or size: `<field>: <what is wrong>`."""


# --------------------------------------------------------------------------------------------------- FaceMeta ---

@dataclass
class FaceMeta:
    """Everything known about one aligned face. Coordinates are pixels (aligned image or source frame).

    `xseg_polys` is a list of ``{"type": 1 (include) | 0 (exclude), "pts": float32 (N, 2)}`` in aligned-image
    pixels; `xseg_mask` is an HxW float32 mask in 0..1 (stored 8-bit). Unknown keys from newer files go to `extra`.
    """

    face_type: str = "full_face"
    landmarks: np.ndarray | None = None
    source_filename: str | None = None
    source_rect: list[int] | None = None
    source_landmarks: np.ndarray | None = None
    image_to_face_mat: np.ndarray | None = None
    eyebrows_expand_mod: float = 1.0
    xseg_polys: list | None = None
    xseg_mask: np.ndarray | None = None
    version: int = META_VERSION
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.landmarks = _as_points(self.landmarks)
        self.source_landmarks = _as_points(self.source_landmarks)
        if self.image_to_face_mat is not None:
            self.image_to_face_mat = np.asarray(self.image_to_face_mat, dtype=np.float64).reshape(2, 3)
        if self.source_rect is not None:
            self.source_rect = [int(round(float(v))) for v in np.asarray(self.source_rect).reshape(-1)[:4]]
        if self.xseg_polys is not None:
            self.xseg_polys = [{"type": int(p["type"]), "pts": np.asarray(p["pts"], np.float32).reshape(-1, 2)}
                               for p in self.xseg_polys] or None
        if self.xseg_mask is not None:
            mask = np.asarray(self.xseg_mask, dtype=np.float32)
            self.xseg_mask = mask[..., 0] if mask.ndim == 3 else mask
        self.eyebrows_expand_mod = float(self.eyebrows_expand_mod)

    def copy(self) -> "FaceMeta":
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; None fields are left out."""
        out: dict[str, Any] = dict(self.extra)
        out.update({
            "version": int(self.version),
            "face_type": self.face_type,
            "eyebrows_expand_mod": self.eyebrows_expand_mod,
        })
        if self.landmarks is not None:
            out["landmarks"] = self.landmarks.tolist()
        if self.source_filename is not None:
            out["source_filename"] = self.source_filename
        if self.source_rect is not None:
            out["source_rect"] = list(self.source_rect)
        if self.source_landmarks is not None:
            out["source_landmarks"] = self.source_landmarks.tolist()
        if self.image_to_face_mat is not None:
            out["image_to_face_mat"] = self.image_to_face_mat.tolist()
        if self.xseg_polys:
            out["xseg_polys"] = [{"type": p["type"], "pts": p["pts"].tolist()} for p in self.xseg_polys]
        if self.xseg_mask is not None:
            out["xseg_mask"] = _mask_to_json(self.xseg_mask)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FaceMeta":
        """A FaceMeta from stored values (our JSON, or a legacy dict mapped by `legacy.dfl_dict_to_fields`); every
        value is checked first: a wrong type, shape, size or a non-finite number is a `BadMetaField`."""
        if not isinstance(d, dict):
            raise BadMetaField(f"{type(d).__name__} {_short(d)}, expected a dictionary of fields")
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: _CHECKS[k](v) for k, v in d.items() if k in known and v is not None}
        kwargs["extra"] = {str(k): v for k, v in d.items() if k not in known}
        return cls(**{k: v for k, v in kwargs.items() if v is not None})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "FaceMeta":
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("face metadata JSON is not an object")
        return cls.from_dict(d)


def _as_points(value) -> np.ndarray | None:
    if value is None:
        return None
    return np.asarray(value, dtype=np.float32).reshape(-1, 2)


def _mask_to_json(mask: np.ndarray) -> dict:
    ok, png = cv2.imencode(".png", np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if not ok:
        raise ValueError("could not encode xseg_mask")
    return {"png": base64.b64encode(png.tobytes()).decode("ascii")}


# ------------------------------------------------------------------------------------- checks of stored values ---

def _leaves(value, field: str, limit: int) -> int:
    """How many numbers a nested list/tuple holds (shared sublists counted each time), refusing anything but
    numbers and more than `limit` of them before numpy would expand it."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, np.ndarray):
            if item.dtype.kind not in "iuf":
                raise BadMetaField(f"{field}: holds {item.dtype} values, not numbers")
            count += item.size
        elif isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, (bool, np.bool_)):
            count += 1
        else:
            raise BadMetaField(f"{field}: holds {type(item).__name__} {_short(item)}, not numbers")
        if count > limit or len(stack) > limit:
            raise BadMetaField(f"{field}: more than {limit} values")
    return count


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _numbers(value, field: str, limit: int, max_abs: float = MAX_COORD) -> np.ndarray:
    """`value` (nested lists or an array of numbers) as a float64 array: finite, |v| <= `max_abs`, <= `limit`
    values; anything else is a `BadMetaField` naming `field`."""
    if isinstance(value, (str, bytes, dict, bool)) or value is None:
        raise BadMetaField(f"{field}: {type(value).__name__} {_short(value)}, expected numbers")
    _leaves(value, field, limit)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise BadMetaField(f"{field}: rows of different lengths") from None
    if not np.isfinite(arr).all():
        raise BadMetaField(f"{field}: holds NaN or infinite numbers")
    if arr.size and np.abs(arr).max() > max_abs:
        raise BadMetaField(f"{field}: holds {np.abs(arr).max():.3g}, beyond +-{max_abs:.0g}")
    return arr


def _points68(field: str):
    def check(value) -> np.ndarray:
        arr = _numbers(value, field, 68 * 2 * 8)
        if arr.shape != (68, 2):
            raise BadMetaField(f"{field}: {_count_points(arr)}, expected 68 points (68x2)")
        return arr.astype(np.float32)
    return check


def _count_points(arr: np.ndarray) -> str:
    if not arr.size:
        return "no points"
    return f"{arr.shape[0]} points" if arr.ndim == 2 and arr.shape[1:] == (2,) else f"shape {arr.shape}"


def _check_mat(value) -> np.ndarray:
    arr = _numbers(value, "image_to_face_mat", 64)
    if arr.shape != (2, 3):
        raise BadMetaField(f"image_to_face_mat: shape {arr.shape}, expected a 2x3 matrix")
    return arr


def _check_rect(value) -> list[int]:
    arr = _numbers(value, "source_rect", 64).reshape(-1)
    if arr.size != 4:
        raise BadMetaField(f"source_rect: {arr.size} numbers, expected 4 (left, top, right, bottom)")
    return [int(round(v)) for v in arr]


def _check_number(field: str, low: float, high: float):
    def check(value) -> float:
        arr = _numbers(value, field, 1, max_abs=np.inf)
        if arr.shape not in ((), (1,)):
            raise BadMetaField(f"{field}: {_short(value)}, expected one number")
        number = float(arr.reshape(-1)[0])
        if not low <= number <= high:
            raise BadMetaField(f"{field}: {number:g} is outside {low:g}..{high:g}")
        return number
    return check


def _check_version(value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or not 0 <= value <= 1 << 16:
        raise BadMetaField(f"version: {type(value).__name__} {_short(value)}, expected a whole number")
    return int(value)


def _check_text(field: str, max_len: int = 4096):
    def check(value) -> str:
        if not isinstance(value, str) or len(value) > max_len or "\0" in value:
            raise BadMetaField(f"{field}: {type(value).__name__} {_short(value)}, expected a short text")
        return value
    return check


def _check_face_type(value) -> str:
    if not isinstance(value, str):
        raise BadMetaField(f"face_type: {type(value).__name__} {_short(value)}, expected a face type name")
    try:
        FaceType.from_string(value)
    except ValueError as err:
        raise BadMetaField(f"face_type: {err}") from None
    return value


def _check_polys(value) -> list | None:
    """`[{"type": 0 | 1, "pts": N x 2}]` (aligned-image pixels); empty polygons are dropped."""
    if not isinstance(value, (list, tuple)):
        raise BadMetaField(f"xseg_polys: {type(value).__name__} {_short(value)}, expected a list of polygons")
    polys, total = [], 0
    for i, poly in enumerate(value):
        if not isinstance(poly, dict) or "pts" not in poly:
            raise BadMetaField(f"xseg_polys[{i}]: {_short(poly)}, expected {{'type': 0 or 1, 'pts': [[x, y], ...]}}")
        kind = poly.get("type", 1)
        if isinstance(kind, (bool, np.bool_)) or not isinstance(kind, (int, np.integer)) or kind not in (0, 1):
            raise BadMetaField(f"xseg_polys[{i}]: type {_short(kind)}, expected 0 (exclude) or 1 (include)")
        pts = _numbers(poly["pts"], f"xseg_polys[{i}] points", MAX_POLY_POINTS * 2 - total)
        if pts.size and (pts.ndim != 2 or pts.shape[1] != 2):
            raise BadMetaField(f"xseg_polys[{i}] points: shape {pts.shape}, expected N x 2")
        total += pts.size
        if len(pts):
            polys.append({"type": int(kind), "pts": pts.astype(np.float32)})
    return polys or None


def _check_mask(value) -> np.ndarray:
    """The XSeg mask as float32 H x W in 0..1: from our JSON (``{"png": base64}``), DFL's encoded bytes, or a raw
    array (uint8 0..255 or float 0..1)."""
    if isinstance(value, dict):
        text = value.get("png")
        if not isinstance(text, str):
            raise BadMetaField(f"xseg_mask: {_short(value)}, expected {{'png': base64 text}}")
        try:
            value = base64.b64decode(text, validate=True)
        except ValueError:
            raise BadMetaField("xseg_mask: not base64 text") from None
    if isinstance(value, (bytes, bytearray)) or (isinstance(value, np.ndarray) and value.ndim == 1
                                                 and value.dtype == np.uint8):
        try:
            img = decode_image(value, cv2.IMREAD_UNCHANGED, "xseg_mask", MAX_FACE_PIXELS)
        except ImageReadError as err:
            raise BadMetaField(str(err)) from None
        arr = img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0)
    else:
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
            raise BadMetaField(f"xseg_mask: {type(value).__name__} {_short(value)}, expected an image")
        if value.size > MAX_FACE_PIXELS * 4:
            raise BadMetaField(f"xseg_mask: shape {value.shape}, larger than any face")
        arr = value.astype(np.float32)
        if not np.isfinite(arr).all():
            raise BadMetaField("xseg_mask: holds NaN or infinite numbers")
        arr = arr / 255.0 if arr.max(initial=0) > 1.0 else arr
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.ndim != 2 or not arr.size:
        raise BadMetaField(f"xseg_mask: shape {arr.shape}, expected a 2-D mask")
    return np.clip(arr, 0.0, 1.0)


_CHECKS = {
    "face_type": _check_face_type,
    "landmarks": _points68("landmarks"),
    "source_filename": _check_text("source_filename"),
    "source_rect": _check_rect,
    "source_landmarks": _points68("source_landmarks"),
    "image_to_face_mat": _check_mat,
    "eyebrows_expand_mod": _check_number("eyebrows_expand_mod", 0.0, 100.0),
    "xseg_polys": _check_polys,
    "xseg_mask": _check_mask,
    "version": _check_version,
}


# ------------------------------------------------------------------------------------------------------ JPEG ---

def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """Yield (marker, segment_start, payload_start, payload_end) for header segments up to and including SOS."""
    if data[:2] != b"\xff\xd8":
        raise _Corrupt("not a JPEG (no start-of-image marker)")
    pos, n = 2, len(data)
    while True:
        while pos + 1 < n and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > n:
            raise _Corrupt("truncated JPEG header")
        if data[pos] != 0xFF:
            raise _Corrupt(f"corrupt JPEG header at byte {pos}")
        marker = data[pos + 1]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if marker == 0xD9:
            raise _Corrupt("JPEG ends before its image data")
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > n:
            raise _Corrupt("truncated JPEG segment")
        yield marker, pos, pos + 4, end
        if marker == SOS:
            return
        pos = end


def _jpeg_check_complete(data: bytes, sos_end: int) -> None:
    if data.find(b"\xff\xd9", sos_end) < 0:
        raise _Corrupt("truncated JPEG (no end-of-image marker)")


def _jpeg_read(data: bytes) -> FaceMeta | None:
    parts: dict[int, bytes] = {}
    count = 0
    legacy_payload = None
    sos_end = None
    for marker, _, start, end in _jpeg_segments(data):
        payload = data[start:end]
        if marker == APP11 and payload.startswith(JPEG_PREFIX):
            index, count = struct.unpack(">HH", payload[len(JPEG_PREFIX):len(JPEG_PREFIX) + 4])
            parts[index] = payload[len(JPEG_PREFIX) + 4:]
        elif marker == APP15 and legacy_payload is None and legacy.is_dfl_app15(payload):
            legacy_payload = payload
        elif marker == SOS:
            sos_end = end
    _jpeg_check_complete(data, sos_end)
    if parts:
        if sorted(parts) != list(range(count)):
            raise _Corrupt(f"face metadata split in {count} parts but parts {sorted(parts)[:5]} are present")
        _check_meta_size(sum(len(p) for p in parts.values()))
        return _parse_json(b"".join(parts[i] for i in range(count)))
    if legacy_payload is not None:
        d = legacy.parse_app15(legacy_payload)
        return _from_fields(legacy.dfl_dict_to_fields(d)) if d else None
    return None


def _jpeg_embed(data: bytes, meta: FaceMeta | None) -> bytes:
    """`data` with our segments (and any DFL pickle segment) removed and `meta`'s inserted after the last APPn."""
    keep: list[tuple[int, int]] = []  # byte ranges to keep
    pos, insert_at = 2, 2
    for marker, seg_start, start, end in _jpeg_segments(data):
        payload = data[start:end]
        ours = marker == APP11 and payload.startswith(JPEG_PREFIX)
        dfl = marker == APP15 and legacy.is_dfl_app15(payload)
        if ours or dfl:
            keep.append((pos, seg_start))
            pos = end
        elif 0xE0 <= marker <= 0xEF:
            insert_at = end
    keep.append((pos, len(data)))
    segments = b""
    if meta is not None:
        blob = meta.to_json().encode("utf-8")
        chunks = [blob[i:i + _JPEG_PART] for i in range(0, len(blob), _JPEG_PART)] or [b""]
        if len(chunks) > 0xFFFF:
            raise ValueError("face metadata too large")
        for i, chunk in enumerate(chunks):
            payload = JPEG_PREFIX + struct.pack(">HH", i, len(chunks)) + chunk
            segments += struct.pack(">BBH", 0xFF, APP11, len(payload) + 2) + payload
    out = bytearray(data[:2])
    for a, b in keep:
        if a <= insert_at <= b:
            out += data[a:insert_at] + segments + data[insert_at:b]
            segments = b""
        else:
            out += data[a:b]
    return bytes(out)


# ------------------------------------------------------------------------------------------------------- PNG ---

def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int, int]]:
    """Yield (type, chunk_start, data_start, chunk_end) up to and including IEND; checks structure and CRCs."""
    if not data.startswith(PNG_SIGNATURE):
        raise _Corrupt("not a PNG (bad signature)")
    pos, n = len(PNG_SIGNATURE), len(data)
    while True:
        if pos + 12 > n:
            raise _Corrupt("truncated PNG (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > n:
            raise _Corrupt(f"truncated PNG chunk {kind!r}")
        if zlib.crc32(data[pos + 4:end - 4]) != struct.unpack(">I", data[end - 4:end])[0]:
            raise _Corrupt(f"corrupt PNG chunk {kind!r} (CRC mismatch)")
        yield kind, pos, pos + 8, end
        if kind == b"IEND":
            return
        pos = end


def _png_itxt_payload(meta: FaceMeta) -> bytes:
    return META_KEY + b"\0" + b"\1\0" + b"\0" + b"\0" + zlib.compress(meta.to_json().encode("utf-8"), 6)


def _png_read(data: bytes) -> FaceMeta | None:
    found = None
    for kind, _, start, end in _png_chunks(data):
        if kind == b"iTXt" and data[start:end - 4].startswith(META_KEY + b"\0"):
            found = data[start:end - 4]
    if found is None:
        return None
    body = found[len(META_KEY) + 1:]
    if len(body) < 2 or body[0] not in (0, 1) or body[1] != 0:
        raise _Corrupt("corrupt face metadata chunk (no compression flag and method)")
    language_end = body.find(b"\0", 2)
    keyword_end = body.find(b"\0", language_end + 1) if language_end >= 0 else -1
    if keyword_end < 0:
        raise _Corrupt("corrupt face metadata chunk (its language and keyword separators are missing)")
    text = body[keyword_end + 1:]
    return _parse_json(_inflate(text) if body[0] == 1 else text)


def _check_meta_size(size: int) -> None:
    if size > MAX_META_BYTES:
        raise _Corrupt(f"face metadata of more than {MAX_META_BYTES >> 20} MB; refused (no real face has that "
                       "much)")


def _inflate(data: bytes) -> bytes:
    """zlib-decompressed `data`, refusing to inflate past `MAX_META_BYTES` (a small chunk can inflate to GBs)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_META_BYTES + 1)
    except zlib.error as err:
        raise _Corrupt(f"corrupt face metadata ({err})") from None
    _check_meta_size(len(out))
    if not inflater.eof:
        raise _Corrupt("corrupt face metadata (truncated compressed text)")
    return out


def _png_embed(data: bytes, meta: FaceMeta | None) -> bytes:
    out = bytearray(PNG_SIGNATURE)
    for kind, start, dstart, end in _png_chunks(data):
        if kind == b"iTXt" and data[dstart:end - 4].startswith(META_KEY + b"\0"):
            continue
        out += data[start:end]
        if kind == b"IHDR" and meta is not None:
            payload = _png_itxt_payload(meta)
            body = b"iTXt" + payload
            out += struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    return bytes(out)


# ----------------------------------------------------------------------------------------------- public API ---

def _parse_json(blob: bytes) -> FaceMeta:
    _check_meta_size(len(blob))
    if not blob.strip():
        raise _Corrupt("empty face metadata")
    try:
        d = json.loads(blob.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise _Corrupt(f"corrupt face metadata ({str(err)[:120]})") from None
    return _from_fields(d)


def _from_fields(d) -> FaceMeta:
    try:
        return FaceMeta.from_dict(d)
    except BadMetaField as err:
        raise _Corrupt(f"bad face metadata: {err}") from None


def _kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    return None


def _fail(name, err: Exception) -> FaceFileError:
    return FaceFileError(f"{name}: {err}")


def meta_from_bytes(data: bytes, name: str | Path = "<bytes>") -> FaceMeta | None:
    """Parse the metadata of an encoded image; None when it has none. Corrupt data, bad metadata, or a face image
    declaring more pixels than any face has (`MAX_FACE_PIXELS`, checked in its header) -> FaceFileError."""
    kind = _kind(data)
    try:
        if kind in ("jpg", "png"):
            meta = _jpeg_read(data) if kind == "jpg" else _png_read(data)
            if meta is not None:
                check_declared_size(data, name, MAX_FACE_PIXELS)
            return meta
    except ImageReadError as err:
        raise FaceFileError(str(err)) from None
    except (_Corrupt, UserError) as err:
        raise _fail(name, err) from None
    if Path(str(name)).suffix.lower() in (".jpg", ".jpeg", ".png"):
        raise _fail(name, "not a valid JPG or PNG image" if data else "empty file")
    return None


def decode_face(data: bytes, name: str | Path = "<bytes>") -> tuple[np.ndarray, FaceMeta | None]:
    """(image uint8 HxW or HxWx3 BGR, metadata or None) from encoded bytes."""
    meta = meta_from_bytes(data, name)
    try:
        image = decode_image(data, cv2.IMREAD_UNCHANGED, name, MAX_FACE_PIXELS)
    except ImageReadError as err:
        raise FaceFileError(str(err)) from None
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3:
        image = image[..., 0] if image.shape[2] in (1, 2) else image[..., :3]
    return np.ascontiguousarray(image), meta


def embed_meta(data: bytes, meta: FaceMeta | None, name: str | Path = "<bytes>") -> bytes:
    """Encoded image bytes with their metadata replaced by `meta` (None removes it); pixels untouched."""
    kind = _kind(data)
    try:
        if kind == "jpg":
            return _jpeg_embed(data, meta)
        if kind == "png":
            return _png_embed(data, meta)
    except _Corrupt as err:
        raise _fail(name, err) from None
    raise _fail(name, "only JPG and PNG files can carry face metadata")


def encode_face(image: np.ndarray, meta: FaceMeta | None, ext: str = ".jpg", jpeg_quality: int = 90) -> bytes:
    """Encode a 1- or 3-channel uint8 image as JPG/PNG bytes carrying `meta`."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"face image must be uint8 HxW or HxWx3, got {image.dtype} {image.shape}")
    ext = ext.lower()
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    elif ext == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    else:
        raise ValueError(f"aligned faces are .jpg or .png, not {ext!r}")
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"could not encode image as {ext}")
    return embed_meta(buf.tobytes(), meta)


def _read_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise FaceFileError(f"{path}: file not found") from None
    except OSError as err:
        raise FaceFileError(f"{path}: cannot read ({err.strerror})") from None


def read_meta(path: str | Path) -> FaceMeta | None:
    """The face metadata of `path`; None for an image without it. Corrupt/truncated files -> FaceFileError."""
    return meta_from_bytes(_read_bytes(path), path)


def load_face(path: str | Path) -> tuple[np.ndarray, FaceMeta | None]:
    """(image as stored: uint8 HxW gray or HxWx3 BGR, metadata or None)."""
    return decode_face(_read_bytes(path), path)


def save_face(path: str | Path, image: np.ndarray, meta: FaceMeta | None, jpeg_quality: int = 90) -> None:
    """Atomically write `image` (.jpg or .png by suffix) with `meta` embedded."""
    try:
        data = encode_face(image, meta, Path(path).suffix, jpeg_quality)
    except ValueError as err:
        raise FaceFileError(f"{path}: {err}") from None
    atomic_write_bytes(path, data)


def write_meta(path: str | Path, meta: FaceMeta | None) -> None:
    """Replace the metadata of an existing face file without recompressing its pixels (atomic)."""
    atomic_write_bytes(path, embed_meta(_read_bytes(path), meta, path))
