"""Session fixtures: a small real aligned faceset (dlib landmarks on the public-domain photos) with variants.

The builders live in facelib/sample_faceset.py (the benchmarks use them too); these fixtures build each set once
per session.
"""
from __future__ import annotations

import pytest

from facelib.sample_faceset import Faceset, SampleLandmarker, build_faceset, build_whole_face_set


@pytest.fixture(scope="session")
def dlib_landmarker() -> SampleLandmarker:
    return SampleLandmarker()


@pytest.fixture(scope="session")
def real_faceset(tmp_path_factory, dlib_landmarker) -> Faceset:
    """A read-only faceset of ~25 real aligned faces with blurred, dark, yawed and two-face variants."""
    return build_faceset(tmp_path_factory.mktemp("faceset") / "aligned", dlib_landmarker)


@pytest.fixture
def faceset_copy(real_faceset, tmp_path) -> Faceset:
    """A private, writable copy of `real_faceset` (same groups)."""
    target = real_faceset.copy_to(tmp_path / "aligned")
    return Faceset(target, {g: list(n) for g, n in real_faceset.groups.items()})


@pytest.fixture(scope="session")
def whole_face_set(tmp_path_factory, dlib_landmarker) -> Faceset:
    """Four real whole-face 192 px aligned faces (colour JPG) with an XSeg polygon and mask, plus their frames."""
    return build_whole_face_set(tmp_path_factory.mktemp("wf") / "aligned", dlib_landmarker)
