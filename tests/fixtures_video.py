"""Session fixture: a tiny real video with sound (astronaut photo filmed by a synthetic moving camera)."""
from __future__ import annotations

from pathlib import Path

import pytest

VIDEO_SIZE = (160, 120)
VIDEO_FRAMES = 12
VIDEO_FPS = 25


@pytest.fixture(scope="session")
def astronaut_video(tmp_path_factory, astronaut_bgr) -> Path:
    """`data_src.mp4`: 12 frames of 160x120 at 25 fps with a sine-tone AAC track. Read-only: copy to modify."""
    from core.ffmpeg import write_video
    from core.sample_media import synth_frames
    folder = tmp_path_factory.mktemp("video_src")
    frames = synth_frames(astronaut_bgr, VIDEO_FRAMES, size=VIDEO_SIZE, seed=1)
    return write_video(frames, folder / "data_src.mp4", fps=VIDEO_FPS, audio=True)


@pytest.fixture
def log_messages():
    """Every message logged through core.interact during the test, as plain strings."""
    import logging
    from core import interact

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    handler = Collect()
    interact.log.addHandler(handler)
    yield handler.messages
    interact.log.removeHandler(handler)
