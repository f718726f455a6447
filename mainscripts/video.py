"""`main.py video <cmd>`: DFL's video tools — extract-video, cut-video, denoise-image-sequence, video-from-sequence.

Flag names follow DeepFaceLab; values not given on the command line are asked for with DFL's defaults
(non-interactive runs take the defaults). `--workspace DIR` fills the usual workspace paths in.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from core import config, ffmpeg, interact
from core.errors import UserError
from core.workspace import Workspace, workspace_above


def _workspace(args: argparse.Namespace) -> Workspace:
    """`--workspace`, else the configured one (for commands given no folder of frames)."""
    if getattr(args, "workspace", None):
        return Workspace(Path(args.workspace))
    return Workspace(config.settings().workspace)


def _format_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _describe(path: Path) -> str:
    info = ffmpeg.probe(path)
    audio = "with audio" if info.has_audio else "no audio"
    return f"{path} ({info.width}x{info.height}, {info.fps:g} fps, {info.frame_count} frames, {audio})"


def _check_flag(flag: str, value: float | None, low: float, high: float | None = None) -> None:
    """A flag given on the command line outside its range is an error (prompts clamp, flags do not)."""
    if value is not None and (value < low or (high is not None and value > high)):
        allowed = f"{low:g}-{high:g}" if high is not None else f"{low:g} or more"
        raise UserError(f"{flag} {value:g}: must be {allowed}")


# --------------------------------------------------------------------------- commands

def extract_video(args: argparse.Namespace) -> int:
    input_file = ffmpeg.resolve_video_path(args.input_file)
    output_dir = Path(args.output_dir) if args.output_dir else input_file.with_suffix("")
    _check_flag("--fps", args.fps, 0, 1000)
    fps = args.fps
    if fps is None:
        fps = interact.input_int("Enter FPS", 0, valid_range=(0, None),
                                 help_message="How many frames of every second of video to extract. "
                                              "0 extracts every frame (full fps).")
    ext = args.output_ext or interact.input_str(
        "Output image format", "png", ["png", "jpg"],
        help_message="png is lossless but large; jpg is smaller and loses a little detail.")
    count = ffmpeg.extract_frames(input_file, output_dir, fps=fps, ext=ext)
    interact.log_info(f"Extracted {count} frames from {input_file} into {output_dir}")
    return 0 if count else 1


def cut_video(args: argparse.Namespace) -> int:
    info = ffmpeg.probe(args.input_file, count=False)
    _check_flag("--bitrate", args.bitrate, 1)
    if args.audio_track_id is not None and not 0 <= args.audio_track_id < max(1, info.audio_streams):
        raise UserError(f"--audio-track-id {args.audio_track_id}: {info.path} has {info.audio_streams} audio "
                        f"track(s), numbered from 0")
    from_time = args.from_time or interact.input_str("From time", "00:00:00.000", lowercase=False,
                                                     help_message="Start of the cut, HH:MM:SS.mmm or seconds.")
    to_time = args.to_time or interact.input_str("To time", _format_time(info.duration), lowercase=False,
                                                 help_message="End of the cut, HH:MM:SS.mmm or seconds.")
    track = args.audio_track_id
    if track is None:
        track = interact.input_int("Specify audio track id.", 0, valid_range=(0, max(0, info.audio_streams - 1)),
                                   help_message="Which audio track of the source goes into the cut (0 = first).")
    bitrate = args.bitrate or interact.input_int("Bitrate of output file in Mbit/s", 25, valid_range=(1, None),
                                                 help_message="Video bitrate of the cut in megabits per second.")
    output = ffmpeg.cut_video(info.path, from_time, to_time, audio_track_id=track, bitrate=bitrate)
    interact.log_info(f"Wrote {_describe(output)}")
    return 0


def denoise_image_sequence(args: argparse.Namespace) -> int:
    input_dir = Path(args.input_dir) if args.input_dir else _workspace(args).data_dst
    factor = args.factor
    if factor is None:
        factor = interact.input_int("Denoise factor?", 7, valid_range=(1, 20),
                                    help_message="Strength of the temporal denoise (ffmpeg hqdn3d), 1 to 20. "
                                                 "Higher values smooth more and can smear motion.")
    if not 1 <= factor <= 20:
        raise UserError(f"{input_dir}: --factor must be between 1 and 20, got {factor}")
    count = ffmpeg.denoise_image_sequence(input_dir, factor)
    interact.log_info(f"Denoised {count} images in {input_dir} (factor {factor})")
    return 0


def _sequence_workspace(args: argparse.Namespace) -> tuple[Workspace, Path]:
    """(workspace, frames folder) of video-from-sequence: --workspace, else the workspace holding --input-dir, else
    for frames outside every workspace the layout merge uses (FRAMES/merged -> result.mp4 beside FRAMES; never the
    configured workspace), else the configured workspace's merged frames."""
    if not args.input_dir:
        ws = _workspace(args)
        return ws, ws.merged
    input_dir = Path(args.input_dir)
    if args.workspace:
        return Workspace(Path(args.workspace)), input_dir
    frames = input_dir.parent if input_dir.name in ("merged", "merged_mask") else input_dir
    return workspace_above(input_dir) or Workspace.around_frames(frames), input_dir


