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
    # The container's duration: its AAC track may end a few 21 ms audio frames after the last video frame (how
    # many depends on ffmpeg's -shortest buffering, so on the machine's load), never before it.
    assert VIDEO_FRAMES / VIDEO_FPS - 0.05 <= info.duration <= VIDEO_FRAMES / VIDEO_FPS + 0.15
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


@pytest.mark.parametrize("rates, fps", [("22.50 fps, 30 tbr", 30.0),       # variable rate: the base rate
                                         ("29.97 fps, 59.94 tbr", 29.97),   # interlaced: the average
                                         ("30 fps, 1k tbr", 30.0), ("25 tbr", 25.0), ("12.50 fps", 12.5)])
def test_the_frame_rate_is_the_one_ffmpeg_decodes_at(rates, fps):
    line = f"  Stream #0:0: Video: h264 (High), yuv420p, 640x360, 900 kb/s, {rates}, 15360 tbn (default)"
    assert ff.parse_ffmpeg_info(line)["fps"] == pytest.approx(fps, abs=0.01)


# --------------------------------------------------------------------------- `main.py video ...` end to end

@pytest.fixture
def video_cli(monkeypatch):
    """Run `main.py --non-interactive video ...` through main.main, with only the video module registered
    (so another room's unfinished sub-command cannot break these tests)."""
    import main
    monkeypatch.setattr(main, "COMMAND_MODULES", ("video",))
    return lambda *argv: main.main(["--non-interactive", "video", *argv])


@pytest.fixture
def workspace_with_dst(tmp_path, astronaut_video):
    """A workspace whose data_dst.mp4 is the astronaut clip (copied, so it may be modified)."""
    import shutil
    shutil.copy(astronaut_video, tmp_path / "data_dst.mp4")
    return tmp_path


def test_round_trip_extract_then_rebuild_keeps_frames_fps_size_audio_and_tags(video_cli, workspace_with_dst):
    ws = workspace_with_dst
    frames_dir = ws / "data_dst"
    frames_dir.mkdir()
    (frames_dir / "stale.png").write_bytes(b"old")  # DFL deletes old frames of the same format first
    assert video_cli("extract-video", "--input-file", str(ws / "data_dst.*"), "--output-dir", str(frames_dir),
                      "--output-ext", "png", "--fps", "0") == 0
    frames = sorted(p.name for p in frames_dir.glob("*.png"))
    assert frames == [f"{i:05d}.png" for i in range(1, VIDEO_FRAMES + 1)]

    out = ws / "result.mp4"
    assert video_cli("video-from-sequence", "--input-dir", str(frames_dir), "--output-file", str(out),
                      "--reference-file", str(ws / "data_dst.*"), "--include-audio") == 0
    info = ff.probe(out)
    assert (info.width, info.height) == VIDEO_SIZE
    assert info.frame_count == VIDEO_FRAMES
    assert info.fps == pytest.approx(VIDEO_FPS)
    assert info.has_audio
    assert info.tags.get(ff.PROVENANCE_KEY) == ff.PROVENANCE_TEXT

    quiet = ws / "quiet.mp4"
    assert video_cli("video-from-sequence", "--input-dir", str(frames_dir), "--output-file", str(quiet),
                      "--reference-file", str(ws / "data_dst.mp4"), "--no-include-audio", "--no-provenance-tag",
                      "--lossless") == 0
    info = ff.probe(quiet)
    assert not info.has_audio and info.frame_count == VIDEO_FRAMES
    assert ff.PROVENANCE_KEY not in info.tags
    assert ff.PROVENANCE_TEXT not in info.tags.values()


def test_a_variable_frame_rate_video_comes_back_as_long_as_it_was(video_cli, tmp_path):
    """A phone-style VFR clip (30 fps with a one-second gap): its frames are extracted at the base rate with the gap
    filled, and encoded back at that rate, so the video keeps the length of its sound (the average rate, 22.5,
    would stretch 4 s to 5.4 s)."""
    import subprocess
    clip = tmp_path / "data_dst.mp4"
    subprocess.run([ff.ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=30:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                    "-vf", "setpts='if(lt(N,60),N,N+30)/30/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-c:a", "aac", "-shortest", str(clip)], check=True)
    source = ff.probe(clip)
    assert source.frame_count == 90 and source.duration == pytest.approx(4.0, abs=0.1)
    assert video_cli("extract-video", "--input-file", str(clip), "--output-ext", "jpg", "--fps", "0") == 0
    assert video_cli("video-from-sequence", "--input-dir", str(tmp_path / "data_dst"), "--ext", "jpg",
                     "--output-file", str(tmp_path / "result.mp4"), "--reference-file", str(clip)) == 0
    result = ff.probe(tmp_path / "result.mp4")
    assert result.fps == pytest.approx(30) and result.has_audio
    assert result.frame_count / result.fps == pytest.approx(source.duration, abs=0.15)


