"""Legacy DeepFaceLab aligned JPGs (pickled dict in APP15) read through the allow-list unpickler."""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from facelib import legacy
from facelib.meta import FaceFileError, FaceMeta, load_face, read_meta, write_meta


def make_dfl_jpg(image: np.ndarray, payload: bytes) -> bytes:
    """A JPEG like DFL writes it: an APP15 segment carrying `payload` right after the last APPn segment."""
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    assert data[2:4] == b"\xff\xe0"  # JFIF APP0 first
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:app0_end] + b"\xff\xef" + struct.pack(">H", len(payload) + 2) + payload + data[app0_end:]


def _dfl_dict(rng) -> dict:
    mask = (rng.uniform(size=(256, 256)) > 0.5).astype(np.uint8) * 255
    return {
        "face_type": "whole_face",
        "landmarks": rng.uniform(0, 128, (68, 2)).tolist(),
        "source_filename": "00042.png",
        "source_rect": np.array([11, 22, 133, 144], dtype=np.int64),
        "source_landmarks": rng.uniform(0, 500, (68, 2)).astype(np.float32).tolist(),
        "image_to_face_mat": rng.normal(size=(2, 3)),
        "seg_ie_polys": {"polys": [{"type": 1, "pts": np.array([[1, 2], [50, 3], [20, 60]], np.float32)}]},
        "xseg_mask": np.frombuffer(cv2.imencode(".png", mask)[1].tobytes(), np.uint8),
        "eyebrows_expand_mod": np.float32(1.0),
        "pitch_yaw_roll": (0.1, 0.2, 0.3),  # a legacy key current code ignores
    }


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_reads_legacy_dfl_jpg(tmp_path, astronaut_bgr, protocol):
    rng = np.random.default_rng(protocol)
    d = _dfl_dict(rng)
    image = cv2.resize(astronaut_bgr, (128, 128))
    path = tmp_path / "00000.jpg"
    path.write_bytes(make_dfl_jpg(image, pickle.dumps(d, protocol=protocol)))
    pixels, meta = load_face(path)
    assert pixels.shape == (128, 128, 3)
    assert meta.face_type == "whole_face" and meta.source_filename == "00042.png"
    assert meta.source_rect == [11, 22, 133, 144]
    assert np.allclose(meta.landmarks, np.float32(d["landmarks"]))
    assert np.array_equal(meta.source_landmarks, np.float32(d["source_landmarks"]))
    assert np.array_equal(meta.image_to_face_mat, d["image_to_face_mat"])
    assert meta.xseg_polys[0]["type"] == 1
    assert np.array_equal(meta.xseg_polys[0]["pts"], d["seg_ie_polys"]["polys"][0]["pts"])
    assert meta.xseg_mask.shape == (256, 256) and set(np.unique(meta.xseg_mask)) <= {0.0, 1.0}
    assert meta.eyebrows_expand_mod == 1.0

    # Rewriting the metadata replaces the pickle with our JSON segment; pixels untouched.
    write_meta(path, meta)
    data = path.read_bytes()
    assert b"\xff\xef" not in data[:data.index(b"\xff\xda")] and b"SAEHDBW-META" in data
    again_pixels, again = load_face(path)
    assert np.array_equal(again_pixels, pixels) and again.source_rect == meta.source_rect


def test_legacy_gray_and_enum_face_type(tmp_path, hopper_bgr):
    gray = cv2.cvtColor(cv2.resize(hopper_bgr, (64, 64)), cv2.COLOR_BGR2GRAY)
    path = tmp_path / "g.jpg"
    path.write_bytes(make_dfl_jpg(gray, pickle.dumps({"face_type": 10, "landmarks": [[1.0, 2.0]] * 68}, 3)))
    pixels, meta = load_face(path)
    assert pixels.shape == (64, 64) and meta.face_type == "head"


def test_legacy_list_polys_form():
    meta = FaceMeta.from_dict(legacy.dfl_dict_to_fields({"seg_ie_polys": [(0, [[1, 1], [2, 2], [3, 1]])]}))
    assert meta.xseg_polys[0]["type"] == 0 and meta.xseg_polys[0]["pts"].shape == (3, 2)


class _Evil:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _EvalEvil:
    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


