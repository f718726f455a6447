"""core.imagelib.io: image files by path, including non-ASCII paths, with None for anything unreadable."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.imagelib.io import read_image, write_image


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_round_trip_through_a_non_ascii_folder(tmp_path, suffix):
    folder = tmp_path / "José's wörkspace 顔"
    folder.mkdir()
    image = np.zeros((40, 60, 3), np.uint8)
    image[10:30, 20:40] = (40, 160, 250)
    write_image(folder / f"frame{suffix}", image, jpeg_quality=98)
    back = read_image(folder / f"frame{suffix}")
    assert back.shape == image.shape
    error = np.abs(back.astype(int) - image)
    assert error.max() == 0 if suffix == ".png" else error.mean() < 4  # JPEG: close, not exact
    assert read_image(folder / f"frame{suffix}", cv2.IMREAD_GRAYSCALE).shape == (40, 60)
    assert [p.name for p in folder.iterdir()] == [f"frame{suffix}"]  # no temp file left


def test_unreadable_files_give_none(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    for name in ("missing.png", "empty.png", "text.jpg"):
        assert read_image(tmp_path / name) is None
    assert read_image(tmp_path) is None  # a folder


def test_unknown_suffix_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(Exception):
        write_image(tmp_path / "frame.nope", np.zeros((4, 4, 3), np.uint8))
    assert not list(tmp_path.iterdir())
