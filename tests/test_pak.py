"""faceset.pak: our safe packed format, its round trip, refusal of escaping names, and legacy DFL packs."""
from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest

from facelib.meta import load_face
from samplelib import pak as pakmod
from samplelib.pak import PackedFaceset, PakError, iter_faces, pack_faceset, unpack_faceset


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_pack_unpack_round_trip_is_byte_identical(faceset_copy):
    folder = faceset_copy.dir
    before = _snapshot(folder)
    pak_file = pack_faceset(folder, delete_originals=True)
    assert pak_file.name == "faceset.pak" and list(folder.iterdir()) == [pak_file]

    pak = PackedFaceset(pak_file)
    assert sorted(pak.names()) == sorted(before)
    name = faceset_copy.groups["base"][0]
    image, meta = pak.load_face(name)
    assert image.shape == (128, 128, 3) and meta.landmarks.shape == (68, 2)
    assert len(list(iter_faces(folder))) == len(before)

    assert unpack_faceset(folder) == len(before)
    assert not pak_file.exists()
    assert _snapshot(folder) == before  # pixels and metadata, byte for byte


def test_pack_says_how_many_are_faces(faceset_copy, log_messages):
    import cv2
    folder = faceset_copy.dir
    faces = len(list(folder.iterdir()))
    cv2.imwrite(str(folder / "notes_debug.jpg"), np.zeros((8, 8, 3), np.uint8))  # an image without face data
    pak = PackedFaceset(pack_faceset(folder))
    assert len(pak) == faces + 1  # kept, so that unpacking gives the folder back
    assert any(m.startswith(f"Packed {faces} faces and 1 other image (kept as they are)") for m in log_messages)


def test_person_faceset_and_keeping_originals(faceset_copy):
    folder = faceset_copy.dir
    names = faceset_copy.names("base")
    for person, chunk in (("alice", names[:3]), ("bob", names[3:5])):
        (folder / person).mkdir()
        for n in chunk:
            (folder / n).rename(folder / person / n)
    before = _snapshot(folder)
    pack_faceset(folder, persons=True)  # non-interactive default keeps originals
    pak = PackedFaceset(folder / "faceset.pak")
    assert {e.person for e in pak.entries} == {None, "alice", "bob"}
    assert f"alice/{names[0]}" in pak.names()
    for rel, data in before.items():
        assert pak.read_bytes(rel) == data
    # unpacking into a fresh folder recreates the person sub-folders
    fresh = folder.parent / "fresh"
    fresh.mkdir()
    (folder / "faceset.pak").rename(fresh / "faceset.pak")
    unpack_faceset(fresh)
    assert _snapshot(fresh) == before


def _craft_pak(path, names_and_data, person=None):
    entries, blob, offset = [], b"", 0
    for name, data in names_and_data:
        entries.append({"name": name, "person": person, "offset": offset, "size": len(data)})
        blob += data
        offset += len(data)
    index = json.dumps({"version": 1, "entries": entries}).encode()
    path.write_bytes(pakmod.MAGIC + struct.pack("<IQ", 1, len(index)) + index + blob)


@pytest.mark.parametrize("name,person", [("../escape.jpg", None), ("/tmp/abs.jpg", None), ("ok.jpg", ".."),
                                         ("sub/../../x.jpg", None), ("..", None),
                                         # issue 25: the pack's own name (in any case) would overwrite it while it
                                         # is read; dot names are hidden files (and our temporary files)
                                         ("faceset.pak", None), ("FaceSet.PAK", None), (".hidden.jpg", None),
                                         ("ok.jpg", ".git"), ("ok.jpg", "FACESET.pak")])
def test_crafted_escaping_names_are_refused(tmp_path, name, person):
    folder = tmp_path / "aligned"
    folder.mkdir()
    _craft_pak(folder / "faceset.pak", [("fine.jpg", b"aaaa"), (name, b"evil")], person)
    with pytest.raises(PakError, match="unsafe"):
        unpack_faceset(folder)
    assert not (tmp_path / "escape.jpg").exists() and not (folder / "fine.jpg").exists()
    assert (folder / "faceset.pak").exists()


