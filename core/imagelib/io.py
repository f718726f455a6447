"""Image files by path, on every OS: OpenCV's `imread`/`imwrite` fail (silently) on non-ASCII Windows paths such
as `C:\\Users\\José\\workspace`, so files are read and written as bytes and coded with `imdecode`/`imencode`.
Writes are atomic."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.fsio import atomic_write_bytes


def read_image(path: str | Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray | None:
    """The decoded image (OpenCV `flags`), or None when the file is missing, empty or not an image."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, flags) if data.size else None
    return image if image is not None and image.size else None


def write_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Atomically write a PNG or JPG (by the suffix; `jpeg_quality` for JPG)."""
    path = Path(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise OSError(f"{path}: could not encode the image")
    atomic_write_bytes(path, data.tobytes())
