"""Hostile and broken files (issue 25) through every command that reads them, as `python main.py ...` processes.

A corpus is crafted here, one or more files per class: images declaring huge sizes (as frames, as faces and as
embedded XSeg masks, PNG and JPEG), each kind of malformed face metadata in our JSON format and in DeepFaceLab's
pickled one, memory-amplifying pickles and a zlib bomb, a code-running pickle, a pak with an entry named after
itself, model data files with wrong values, and config files with a byte-order mark or NaN. Every command ends
with exit code 0 or 1, never a traceback; each bad file gets a line naming it and what is wrong; the peak memory
(the command's own `ru_maxrss`, see run_cli) stays under 1 GB (training: under what TensorFlow itself takes plus
a margin, see MAX_TRAIN_RSS_MB); no input file changes; the marker file of the code-running pickle never appears.
Merge runs the precomputed pass 2 (no model); train and the model-file cases share one tiny model trained here.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelib.meta import JPEG_PREFIX, META_KEY, read_meta, save_face

ROOT = Path(__file__).resolve().parents[1]
MAX_RSS_MB = 1024
GIB = 1 << 30


# ------------------------------------------------------------------------------------------------ crafting ---

def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose header declares `width` x `height` gray pixels (the data holds a few bytes)."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to declare `width` x `height`."""
    data = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))[1].tobytes()
    sof = data.index(b"\xff\xc0")
    return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


def with_json_meta(image: bytes, text: bytes) -> bytes:
    """`image` (JPEG or PNG) carrying `text` as our metadata, written raw (no FaceMeta in between)."""
    if image.startswith(b"\xff\xd8"):
        payload = JPEG_PREFIX + struct.pack(">HH", 0, 1) + text
        return image[:2] + struct.pack(">BBH", 0xFF, 0xEB, len(payload) + 2) + payload + image[2:]
    return with_itxt(image, b"\1\0" + b"\0" + b"\0" + zlib.compress(text))


def with_itxt(png: bytes, body: bytes) -> bytes:
    """`png` with our metadata chunk (keyword SAEHDBW-META) holding `body` after the keyword, right after IHDR."""
    ihdr_end = 8 + 25
    return png[:ihdr_end] + _chunk(b"iTXt", META_KEY + b"\0" + body) + png[ihdr_end:]


def with_dfl_meta(jpeg: bytes, payload: bytes) -> bytes:
    """A JPEG as DeepFaceLab writes it: its pickled dict in an APP15 segment after the JFIF APP0 one."""
    app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:app0_end] + b"\xff\xef" + struct.pack(">H", len(payload) + 2) + payload + jpeg[app0_end:]