@pytest.mark.parametrize("protocol", [3, 4])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, hopper_bgr, protocol):
    marker = tmp_path / "pwned"
    evil = {"face_type": "full_face", "landmarks": _Evil(f"touch {marker}")}
    path = tmp_path / "evil.jpg"
    path.write_bytes(make_dfl_jpg(cv2.resize(hopper_bgr, (64, 64)), pickle.dumps(evil, protocol=protocol)))
    with pytest.raises(FaceFileError, match=r"evil\.jpg.*(posix|os|nt)\.system"):
        read_meta(path)
    with pytest.raises(FaceFileError):
        load_face(path)
    assert not marker.exists()

    code = f"open({str(marker)!r}, 'w').write('x')"
    path.write_bytes(make_dfl_jpg(cv2.resize(hopper_bgr, (64, 64)), pickle.dumps([_EvalEvil(code)], protocol)))
    with pytest.raises(FaceFileError, match="builtins.eval"):
        read_meta(path)
    assert not marker.exists()


def test_sanity_the_malicious_pickle_is_really_dangerous(tmp_path):
    """Proves the payload above would run with plain pickle (in a child process), so the refusal means something."""
    marker = tmp_path / "ran"
    blob = pickle.dumps({"x": _Evil(f"touch {marker}")}, protocol=3)
    subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
                   input=blob, check=False, timeout=60)
    assert marker.exists()


@pytest.mark.parametrize("dangerous", [("subprocess", "Popen"), ("builtins", "getattr"), ("builtins", "__import__"),
                                       ("numpy", "load"), ("numpy.testing", "assert_equal")])
def test_allow_list_refuses_other_globals(dangerous):
    module, name = dangerous
    blob = b"\x80\x03c" + f"{module}\n{name}\n".encode() + b"q\x00."
    with pytest.raises(legacy.UnsafePickleError, match=f"{module}.{name}"):
        legacy.restricted_loads(blob)


def test_object_dtype_arrays_are_refused():
    blob = pickle.dumps(np.array([1, "a"], dtype=object), protocol=3)
    with pytest.raises(legacy.UnsafePickleError, match="object dtype"):
        legacy.restricted_loads(blob)


class _TamperedDtype:
    """Pickles as a void dtype whose state claims object items (flags HASOBJECT | REFCOUNT ...)."""

    def __reduce__(self):
        return np.dtype, ("V8", False, True), (3, "|", None, None, None, 8, 1, 0x1F)


class _StructWithTamperedField:
    def __reduce__(self):
        return np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (_TamperedDtype(), 0)}, 8, 1, 0)


def test_dtype_state_with_object_flags_is_refused():
    # Regression: a dtype's pickled state could set object/refcount item flags on a plain void dtype (numpy only
    # checks the type at construction), handing raw bytes a dtype that numpy treats as holding objects.
    from numpy._core.multiarray import _reconstruct

    class Array:
        def __reduce__(self):
            return _reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), _StructWithTamperedField(), False, b"A" * 8)

    for evil in (_TamperedDtype(), Array(), {"landmarks": [Array()]}):
        with pytest.raises(legacy.UnsafePickleError, match="dtype flags"):
            legacy.restricted_loads(pickle.dumps(evil, protocol=2))
    structured = np.zeros(2, [("a", "f4"), ("b", "u1", (2,)), ("c", "U3")])  # legitimate flags still load
    assert legacy.restricted_loads(pickle.dumps(structured, protocol=3)).dtype == structured.dtype


def test_numpy_scalars_and_arrays_load():
    obj = {"a": np.float64(2.5), "b": np.arange(6, dtype=np.int16).reshape(2, 3), "c": (1, b"xy", {1, 2})}
    for protocol in (2, 3, 4, 5):
        got = legacy.restricted_loads(pickle.dumps(obj, protocol=protocol))
        assert got["a"] == 2.5 and np.array_equal(got["b"], obj["b"]) and got["c"] == obj["c"]


def test_garbage_pickle_is_format_error():
    with pytest.raises(legacy.LegacyFormatError):
        legacy.restricted_loads(b"\x80\x03garbage")


def test_numpy_1x_module_paths_load():
    """DFL files were pickled under numpy 1.x, whose reconstructors live in `numpy.core`, not `numpy._core`."""
    blob = pickle.dumps({"m": np.arange(6.0).reshape(2, 3), "s": np.float32(0.5)}, protocol=3)
    assert b"numpy._core.multiarray" in blob
    old = blob.replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy._core" not in old
    got = legacy.restricted_loads(old)
    assert np.array_equal(got["m"], np.arange(6.0).reshape(2, 3)) and got["s"] == np.float32(0.5)


