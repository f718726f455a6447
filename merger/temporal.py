"""What the merger learns from neighbouring frames: face tracks (optimal matching, new tracks at hard cuts),
face motion per track (for motion blur), temporal mask smoothing and gamma stabilization along each track.

All functions work on per-frame lists: `faces[i]` is the list of 68x2 landmarks of frame i (frame pixels),
`tracks[i][k]` the track id of face k of frame i.
"""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from core.imagelib.color_transfer import BGR_LUMA
from facelib.landmarks import get_transform_mat, transform_points
from merger.masked import FacePrediction, Motion

GAMMA_RANGE = (0.5, 2.0)


GATE = 0.75          # a face continues a track when its centre moved less than this share of its size ...
MAX_GAP = 2          # ... in the previous frame, or in one of the MAX_GAP frames before (a face missed briefly)
MAX_SIZE_RATIO = 1.6  # ... and its size changed less than this factor
CUT_BLOCK_CHANGE = 80.0   # a 16x9 block of the thumbnail changed (sum of BGR differences, light evened out) ...
CUT_SHARE = 0.65          # ... in more than this share of the blocks: a hard cut


def _centre_size(lm: np.ndarray) -> tuple[np.ndarray, float] | None:
    lm = np.asarray(lm, np.float64)
    if lm.ndim != 2 or not len(lm) or not np.isfinite(lm).all():
        return None
    return lm.mean(axis=0), float(np.ptp(lm, axis=0).max())


def match_faces(prev: list[tuple[np.ndarray, float, float]], cur: list[tuple[np.ndarray, float] | None]
                ) -> list[int | None]:
    """For each current face (centre, size; None: not matchable), the index of the earlier face (centre, size,
    allowed distance) it continues: the assignment with the least total centre distance (Hungarian method) among
    pairs within the allowed distance and size change; None for a face that continues none."""
    out: list[int | None] = [None] * len(cur)
    rows = [i for i, c in enumerate(cur) if c is not None]
    if not rows or not prev:
        return out
    cost = np.full((len(rows), len(prev)), 1e9)
    for r, i in enumerate(rows):
        centre, size = cur[i]
        for j, (p_centre, p_size, limit) in enumerate(prev):
            dist = float(np.linalg.norm(centre - p_centre))
            ratio = max(size, p_size) / max(min(size, p_size), 1e-6)
            if dist < limit and ratio < MAX_SIZE_RATIO:
                cost[r, j] = dist
    for r, j in zip(*linear_sum_assignment(cost)):
        if cost[r, j] < 1e9:
            out[rows[r]] = int(j)
    return out


def assign_tracks(faces: list[list[np.ndarray]], cuts: set[int] | frozenset = frozenset()) -> list[list[int]]:
    """A track id for every face. A face continues a track seen in the previous frame (or up to MAX_GAP frames
    before) by optimal matching on landmark centres within GATE of the face size, so ids hold when the faces'
    order flips or two people cross; a face that continues none, or any face of a frame in `cuts` (the first
    frame of a new shot), starts a new track."""
    tracks: list[list[int]] = []
    open_tracks: dict[int, tuple[np.ndarray, float, int]] = {}   # track id -> (centre, size, last frame)
    next_id = 0
    for i, lms in enumerate(faces):
        if i in cuts:
            open_tracks = {}
        open_tracks = {t: v for t, v in open_tracks.items() if i - v[2] <= MAX_GAP + 1}
        tids = list(open_tracks)
        prev = [(c, s, GATE * s * (i - last)) for c, s, last in (open_tracks[t] for t in tids)]
        cur = [_centre_size(lm) for lm in lms]
        ids = []
        for found, match in zip(cur, match_faces(prev, cur)):
            if match is None:
                ids.append(next_id)
                next_id += 1
            else:
                ids.append(tids[match])
            if found is not None:
                open_tracks[ids[-1]] = (found[0], found[1], i)
        tracks.append(ids)
    return tracks


def linked_pairs(tracks: list[list[int]]) -> set[tuple[int, int]]:
    """Consecutive frames (i - 1, i) that some track spans: where a cut would change the tracks."""
    last: dict[int, int] = {}
    pairs = set()
    for i, ids in enumerate(tracks):
        for tid in ids:
            if tid in last:
                pairs.update((k - 1, k) for k in range(last[tid] + 1, i + 1))
            last[tid] = i
    return pairs