class Reduce:
    """Pickles as `func(*args)`: what a crafted pickle can ask the unpickler to call."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def zlib_bomb(size: int) -> bytes:
    """zlib data (about 1 MB) that inflates to `size` bytes of spaces."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    chunk = b" " * (16 << 20)
    return b"".join([packer.compress(chunk) for _ in range(size // len(chunk))] + [packer.flush()])


def _json(d: dict) -> bytes:
    return json.dumps(d).encode()


def hostile_faces(good: Path, marker: Path) -> dict[str, bytes]:
    """name -> bytes of each hostile aligned face, built from the real face `good` (a JPG with our metadata)."""
    meta = read_meta(good)
    image = cv2.imdecode(np.fromfile(str(good), np.uint8), cv2.IMREAD_COLOR)
    jpg = cv2.imencode(".jpg", image)[1].tobytes()
    png = cv2.imencode(".png", image)[1].tobytes()
    ours = meta.to_dict()
    dfl = {"face_type": "full_face", "landmarks": meta.landmarks.tolist(), "source_filename": meta.source_filename,
           "source_rect": [10, 10, 100, 100], "source_landmarks": meta.source_landmarks.tolist(),
           "image_to_face_mat": meta.image_to_face_mat, "eyebrows_expand_mod": 1.0}
    lm5 = meta.landmarks[:5].tolist()
    bad_values = {  # field -> value, the same in both formats
        "eyebrows_big": ("eyebrows_expand_mod", "big"),
        "landmarks_hello": ("landmarks", "hello"),
        "mat_3x3": ("image_to_face_mat", np.eye(3).tolist()),
        "rect_abc": ("source_rect", "abc"),
        "landmarks_0": ("landmarks", []),
        "landmarks_5": ("landmarks", lm5),
        "landmarks_nan": ("landmarks", [[float("nan"), 1.0]] * 68),
        "landmarks_1e30": ("landmarks", [[1e30, 1.0]] * 68),
        "source_landmarks_5": ("source_landmarks", lm5),
        "xsegmask_huge_png": ("xseg_mask", png_declaring(60000, 60000)),
        "xsegmask_huge_jpeg": ("xseg_mask", jpeg_declaring(65000, 65000)),
    }
    faces: dict[str, bytes] = {}
    for name, (field, value) in bad_values.items():
        stored = {"png": base64.b64encode(value).decode()} if isinstance(value, bytes) else value
        faces[f"json_{name}.jpg"] = with_json_meta(jpg, _json({**ours, field: stored}))
        legacy = np.frombuffer(value, np.uint8) if isinstance(value, bytes) else value
        faces[f"dfl_{name}.jpg"] = with_dfl_meta(jpg, pickle.dumps({**dfl, field: legacy}, 4))
    faces["json_polys_xx.jpg"] = with_json_meta(jpg, _json({**ours, "xseg_polys": [{"type": 1, "pts": "xx"}]}))
    faces["dfl_polys_xx.jpg"] = with_dfl_meta(jpg, pickle.dumps(
        {**dfl, "seg_ie_polys": {"polys": [{"type": 1, "pts": "xx"}]}}, 4))
    faces["json_nested_deep.png"] = with_json_meta(png, b'{"landmarks": ' + b"[" * 200000 + b"]" * 200000 + b"}")
    faces["json_not_object.png"] = with_json_meta(png, b"[1, 2, 3]")
    faces["itxt_no_separators.png"] = with_itxt(png, b"\1\0nothing-separates-these")
    faces["itxt_empty_body.png"] = with_itxt(png, b"")
    faces["itxt_zlib_bomb.png"] = with_itxt(png, b"\1\0\0\0" + zlib_bomb(GIB))
    faces["huge_face.png"] = with_json_meta(png_declaring(60000, 60000), _json(ours))
    faces["huge_face.jpg"] = with_json_meta(jpeg_declaring(65000, 65000), _json(ours))
    # Memory amplification: tiny pickles that ask for gigabytes, and one that would run a command.
    leaf = [0.5] * 1000
    shared = [[leaf] * 1000] * 1000  # 10^9 numbers once numpy expands the shared sub-lists
    from numpy._core.multiarray import _reconstruct
    for protocol in (2, 4):
        faces[f"dfl_bytearray_p{protocol}.jpg"] = with_dfl_meta(jpg, pickle.dumps(
            {**dfl, "landmarks": Reduce(bytearray, 200_000_000)}, protocol))
        faces[f"dfl_range_p{protocol}.jpg"] = with_dfl_meta(jpg, pickle.dumps(
            {**dfl, "landmarks": Reduce(list, range(30_000_000))}, protocol))
    faces["dfl_shared_lists.jpg"] = with_dfl_meta(jpg, pickle.dumps({**dfl, "landmarks": shared}, 4))
    faces["dfl_ndarray_shape.jpg"] = with_dfl_meta(jpg, pickle.dumps(
        {**dfl, "xseg_mask": Reduce(_reconstruct, np.ndarray, (200_000_000,), b"b")}, 4))
    faces["dfl_runs_code.jpg"] = with_dfl_meta(jpg, pickle.dumps(
        {**dfl, "landmarks": Reduce(os.system, f"touch {marker}")}, 4))
    assert all(len(data) < 2 << 20 for data in faces.values())  # small files, all of them
    return faces


# ---------------------------------------------------------------------------------------------- the corpus ---

@dataclass
class Corpus:
    root: Path
    faces: Path          # 3 good faces and every hostile face
    hostile: list[str]   # names of the hostile faces
    marker: Path         # the code-running pickle's target


@pytest.fixture(scope="module")
def corpus(merge_workspace, tmp_path_factory) -> Corpus:
    root = tmp_path_factory.mktemp("hostile")
    marker = root / "pwned"
    aligned = merge_workspace / "data_dst" / "aligned"
    good = sorted(aligned.glob("*.jpg"))
    faces = root / "faces"
    faces.mkdir()
    for p in good[:3]:
        shutil.copy2(p, faces / p.name)
    crafted = hostile_faces(good[0], marker)
    for name, data in crafted.items():
        (faces / name).write_bytes(data)
    return Corpus(root, faces, sorted(crafted), marker)


# ------------------------------------------------------------------------------------------------- running ---

@dataclass
class Run:
    code: int
    output: str
    peak_mb: float


# Linux hands a forked child the parent's peak RSS (exec keeps the larger of the old and new peaks), so a CLI
# started straight from this process would report pytest's own peak. A small launcher process forks the command
# instead and reports the command's own peak (`ru_maxrss` from `os.wait4`) on its last output line.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
child.returncode = -1
sys.stdout.flush()
print(f"\\n@@peak_kb {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}", flush=True)
"""


def run_cli(*args, cwd: Path = ROOT, timeout: float = 600) -> Run:
    """`python main.py *args` with no terminal: exit code, stdout+stderr, the command's own peak resident memory."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", DFL_TRAIN_PRECISION="float32", DFL_SAMPLE_WORKERS="0",
               DFL_FORCE_CPU="1")
    command = [sys.executable, str(ROOT / "main.py"), "--non-interactive", *map(str, args)]
    run = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    text = run.stdout.decode("utf-8", "replace")
    text, _, tail = text.rpartition("\n@@peak_kb ")
    peak_kb, code = tail.split()
    return Run(int(code), text, int(peak_kb) / 1024)


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check(run: Run, codes=(0, 1)) -> None:
    """Exit code 0 or 1, no traceback, no multi-line OpenCV error, bounded memory."""
    assert run.code in codes, run.output[-3000:]
    assert "Traceback" not in run.output and "error: (-" not in run.output, run.output[-3000:]
    assert run.peak_mb < MAX_RSS_MB, f"peak RSS {run.peak_mb:.0f} MB\n{run.output[-2000:]}"


def lines_naming(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if name in line]


def check_each_named(run: Run, names: list[str]) -> None:
    """Every file of `names` is reported on a line of its own that says what is wrong with it."""
    missing = [n for n in names if not lines_naming(run.output, n)]
    assert not missing, f"not reported: {missing}\n{run.output[-4000:]}"
    twice = [line for n in names for line in lines_naming(run.output, n) if line.count(n) > 1]
    assert not twice, twice  # (resize-to-grayscale used to print the path twice)


# --------------------------------------------------------------------------------------- faceset commands ---

FACE_COMMANDS = {
    "faceset-info": lambda d, out: ["util", "faceset-info", "--input-dir", d],
    "add-landmarks-debug-images": lambda d, out: ["util", "add-landmarks-debug-images", "--input-dir", d],
    "import-dfl-faceset": lambda d, out: ["util", "import-dfl-faceset", "--input-dir", d, "--output-dir", out],
    "resize-to-grayscale": lambda d, out: ["resize-to-grayscale", "--input-dir", d, "--output-dir", out,
                                           "--image-size", "64", "--face-type", "same", "--no-merge",
                                           "--workers", "1"],
    "sort": lambda d, out: ["sort", "--input-dir", d, "--by", "blur"],
    "pack-faceset": lambda d, out: ["util", "pack-faceset", "--input-dir", d, "--keep-originals"],
    "xseg-fetch": lambda d, out: ["xseg", "fetch", "--input-dir", d, "--keep-originals"],
}


@pytest.mark.parametrize("command", FACE_COMMANDS)
def test_faceset_commands_skip_each_hostile_face_with_one_line(corpus, tmp_path, command):
    folder = tmp_path / "aligned"
    shutil.copytree(corpus.faces, folder)
    before = tree_hashes(folder)
    run = run_cli(*FACE_COMMANDS[command](folder, tmp_path / "out"))
    check(run, codes=(0,))
    if command == "sort":  # faces are renamed and the unusable ones moved to the trash: the same bytes, all there
        trash = folder.parent / f"{folder.name}_trash"
        assert sorted(before.values()) == sorted([*tree_hashes(folder).values(), *tree_hashes(trash).values()])
    else:  # nothing changed, nothing lost (new files such as debug images may appear)
        after = tree_hashes(folder)
        assert {k: v for k, v in after.items() if k in before} == before
    if command != "pack-faceset":  # (packing copies bytes, it reads no face)
        check_each_named(run, corpus.hostile)
    assert not corpus.marker.exists()


def test_xseg_apply_skips_each_hostile_face_with_one_line(corpus, footage_xseg, tmp_path):
    """`xseg apply` (a real tiny XSeg model) masks the good faces and leaves every hostile one as it was."""
    from facelib.meta import read_meta
    folder = tmp_path / "aligned"
    shutil.copytree(corpus.faces, folder)
    before = tree_hashes(folder)
    run = run_cli("xseg", "apply", "--input-dir", folder, "--model-dir", footage_xseg)
    check(run, codes=(0,))
    check_each_named(run, corpus.hostile)
    after = tree_hashes(folder)
    assert set(after) == set(before)
    assert all(after[n] == before[n] for n in corpus.hostile)
    good = [n for n in before if n not in corpus.hostile]
    assert good and all(read_meta(folder / n).xseg_mask is not None for n in good)
    assert not corpus.marker.exists()


# ----------------------------------------------------------------------------------- frames: extract, merge ---

def huge_frames(folder: Path) -> list[str]:
    """Frames declaring 60000 x 60000 (PNG) and 65000 x 65000 (JPEG) pixels in `folder`; their names."""
    (folder / "00007.png").write_bytes(png_declaring(60000, 60000))
    (folder / "00008.png").write_bytes(png_declaring(60000, 60000))
    (folder / "00009.jpg").write_bytes(jpeg_declaring(65000, 65000))
    return ["00007.png", "00008.png", "00009.jpg"]


def test_extract_skips_frames_declaring_huge_sizes(merge_workspace, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy2(merge_workspace / "data_dst" / "00001.png", frames)
    huge = huge_frames(frames)
    before = tree_hashes(frames)
    run = run_cli("extract", "--input-dir", frames, "--output-dir", tmp_path / "aligned", "--detector", "blazeface",
                  "--face-type", "f", "--image-size", "128", "--workers", "1", "--no-output-debug")
    check(run, codes=(0,))
    check_each_named(run, huge)
    assert tree_hashes(frames) == before and len(list((tmp_path / "aligned").glob("*.jpg"))) == 1


@pytest.fixture()
def merge_ws(merge_workspace, merge_scene, corpus, tmp_path) -> Path:
    """A dst workspace whose aligned faces include the hostile ones, with frames declaring huge sizes (two with a
    face, one without), and a precomputed pass 1 (data_dst/predicted) covering every frame with a face."""
    from facelib.meta import load_face
    from mainscripts.merge import load_alignments
    from merger.config import MergerConfig
    from merger.frames import RunOptions, build_frames
    from merger.loop import Merger
    from merger.sources import read_spec, write_spec
    from tests.fixtures_merge import RealFaceSource

    root = tmp_path / "ws"
    shutil.copytree(merge_workspace, root)
    dst = root / "data_dst"
    frames = build_frames(dst, load_alignments(dst / "aligned"))
    merger = Merger(frames, [MergerConfig()] * len(frames), RealFaceSource(merge_scene, channels=1),
                    RunOptions(root / "unused"))
    assert merger.export_predictions(frames, dst / "predicted") == 5
    huge_frames(dst)
    image, meta = load_face(dst / "aligned" / "00001_0.jpg")
    for frame in ("00007.png", "00009.jpg"):  # faces in the huge frames: the merger must read those frames
        meta.source_filename = frame
        stem = Path(frame).stem
        save_face(dst / "aligned" / f"{stem}_0.jpg", image, meta)
        for sub in ("", "masks/"):
            shutil.copy2(dst / "predicted" / f"{sub}00001_0.png", dst / "predicted" / f"{sub}{stem}_0.png")
    spec, stems = read_spec(dst / "predicted")
    write_spec(dst / "predicted", spec, sorted(stems | {"00007", "00009"}))
    for name in corpus.hostile:
        shutil.copy2(corpus.faces / name, dst / "aligned" / name)
    return root


def test_merge_skips_hostile_faces_and_frames_and_the_video_keeps_its_length(merge_ws, corpus):
    dst = merge_ws / "data_dst"
    before = tree_hashes(dst)
    run = run_cli("merge", "--input-dir", dst, "--model", "SAEHDBW", "--bw-output", "precomputed", "--workers", "1",
                  "--mask-mode", "dst")
    check(run, codes=(0,))
    check_each_named(run, corpus.hostile + ["00007.png", "00008.png", "00009.jpg"])
    merged = dst / "merged"
    assert sorted(p.name for p in merged.glob("*.png")) == [f"{i:05d}.png" for i in range(1, 7)]  # 5 merged, 1 copied
    after = tree_hashes(dst)
    assert {k: v for k, v in after.items() if k in before} == before
    assert not corpus.marker.exists()

    # The same faces packed in data_dst/aligned/faceset.pak: skipped alike, the merge goes on.
    from samplelib.pak import pack_faceset
    pack_faceset(dst / "aligned", persons=False, delete_originals=True)
    run = run_cli("merge", "--input-dir", dst, "--model", "SAEHDBW", "--bw-output", "precomputed", "--workers", "1",
                  "--mask-mode", "dst", "--force")
    check(run, codes=(0,))
    check_each_named(run, corpus.hostile)
    assert "Merged 5 frames" in run.output

    # A merged sequence holding frames that declare huge sizes (first and in the middle): video-from-sequence
    # repeats a readable frame for each and says so, so the video keeps its length and stays in step with the audio.
    (merged / "00000.png").write_bytes(png_declaring(60000, 60000))
    (merged / "00004.png").write_bytes(png_declaring(60000, 60000))
    run = run_cli("video", "video-from-sequence", "--input-dir", merged, "--output-file", merge_ws / "result.mp4",
                  "--ext", "png", "--fps", "25", "--no-include-audio", "--bitrate", "1")
    check(run, codes=(0,))
    assert len(lines_naming(run.output, "00000.png")) == 1 and len(lines_naming(run.output, "00004.png")) == 1
    from core import ffmpeg
    assert ffmpeg.probe(merge_ws / "result.mp4").frame_count == 7


# ----------------------------------------------------------------------------------------------------- paks ---

def _pak(path: Path, entries: list[tuple[str, bytes]], person: str | None = None) -> None:
    from samplelib import pak as pakmod
    index, blob, offset = [], b"", 0
    for name, data in entries:
        index.append({"name": name, "person": person, "offset": offset, "size": len(data), "crc32": zlib.crc32(data)})
        blob += data
        offset += len(data)
    raw = json.dumps({"version": 1, "entries": index}).encode()
    path.write_bytes(pakmod.MAGIC + struct.pack("<IQ", 1, len(raw)) + raw + blob)


def _legacy_pak(path: Path, entries: list[tuple[str, bytes]]) -> None:
    """A pak as DeepFaceLab writes it (pickled sample table, offsets, the files)."""
    table = pickle.dumps([{"filename": name, "person_name": None} for name, _ in entries], 4)
    offsets, off = [], 0
    for _, data in entries:
        offsets.append(off)
        off += len(data)
    offsets.append(16 + len(table) + 8 * (len(entries) + 1) + off)
    path.write_bytes(struct.pack("<QQ", 1, len(table)) + table + struct.pack(f"<{len(offsets)}Q", *offsets)
                     + b"".join(data for _, data in entries))


UNPACKS = {"unpack-faceset": ["util", "unpack-faceset", "--input-dir"], "dfl-flag": ["util", "--unpack-faceset",
                                                                                   "--input-dir"],
           "import-dfl-faceset": ["util", "import-dfl-faceset", "--input-dir"]}


@pytest.mark.parametrize("writer,bad_name,command", [(_pak, "faceset.pak", "unpack-faceset"),
                                                     (_pak, "FaceSet.PAK", "dfl-flag"),
                                                     (_pak, ".hidden.jpg", "unpack-faceset"),
                                                     (_legacy_pak, "faceset.pak", "import-dfl-faceset"),
                                                     (_legacy_pak, "FACESET.pak", "unpack-faceset")])
def test_unpacking_a_pak_that_names_itself_changes_nothing(corpus, tmp_path, writer, bad_name, command):
    folder = tmp_path / "aligned"
    folder.mkdir()
    good = sorted(p for p in corpus.faces.iterdir() if p.name[0].isdigit())
    (folder / "notes.txt").write_text("the user's own file")
    writer(folder / "faceset.pak", [(good[0].name, good[0].read_bytes()), (bad_name, b"overwrites the pack"),
                                    (good[1].name, good[1].read_bytes())])
    before = tree_hashes(folder)
    run = run_cli(*UNPACKS[command], folder)
    check(run, codes=(1,))
    assert any(repr(bad_name) in line and "faceset.pak" in line for line in run.output.splitlines()), run.output
    assert tree_hashes(folder) == before  # the pak byte-identical, nothing written or left behind
    assert sorted(p.name for p in folder.iterdir()) == ["faceset.pak", "notes.txt"]


def test_an_unpack_that_fails_half_way_leaves_the_folder_as_it_was(corpus, tmp_path):
    folder = tmp_path / "aligned"
    folder.mkdir()
    good = sorted(p for p in corpus.faces.iterdir() if p.name[0].isdigit())
    _pak(folder / "faceset.pak", [(p.name, p.read_bytes()) for p in good])
    data = bytearray((folder / "faceset.pak").read_bytes())
    data[-100] ^= 0xFF  # the last entry fails its CRC: found only after the first ones were read
    (folder / "faceset.pak").write_bytes(bytes(data))
    (folder / good[0].name).write_bytes(b"an older loose copy")
    before = tree_hashes(folder)
    run = run_cli("util", "unpack-faceset", "--input-dir", folder)
    check(run, codes=(1,))
    assert "corrupt" in run.output and tree_hashes(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted(["faceset.pak", good[0].name])


# -------------------------------------------------------------------------------------- training and models ---

TINY = {"resolution": 64, "archi": "df-ud", "ae_dims": 32, "e_dims": 16, "d_dims": 16, "d_mask_dims": 16,
        "batch_size": 2, "target_iter": 1, "random_warp": False}


def _train(src: Path, dst: Path, model_dir: Path, config: Path, *extra) -> Run:
    return run_cli("train", "--training-data-src-dir", src, "--training-data-dst-dir", dst, "--model-dir", model_dir,
                   "--model", "SAEHDBW", "--no-preview", "--cpu-only", "--config-file", config, *extra)


# TensorFlow and the tiny model alone peak at about 1.05 GB in `train` (the same run on the 3 good faces only,
# AMD EPYC): training gets that plus a margin well below what single hostile files took before (issue 25: 2.4 GB
# for `bytearray(200_000_000)` as a value, 2.2 GB for the zlib bomb; the shared lists expand to 4 GB).
MAX_TRAIN_RSS_MB = 1536


@dataclass
class Trained:
    model_dir: Path
    run: Run


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Trained:
    """One iteration on the hostile faces (+ 3 good ones) with a config file saved by Windows Notepad (UTF-8 with
    a byte-order mark, CRLF line ends)."""
    root = tmp_path_factory.mktemp("hostile_train")
    config = root / "options.json"
    config.write_bytes(b"\xef\xbb\xbf" + json.dumps(TINY, indent=2).replace("\n", "\r\n").encode())
    before = tree_hashes(corpus.faces)
    run = _train(corpus.faces, corpus.faces, root / "model", config)
    assert tree_hashes(corpus.faces) == before
    return Trained(root / "model", run)


@pytest.mark.slow
def test_train_skips_every_hostile_face_and_trains_on_the_rest(trained, corpus):
    run = trained.run
    assert run.code == 0 and "Traceback" not in run.output, run.output[-3000:]
    print(f'train peak RSS {run.peak_mb:.0f} MB')
    assert run.peak_mb < MAX_TRAIN_RSS_MB, run.peak_mb
    from samplelib.loader import WARN_LINES  # the first few skipped faces get a line each, the rest a count
    named = [n for n in corpus.hostile if any("Skipping" in line for line in lines_naming(run.output, n))]
    assert len(named) == WARN_LINES, run.output[-4000:]
    assert f"and {len(corpus.hostile) - WARN_LINES} more files skipped" in run.output
    assert json.loads((trained.model_dir / "new_SAEHDBW_data.json").read_text())["iter"] == 1
    assert not corpus.marker.exists()


def _edited_model(trained: Trained, tmp_path: Path, edit) -> Path:
    model = tmp_path / "model"
    shutil.copytree(trained.model_dir, model)
    path = model / "new_SAEHDBW_data.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return model


@pytest.mark.slow
def test_model_data_with_wrong_values_is_one_line_naming_file_and_field(trained, corpus, merge_workspace, tmp_path):
    assert trained.run.code == 0
    config = tmp_path / "go.json"
    config.write_text(json.dumps({"target_iter": 2}))
    model = _edited_model(trained, tmp_path / "a", lambda d: d.update(iter="abc"))
    data = (model / "new_SAEHDBW_data.json").read_bytes()
    run = _train(corpus.faces, corpus.faces, model, config, "--silent-start")
    check(run, codes=(1,))
    assert any("new_SAEHDBW_data.json" in line and "iter" in line and "'abc'" in line
               for line in run.output.splitlines()), run.output[-2000:]
    assert (model / "new_SAEHDBW_data.json").read_bytes() == data

    model = _edited_model(trained, tmp_path / "b", lambda d: d["options"].update(archi="xyz"))
    ws = tmp_path / "ws"
    shutil.copytree(merge_workspace, ws)
    run = run_cli("merge", "--input-dir", ws / "data_dst", "--model-dir", model, "--model", "SAEHDBW", "--workers",
                  "1", "--mask-mode", "dst", "--cpu-only")
    check(run, codes=(1,))
    assert any("new_SAEHDBW_data.json" in line and "unknown archi 'xyz'" in line for line in run.output.splitlines())
    assert "missing" not in run.output


def test_config_files_with_nan_are_refused_and_nothing_is_written(corpus, tmp_path):
    for text in ('{"gan_power": NaN}', '{"gan_power": 1e999}', '{"gan_power": "nan"}'):
        config = tmp_path / "options.json"
        config.write_text(text)
        run = _train(corpus.faces, corpus.faces, tmp_path / "model", config)
        check(run, codes=(1,))
        assert any("options.json" in line and "gan_power" in line or "finite" in line
                   for line in run.output.splitlines()), run.output[-2000:]
        assert not (tmp_path / "model").exists() or not list((tmp_path / "model").glob("*_data.json"))


def test_import_dfl_model_refuses_bad_and_amplifying_data_files(tmp_path, corpus):
    folder = tmp_path / "dfl_model"
    folder.mkdir()
    (folder / "abc_SAEHD_data.dat").write_bytes(pickle.dumps({"iter": "abc", "options": {"archi": "df"}}, 4))
    (folder / "huge_SAEHD_data.dat").write_bytes(pickle.dumps(
        {"iter": 1, "options": {"archi": "df"}, "loss_history": Reduce(bytearray, 500_000_000)}, 4))
    (folder / "range_SAEHD_data.dat").write_bytes(pickle.dumps(
        {"iter": 1, "options": {"archi": "df"}, "loss_history": Reduce(list, range(30_000_000))}, 4))
    (folder / "code_SAEHD_data.dat").write_bytes(pickle.dumps(
        {"iter": 1, "options": Reduce(os.system, f"touch {corpus.marker}")}, 4))
    before = tree_hashes(folder)
    run = run_cli("util", "import-dfl-model", "--input-dir", folder, "--output-dir", tmp_path / "out")
    check(run, codes=(1,))
    check_each_named(run, ["abc_SAEHD_data.dat", "huge_SAEHD_data.dat", "range_SAEHD_data.dat",
                           "code_SAEHD_data.dat"])
    assert tree_hashes(folder) == before and not corpus.marker.exists()
    assert not list((tmp_path / "out").glob("*_data.json"))


def test_restore_faceset_metadata_stays_inside_and_skips_bad_entries(corpus, tmp_path):
    folder = tmp_path / "aligned"
    folder.mkdir()
    good = sorted(p for p in corpus.faces.iterdir() if p.name[0].isdigit())
    shutil.copy2(good[0], folder / "a.jpg")
    shutil.copy2(good[1], folder / "b.jpg")
    outside = tmp_path / "outside.jpg"
    shutil.copy2(good[2], outside)
    entry = {"shape": [128, 128, 3], "meta": read_meta(good[0]).to_dict()}
    sidecar = {"version": 1, "faces": {"../outside.jpg": entry, "a.jpg": {**entry, "shape": [10 ** 9, 1]},
                                       "b.jpg": {**entry, "meta": {**entry["meta"], "landmarks": "hello"}}}}
    (folder / "faceset_metadata.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(sidecar).encode())
    before, outside_bytes = tree_hashes(folder), outside.read_bytes()
    run = run_cli("util", "restore-faceset-metadata", "--input-dir", folder)
    check(run, codes=(1,))
    check_each_named(run, ["'../outside.jpg'", "a.jpg", "b.jpg"])
    assert tree_hashes(folder) == before and outside.read_bytes() == outside_bytes
    (folder / "faceset_metadata.json").write_text('{"faces": ' + "[" * 100000 + "]" * 100000 + "}")
    run = run_cli("util", "restore-faceset-metadata", "--input-dir", folder)
    check(run, codes=(1,))
    assert "faceset_metadata.json: corrupt metadata file" in run.output