def test_video_from_sequence_workspace_defaults_and_fps_flag(video_cli, workspace_with_dst):
    ws = workspace_with_dst
    merged = ws / "data_dst" / "merged"
    ff.extract_frames(ws / "data_dst.mp4", merged, ext="jpg")
    assert video_cli("video-from-sequence", "--workspace", str(ws), "--ext", "jpg", "--fps", "10") == 0
    info = ff.probe(ws / "result.mp4")
    assert info.frame_count == VIDEO_FRAMES and info.fps == pytest.approx(10) and info.has_audio
    # The wrong --ext is a one-line error naming the folder, not an empty video.
    assert video_cli("video-from-sequence", "--workspace", str(ws), "--ext", "png") == 1
    # The masks become result_mask.mp4 and leave the result alone.
    before = (ws / "result.mp4").read_bytes()
    ff.extract_frames(ws / "data_dst.mp4", ws / "data_dst" / "merged_mask", ext="jpg")
    assert video_cli("video-from-sequence", "--input-dir", str(ws / "data_dst" / "merged_mask"), "--ext", "jpg",
                     "--no-include-audio") == 0
    assert ff.probe(ws / "result_mask.mp4").frame_count == VIDEO_FRAMES
    assert (ws / "result.mp4").read_bytes() == before


def test_video_from_sequence_outside_a_workspace_writes_beside_the_frames(video_cli, workspace_with_dst, tmp_path,
                                                                         monkeypatch):
    clip = tmp_path / "own clip"
    clip.mkdir()
    (workspace_with_dst / "data_dst.mp4").rename(clip / "shot.mp4")  # the frames' own video, with sound
    ff.extract_frames(clip / "shot.mp4", clip / "shot" / "merged", ext="png")
    monkeypatch.chdir(clip)  # (no ./workspace)
    assert video_cli("video-from-sequence", "--input-dir", str(clip / "shot" / "merged"), "--ext", "png") == 0
    info = ff.probe(clip / "result.mp4")  # as merge lays it out: FRAMES/merged -> result.mp4 beside FRAMES
    assert info.frame_count == VIDEO_FRAMES and info.fps == pytest.approx(VIDEO_FPS) and info.has_audio
    assert not (clip / "workspace").exists()