class _Call:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("protocol", [2, 4])
def test_pickles_that_would_build_gigabytes_are_refused(protocol):
    # Regression (issue 25): an 86-byte pickle calling the allow-listed bytearray(200_000_000) took 2.4 GB;
    # list(range(3e7)) likewise. Bytes come only from bytes, range is gone, and what callables build is counted.
    from numpy._core.multiarray import _reconstruct
    cases = {"bytes from a size": _Call(bytearray, 200_000_000), "bytes(size)": _Call(bytes, 200_000_000),
             "range": _Call(list, range(30_000_000)),
             "array shape": _Call(_reconstruct, np.ndarray, (200_000_000,), b"b"),
             "bare ndarray": _Call(np.ndarray, (20_000, 20_000)),
             "text of shared lists": _Call(str, [[[0] * 1000] * 1000] * 1000)}
    for what, evil in cases.items():
        with pytest.raises(legacy.UnsafePickleError, match="refused"):
            legacy.restricted_loads(pickle.dumps({"landmarks": evil}, protocol))
    megabyte = b"x" * (1 << 20)  # pickled once, copied by each call: 100 MB from a 1 MB pickle
    with pytest.raises(legacy.UnsafePickleError, match="more than 64 MB"):
        legacy.restricted_loads(pickle.dumps([_Call(bytearray, megabyte) for _ in range(100)], protocol))
    assert len(legacy.restricted_loads(pickle.dumps(bytearray(b"abc"), protocol))) == 3  # real bytearrays load


def test_shared_sub_lists_are_checked_once_and_never_expanded(tmp_path, hopper_bgr):
    import time
    shared = [[[0.5] * 1000] * 1000] * 1000  # 10^9 numbers once expanded; a few kB pickled
    blob = pickle.dumps({"face_type": "full_face", "landmarks": shared}, 4)
    start = time.perf_counter()
    assert legacy.restricted_loads(blob)["landmarks"] is not None
    path = tmp_path / "shared.jpg"
    path.write_bytes(make_dfl_jpg(cv2.resize(hopper_bgr, (64, 64)), blob))
    with pytest.raises(FaceFileError, match=r"shared\.jpg: bad face metadata: landmarks: more than \d+ values"):
        read_meta(path)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("field,value,message", [
    ("eyebrows_expand_mod", "big", "eyebrows_expand_mod: str 'big'"),
    ("landmarks", "hello", "landmarks: str 'hello'"),
    ("landmarks", [], "landmarks: no points, expected 68"),
    ("landmarks", [[1.0, 2.0]] * 5, "landmarks: 5 points, expected 68"),
    ("landmarks", [[float("nan"), 2.0]] * 68, "landmarks: holds NaN"),
    ("landmarks", [[1e30, 2.0]] * 68, "landmarks: holds 1e\\+30"),
    ("image_to_face_mat", np.eye(3), "image_to_face_mat: shape \\(3, 3\\), expected a 2x3 matrix"),
    ("source_rect", "abc", "source_rect: str 'abc'"),
    ("source_rect", [1, 2, 3], "source_rect: 3 numbers, expected 4"),
    ("seg_ie_polys", {"polys": [{"type": 1, "pts": "xx"}]}, "xseg_polys\\[0\\] points: str 'xx'"),
    ("seg_ie_polys", "xx", "seg_ie_polys: str"),
    ("source_filename", 42, "source_filename: int 42"),
    ("face_type", "sideways", "face_type: unknown face type"),
])
def test_malformed_legacy_values_are_one_line_naming_file_and_field(tmp_path, hopper_bgr, field, value, message):
    d = {"face_type": "full_face", "landmarks": [[1.0, 2.0]] * 68, field: value}
    path = tmp_path / "bad.jpg"
    path.write_bytes(make_dfl_jpg(cv2.resize(hopper_bgr, (64, 64)), pickle.dumps(d, 4)))
    with pytest.raises(FaceFileError, match=rf"^{tmp_path}/bad\.jpg: bad face metadata: {message}") as err:
        load_face(path)
    assert "\n" not in str(err.value)
