"""core.ffmpeg and `main.py video ...`: probing, encoding, and the round trip video → frames → video."""
from __future__ import annotations

import numpy as np
import pytest

from core import ffmpeg as ff
from core.errors import UserError
from tests.fixtures_video import VIDEO_FPS, VIDEO_FRAMES, VIDEO_SIZE


def test_probe_reads_size_fps_frames_audio(astronaut_video):
    info = ff.probe(astronaut_video)
    assert (info.width, info.height) == VIDEO_SIZE
    assert info.fps == pytest.approx(VIDEO_FPS)
    assert info.frame_count == VIDEO_FRAMES
    assert info.duration == pytest.approx(VIDEO_FRAMES / VIDEO_FPS, abs=0.05)
    assert info.has_audio and info.audio_streams == 1
    assert info.video_codec == "h264"


def test_probe_missing_and_garbage_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="nope.mp4"):
        ff.probe(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(UserError, match="junk.mp4"):
        ff.probe(junk)


def test_write_video_tags_odd_size_and_no_audio(tmp_path):
    frames = [np.full((45, 63, 3), i * 20, np.uint8) for i in range(5)]
    out = ff.write_video(frames, tmp_path / "odd.mp4", fps=10, audio=False, tags={"title": "t", "comment": "c"})
    info = ff.probe(out)
    assert (info.width, info.height) == (64, 46)  # padded to even for yuv420p
    assert info.frame_count == 5 and not info.has_audio
    assert info.tags["title"] == "t" and info.tags["comment"] == "c"
    assert not list(tmp_path.glob(".*partial*"))  # the temp file was renamed, not left behind


def test_parse_ffmpeg_info_ntsc_rate_rotation_and_multiline_tags():
    text = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mov':
  Metadata:
    comment         : line one
                    : line two
    title           : clip
  Duration: 00:01:02.50, start: 0.000000, bitrate: 900 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080 [SAR 1:1 DAR 16:9], 800 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
    Metadata:
      handler_name    : VideoHandler
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s (default)
  Stream #0:2[0x3](eng): Audio: ac3, 48000 Hz, 5.1(side), fltp, 384 kb/s
"""
    info = ff.parse_ffmpeg_info(text)
    assert (info["width"], info["height"]) == (1080, 1920)
    assert info["fps_text"] == "30000/1001" and info["fps"] == pytest.approx(29.97, abs=1e-3)
    assert info["duration"] == pytest.approx(62.5)
    assert info["audio_streams"] == 2
    assert info["tags"] == {"comment": "line one\nline two", "title": "clip"}