def thumbnail(image: np.ndarray) -> np.ndarray:
    """16x9 block colours of a frame with its overall brightness evened out (what `is_cut` compares)."""
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    small = cv2.resize(image[..., :3], (16, 9), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small * (128.0 / max(float(small.mean()), 1.0))


def is_cut(before: np.ndarray, after: np.ndarray) -> bool:
    """A hard cut between two frames (their `thumbnail`s): most of the picture changed at once. A camera move,
    people walking or the light changing alter a part of the blocks (measured on core/sample_footage.py's clips:
    at most 0.6 even for a fast whip of the camera; the corpus cut: 0.85)."""
    changed = np.abs(before - after).sum(axis=-1) > CUT_BLOCK_CHANGE
    return float(changed.mean()) > CUT_SHARE


def _motion_centre(lm: np.ndarray) -> np.ndarray | None:
    """DFL's motion point: the centre of the full-face square of size 256, mapped back to the frame."""
    if _centre_size(lm) is None:
        return None
    mat = get_transform_mat(np.asarray(lm, np.float64), 256, "full_face")
    return transform_points(np.array([[127.0, 127.0]]), mat, invert=True)[0]


def motion_vectors(faces: list[list[np.ndarray]], tracks: list[list[int]]) -> list[list[Motion | None]]:
    """Motion of every face from the previous to the next frame of its own track (DFL measures one face per
    frame); at a track's ends the face itself stands in for the missing neighbour. None for a face whose
    landmarks are unusable."""
    centres = [[_motion_centre(lm) for lm in lms] for lms in faces]
    n = len(faces)

    def same_track(i: int, tid: int, fallback: np.ndarray) -> np.ndarray:
        if 0 <= i < n and tid in tracks[i]:
            found = centres[i][tracks[i].index(tid)]
            if found is not None:
                return found
        return fallback

    out: list[list[Motion | None]] = []
    for i in range(n):
        row: list[Motion | None] = []
        for k, cur in enumerate(centres[i]):
            if cur is None:
                row.append(None)
                continue
            tid = tracks[i][k]
            vec = same_track(i + 1, tid, cur) - same_track(i - 1, tid, cur)
            power = float(np.linalg.norm(vec))
            row.append(Motion(power, -math.degrees(math.atan2(vec[1], vec[0])) if power > 0 else 0.0))
        out.append(row)
    return out


def track_neighbours(tracks: list[list[int]], frame: int, face: int, radius: int,
                     available: set[int] | None = None) -> list[tuple[int, int]]:
    """(frame, face) pairs of the same track within `radius` frames (the face itself included), stopping at a
    gap in the track; `available` limits the frames considered."""
    tid = tracks[frame][face]
    found = [(frame, face)]
    for step in (-1, 1):
        i = frame
        for _ in range(radius):
            i += step
            if not 0 <= i < len(tracks) or (available is not None and i not in available):
                break
            if tid not in tracks[i]:
                break
            found.append((i, tracks[i].index(tid)))
    return found


def average_masks(masks: list[np.ndarray]) -> np.ndarray:
    return np.mean(np.stack(masks), axis=0).astype(np.float32)


def face_brightness(pred: FacePrediction) -> float:
    """Mean brightness of a predicted face inside its learned mask (the whole square if the mask is empty)."""
    face = pred.face.astype(np.float32)
    luma = face[..., 0] if face.shape[-1] == 1 else face @ np.array(BGR_LUMA, np.float32)
    inside = pred.learned_prd.reshape(luma.shape) >= 0.5
    values = luma[inside] if inside.sum() >= 16 else luma.ravel()
    return float(values.mean())


def running_average(values: list[float], window: int) -> list[float]:
    """Centred moving average (shorter at the ends)."""
    half = max(0, window // 2)
    arr = np.asarray(values, np.float64)
    return [float(arr[max(0, i - half): i + half + 1].mean()) for i in range(len(arr))]


def stabilizing_gammas(brightness: list[float], window: int) -> list[float]:
    """Per-face gamma g so that brightness**g moves each face to the running average of its track: a face that
    is too dark gets lighter and vice versa, removing frame-to-frame flicker but not slow lighting changes."""
    targets = running_average(brightness, window)
    gammas = []
    for b, t in zip(brightness, targets):
        b = min(max(b, 1e-3), 0.999)
        t = min(max(t, 1e-3), 0.999)
        gammas.append(float(np.clip(math.log(t) / math.log(b), *GAMMA_RANGE)))
    return gammas


def track_gammas(tracks: list[list[int]], brightness: dict[tuple[int, int], float],
                 window: int) -> dict[tuple[int, int], float]:
    """Gamma for every measured (frame, face), computed along each track in frame order."""
    series: dict[int, list[tuple[int, int]]] = {}
    for key in sorted(brightness):
        series.setdefault(tracks[key[0]][key[1]], []).append(key)
    out = {}
    for keys in series.values():
        for key, g in zip(keys, stabilizing_gammas([brightness[k] for k in keys], window)):
            out[key] = g
    return out


def apply_gamma(pred: FacePrediction, gamma: float) -> FacePrediction:
    if abs(gamma - 1.0) < 1e-6:
        return pred
    face = np.power(np.clip(pred.face, 0.0, 1.0), gamma).astype(np.float32)
    return dataclasses.replace(pred, face=face)
