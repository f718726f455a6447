"""Aligned-face metadata: JSON in JPEG APP11 / PNG iTXt, round trips, corrupt and truncated files."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelib.meta import (FaceFileError, FaceMeta, load_face, meta_from_bytes, read_meta, save_face, write_meta,
                          embed_meta, decode_face)


def _meta(rng: np.random.Generator, mask: bool = False) -> FaceMeta:
    return FaceMeta(
        face_type="whole_face",
        landmarks=rng.uniform(0, 128, (68, 2)),
        source_filename="00017.png",
        source_rect=[10, 20, 110, 140],
        source_landmarks=rng.uniform(0, 640, (68, 2)),
        image_to_face_mat=rng.normal(size=(2, 3)),
        eyebrows_expand_mod=1.25,
        xseg_polys=[{"type": 1, "pts": [[1.5, 2.25], [30, 4], [15, 40]]}, {"type": 0, "pts": [[5, 5], [9, 5], [7, 9]]}],
        xseg_mask=(rng.uniform(size=(96, 96)) > 0.5).astype(np.float32) if mask else None,
    )


def _assert_same(a: FaceMeta, b: FaceMeta) -> None:
    assert b.face_type == a.face_type and b.source_filename == a.source_filename
    assert b.source_rect == a.source_rect and b.eyebrows_expand_mod == a.eyebrows_expand_mod
    assert b.landmarks.dtype == np.float32 and np.array_equal(b.landmarks, a.landmarks)
    assert np.array_equal(b.source_landmarks, a.source_landmarks)
    assert b.image_to_face_mat.dtype == np.float64 and np.array_equal(b.image_to_face_mat, a.image_to_face_mat)
    assert [p["type"] for p in b.xseg_polys] == [p["type"] for p in a.xseg_polys]
    for pa, pb in zip(a.xseg_polys, b.xseg_polys):
        assert pb["pts"].dtype == np.float32 and np.array_equal(pa["pts"], pb["pts"])
    assert b.version == 1


@pytest.mark.parametrize("ext", [".jpg", ".png"])
@pytest.mark.parametrize("gray", [False, True])
def test_round_trip(tmp_path, astronaut_bgr, ext, gray):
    rng = np.random.default_rng(0)
    image = cv2.resize(astronaut_bgr, (128, 128))
    if gray:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    meta = _meta(rng, mask=True)
    path = tmp_path / f"face{ext}"
    save_face(path, image, meta)
    loaded, got = load_face(path)
    assert loaded.shape == image.shape and loaded.dtype == np.uint8
    if ext == ".png":
        assert np.array_equal(loaded, image)
    else:
        assert np.abs(loaded.astype(int) - image).mean() < 8  # JPEG q90
    _assert_same(meta, got)
    assert np.array_equal(got.xseg_mask, meta.xseg_mask)
    _assert_same(meta, read_meta(path))
    # Any viewer still opens it: plain OpenCV decoding sees the same picture.
    plain = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(plain, loaded)


def test_large_metadata_is_split_across_jpeg_segments(tmp_path):
    rng = np.random.default_rng(1)
    meta = _meta(rng)
    meta.xseg_mask = rng.uniform(size=(256, 256)).astype(np.float32)  # noise: ~70 kB of PNG, > one segment
    path = tmp_path / "big.jpg"
    save_face(path, np.zeros((64, 64, 3), np.uint8), meta)
    data = path.read_bytes()
    assert data.count(b"SAEHDBW-META\0") >= 2
    got = read_meta(path)
    assert np.abs(got.xseg_mask - meta.xseg_mask).max() <= 0.5 / 255 + 1e-6


def test_write_meta_keeps_pixels_and_replaces_metadata(tmp_path, hopper_bgr):
    path = tmp_path / "f.jpg"
    save_face(path, cv2.resize(hopper_bgr, (96, 96)), FaceMeta(source_filename="a.png"))
    before = load_face(path)[0]
    write_meta(path, FaceMeta(source_filename="b.png", face_type="head"))
    image, meta = load_face(path)
    assert np.array_equal(image, before)
    assert meta.source_filename == "b.png" and meta.face_type == "head"
    assert path.read_bytes().count(b"SAEHDBW-META\0") == 1
    write_meta(path, None)
    assert read_meta(path) is None and np.array_equal(load_face(path)[0], before)


def test_image_without_metadata_reads_none(tmp_path, astronaut_bgr):
    for ext in (".jpg", ".png"):
        path = tmp_path / f"plain{ext}"
        cv2.imwrite(str(path), astronaut_bgr[:64, :64])
        assert read_meta(path) is None
        image, meta = load_face(path)
        assert meta is None and image.shape == (64, 64, 3)


def test_unknown_keys_survive(tmp_path):
    meta = FaceMeta.from_dict({"face_type": "head", "future_key": [1, 2], "version": 1})
    path = tmp_path / "f.png"
    save_face(path, np.zeros((8, 8), np.uint8), meta)
    assert read_meta(path).extra == {"future_key": [1, 2]}


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_file_error_names_it(tmp_path, astronaut_bgr, ext):
    path = tmp_path / f"cut{ext}"
    save_face(path, cv2.resize(astronaut_bgr, (64, 64)), _meta(np.random.default_rng(2)))
    data = path.read_bytes()
    for cut in (len(data) // 2, 40, 3):
        path.write_bytes(data[:cut])
        with pytest.raises(FaceFileError, match="cut" + ext.replace(".", r"\.")):
            load_face(path)
        with pytest.raises(FaceFileError, match="cut"):
            read_meta(path)


def test_corrupt_metadata_and_garbage(tmp_path):
    path = tmp_path / "x.png"
    save_face(path, np.zeros((8, 8), np.uint8), FaceMeta())
    data = bytearray(path.read_bytes())
    i = data.index(b"SAEHDBW-META") + 20
    data[i] ^= 0xFF  # breaks the chunk CRC
    path.write_bytes(bytes(data))
    with pytest.raises(FaceFileError, match=r"x\.png.*CRC"):
        read_meta(path)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"hello, not an image")
    with pytest.raises(FaceFileError, match="junk.jpg"):
        load_face(junk)
    with pytest.raises(FaceFileError, match="missing.jpg"):
        read_meta(tmp_path / "missing.jpg")


def test_corrupt_json_in_jpeg(tmp_path):
    data = embed_meta(cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))[1].tobytes(), FaceMeta())
    start = data.index(b"SAEHDBW-META\0") + 13 + 4
    broken = data[:start] + b"x" + data[start + 1:]
    with pytest.raises(FaceFileError, match="face.jpg: corrupt face metadata"):
        decode_face(broken, "face.jpg")


def _png_with_chunk(body: bytes) -> bytes:
    """An 8x8 PNG face whose metadata chunk holds `body` after its keyword."""
    import struct
    import zlib
    png = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    kind = b"iTXt" + b"SAEHDBW-META\0" + body
    chunk = struct.pack(">I", len(kind) - 4) + kind + struct.pack(">I", zlib.crc32(kind))
    return png[:33] + chunk + png[33:]


def test_malformed_metadata_chunks_are_one_line_errors():
    # Regression (issue 25): an iTXt chunk without separators or with an empty body raised IndexError/ValueError.
    import zlib
    cases = {b"": "no compression flag", b"\1\0no separators here": "separators are missing",
             b"\1\0\0\0" + zlib.compress(b""): "empty face metadata", b"\0\0\0\0[1, 2]": "expected a dictionary",
             b"\0\0\0\0" + b"[" * 100000 + b"]" * 100000: "corrupt face metadata",
             b"\1\0\0\0" + zlib.compress(b"{}")[:-6]: "truncated compressed"}
    for body, message in cases.items():
        with pytest.raises(FaceFileError, match=f"^face.png: .*{message}") as err:
            decode_face(_png_with_chunk(body), "face.png")
        assert "\n" not in str(err.value)


def test_metadata_inflating_past_16_mb_is_refused_without_inflating_it():
    # Regression (issue 25): a 1.1 MB face whose metadata chunk inflated to 1 GiB took 2.2 GB of memory.
    import resource
    import zlib
    packer = zlib.compressobj(9)
    bomb = packer.compress(b" " * (64 << 20)) + packer.flush()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FaceFileError, match="face.png: face metadata of more than 16 MB; refused"):
        decode_face(_png_with_chunk(b"\1\0\0\0" + bomb), "face.png")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 48 * 1024  # (kB) not 64 MB more


@pytest.mark.parametrize("field,value,message", [
    ("landmarks", [[1.0, 2.0]] * 5, "landmarks: 5 points, expected 68"),
    ("source_landmarks", "x", "source_landmarks: str 'x'"),
    ("landmarks", [["1", "1"]] * 68, "landmarks: holds str '1', not numbers"),
    ("image_to_face_mat", [[1, 0, 0]], "image_to_face_mat: shape \\(1, 3\\)"),
    ("eyebrows_expand_mod", 1e9, "eyebrows_expand_mod: 1e\\+09 is outside"),
    ("xseg_polys", [{"type": 7, "pts": [[1, 1]]}], "xseg_polys\\[0\\]: type 7"),
    ("xseg_mask", {"png": "%%%"}, "xseg_mask: not base64"),
    ("xseg_mask", {"png": "aGVsbG8="}, "xseg_mask: not a readable image"),
    ("version", "one", "version: str 'one'"),
])
def test_from_dict_checks_every_stored_value(field, value, message):
    from facelib.meta import BadMetaField
    with pytest.raises(BadMetaField, match=f"^{message}"):
        FaceMeta.from_dict({"face_type": "full_face", "landmarks": [[1.0, 2.0]] * 68, field: value})


def test_a_face_declaring_more_pixels_than_any_face_is_refused_with_its_metadata():
    import struct
    meta = FaceMeta(landmarks=np.zeros((68, 2)))
    data = bytearray(embed_meta(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes(), meta))
    data[16:24] = struct.pack(">II", 60000, 60000)  # IHDR width, height
    data[29:33] = struct.pack(">I", __import__("zlib").crc32(bytes(data[12:29])))
    with pytest.raises(FaceFileError, match="face.png: the image declares 60000x60000 pixels"):
        meta_from_bytes(bytes(data), "face.png")
