"""core.imagelib.text: outlined labels whose outline hugs the letters (OpenCV 5 widens thick text)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.imagelib.text import FONT, fit_scale, put_outlined_text


@pytest.mark.parametrize("channels", [1, 3])
def test_outline_hugs_the_white_letters(channels):
    shape = (40, 320) if channels == 1 else (40, 320, 3)
    img = np.full(shape, 128, np.uint8)
    put_outlined_text(img, "frame 1/2 00001.png accuracy on", (6, 24), 0.45)
    gray = img if channels == 1 else img[..., 1]
    bright, dark = gray > 150, gray < 60
    assert bright.sum() > 100 and dark.sum() > 100
    near_letters = cv2.dilate(bright.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert not (dark & ~near_letters).any()
    if channels == 3:
        assert (img[..., 0] == img[..., 2]).all()


def test_text_running_off_the_image_is_clipped():
    img = np.full((20, 50, 3), 50, np.uint8)
    put_outlined_text(img, "a long label that does not fit", (30, 15), 0.5)
    put_outlined_text(img, "nowhere", (500, 500), 0.5)
    assert img.max() == 255 and img.shape == (20, 50, 3)


def test_fit_scale_shrinks_a_line_to_the_width_even_across_font_size_steps():
    text = "new_SAEHDBW | iter 102 | liae-ud 64px wf ae64 e16 d16 m16 | bs 4 | gray"
    for width in (120, 250, 312, 1000):
        scale = fit_scale(text, width, 0.38)
        assert cv2.getTextSize(text, FONT, scale, 1)[0][0] <= width
        assert scale <= 0.38 and (width < 1000 or scale == 0.38)