def test_truncated_frames_are_replaced_so_frame_count_and_timing_hold(workspace_with_dst, log_messages):
    # Regression: a truncated PNG went into ffmpeg's image pipe as is and swallowed the frames after it
    # (9 frames in, 7 out, at a wrong frame rate); an unreadable first frame ended the whole job.
    ws = workspace_with_dst
    frames = ws / "frames"
    ff.extract_frames(ws / "data_dst.mp4", frames, ext="png")
    for name in ("00001.png", "00005.png"):
        data = (frames / name).read_bytes()
        (frames / name).write_bytes(data[: len(data) // 2])
    info = ff.probe(ff.video_from_sequence(frames, ws / "out.mp4", reference_file=ws / "data_dst.mp4"))
    assert info.frame_count == VIDEO_FRAMES  # the first readable frame stands in for the unreadable first one
    assert info.fps == pytest.approx(VIDEO_FPS) and info.has_audio
    assert sum("truncated" in m and "00005.png" in m for m in log_messages) == 1
    assert sum("first readable frame" in m and "00001.png" in m for m in log_messages) == 1
    assert ff.complete_image((frames / "00002.png").read_bytes(), ".png")
    assert not ff.complete_image(b"\xff\xd8\xff\xe0 cut short", ".jpg")


def test_frames_in_a_non_ascii_folder_encode_like_on_windows(workspace_with_dst, monkeypatch):
    # Regression: cv2.imread returns None for non-ASCII paths on Windows (e.g. C:\\Users\\José), so the
    # first-frame probe and the watermark burn-in failed there. Simulate that imread here.
    import cv2
    real_imread = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda p, *a: None if not str(p).isascii() else real_imread(p, *a))
    monkeypatch.setattr(ff, "drawtext_works", lambda: False)  # take the OpenCV burn-in path
    frames = workspace_with_dst / "främe José"
    ff.extract_frames(workspace_with_dst / "data_dst.mp4", frames, ext="png")
    out = ff.video_from_sequence(frames, workspace_with_dst / "out.mp4", fps=25, watermark="synthetic")
    assert ff.probe(out).frame_count == VIDEO_FRAMES


def test_extract_video_at_lower_fps_defaults_output_dir_to_video_stem(video_cli, workspace_with_dst):
    ws = workspace_with_dst
    assert video_cli("extract-video", "--input-file", str(ws / "data_dst.mp4"), "--output-ext", "jpg",
                      "--fps", "10") == 0
    count = len(list((ws / "data_dst").glob("*.jpg")))
    assert 5 <= count <= 6  # 0.48 s at 10 fps


def _first_frame(video, folder):
    import cv2
    ff.extract_frames(video, folder)
    return cv2.imread(str(folder / "00001.png")).astype(int)


@pytest.mark.parametrize("drawtext", [True, False], ids=["drawtext", "opencv-fallback"])
def test_watermark_is_visible_in_the_corner(workspace_with_dst, monkeypatch, drawtext):
    if drawtext and not ff.drawtext_works():
        pytest.skip("this ffmpeg has no working drawtext")
    monkeypatch.setattr(ff, "drawtext_works", lambda: drawtext)
    ws = workspace_with_dst
    frames = ws / "frames"
    ff.extract_frames(ws / "data_dst.mp4", frames)
    plain = ff.video_from_sequence(frames, ws / "plain.mp4", fps=VIDEO_FPS, lossless=True)
    marked = ff.video_from_sequence(frames, ws / "marked.mp4", fps=VIDEO_FPS, lossless=True, watermark="SYNTHETIC")
    diff = np.abs(_first_frame(plain, ws / "a") - _first_frame(marked, ws / "b")).sum(axis=2)
    h, w = diff.shape
    corner, elsewhere = diff[h * 2 // 3:, w // 3:], diff[: h // 2, : w // 2]
    assert corner.mean() > 5 * max(elsewhere.mean(), 0.1)  # the label is drawn bottom-right only


def test_burn_label_changes_only_the_corner():
    image = np.full((120, 160, 3), 128, np.uint8)
    out = ff.burn_label(image, "AI")
    changed = np.argwhere(np.any(out != image, axis=2))
    assert len(changed) and changed[:, 0].min() > 60 and changed[:, 1].min() > 80


def test_mov_with_alpha_keeps_the_alpha_channel(tmp_path):
    import cv2
    frames = tmp_path / "rgba"
    frames.mkdir()
    for i in range(4):
        image = np.zeros((48, 64, 4), np.uint8)
        image[..., 1] = 60 + 40 * i
        image[8:40, 8:40, 3] = 255
        cv2.imwrite(str(frames / f"{i:05d}.png"), image)
    out = ff.video_from_sequence(frames, tmp_path / "alpha.mov", fps=12)
    info = ff.probe(out)
    assert info.video_codec == "png" and info.frame_count == 4
    back = tmp_path / "back"
    ff.extract_frames(out, back)
    decoded = cv2.imread(str(back / "00001.png"), cv2.IMREAD_UNCHANGED)
    assert decoded.shape[2] == 3  # extract-video writes rgb24; the alpha lives in the .mov stream:
    args = [ff.ffmpeg_exe(), "-v", "error", "-i", str(out), "-frames:v", "1", str(tmp_path / "a.png")]
    import subprocess
    subprocess.run(args, check=True)
    rgba = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4 and rgba[20, 20, 3] == 255 and rgba[2, 2, 3] == 0


def test_lossless_mov_gives_back_the_exact_frames(tmp_path, astronaut_bgr):
    import cv2
    from core.sample_media import synth_frames
    frames = tmp_path / "frames"
    frames.mkdir()
    originals = list(synth_frames(astronaut_bgr, 3, size=(64, 48)))
    for i, frame in enumerate(originals, 1):
        cv2.imwrite(str(frames / f"{i:05d}.png"), frame)
    (frames / "00004.png").write_bytes(b"")  # a corrupt frame is warned about and stood in for, not fatal
    out = ff.video_from_sequence(frames, tmp_path / "exact.mov", fps=5, lossless=True)
    assert ff.probe(out).video_codec == "png"
    back = tmp_path / "back"
    assert ff.extract_frames(out, back) == 4
    for i, original in enumerate(originals + originals[-1:], 1):
        assert np.array_equal(cv2.imread(str(back / f"{i:05d}.png")), original)


def test_cut_video_range(video_cli, workspace_with_dst):
    src = workspace_with_dst / "data_dst.mp4"
    assert video_cli("cut-video", "--input-file", str(src), "--from-time", "00:00:00.080", "--to-time", "0.36",
                      "--audio-track-id", "0", "--bitrate", "2") == 0
    info = ff.probe(workspace_with_dst / "data_dst_cut.mp4")
    assert info.frame_count == pytest.approx(0.28 * VIDEO_FPS, abs=1)
    assert info.has_audio and (info.width, info.height) == VIDEO_SIZE
    assert video_cli("cut-video", "--input-file", str(src), "--from-time", "soon", "--to-time", "1") == 1


@pytest.mark.parametrize("argv", [
    ("cut-video", "--from-time", "0.3", "--to-time", "0.1"),       # end before start
    ("cut-video", "--from-time", "00:01:00", "--to-time", "00:02:00"),  # past the end of the clip
    ("cut-video", "--from-time", "0", "--to-time", "0.2", "--audio-track-id", "2"),  # one audio track only
    ("cut-video", "--from-time", "0", "--to-time", "0.2", "--bitrate", "0"),
    ("extract-video", "--fps", "-3"),
    ("video-from-sequence", "--bitrate", "0"),
    ("video-from-sequence", "--fps", "-1"),
])
def test_bad_flag_values_are_one_line_errors(video_cli, workspace_with_dst, log_messages, argv):
    # Regression: these reached ffmpeg ("Invalid argument"), were replaced by defaults, or lost the audio silently.
    src = workspace_with_dst / "data_dst.mp4"
    frames = workspace_with_dst / "frames"
    frames.mkdir()
    where = ("--input-dir", str(frames)) if argv[0] == "video-from-sequence" else ("--input-file", str(src))
    assert video_cli(argv[0], *where, *argv[1:]) == 1
    assert log_messages and "\n" not in log_messages[-1]
    assert not (workspace_with_dst / "data_dst_cut.mp4").exists() and not list(frames.iterdir())


def test_denoise_keeps_names_and_count_and_smooths(video_cli, tmp_path):
    import cv2
    rng = np.random.default_rng(0)
    folder = tmp_path / "noisy"
    folder.mkdir()
    names = [f"frame_{i}.png" for i in (1, 2, 10, 11, 12)]
    base = np.full((40, 48, 3), 120, np.uint8)
    for name in names:
        noisy = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / name), noisy)
    before = [cv2.imread(str(folder / n)).astype(float).std() for n in names]
    assert video_cli("denoise-image-sequence", "--input-dir", str(folder), "--factor", "15") == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # no temp folders or renamed files left
    after = [cv2.imread(str(folder / n)).astype(float) for n in names]
    assert all(a.std() < 0.6 * b for a, b in zip(after, before))
    assert all(abs(a.mean() - 120) < 3 for a in after)


