"""`main.py extract`: frames → aligned faceset (DFL's 4) / 5) data_src/data_dst faceset extract steps)."""
from __future__ import annotations

import argparse
from pathlib import Path

from core import config, interact
from core.errors import UserError
from core.fsio import input_folder
from facelib.face_type import EXTRACT_CHOICES, FaceType
from facelib.identity import DEFAULT_THRESHOLD

DETECTOR_CHOICES = ("blazeface", "dlib", "dlib-cnn", "manual")
DETECTOR_ALIASES = {"s3fd": "blazeface", "default": "blazeface", "dlib-hog": "dlib", "hog": "dlib", "cnn": "dlib-cnn"}

HELP_DETECTOR = ("blazeface: fast and robust (default). dlib: HOG detector + dlib's 68-point predictor. "
                 "dlib-cnn: dlib's CNN detector, finds harder faces but takes seconds per frame. "
                 "manual: you place every face yourself in a window.")
HELP_MAX_FACES = ("If you extract a src faceset that has frames with a large number of faces, it is advisable to "
                  "set max faces to 3 to speed up extraction. Keeps the N largest faces of each frame. 0 - unlimited")
HELP_FACE_TYPE = ("How much of the head each aligned face covers: h = half face, mf = mid-half, f = full face, "
                  "wf = whole face (with forehead), head = the whole head. The model's face type must not be "
                  "larger than the faceset's.")


def register(subparsers) -> None:
    p = subparsers.add_parser("extract", help="Detect, align and save faces from a folder of frames.",
                              description="Find faces in frames, align them and save them with their landmarks. "
                                          "Running it again continues where it stopped.")
    p.add_argument("--input-dir", required=True, type=Path, help="Folder of frames (data_src or data_dst).")
    p.add_argument("--output-dir", required=True, type=Path, help="Folder for aligned faces (…/aligned).")
    p.add_argument("--detector", type=str.lower, help=HELP_DETECTOR + " Asked when omitted.")
    p.add_argument("--dlib-cnn", action="store_true", help="With --detector dlib: use dlib's CNN detector.")
    p.add_argument("--face-type", help="h, mf, f, wf, head (or half_face, midfull_face, full_face, whole_face, "
                                       "head, mark_only). Asked when omitted (default wf).")
    p.add_argument("--image-size", type=int, help="Side of the aligned faces in pixels (default 512; 768 for head).")
    p.add_argument("--jpeg-quality", type=int, help="JPEG quality of the aligned faces, 1-100 (default 90).")
    p.add_argument("--max-faces-from-image", type=int, help="Keep only the N largest faces per frame (0 = all). "
                                                              "Asked when omitted (default 0).")
    p.add_argument("--filter-identity", nargs="*", type=Path, metavar="REF",
                   help="Keep only the faces of the person in these reference pictures (a photo, an aligned face, "
                        "or a folder of them); everyone else is left out. Asked when omitted or given without REF.")
    p.add_argument("--identity-threshold", type=float,
                   help="With --filter-identity: the largest face-descriptor distance to the reference that still "
                        f"counts as that person (default {DEFAULT_THRESHOLD}, dlib's).")
    debug = p.add_mutually_exclusive_group()
    debug.add_argument("--output-debug", dest="output_debug", action="store_true", default=None,
                       help="Also write <output>_debug/ frames showing landmarks, boxes and the face square.")
    debug.add_argument("--no-output-debug", dest="output_debug", action="store_false",
                       help="Do not write debug frames.")
    p.add_argument("--manual-fix", action="store_true",
                   help="After the automatic pass, place faces by hand in the frames where none was found.")
    p.add_argument("--manual-output-debug-fix", action="store_true",
                   help="Re-extract by hand the frames whose image you deleted from <output>_debug.")
    p.add_argument("--manual-window-size", type=int, default=1368, help="Width of the manual window (1368).")
    p.add_argument("--smooth-landmarks", type=int, default=0, metavar="N",
                   help="Average landmarks over N consecutive frames of each face (video dst; 0 = off).")
    p.add_argument("--workers", type=int, help="Worker processes (default DFL_EXTRACT_WORKERS, 2).")
    p.add_argument("--cpu-only", action="store_true", help="Run on the CPU (the detectors always do).")
    p.add_argument("--force-gpu-idxs", help="Accepted for DFL compatibility; detection runs on the CPU.")
    p.set_defaults(func=main)


def resolve_detector(name: str | None, dlib_cnn: bool = False) -> str:
    if name is None:
        name = interact.input_str("Choose detector type", "blazeface", DETECTOR_CHOICES, help_message=HELP_DETECTOR)
    if name == "s3fd":
        interact.log_info("s3fd: DeepFaceLab's S3FD weights ship with no package here; BlazeFace + FaceMesh "
                          "detect instead (--detector dlib-cnn finds the hardest faces, slowly)")
    name = DETECTOR_ALIASES.get(name, name)
    if name not in DETECTOR_CHOICES:
        raise UserError(f"--detector {name}: unknown detector; choose from {', '.join(DETECTOR_CHOICES)}")
    return "dlib-cnn" if dlib_cnn and name == "dlib" else name


