"""The one image reader (and writer) of the toolkit. Every image the product reads goes through `decode_image`:

* files are read as bytes and decoded with `imdecode` (OpenCV's `imread`/`imwrite` fail, silently, on non-ASCII
  Windows paths such as `C:\\Users\\José\\workspace`);
* the size an image declares in its header (PNG IHDR, JPEG SOFn, else Pillow's lazy header read) is checked
  before anything is decoded: a 70-byte PNG may declare 60000x60000 pixels, which OpenCV would refuse with an
  exception or, under its own limit, allocate gigabytes for;
* any decode failure (including `cv2.error`) becomes an `ImageReadError`, one line naming the file, which callers
  turn into "skipped with a warning"; `read_image` gives None instead.

Writes are atomic.
"""
from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from core.fsio import atomic_write_bytes

MAX_PIXELS = 1 << 26          # 67 megapixels (8192 x 8192): 8K video frames fit, decoded 8-bit BGR is 200 MB
MAX_FACE_PIXELS = 1 << 24     # aligned faces and masks: 4096 x 4096
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_BEYOND = (1 << 31, 1 << 31)  # the size of an image Pillow calls a decompression bomb (over 179 megapixels)
_HEAD_BYTES = 1 << 16         # a file's first bytes usually hold its header; JPEGs with big APPn segments need more


class ImageReadError(UserError):
    """An image that cannot be read: missing, empty, not an image, damaged, or declaring too many pixels. The
    message is `<name>: <reason>`; `reason` alone is kept for messages that name the file already."""

    def __init__(self, name: str | Path, reason: str):
        super().__init__(f"{name}: {reason}")
        self.reason = reason


def _png_shape(data: memoryview) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def _jpeg_shape(data: memoryview) -> tuple[int, int] | None:
    """(height, width) of the first SOFn segment, walking the header segments."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # standalone markers
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if pos + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return height, width
        pos += 2 + length
    return None


def _pillow_shape(data: memoryview) -> tuple[int, int] | None:
    """(height, width) from Pillow's header-only open (BMP, TIFF, WebP, ...); None when Pillow cannot tell."""
    try:
        from PIL import Image
    except ImportError:  # a requirement; without it only PNG and JPEG sizes are known
        return None
    try:
        with warnings.catch_warnings():  # (Pillow warns past 89 megapixels; the caller's limit decides)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except Image.DecompressionBombError:
        return _BEYOND  # Pillow refuses even to say: far beyond any limit here
    except Exception:  # noqa: BLE001 - any parse failure of a foreign format means "size unknown"
        return None
    return height, width


def _view(data) -> memoryview:
    """A flat byte view of bytes, bytearray, memoryview or a uint8 numpy array, without copying."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return memoryview(data).cast("B")


def declared_shape(data) -> tuple[int, int] | None:
    """(height, width) that encoded image `data` (bytes or a uint8 array) declares in its header, read without
    decoding; None when the header cannot be read."""
    view = _view(data)
    if view[:8] == PNG_SIGNATURE:
        return _png_shape(view)
    if view[:2] == b"\xff\xd8":
        return _jpeg_shape(view)
    return _pillow_shape(view)


def check_declared_size(data, name: str | Path = "<bytes>", max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """The (height, width) `data` declares, or an `ImageReadError` when it is unknown, empty or over `max_pixels`."""
    if not len(_view(data)):
        raise ImageReadError(name, "empty file")
    shape = declared_shape(data)
    if shape is None:
        raise ImageReadError(name, "not a readable image (no image header)")
    if shape == _BEYOND:
        raise ImageReadError(name, f"the image declares more than 179 megapixels, more than the "
                                   f"{max_pixels / 1e6:.0f}-megapixel limit; not decoded")
    height, width = shape
    if height <= 0 or width <= 0:
        raise ImageReadError(name, f"the image declares a size of {width}x{height} pixels")
    if height * width > max_pixels:
        raise ImageReadError(name, f"the image declares {width}x{height} pixels, more than the "
                             f"{max_pixels / 1e6:.0f}-megapixel limit; not decoded")
    return height, width


def decode_image(data: bytes | np.ndarray, flags: int = cv2.IMREAD_UNCHANGED, name: str | Path = "<bytes>",
                 max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes (OpenCV `flags`) after checking the size they declare; `ImageReadError` (one
    line naming `name`) for anything that does not give a non-empty image."""
    check_declared_size(data, name, max_pixels)
    buf = np.frombuffer(_view(data), np.uint8)
    try:
        image = cv2.imdecode(buf, flags)
    except (cv2.error, MemoryError, OverflowError, ValueError):
        image = None
    if image is None or not image.size:
        raise ImageReadError(name, "cannot decode the image (damaged or not an image)")
    return image


def file_shape(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) an image file declares, checked as `decode_image` checks it, without decoding it."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
            shape = declared_shape(head)
            data = head if shape is not None or len(head) < _HEAD_BYTES else head + f.read()
    except OSError as err:
        raise ImageReadError(path, f"cannot read ({err.strerror or err})") from None
    return check_declared_size(data, path, max_pixels)


def load_image(path: str | Path, flags: int = cv2.IMREAD_UNCHANGED, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The decoded image of file `path`, or an `ImageReadError` saying why not."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except OSError as err:
        raise ImageReadError(path, f"cannot read ({err.strerror or err})") from None
    return decode_image(data, flags, path, max_pixels)


def read_image(path: str | Path, flags: int = cv2.IMREAD_UNCHANGED, max_pixels: int = MAX_PIXELS) -> np.ndarray | None:
    """The decoded image (OpenCV `flags`), or None when the file is missing, empty, not an image, damaged or
    declares more than `max_pixels` pixels."""
    try:
        return load_image(path, flags, max_pixels)
    except ImageReadError:
        return None


def write_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Atomically write a PNG or JPG (by the suffix; `jpeg_quality` for JPG)."""
    path = Path(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise OSError(f"{path}: could not encode the image")
    atomic_write_bytes(path, data.tobytes())