def test_denoise_refuses_mixed_extensions(video_cli, tmp_path):
    import cv2
    for name in ("1.png", "2.jpg"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    assert video_cli("denoise-image-sequence", "--input-dir", str(tmp_path)) == 1


def test_missing_file_is_exit_code_1_with_a_one_line_error(video_cli, tmp_path, log_messages):
    missing = tmp_path / "missing.mp4"
    assert video_cli("extract-video", "--input-file", str(missing), "--output-ext", "png", "--fps", "0") == 1
    errors = [m for m in log_messages if m.startswith("Error:")]
    assert len(errors) == 1 and str(missing) in errors[0] and "\n" not in errors[0]
    import main
    log_messages.clear()
    assert main.main(["--non-interactive", "videoed", "extract-video", "--input-file", str(missing)]) == 1  # DFL
    assert str(missing) in log_messages[-1]
    log_messages.clear()
    assert video_cli("video-from-sequence", "--input-dir", str(tmp_path / "merged"),
                     "--output-file", str(tmp_path / "result.mp4")) == 1
    assert log_messages == [f"Error: {tmp_path / 'merged'}: folder of frames to encode not found"]  # nothing asked


def test_an_odd_frame_size_is_encoded_even_and_said_so(tmp_path, log_messages):
    import cv2
    frames = tmp_path / "odd"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:05d}.png"), np.full((45, 63, 3), 40 * i, np.uint8))
    info = ff.probe(ff.video_from_sequence(frames, tmp_path / "odd.mp4", fps=10))
    assert (info.width, info.height) == (64, 46)
    assert any("63x45" in m and "64x46" in m for m in log_messages)
