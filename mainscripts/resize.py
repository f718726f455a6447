"""`main.py resize-to-grayscale`: the SAEHDBW faceset resizer (also `main.py util faceset-resize`).

Rescales aligned faces, optionally re-crops them to another face type (e.g. whole face -> full face), converts
them to 8-bit single-channel images and rewrites the metadata to match: landmarks, XSeg polygons, the XSeg
mask and `image_to_face_mat` all go through the same affine map as the pixels. A plain image resizer would
leave the metadata pointing at the wrong pixels.
"""
from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from core.fsio import input_folder, list_images
from facelib.face_type import FaceType
from facelib.landmarks import get_transform_mat, transform_points
from facelib.meta import FaceFileError, FaceMeta, load_face, save_face
from facelib.xseg_polys import transform_polys
from mainscripts.sort_methods import parallel_map

FACE_EXTS = (".jpg", ".jpeg", ".png")
SIZE_RANGE = (32, 2048)
FACE_TYPE_CHOICES = ("same", "h", "mf", "f", "wf", "head")


def _h(mat: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(mat, np.float64), [0.0, 0.0, 1.0]])


def _resize_matrix(src_size: int, dst_size: int) -> np.ndarray:
    """The pixel-centre map of `cv2.resize` from `src_size` to `dst_size` squares."""
    s = dst_size / src_size
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5]], np.float64)


def warp_face(image: np.ndarray, mat: np.ndarray, size: int) -> np.ndarray:
    """Lanczos warp of `image` by `mat` into `size`x`size`; big reductions are pre-shrunk with area averaging
    so that fine detail is filtered instead of aliased."""
    scale = float(np.sqrt(abs(np.linalg.det(np.asarray(mat)[:, :2]))))
    h = image.shape[0]
    if scale < 0.5:
        mid = max(size, int(round(h * scale * 2)))  # keep a 2x margin for the final Lanczos step
        shrink = _resize_matrix(h, mid)
        image = cv2.resize(image, (mid, mid), interpolation=cv2.INTER_AREA)
        mat = (_h(mat) @ np.linalg.inv(_h(shrink)))[:2]
    return cv2.warpAffine(image, mat, (size, size), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_CONSTANT)


def resize_face(image: np.ndarray, meta: FaceMeta, size: int, face_type: str | FaceType | None = None,
                grayscale: bool = True) -> tuple[np.ndarray, FaceMeta]:
    """Resize a square aligned face to `size` (re-cropped to `face_type` unless None/'same') with its metadata."""
    h, w = image.shape[:2]
    if h != w:
        raise ValueError(f"aligned faces are square, this one is {w}x{h}")
    new_type = None if face_type in (None, "same") else FaceType.from_string(str(face_type)) \
        if not isinstance(face_type, FaceType) else face_type
    meta = meta.copy()
    if new_type is not None and new_type.to_string() != meta.face_type:
        if meta.landmarks is None:
            raise ValueError("changing the face type needs landmarks")
        if new_type == FaceType.MARK_ONLY:
            raise ValueError("mark_only has no aligned crop")
        mat = get_transform_mat(meta.landmarks, size, new_type)  # old aligned image -> new aligned image
        meta.face_type = new_type.to_string()
    else:
        mat = np.array([[size / w, 0, 0], [0, size / w, 0]], np.float64)
    out = warp_face(image, mat, size)
    if grayscale and out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    if meta.landmarks is not None:
        meta.landmarks = transform_points(meta.landmarks, mat)
    if meta.xseg_polys:
        meta.xseg_polys = transform_polys(meta.xseg_polys, mat)
    if meta.image_to_face_mat is not None:
        meta.image_to_face_mat = (_h(mat) @ _h(meta.image_to_face_mat))[:2]
    if meta.xseg_mask is not None:
        r = meta.xseg_mask.shape[0]  # the mask keeps its own resolution
        to_mask = np.diag([r / size, r / size, 1.0]) @ _h(mat) @ np.diag([w / r, w / r, 1.0])
        meta.xseg_mask = np.clip(cv2.warpAffine(meta.xseg_mask, to_mask[:2], (r, r), flags=cv2.INTER_LINEAR), 0, 1)
    return out, meta