def video_from_sequence(args: argparse.Namespace) -> int:
    _check_flag("--fps", args.fps, 0, 1000)
    _check_flag("--bitrate", args.bitrate, 1)
    ws, input_dir = _sequence_workspace(args)
    if not input_dir.is_dir():
        raise UserError(f"{input_dir}: folder of frames to encode not found")
    # masks (merged_mask, or merge's <output>_mask) become result_mask.mp4, never over the result itself
    default_output = ws.result_mask if input_dir.name.endswith("_mask") else ws.result
    output_file = Path(args.output_file) if args.output_file else default_output
    reference = args.reference_file or ws.dst_video()
    reference_info = ffmpeg.probe(reference, count=False) if reference else None
    if reference is None:
        interact.log_warn("No reference video (--reference-file, or data_dst.* in the workspace): the result has no "
                          "audio")

    ext = args.ext or interact.input_str("Input image format (extension)", "png", ["png", "jpg"],
                                         help_message="Only images with this extension are encoded.")
    fps = args.fps
    if not fps and not (reference_info and reference_info.fps):
        fps = interact.input_number("Enter FPS", 25, valid_range=(1, 240),
                                    help_message="Frame rate of the video; normally that of data_dst.")
    lossless = args.lossless
    if lossless is None:
        lossless = interact.input_bool("Use lossless codec", False,
                                       help_message="H.264 at CRF 0 (a .mov gets exact PNG frames): very large files.")
    bitrate = args.bitrate
    if not lossless and not bitrate:
        bitrate = interact.input_int("Bitrate of output file in Mbit/s", 16, valid_range=(1, None),
                                     help_message="Video bitrate in megabits per second (16 suits 1080p).")
    include_audio = True if args.include_audio is None else args.include_audio
    output = ffmpeg.video_from_sequence(input_dir, output_file, reference_file=reference_info.path if reference_info
                                        else None, ext=ext, fps=fps or None, bitrate=bitrate or 16,
                                        include_audio=include_audio, lossless=lossless,
                                        provenance=args.provenance_tag, watermark=args.watermark)
    interact.log_info(f"Wrote {_describe(output)}")
    if not args.provenance_tag:
        interact.log_warn("The provenance tag was left out: label this video as synthetic wherever you publish it.")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "extract-video": extract_video,
    "cut-video": cut_video,
    "denoise-image-sequence": denoise_image_sequence,
    "video-from-sequence": video_from_sequence,
}


def main(args: argparse.Namespace) -> int:
    return COMMANDS[args.video_command](args)


# --------------------------------------------------------------------------- argparse

