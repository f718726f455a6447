"""Session fixture `tiny_workspace`: a small real DFL workspace made by the real pipeline.

From the public-domain photos: `data_src.mp4` (astronaut) and `data_dst.mp4` (Grace Hopper), each with a sine
audio track and ~20 frames of 320x240 with camera pan/zoom/roll and light changes; their frames extracted by ffmpeg
into `data_src/*.png` and `data_dst/*.png`; aligned full faces (`f`, 128 px JPG + FaceMeta) extracted by the
default detector into `data_src/aligned` and `data_dst/aligned` (dst also gets `aligned_debug`).
Treat it as read-only: copy what you modify.
"""
from __future__ import annotations

from pathlib import Path

import pytest

TINY_FRAMES = 20
TINY_SIZE = (320, 240)
TINY_FACE_SIZE = 128

# Head-and-shoulders crops (y0, y1, x0, x1) so the faces are a useful size in a 320x240 frame.
CROPS = {"astronaut": (0, 300, 75, 375), "grace_hopper": (40, 440, 60, 460)}


def head_crop(photo_name: str):
    from core.sample_media import PHOTOS
    y0, y1, x0, x1 = CROPS[photo_name]
    return PHOTOS[photo_name]()[y0:y1, x0:x1].copy()


def build_tiny_workspace(root: Path, frames: int = TINY_FRAMES, size: tuple[int, int] = TINY_SIZE):
    """Create the workspace under `root` (videos, frames, aligned faces) and return its `Workspace`."""
    from core import ffmpeg
    from core.sample_media import Motion, synth_frames
    from core.workspace import Workspace
    from facelib.extract_job import ExtractOptions, run_extraction
    from facelib.face_type import FaceType

    ws = Workspace(root)
    ws.create()
    for stem, photo, seed, aligned, debug in (("data_src", "astronaut", 1, ws.src_aligned, False),
                                              ("data_dst", "grace_hopper", 2, ws.dst_aligned, True)):
        clip = synth_frames(head_crop(photo), frames, size=size, motion=Motion(roll_deg=12.0), seed=seed)
        video = ffmpeg.write_video(clip, root / f"{stem}.mp4", fps=25, audio=True)
        ffmpeg.extract_frames(video, root / stem, ext="png")
        run_extraction(ExtractOptions(input_dir=root / stem, output_dir=aligned, face_type=FaceType.FULL,
                                      image_size=TINY_FACE_SIZE, output_debug=debug, workers=1))
    return ws


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory):
    return build_tiny_workspace(tmp_path_factory.mktemp("tiny_workspace"))
