"""A whole extraction run over a folder of frames: worker processes, resumable journal, files written.

Pass "landmarks" finds the faces of every pending frame (in `workers` processes, each with its own
detector); optional temporal smoothing and manual passes edit those results; pass "final" writes
`<stem>_<k>.jpg` aligned faces with FaceMeta and the `aligned_debug` frames. Without smoothing or manual work
both passes run together in the workers, so each frame is read once.

`.extract_journal.jsonl` in the output folder records the settings and every finished frame with its faces,
so running the same command again only processes frames not yet done.
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np
from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import atomic_write_bytes, input_folder, list_images
from facelib.extractor import FaceExtractor, FoundFace, align_face, draw_debug, read_frame
from facelib.face_type import FaceType
from facelib.identity import DEFAULT_THRESHOLD, IDENTITY_KEY, IdentityFilter, Reference
from facelib.meta import save_face

JOURNAL_NAME = ".extract_journal.jsonl"
DEBUG_JPEG_QUALITY = 50


@dataclass
class ExtractOptions:
    """Everything one extraction run needs (the CLI flags, resolved)."""

    input_dir: Path
    output_dir: Path
    detector: str = "blazeface"          # blazeface | dlib | dlib-cnn (manual is handled by the caller)
    face_type: FaceType = FaceType.WHOLE_FACE
    image_size: int = 512
    jpeg_quality: int = 90
    max_faces: int = 0                   # 0 = all faces
    output_debug: bool = False
    smooth_landmarks: int = 0            # window in frames; < 2 = off
    workers: int = 2
    accurate: bool = True
    identity: Reference | None = None    # keep only the faces of this person (--filter-identity)
    identity_threshold: float = DEFAULT_THRESHOLD

    @property
    def debug_dir(self) -> Path:
        """`<output>_debug`, e.g. data_dst/aligned → data_dst/aligned_debug (DFL's layout)."""
        return self.output_dir.with_name(self.output_dir.name + "_debug")

    def signature(self) -> dict:
        """The settings that change what is written; a journal with other settings is not continued."""
        signature = {"face_type": self.face_type.to_string(), "image_size": self.image_size,
                     "jpeg_quality": self.jpeg_quality, "max_faces": self.max_faces}
        if self.identity is not None:
            signature["identity"] = {"reference": self.identity.signature(), "threshold": self.identity_threshold}
        return signature


# ------------------------------------------------------------------------------------------------ journal ---

class Journal:
    """Append-only record of finished frames: a header line with the settings, then one line per frame."""

    def __init__(self, output_dir: Path):
        self.path = Path(output_dir) / JOURNAL_NAME

    def read(self) -> tuple[dict | None, dict[str, list[FoundFace]]]:
        """(settings header or None, {frame name: faces}); a torn last line is ignored."""
        if not self.path.is_file():
            return None, {}
        header, done = None, {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "settings" in entry:
                header = entry["settings"]
            elif "frame" in entry:
                done[entry["frame"]] = [FoundFace.from_json(f) for f in entry.get("faces", [])]
        return header, done

    def start(self, signature: dict) -> None:
        atomic_write_bytes(self.path, (json.dumps({"settings": signature}) + "\n").encode())

    def record(self, frame: str, faces: list[FoundFace]) -> None:
        line = json.dumps({"frame": frame, "faces": [f.to_json() for f in faces]}) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()

    def forget(self, frames: Iterable[str]) -> None:
        """Drop frames from the record (they will be extracted again)."""
        header, done = self.read()
        gone = set(frames)
        self.start(header or {})
        for name, faces in done.items():
            if name not in gone:
                self.record(name, faces)


# ----------------------------------------------------------------------------------------- per frame work ---

def face_files(output_dir: Path, stem: str) -> list[Path]:
    """The aligned faces written for frame `stem` (`<stem>_<k>.jpg`)."""
    return [p for p in output_dir.glob(f"{glob_escape(stem)}_*.jpg") if p.stem[len(stem) + 1:].isdigit()]


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def faces_json(faces: list[FoundFace], distances: list[float | None] | None = None) -> list[dict]:
    """Faces as JSON, each with its identity distance (`IDENTITY_KEY`) when the identity filter measured one."""
    distances = distances if distances is not None and len(distances) == len(faces) else [None] * len(faces)
    return [{**f.to_json(), **({} if d is None else {IDENTITY_KEY: d})} for f, d in zip(faces, distances)]


def write_frame(image, frame_path: Path, faces: list[FoundFace], opts: ExtractOptions,
                distances: list[float | None] | None = None) -> int:
    """Write the aligned faces (and debug frame) of one frame; stale `<stem>_<k>` files beyond them are removed.
    A face's identity distance, when given, goes into its metadata."""
    stem = frame_path.stem
    names = set()
    for k, face in enumerate(faces):
        aligned, meta = align_face(image, face, opts.face_type, opts.image_size, frame_path.name)
        if distances is not None and distances[k] is not None:
            meta.extra[IDENTITY_KEY] = distances[k]
        target = opts.output_dir / f"{stem}_{k}.jpg"
        save_face(target, aligned, meta, opts.jpeg_quality)
        names.add(target.name)
    for old in face_files(opts.output_dir, stem):
        if old.name not in names:
            old.unlink(missing_ok=True)
    if opts.output_debug:
        ok, buf = cv2.imencode(".jpg", draw_debug(image, faces, opts.face_type, opts.image_size),
                               [cv2.IMWRITE_JPEG_QUALITY, DEBUG_JPEG_QUALITY])
        if ok:
            atomic_write_bytes(opts.debug_dir / f"{stem}.jpg", buf.tobytes())
    return len(faces)


# Worker-process state: one extractor (and identity filter) per process.
_extractor: FaceExtractor | None = None
_identity: IdentityFilter | None = None
_options: ExtractOptions | None = None


def _init_worker(opts: ExtractOptions) -> None:
    global _extractor, _identity, _options
    cv2.setNumThreads(1)
    _options = opts
    _identity = None
    if opts.identity is not None:  # the N largest faces are taken after the filter, not before
        _identity = IdentityFilter(opts.identity.descriptors, opts.identity_threshold)
    _extractor = FaceExtractor(opts.detector, accurate=opts.accurate,
                               max_faces=0 if _identity else opts.max_faces)


# What a per-frame task returns: (frame name, faces as JSON) or (frame name, None) for an unreadable image,
# or (frame name, "error text") when processing that one frame failed.
FrameResult = tuple[str, "list[dict] | str | None"]
FRAME_ERRORS = (cv2.error, ValueError, ArithmeticError, np.linalg.LinAlgError)


def _detect(path: Path, write: bool) -> FrameResult:
    """Find (and when `write`, also write) the faces of one frame."""
    image = read_frame(path)
    if image is None:
        return path.name, None
    try:
        faces, distances = _extractor.find_faces(image), None
        if _identity is not None:
            faces, distances = _identity.keep(image, faces)
            if _options.max_faces > 0:
                faces, distances = faces[:_options.max_faces], distances[:_options.max_faces]
        if write:
            write_frame(image, path, faces, _options, distances)
    except FRAME_ERRORS as err:
        return path.name, f"{type(err).__name__}: {err}"
    return path.name, faces_json(faces, distances)


def _write(item: tuple[Path, list[dict]]) -> FrameResult:
    path, faces = item
    image = read_frame(path)
    if image is None:
        return path.name, None
    try:
        write_frame(image, path, [FoundFace.from_json(f) for f in faces], _options,
                    [f.get(IDENTITY_KEY) for f in faces])
    except FRAME_ERRORS as err:
        return path.name, f"{type(err).__name__}: {err}"
    return path.name, faces


def _detect_only(path: Path):
    return _detect(path, write=False)


def _detect_and_write(path: Path):
    return _detect(path, write=True)


def _run_tasks(func: Callable, items: list, opts: ExtractOptions, desc: str,
               needs_detector: bool = True) -> Iterator[FrameResult]:
    """Run `func` over `items` in worker processes (or in this process for one worker), in order, with a bar."""
    workers = max(1, min(opts.workers, len(items)))
    init = _init_worker if needs_detector else _set_options
    bar = tqdm(total=len(items), desc=desc, unit="frame", ascii=True, leave=False)
    try:
        if workers == 1:
            init(opts)
            for item in items:
                yield func(item)
                bar.update()
            return
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=init,
                                     initargs=(opts,)) as pool:
                for result in pool.map(func, items, chunksize=4):
                    yield result
                    bar.update()
        except BrokenProcessPool as err:
            raise UserError(f"an extraction worker died ({err}); try --workers 1 to see the error") from None
    finally:
        bar.close()


def _set_options(opts: ExtractOptions) -> None:
    global _options
    cv2.setNumThreads(1)
    _options = opts


# ------------------------------------------------------------------------------------------------ the run ---

@dataclass
class ExtractReport:
    images_found: int = 0
    frames_processed: int = 0
    frames_skipped: int = 0          # already done in an earlier run
    faces_detected: int = 0          # faces written in this run
    unreadable: list[str] = field(default_factory=list)  # or failed: skipped, tried again next run
    no_face: list[str] = field(default_factory=list)


def list_frames(input_dir: Path) -> list[Path]:
    """Input frames with unique stems (a second file with the same stem and another extension is dropped)."""
    input_folder(input_dir)
    frames, seen = [], set()
    for path in list_images(input_dir):
        if path.stem in seen:
            interact.log_warn(f"{path.name}: another frame has the same name {path.stem!r}; skipped")
            continue
        seen.add(path.stem)
        frames.append(path)
    if not frames:
        raise UserError(f"{input_dir}: no images to extract faces from (extract the video's frames first)")
    return frames


def prepare_output(opts: ExtractOptions, frames: list[Path]) -> dict[str, list[FoundFace]]:
    """Open the output folder: continue a run with the same settings, or start over. Returns the done frames."""
    opts.output_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(opts.output_dir)
    header, done = journal.read()
    existing = list_images(opts.output_dir)
    if header is not None and not existing and any(done.values()):
        # Every face the journal recorded is gone (the folder was emptied, the hidden journal left behind):
        # the user wants a fresh extraction, not "all frames were already extracted".
        interact.log_info(f"{opts.output_dir} holds none of the faces extracted before; extracting again.")
        header, done = None, {}
    if header is not None and header != opts.signature():
        interact.log_warn(f"{opts.output_dir} holds faces extracted with other settings ({header}).")
        if not interact.input_bool(f"Delete the {len(existing)} faces there and extract again?", True):
            raise UserError(f"{opts.output_dir}: choose another --output-dir or the same settings as before")
        for path in existing:
            path.unlink()
        for path in list_images(opts.debug_dir):
            path.unlink()
        header, done, existing = None, {}, []
    if header is None:
        journal.start(opts.signature())
        stems = {p.stem.rsplit("_", 1)[0] for p in existing}
        done = {f.name: [] for f in frames if f.stem in stems}
        if done:
            interact.log_info(f"{len(done)} frames already have faces in {opts.output_dir}; they are kept.")
        for name in done:
            journal.record(name, [])
    return done


def run_extraction(opts: ExtractOptions, manual_pass: Callable | None = None,
                   frames: list[Path] | None = None) -> ExtractReport:
    """Extract the faces of every pending frame; `manual_pass(frames, results)` may edit results before writing.

    `manual_pass` receives the pending frame paths and {name: [FoundFace]} (for the manual detector these lists
    are all empty) and returns the edited dict.
    """
    frames = list_frames(opts.input_dir) if frames is None else frames
    report = ExtractReport(images_found=len(frames))
    done = prepare_output(opts, frames)
    journal = Journal(opts.output_dir)
    pending = [f for f in frames if f.name not in done]
    report.frames_skipped = len(frames) - len(pending)
    if not pending:
        interact.log_info("All frames were already extracted.")
        return report
    if opts.output_debug:
        opts.debug_dir.mkdir(parents=True, exist_ok=True)

    one_pass = manual_pass is None and opts.smooth_landmarks < 2 and opts.detector != "manual"
    results: dict[str, list[FoundFace]] = {}
    distances: dict[str, list[float | None]] = {}  # identity filter: the distance of each face found
    if opts.detector == "manual":
        results = {f.name: [] for f in pending}
    else:
        task = _detect_and_write if one_pass else _detect_only
        for name, faces in _run_tasks(task, pending, opts, "Extracting" if one_pass else "Finding faces"):
            if not isinstance(faces, list):
                _skip(report, opts.input_dir / name, faces)
                continue
            results[name] = [FoundFace.from_json(f) for f in faces]
            distances[name] = [f.get(IDENTITY_KEY) for f in faces]
            if one_pass:
                journal.record(name, results[name])
    if not one_pass:
        if opts.smooth_landmarks >= 2:
            results = _smooth(frames, done, results, opts.smooth_landmarks)
        if manual_pass is not None:
            results = manual_pass([f for f in pending if f.name in results], results)
        items = [(f, faces_json(results[f.name], distances.get(f.name))) for f in pending if f.name in results]
        for name, faces in _run_tasks(_write, items, opts, "Writing faces", needs_detector=False):
            if not isinstance(faces, list):
                _skip(report, opts.input_dir / name, faces)
                del results[name]
                continue
            journal.record(name, results[name])
    for name, faces in results.items():
        report.frames_processed += 1
        report.faces_detected += len(faces)
        if not faces:
            report.no_face.append(name)
    return report


def _skip(report: ExtractReport, path: Path, error: str | None) -> None:
    """Warn about a frame that could not be processed; it is not recorded, so the next run tries it again."""
    interact.log_warn(f"{path}: {'cannot read this image' if error is None else error}; skipped")
    report.unreadable.append(path.name)


def _smooth(frames: list[Path], done: dict, results: dict, window: int) -> dict[str, list[FoundFace]]:
    """Smooth landmarks along face tracks over the whole frame sequence (done frames give context only)."""
    from facelib.smoothing import smooth_landmarks
    known = [f.name for f in frames if f.name in results or f.name in done]
    sequence = [results.get(name, done.get(name, [])) for name in known]
    smoothed = smooth_landmarks(sequence, window)
    return {name: faces for name, faces in zip(known, smoothed) if name in results}