def test_truncated_and_corrupt_packs(faceset_copy):
    folder = faceset_copy.dir
    pak_file = pack_faceset(folder)
    data = pak_file.read_bytes()
    pak_file.write_bytes(data[:-100])
    with pytest.raises(PakError, match="faceset.pak.*outside the file"):
        PackedFaceset(pak_file)
    flipped = bytearray(data)
    flipped[-50] ^= 0xFF
    pak_file.write_bytes(bytes(flipped))
    pak = PackedFaceset(pak_file)
    with pytest.raises(PakError, match="corrupt"):
        pak.read_bytes(pak.names()[-1])
    pak_file.write_bytes(b"not a pack at all")
    with pytest.raises(PakError, match="not a faceset.pak"):
        PackedFaceset(pak_file)


def _legacy_pak(path, files):
    """A pak as DFL writes it: u64 version, pickled sample configs, offset table (last entry absolute)."""
    configs = [{"sample_type": 1, "filename": p.name, "face_type": 2, "shape": (128, 128, 3), "landmarks": [],
                "seg_ie_polys": None, "xseg_mask": None, "xseg_mask_compressed": None,
                "eyebrows_expand_mod": 1.0, "source_filename": p.name, "person_name": None} for p in files]
    table = pickle.dumps(configs, 4)
    datas = [p.read_bytes() for p in files]
    offsets, off = [], 0
    for d in datas:
        offsets.append(off)
        off += len(d)
    data_start = 16 + len(table) + 8 * (len(files) + 1)
    offsets.append(data_start + off)  # DFL's absolute final offset
    path.write_bytes(struct.pack("<QQ", 1, len(table)) + table + struct.pack(f"<{len(offsets)}Q", *offsets)
                     + b"".join(datas))


def test_reads_legacy_dfl_pak(faceset_copy, tmp_path):
    files = [faceset_copy.dir / n for n in faceset_copy.names("base")[:4]]
    target = tmp_path / "legacy"
    target.mkdir()
    _legacy_pak(target / "faceset.pak", files)
    pak = PackedFaceset(target / "faceset.pak")
    assert pak.legacy and pak.names() == [p.name for p in files]
    for p in files:
        assert pak.read_bytes(p.name) == p.read_bytes()
    image, meta = pak.load_face(files[0].name)
    assert np.array_equal(image, load_face(files[0])[0])


def test_legacy_pak_with_malicious_table_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {tmp_path / 'pwned'}",))
    table = pickle.dumps([Evil()], 4)
    (tmp_path / "faceset.pak").write_bytes(struct.pack("<QQ", 1, len(table)) + table + struct.pack("<2Q", 0, 0))
    with pytest.raises(PakError, match="system"):
        PackedFaceset(tmp_path / "faceset.pak")
    assert not (tmp_path / "pwned").exists()


def test_iter_faces_skips_corrupt_and_plain_images(faceset_copy):
    folder = faceset_copy.dir
    (folder / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    import cv2
    cv2.imwrite(str(folder / "zz_plain.png"), np.zeros((8, 8), np.uint8))
    names = [n for n, _, _ in iter_faces(folder)]
    assert "zz_broken.jpg" not in names and "zz_plain.png" not in names
    assert len(names) == len(faceset_copy.names())
    assert "zz_plain.png" in [n for n, _, _ in iter_faces(folder, with_meta_only=False)]


def test_a_crafted_index_is_one_error(tmp_path):
    for index in (b"[" * 100000 + b"]" * 100000, b'{"entries": [{"name": "a.jpg", "offset": 1e999, "size": 1}]}',
                  b'{"entries": "x"}', b'{"entries": [{"name": 5, "offset": 0, "size": 0}]}'):
        path = tmp_path / "faceset.pak"
        path.write_bytes(pakmod.MAGIC + struct.pack("<IQ", 1, len(index)) + index)
        with pytest.raises(PakError, match=r"faceset\.pak: (corrupt index|unsafe entry name)"):
            PackedFaceset(path)
