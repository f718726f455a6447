"""Temporal landmark smoothing: tracks, the lag-free moving average, and `--smooth-landmarks` end to end."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelib.extract_job import ExtractOptions, Journal, run_extraction
from facelib.extractor import FoundFace
from facelib.face_type import FaceType
from facelib.meta import read_meta
from facelib.smoothing import link_tracks, smooth_landmarks, smooth_series


def face_at(x: float, y: float, size: float = 50.0, jitter: np.ndarray | None = None) -> FoundFace:
    lm = np.random.default_rng(0).uniform(0, size, (68, 2)).astype(np.float32) + (x, y)
    if jitter is not None:
        lm = lm + jitter
    return FoundFace(np.array([x, y, x + size, y + size], np.float32), lm.astype(np.float32))


def test_tracks_follow_overlapping_boxes_and_break_at_gaps():
    frames = [[face_at(0, 0), face_at(200, 0)], [face_at(205, 2), face_at(4, 1)], [], [face_at(6, 0)],
              [face_at(300, 300)]]
    tracks = link_tracks(frames)
    assert [(0, 0), (1, 1)] in tracks and [(0, 1), (1, 0)] in tracks
    assert [(3, 0)] in tracks and [(4, 0)] in tracks and len(tracks) == 4


def test_moving_average_keeps_steady_motion_and_cuts_noise():
    t = np.arange(40, dtype=np.float64)
    line = np.stack([3 * t, -2 * t], axis=1)
    np.testing.assert_allclose(smooth_series(line, 7), line, atol=1e-9)  # no lag, ends included
    noisy = line + np.random.default_rng(1).normal(0, 1.0, line.shape)
    assert np.abs(smooth_series(noisy, 7) - line).mean() < 0.5 * np.abs(noisy - line).mean()
    frames = [[face_at(3 * i, 0, jitter=np.random.default_rng(i).normal(0, 1, (68, 2)))] for i in range(10)]
    smoothed = smooth_landmarks(frames, 5)
    assert smoothed[0][0].landmarks.dtype == np.float32
    np.testing.assert_allclose(smoothed[0][0].landmarks, frames[0][0].landmarks)  # window shrinks to 1 at ends
    np.testing.assert_allclose(smoothed[4][0].landmarks, np.mean([f[0].landmarks for f in frames[2:7]], axis=0),
                               rtol=1e-5)
    assert smooth_landmarks(frames, 1)[4][0].landmarks is frames[4][0].landmarks


def jitter(series: np.ndarray) -> float:
    """Mean size of the frame-to-frame acceleration of the landmarks (what makes merged faces shake)."""
    return float(np.linalg.norm(series[2:] - 2 * series[1:-1] + series[:-2], axis=-1).mean())


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory):
    from core.sample_media import Motion, synth_frames
    from tests.fixtures_faces import head_crop
    folder = tmp_path_factory.mktemp("slow_clip")
    motion = Motion(pan=0.03, zoom=0.04, roll_deg=3.0, light=0.1)
    for i, frame in enumerate(synth_frames(head_crop("grace_hopper"), 30, size=(320, 240), motion=motion, seed=5)):
        cv2.imwrite(str(folder / f"{i + 1:05d}.png"), frame)
    return folder


def test_smooth_landmarks_option_reduces_jitter(slow_clip, tmp_path):
    base = dict(input_dir=slow_clip, face_type=FaceType.FULL, image_size=64, workers=1)
    run_extraction(ExtractOptions(output_dir=tmp_path / "raw", **base))
    raw = [faces[0].landmarks for _, faces in sorted(Journal(tmp_path / "raw").read()[1].items())]
    run_extraction(ExtractOptions(output_dir=tmp_path / "smooth", smooth_landmarks=5, **base))
    names = sorted(p.name for p in slow_clip.iterdir())
    smooth = [read_meta(tmp_path / "smooth" / f"{n[:-4]}_0.jpg").source_landmarks for n in names]
    expected = smooth_series(np.stack(raw), 5)
    np.testing.assert_allclose(np.stack(smooth), expected, atol=1e-3)
    assert jitter(np.stack(smooth)) < 0.6 * jitter(np.stack(raw))
