"""FaceType: DFL names, short codes, ordering and round trips."""
from __future__ import annotations

import pytest

from facelib.face_type import EXTRACT_CHOICES, FaceType


@pytest.mark.parametrize("text, expected", [
    ("half_face", FaceType.HALF), ("h", FaceType.HALF), ("midfull_face", FaceType.MID_FULL), ("mf", FaceType.MID_FULL),
    ("full_face", FaceType.FULL), ("F", FaceType.FULL), ("whole_face", FaceType.WHOLE_FACE), ("wf", FaceType.WHOLE_FACE),
    ("head", FaceType.HEAD), ("HEAD", FaceType.HEAD), ("full_face_no_align", FaceType.FULL_NO_ALIGN),
    ("head_no_align", FaceType.HEAD_NO_ALIGN), ("mark_only", FaceType.MARK_ONLY), ("WHOLE_FACE", FaceType.WHOLE_FACE),
    (" wf ", FaceType.WHOLE_FACE),
])
def test_from_string(text, expected):
    assert FaceType.from_string(text) is expected


def test_round_trips_and_codes():
    for ft in FaceType:
        assert FaceType.from_string(ft.to_string()) is ft
        assert FaceType.from_string(ft.short) is ft
    assert [FaceType.from_string(c).short for c in EXTRACT_CHOICES] == list(EXTRACT_CHOICES)
    assert FaceType.WHOLE_FACE.to_string() == "whole_face" and FaceType.MID_FULL.short == "mf"
    assert FaceType.FULL_NO_ALIGN.short == "full_face_no_align"


def test_dfl_integer_values_and_order():
    assert [int(f) for f in FaceType] == [0, 1, 2, 3, 4, 10, 20, 100]
    assert FaceType.HALF < FaceType.FULL < FaceType.WHOLE_FACE < FaceType.HEAD
    assert not FaceType.FULL_NO_ALIGN.aligned and FaceType.FULL.aligned


def test_unknown_raises_with_choices():
    with pytest.raises(ValueError, match="wf"):
        FaceType.from_string("fullface")
