"""What the merger learns from neighbouring frames: face motion (for motion blur), face tracks, temporal mask
smoothing and gamma stabilization of predicted faces.

All functions work on per-frame lists: `faces[i]` is the list of 68x2 landmarks of frame i (frame pixels).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from core.imagelib.color_transfer import BGR_LUMA
from facelib.landmarks import get_transform_mat, transform_points
from merger.masked import FacePrediction, Motion

GAMMA_RANGE = (0.5, 2.0)


def motion_vectors(faces: list[list[np.ndarray]]) -> list[Motion | None]:
    """Motion of the face centre from the previous to the next frame (DFL: full-face square of size 256, its
    centre point mapped back to the frame). Only for frames whose previous, own and next frame each hold exactly
    one face: with several faces it is unknown which one moved where."""
    n = len(faces)
    centres = []
    for lms in faces:
        if len(lms) != 1:
            centres.append(None)
            continue
        mat = get_transform_mat(lms[0], 256, "full_face")
        centres.append(transform_points(np.array([[127.0, 127.0]]), mat, invert=True)[0])
    out: list[Motion | None] = []
    for i in range(n):
        prev, cur, nxt = centres[max(0, i - 1)], centres[i], centres[min(n - 1, i + 1)]
        if prev is None or cur is None or nxt is None:
            out.append(None)
            continue
        vec = nxt - prev
        power = float(np.linalg.norm(vec))
        deg = -math.degrees(math.atan2(vec[1], vec[0])) if power > 0 else 0.0
        out.append(Motion(power, deg))
    return out


def assign_tracks(faces: list[list[np.ndarray]]) -> list[list[int]]:
    """A track id for every face: a face continues the track of the nearest face of the previous frame when
    their landmark centroids are closer than half the face's size; otherwise it starts a new track."""
    tracks: list[list[int]] = []
    prev: list[tuple[np.ndarray, int]] = []
    next_id = 0
    for lms in faces:
        ids = []
        candidates = list(prev)
        for lm in lms:
            lm = np.asarray(lm, np.float64)
            centre = lm.mean(axis=0)
            limit = 0.5 * float(np.ptp(lm, axis=0).max())
            best = min(candidates, key=lambda c: np.linalg.norm(c[0] - centre), default=None)
            if best is not None and np.linalg.norm(best[0] - centre) < limit:
                ids.append(best[1])
                candidates.remove(best)
            else:
                ids.append(next_id)
                next_id += 1
        tracks.append(ids)
        prev = [(np.asarray(lm, np.float64).mean(axis=0), tid) for lm, tid in zip(lms, ids)]
    return tracks


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
