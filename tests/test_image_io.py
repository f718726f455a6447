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


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_the_declared_size_is_read_from_the_header_of_every_format(suffix):
    from core.imagelib.io import declared_shape
    data = cv2.imencode(suffix, np.zeros((30, 40, 3), np.uint8))[1]
    assert declared_shape(data) == (30, 40) and declared_shape(data.tobytes()) == (30, 40)


def test_images_declaring_huge_sizes_are_refused_before_decoding(tmp_path):
    # Regression (issue 25): a 70-byte PNG declaring 60000 x 60000 pixels made cv2.imdecode raise cv2.error
    # (CV_IO_MAX_IMAGE_PIXELS) and abort whole commands; under OpenCV's own limit it allocates gigabytes.
    from core.imagelib.io import ImageReadError, MAX_PIXELS, decode_image, file_shape
    from tests.test_hostile_files import jpeg_declaring, png_declaring
    for name, data in (("a.png", png_declaring(60000, 60000)), ("b.png", png_declaring(30000, 30000)),
                       ("c.jpg", jpeg_declaring(65000, 65000))):
        (tmp_path / name).write_bytes(data)
        assert read_image(tmp_path / name) is None
        with pytest.raises(ImageReadError, match=rf"{name}: the image declares \d+x\d+ pixels, more than") as err:
            decode_image(data, name=name)
        assert "\n" not in str(err.value) and err.value.reason.startswith("the image declares")
        with pytest.raises(ImageReadError):
            file_shape(tmp_path / name)
    import struct
    bmp = bytearray(cv2.imencode(".bmp", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    for side in (10000, 50000):  # other formats through Pillow's header read (50000^2: Pillow's own bomb error)
        bmp[18:26] = struct.pack("<ii", side, side)
        with pytest.raises(ImageReadError, match=r"x\.bmp: the image declares .*megapixel limit; not decoded"):
            decode_image(bytes(bmp), name="x.bmp")
    with pytest.raises(ImageReadError, match="cannot decode"):
        decode_image(png_declaring(8, 8))  # a header that fits, data that does not: no cv2.error escapes
    with pytest.raises(ImageReadError, match="megapixel limit"):
        decode_image(cv2.imencode(".png", np.zeros((20, 20), np.uint8))[1], max_pixels=399)
    assert MAX_PIXELS >= 7680 * 4320  # 8K video frames are read