@dataclass(frozen=True)
class ResizeTask:
    src: str
    dst: str
    size: int
    face_type: str  # "same" or a face type name/code
    grayscale: bool
    jpeg_quality: int = 100


def resize_file(task: ResizeTask) -> str | None:
    """Worker: resize one face file; returns a warning text instead of raising, so one bad face never stops a job."""
    try:
        image, meta = load_face(task.src)
        if meta is None:
            return f"{task.src}: no face metadata, skipped"
        out, meta = resize_face(image, meta, task.size, task.face_type, task.grayscale)
        save_face(task.dst, out, meta, jpeg_quality=task.jpeg_quality)
    except FaceFileError as err:  # (its message names the file already)
        return str(err)
    except (ValueError, cv2.error) as err:
        return f"{task.src}: {' '.join(str(err).split())[:200] or type(err).__name__}"
    return None


def resize_faceset(input_dir: Path, output_dir: Path, size: int, face_type: str = "same", grayscale: bool = True,
                   workers: int = 0) -> int:
    """Resize every aligned face of `input_dir` into `output_dir` (same file names); returns how many were written."""
    if input_dir.resolve() == output_dir.resolve():
        raise UserError(f"{output_dir}: the output folder must differ from the input folder")
    files = list_images(input_dir, FACE_EXTS)
    if not files:
        packed = (input_dir / "faceset.pak").is_file()
        raise UserError(f"{input_dir}: no aligned faces found" +
                        ("; the faces are in faceset.pak: run util unpack-faceset first" if packed else ""))
    output_dir.mkdir(parents=True, exist_ok=True)
    if list_images(output_dir):
        interact.log_warn(f"{output_dir} already holds images; faces with the same names are replaced")
    tasks = [ResizeTask(str(p), str(output_dir / p.name), size, face_type, grayscale) for p in files]
    problems = [m for m in parallel_map(resize_file, tasks, "Resizing", workers) if m]
    for message in problems:
        interact.log_warn(message)
    done = len(files) - len(problems)
    interact.log_info(f"Wrote {done} faces ({size}px, {face_type}, {'grayscale' if grayscale else 'colour'}) "
                      f"to {output_dir}")
    return done


def merge_into(output_dir: Path, input_dir: Path) -> None:
    """Copy the resized faces over the originals."""
    for p in list_images(output_dir, FACE_EXTS):
        shutil.copy2(p, input_dir / p.name)


def _first_face(folder: Path) -> tuple[int, str | None] | None:
    """(size, face type) of the first readable face in `folder`, or None."""
    for p in list_images(folder, FACE_EXTS):
        try:
            image, meta = load_face(p)
        except FaceFileError:
            continue
        return int(image.shape[1]), meta.face_type if meta is not None else None
    return None