def resolve_face_type(text: str | None) -> FaceType:
    if text is None:
        text = interact.input_str("Face type", "wf", EXTRACT_CHOICES, help_message=HELP_FACE_TYPE)
    try:
        return FaceType.from_string(text)
    except ValueError as err:
        raise UserError(f"--face-type: {err}") from None


def _checked(flag: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UserError(f"{flag} {value}: must be within {low}-{high}")
    return value


def resolve_identity(refs: list[Path] | None, threshold: float | None, detector: str):
    """(identity.Reference or None, threshold) from the flags, asking for what was left out; the reference
    pictures are read here, so a missing or faceless one stops the run before any frame is processed."""
    from facelib.identity import ask_reference, ask_threshold, load_reference
    if detector == "manual":
        if refs:
            raise UserError("--filter-identity: with the manual detector you choose every face yourself")
        return None, DEFAULT_THRESHOLD
    if not refs:
        answer = ask_reference("Keep only the person in a reference photo (its path, Enter = everyone)")
        if answer is None and refs is not None:
            raise UserError("--filter-identity: no reference photo given (add its path after the flag, or set "
                            "IDENTITY_REF for the numbered script)")
        refs = [answer] if answer else []
    if not refs:
        return None, DEFAULT_THRESHOLD
    threshold = ask_threshold(threshold)
    reference = load_reference(refs, detector)
    interact.log_info(f"Identity filter: only faces within {threshold} of the person in "
                      f"{', '.join(reference.sources[:3])}{' ...' if len(reference.sources) > 3 else ''}")
    return reference, threshold


def build_options(args: argparse.Namespace):
    """ExtractOptions from the flags, asking (or taking DFL's defaults) for what was left out."""
    from facelib.extract_job import ExtractOptions
    detector = resolve_detector(args.detector, args.dlib_cnn)
    face_type = resolve_face_type(args.face_type)
    max_faces = args.max_faces_from_image if args.max_faces_from_image is not None else interact.input_int(
        "Max number of faces from image", 0, (0, None), help_message=HELP_MAX_FACES)
    default_size = 768 if face_type >= FaceType.HEAD and face_type != FaceType.MARK_ONLY else 512
    image_size = args.image_size if args.image_size is not None else interact.input_int(
        "Image size", default_size, (256, 2048), help_message="Larger sizes keep more detail for high-res "
        "models but take more disk; 512 suits models up to 320 resolution.")
    jpeg_quality = args.jpeg_quality if args.jpeg_quality is not None else interact.input_int(
        "Jpeg quality", 90, (1, 100), help_message="Higher quality, larger files.")
    identity, identity_threshold = resolve_identity(args.filter_identity, args.identity_threshold, detector)
    output_debug = args.output_debug
    if output_debug is None:
        output_debug = interact.input_bool(f"Write debug images to {args.output_dir.name}_debug?", False)
    workers = args.workers if args.workers is not None else config.settings().extract_workers
    return ExtractOptions(
        input_dir=args.input_dir, output_dir=args.output_dir, detector=detector, face_type=face_type,
        image_size=_checked("--image-size", image_size, 64, 4096),
        jpeg_quality=_checked("--jpeg-quality", jpeg_quality, 1, 100),
        max_faces=_checked("--max-faces-from-image", max_faces, 0, 1000), output_debug=bool(output_debug),
        smooth_landmarks=_checked("--smooth-landmarks", args.smooth_landmarks, 0, 100),
        workers=_checked("--workers", workers, 1, 64), identity=identity, identity_threshold=identity_threshold)


def main(args: argparse.Namespace) -> int:
    from facelib import extract_job
    input_folder(args.input_dir)  # before any question
    if args.input_dir.resolve() == args.output_dir.resolve():
        raise UserError(f"{args.output_dir}: the output folder must differ from the input folder")
    opts = build_options(args)
    if args.manual_output_debug_fix:
        from facelib.manual import manual_output_debug_fix
        report = manual_output_debug_fix(opts, args.manual_window_size)
    else:
        manual_pass = None
        if opts.detector == "manual" or args.manual_fix:
            from facelib.manual import make_manual_pass
            manual_pass = make_manual_pass(opts, args.manual_window_size, only_missing=args.manual_fix)
        report = extract_job.run_extraction(opts, manual_pass)
    interact.log_info("-------------------------")
    interact.log_info(f"Images found:        {report.images_found}")
    if report.frames_skipped:
        interact.log_info(f"Already extracted:   {report.frames_skipped}")
    interact.log_info(f"Faces detected:      {report.faces_detected}")
    if report.no_face:
        interact.log_info(f"Frames with no face: {len(report.no_face)}")
    if report.unreadable:
        interact.log_warn(f"Unreadable frames:   {len(report.unreadable)} ({', '.join(report.unreadable[:5])}"
                          f"{', ...' if len(report.unreadable) > 5 else ''})")
    interact.log_info("-------------------------")
    return 0
