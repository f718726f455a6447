"""Temporal landmark smoothing for video (dst) extraction: link faces into tracks, then average over time.

A track follows one face through consecutive frames (boxes overlapping from one frame to the next). Each point
becomes the mean of a centred window on its track; near a track's ends the window shrinks symmetrically, so
steady motion is reproduced without lag while frame-to-frame jitter drops by about the root of the window.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from facelib.extractor import FoundFace

MIN_TRACK_IOU = 0.3


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lt = np.maximum(a[:2], b[:2])
    rb = np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    area = lambda r: float(np.prod(np.clip(r[2:] - r[:2], 0, None)))
    return inter / max(area(a) + area(b) - inter, 1e-9)


def link_tracks(frames: list[list[FoundFace]], min_iou: float = MIN_TRACK_IOU) -> list[list[tuple[int, int]]]:
    """Tracks as lists of (frame index, face index); a track ends at a frame without a matching face."""
    tracks: list[list[tuple[int, int]]] = []
    open_tracks: dict[int, int] = {}  # face index in the previous frame → track id
    for fi, faces in enumerate(frames):
        previous = frames[fi - 1] if fi > 0 else []
        pairs = sorted(((_iou(np.asarray(previous[pj].rect, np.float64), np.asarray(face.rect, np.float64)), pj, j)
                        for j, face in enumerate(faces) for pj in open_tracks), reverse=True)
        now: dict[int, int] = {}
        used_prev: set[int] = set()
        for overlap, pj, j in pairs:
            if overlap < min_iou or pj in used_prev or j in now:
                continue
            used_prev.add(pj)
            now[j] = open_tracks[pj]
            tracks[now[j]].append((fi, j))
        for j in range(len(faces)):
            if j not in now:
                now[j] = len(tracks)
                tracks.append([(fi, j)])
        open_tracks = now
    return tracks


def smooth_series(points: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 of a (T, ...) array; the window shrinks symmetrically at the ends."""
    points = np.asarray(points, np.float64)
    half = max(window, 1) // 2
    out = np.empty_like(points)
    for i in range(len(points)):
        h = min(half, i, len(points) - 1 - i)
        out[i] = points[i - h:i + h + 1].mean(axis=0)
    return out


def smooth_landmarks(frames: list[list[FoundFace]], window: int) -> list[list[FoundFace]]:
    """Copies of `frames` whose landmarks are smoothed along each face track (window < 2: unchanged)."""
    out = [list(faces) for faces in frames]
    if window < 2:
        return out
    for track in link_tracks(frames):
        series = np.stack([frames[fi][j].landmarks for fi, j in track])
        for (fi, j), lm in zip(track, smooth_series(series, window)):
            out[fi][j] = replace(frames[fi][j], landmarks=lm.astype(np.float32))
    return out