def register(subparsers) -> None:
    video = subparsers.add_parser("video", aliases=["videoed"],
                                  help="Video tools: extract frames, cut, denoise, rebuild a video (DFL: videoed).",
                                  description="DeepFaceLab's video tools, built on ffmpeg.")
    commands = video.add_subparsers(dest="video_command", metavar="VIDEO_COMMAND", required=True)

    p = commands.add_parser("extract-video", help="Turn a video into numbered frames (00001.png, ...).")
    p.add_argument("--input-file", required=True,
                   help="Video to extract; `data_src.*` picks the first video with that name.")
    p.add_argument("--output-dir", help="Folder for the frames (default: a folder named like the video beside "
                                        "it, e.g. data_src/). Old frames of the same format there are deleted.")
    p.add_argument("--output-ext", choices=("png", "jpg"), help="Frame image format (asked if missing; png).")
    p.add_argument("--fps", type=float, help="Frames per second to extract; 0 keeps every frame (asked if missing).")

    p = commands.add_parser("cut-video", help="Re-encode a time range of a video to <name>_cut.<ext>.")
    p.add_argument("--input-file", required=True, help="Video to cut (`name.*` accepted).")
    p.add_argument("--from-time", help="Start, e.g. 00:00:05.000 (asked if missing).")
    p.add_argument("--to-time", help="End, e.g. 00:00:12.500 (asked if missing; default the end).")
    p.add_argument("--audio-track-id", type=int, help="Audio track to keep, 0 = first (asked if missing).")
    p.add_argument("--bitrate", type=int, help="Video bitrate in Mbit/s (asked if missing; 25).")

    p = commands.add_parser("denoise-image-sequence", help="Temporal denoise of frames in place (ffmpeg hqdn3d).")
    p.add_argument("--input-dir", help="Folder of frames, one extension (default: the workspace's data_dst).")
    p.add_argument("--factor", type=int, help="Denoise strength 1-20 (asked if missing; 7).")
    p.add_argument("--workspace", help="Workspace folder used for the default --input-dir.")

    p = commands.add_parser("video-from-sequence",
                            help="Encode frames into a video with fps and audio of a reference video.")
    p.add_argument("--input-dir", help="Folder of frames (default: workspace/data_dst/merged).")
    p.add_argument("--output-file", help="Video to write; the suffix picks the container: .mp4 .mkv .avi (H.264) "
                                         "or .mov (H.264; PNG codec when lossless or the frames have alpha) "
                                         "(default: workspace/result.mp4).")
    p.add_argument("--reference-file", help="Video whose fps and audio are used, `data_dst.*` accepted "
                                            "(default: the workspace's data_dst video).")
    p.add_argument("--ext", help="Extension of the frames to encode (asked if missing; png).")
    p.add_argument("--fps", type=float, help="Frame rate (default: the reference's; else asked, 25).")
    p.add_argument("--bitrate", type=int, help="Video bitrate in Mbit/s (asked if missing; 16).")
    p.add_argument("--include-audio", action=argparse.BooleanOptionalAction, default=None,
                   help="Copy the reference's audio track (default on).")
    p.add_argument("--lossless", action=argparse.BooleanOptionalAction, default=None,
                   help="Lossless: H.264 CRF 0, or exact PNG frames in a .mov (asked if missing; off).")
    p.add_argument("--provenance-tag", action=argparse.BooleanOptionalAction, default=True,
                   help="Write the container tag saying the video contains synthetic faces (default on).")
    p.add_argument("--watermark", metavar="TEXT", help="Also draw TEXT as a small visible label in a corner.")
    p.add_argument("--workspace", help="Workspace folder for the default paths above.")

    for sub in commands.choices.values():
        sub.set_defaults(func=main)
    # `main.py video --help` lists every sub-command's flags, not just the sub-command names.
    video.formatter_class = argparse.RawDescriptionHelpFormatter
    video.epilog = "flags of each command:\n" + "\n".join(
        "  " + sub.format_usage().replace("usage: ", "").strip() for sub in commands.choices.values())
