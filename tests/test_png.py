"""core.imagelib.png: the fast frame encoder writes standard, lossless PNGs for every layout the merger writes."""
import cv2
import numpy as np
import pytest

from core.imagelib import png


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("use_fpng", [True, False])
@pytest.mark.parametrize("layout", ["bgr", "bgra", "gray", "gray1", "mask"])
def test_round_trip_is_exact(hopper_bgr, layout, use_fpng):
    frame = cv2.resize(hopper_bgr, (320, 240))
    image = {"bgr": frame,
             "bgra": np.dstack([frame, np.linspace(0, 255, frame.shape[1], dtype=np.uint8)[None].repeat(240, 0)]),
             "gray": cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY),
             "gray1": cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[..., None],
             "mask": cv2.circle(np.zeros((240, 320), np.uint8), (160, 120), 60, 255, -1)}[layout]
    data = png.encode_png(image, use_fpng=use_fpng)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(_decode(data), image.reshape(image.shape[:2]) if layout == "gray1" else image)


def test_colour_frames_use_fpng_when_installed(hopper_bgr):
    if png.fpng is None:
        pytest.skip("fpng is not installed")
    frame = cv2.resize(hopper_bgr, (320, 240))
    assert png.encode_png(frame) != png.encode_png(frame, use_fpng=False)   # a different encoder wrote it


def test_masks_are_run_length_coded_small():
    mask = cv2.circle(np.zeros((1080, 1920), np.uint8), (960, 540), 200, 255, -1)
    assert len(png.encode_png(mask)) < 60_000     # Huffman-only coding needs ~260 KB for this mask

