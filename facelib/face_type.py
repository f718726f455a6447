"""Face types: how much of the head an aligned face covers, with DFL's stored names and the short prompt codes.

The integer values are DFL's and are ordered: a larger face type contains the smaller ones, so code may
compare them with `<` / `>=`.
"""
from __future__ import annotations

from enum import IntEnum


class FaceType(IntEnum):
    HALF = 0
    MID_FULL = 1
    FULL = 2
    FULL_NO_ALIGN = 3
    WHOLE_FACE = 4
    HEAD = 10
    HEAD_NO_ALIGN = 20
    MARK_ONLY = 100

    @staticmethod
    def from_string(text: str) -> "FaceType":
        """Accept a DFL name (`whole_face`), a short code (`wf`) or the enum name (`WHOLE_FACE`), any case."""
        key = str(text).strip().lower()
        for table in (_BY_NAME, _BY_SHORT, _BY_ENUM_NAME):  # not `or`: HALF is 0, which is falsy
            if key in table:
                return table[key]
        choices = ", ".join(sorted(set(_BY_SHORT) | set(_BY_NAME)))
        raise ValueError(f"unknown face type {text!r}; use one of: {choices}")

    def to_string(self) -> str:
        """The name DFL stores in face metadata (`full_face`, `whole_face`, ...)."""
        return _NAMES[self]

    @property
    def short(self) -> str:
        """The short code used in prompts (`h mf f wf head`); types without one give their DFL name."""
        return _SHORTS.get(self, _NAMES[self])

    @property
    def aligned(self) -> bool:
        """False for the `*_NO_ALIGN` types, whose crop square stays upright instead of rotating with the face."""
        return self not in (FaceType.FULL_NO_ALIGN, FaceType.HEAD_NO_ALIGN)


_NAMES = {
    FaceType.HALF: "half_face",
    FaceType.MID_FULL: "midfull_face",
    FaceType.FULL: "full_face",
    FaceType.FULL_NO_ALIGN: "full_face_no_align",
    FaceType.WHOLE_FACE: "whole_face",
    FaceType.HEAD: "head",
    FaceType.HEAD_NO_ALIGN: "head_no_align",
    FaceType.MARK_ONLY: "mark_only",
}
_SHORTS = {
    FaceType.HALF: "h",
    FaceType.MID_FULL: "mf",
    FaceType.FULL: "f",
    FaceType.WHOLE_FACE: "wf",
    FaceType.HEAD: "head",
}
_BY_NAME = {name: ft for ft, name in _NAMES.items()}
_BY_SHORT = {short: ft for ft, short in _SHORTS.items()}
_BY_ENUM_NAME = {ft.name.lower(): ft for ft in FaceType}

# The face types a user picks when extracting (short codes, in prompt order).
EXTRACT_CHOICES = ("h", "mf", "f", "wf", "head")
