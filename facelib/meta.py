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
from facelib import legacy

META_VERSION = 1
META_KEY = b"SAEHDBW-META"
JPEG_PREFIX = META_KEY + b"\0"
APP11, APP15, SOS = 0xEB, 0xEF, 0xDA
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SEGMENT_PAYLOAD = 65533  # a JPEG segment length is 16-bit and counts its own 2 bytes
_JPEG_PART = MAX_SEGMENT_PAYLOAD - len(JPEG_PREFIX) - 4


class FaceFileError(UserError):
    """An aligned-face file that cannot be read or written; the message names the file."""


class _Corrupt(Exception):
    """Internal: a structural problem, re-raised as FaceFileError with the file name."""


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
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: v for k, v in d.items() if k in known and v is not None}
        if isinstance(kwargs.get("xseg_mask"), dict):
            kwargs["xseg_mask"] = _mask_from_json(kwargs["xseg_mask"])
        kwargs["extra"] = {k: v for k, v in d.items() if k not in known}
        return cls(**kwargs)

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


def _mask_from_json(d: dict) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(base64.b64decode(d["png"]), np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("undecodable xseg_mask")
    return img.astype(np.float32) / 255.0


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
            raise _Corrupt(f"face metadata split in {count} parts but parts {sorted(parts)} are present")
        return _parse_json(b"".join(parts[i] for i in range(count)))
    if legacy_payload is not None:
        d = legacy.parse_app15(legacy_payload)
        return FaceMeta(**legacy.dfl_dict_to_fields(d)) if d else None
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
    compressed = body[0] == 1
    rest = body[2:]
    rest = rest[rest.index(b"\0") + 1:]  # language tag
    text = rest[rest.index(b"\0") + 1:]  # translated keyword
    try:
        return _parse_json(zlib.decompress(text) if compressed else text)
    except zlib.error as err:
        raise _Corrupt(f"corrupt face metadata ({err})") from None


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
    try:
        return FaceMeta.from_json(blob.decode("utf-8"))
    except (ValueError, KeyError, TypeError) as err:
        raise _Corrupt(f"corrupt face metadata ({err})") from None


def _kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    return None


def _fail(name, err: Exception) -> FaceFileError:
    return FaceFileError(f"{name}: {err}")


def meta_from_bytes(data: bytes, name: str | Path = "<bytes>") -> FaceMeta | None:
    """Parse the metadata of an encoded image; None when it has none. Corrupt data -> FaceFileError."""
    kind = _kind(data)
    try:
        if kind == "jpg":
            return _jpeg_read(data)
        if kind == "png":
            return _png_read(data)
    except (_Corrupt, UserError) as err:
        raise _fail(name, err) from None
    if Path(str(name)).suffix.lower() in (".jpg", ".jpeg", ".png"):
        raise _fail(name, "not a valid JPG or PNG image" if data else "empty file")
    return None


def decode_face(data: bytes, name: str | Path = "<bytes>") -> tuple[np.ndarray, FaceMeta | None]:
    """(image uint8 HxW or HxWx3 BGR, metadata or None) from encoded bytes."""
    meta = meta_from_bytes(data, name)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise _fail(name, "cannot decode the image")
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