def _next_model(folder: Path) -> tuple[int, str]:
    """(resolution, face type) the next training step uses: the most recently saved gray model in the model folder
    of the workspace holding `folder`, else a new SAEHDBW with its default options (6) train SAEHDBW's defaults)."""
    from core.workspace import workspace_above
    from models.files import list_models, read_model_data
    from models.registry import gray_models, model_class

    ws = workspace_above(folder)
    saved = [ws.model / f"{name}_{cls}_data.json" for cls in gray_models()
             for name in (list_models(ws.model, cls) if ws and ws.model.is_dir() else [])]
    for data in sorted(saved, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            options = read_model_data(data).get("options", {})
            return int(options["resolution"]), str(options["face_type"])
        except (UserError, KeyError, TypeError, ValueError):
            continue
    specs = {spec.name: spec for spec in model_class("SAEHDBW").option_specs()}
    return int(specs["resolution"].default), str(specs["face_type"].default)


def training_size(folder: Path) -> int:
    """The default size of resized faces: the size the next training step crops them to, so nothing is thrown
    away and nothing is resized twice. That is the model's resolution, scaled up when the faces cover more of the
    head than the model's face type (whole-face faces for a full-face model), rounded up to a multiple of 16 and
    never above the faces' own size."""
    from facelib.landmarks import FACE_TYPE_PADDING

    first = _first_face(folder)
    resolution, model_type = _next_model(folder)
    if first is None:
        return resolution
    size, face_type = first

    def cover(name: str | None) -> float | None:   # how much of the head a face type's square spans (relative)
        try:
            return FACE_TYPE_PADDING[FaceType.from_string(name)] * np.sqrt(2.0) + 0.5
        except (KeyError, ValueError, TypeError):
            return None

    faces, model = cover(face_type), cover(model_type)
    scale = max(1.0, faces / model) if faces and model else 1.0
    return int(min(size, max(SIZE_RANGE[0], 16 * np.ceil(resolution * scale / 16))))


def run(args: argparse.Namespace) -> int:
    input_dir = input_folder(args.input_dir)
    default_output = args.output_dir is None
    output_dir = Path(args.output_dir).expanduser().absolute() if args.output_dir else \
        input_dir.parent / f"{input_dir.name}_resized"
    size = args.image_size
    if size is None:
        first = _first_face(input_dir)
        default = training_size(input_dir) if args.grayscale else first[0] if first else 512
        size = interact.input_int("New image size", default, valid_range=SIZE_RANGE,
                                  help_message="Width and height of the output faces in pixels. For grayscale "
                                               "the default is the size the next training step uses (the "
                                               "workspace's SAEHDBW model, or a new one's default resolution); "
                                               "type the faces' own size to only convert to grayscale.")
    elif not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise UserError(f"--image-size {size}: must be within {SIZE_RANGE[0]}-{SIZE_RANGE[1]}")
    face_type = args.face_type
    if face_type is None:
        face_type = interact.input_str("Change face type", "same", list(FACE_TYPE_CHOICES),
                                       help_message="Re-crop the faces to another face type, e.g. wf -> f. "
                                                    "Cropping to a larger type leaves black borders.")
    if face_type != "same":
        try:
            FaceType.from_string(face_type)
        except ValueError as err:
            raise UserError(f"--face-type {face_type}: {err}") from None
    resize_faceset(input_dir, output_dir, size, face_type, args.grayscale, args.workers)
    merge = args.merge
    if merge is None:
        merge = interact.input_bool(f"Merge {output_dir} to {input_dir}?", False,
                                    help_message="y copies the resized faces over the originals.")
    if merge:
        merge_into(output_dir, input_dir)
        interact.log_info(f"Copied the resized faces over {input_dir}")
        if default_output:
            shutil.rmtree(output_dir)
    interact.log_info("Done.")
    return 0


def add_arguments(p: argparse.ArgumentParser, grayscale_default: bool = True) -> None:
    p.add_argument("--input-dir", required=True, help="Folder of aligned faces.")
    p.add_argument("--output-dir", default=None, help="Where the resized faces go (default: <input-dir>_resized).")
    p.add_argument("--image-size", type=int, default=None,
                   help=f"Output size in pixels, {SIZE_RANGE[0]}-{SIZE_RANGE[1]} (asked when missing).")
    p.add_argument("--face-type", default=None,
                   help="same, or a face type to re-crop to: h, mf, f, wf, head (asked when missing).")
    colour = p.add_mutually_exclusive_group()
    colour.add_argument("--grayscale", dest="grayscale", action="store_true", default=grayscale_default,
                        help="Write 8-bit single-channel faces" + (" (default)." if grayscale_default else "."))
    colour.add_argument("--color", dest="grayscale", action="store_false",
                        help="Keep the colour channels" + ("." if grayscale_default else " (default)."))
    merge = p.add_mutually_exclusive_group()
    merge.add_argument("--merge", dest="merge", action="store_true", default=None,
                       help="Copy the result over the input faces without asking.")
    merge.add_argument("--no-merge", dest="merge", action="store_false", help="Keep the input faces as they are.")
    p.add_argument("--workers", type=int, default=0, help="Worker processes (0 = automatic, 1 = none).")


def main(args: argparse.Namespace) -> int:
    return run(args)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "resize-to-grayscale", help="Resize aligned faces (and convert them to grayscale) keeping their metadata.",
        description="Rescale an aligned faceset, optionally re-crop it to another face type, and write 8-bit "
                    "grayscale faces for SAEHDBW. Landmarks, XSeg polygons and masks are transformed with the "
                    "pixels. Use --color to keep colour.")
    add_arguments(p)
    p.set_defaults(func=main)
