"""Built-in real faces (public-domain photos shipped by installed packages) and synthetic camera motion.

Used by the demo and the test fixtures: `astronaut()` (scikit-image) and `grace_hopper()` (matplotlib),
turned into frame sequences with pan, zoom, roll and light changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np


def astronaut() -> np.ndarray:
    """Eileen Collins (NASA, public domain), 512x512 BGR uint8."""
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def grace_hopper() -> np.ndarray:
    """Grace Hopper (US Navy, public domain), 600x512 BGR uint8."""
    from matplotlib import cbook
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        buf = np.frombuffer(f.read(), np.uint8)
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


PHOTOS = {"astronaut": astronaut, "grace_hopper": grace_hopper}


@dataclass(frozen=True)
class Motion:
    """Peak amplitudes of the synthetic camera motion over one clip."""

    pan: float = 0.08          # fraction of the frame size
    zoom: float = 0.15         # relative scale change
    roll_deg: float = 15.0     # in-plane rotation
    light: float = 0.25        # relative brightness change


def similarity(photo_shape: tuple[int, int], size: tuple[int, int], scale: float, angle_deg: float,
               shift: tuple[float, float]) -> np.ndarray:
    """2x3 matrix placing a photo (h, w) centred in a frame `size` (w, h), scaled, rotated and shifted."""
    h, w = photo_shape
    fw, fh = size
    base = min(fw / w, fh / h) * scale
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, base)
    mat[0, 2] += fw / 2 - w / 2 + shift[0]
    mat[1, 2] += fh / 2 - h / 2 + shift[1]
    return mat


def blurred_backdrop(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """What the frame shows around the moving photo: the photo stretched over the frame, blurred past recognition
    and dimmed (like a phone video of a portrait). Replicated edge pixels drew streaks; a mirrored border showed
    a second face."""
    fw, fh = size
    stretched = cv2.resize(photo, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return cv2.GaussianBlur(stretched, (0, 0), sigmaX=0.06 * max(fw, fh)) * 0.8


def synth_frames(photo: np.ndarray, count: int, size: tuple[int, int] = (640, 480), motion: Motion = Motion(),
                 seed: int = 0) -> Iterator[np.ndarray]:
    """Yield `count` BGR frames of `photo` filmed by a smoothly moving camera with changing light, in front of a
    blurred backdrop (`blurred_backdrop`)."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * np.pi, 5)
    fw, fh = size
    backdrop = blurred_backdrop(photo, size)
    for i in range(count):
        t = 2 * np.pi * i / max(count, 1)
        scale = 0.9 * (1 + motion.zoom * np.sin(t + phases[0]))
        angle = motion.roll_deg * np.sin(t + phases[1])
        shift = (motion.pan * fw * np.sin(t + phases[2]), motion.pan * fh * np.sin(t + phases[3]))
        mat = similarity(photo.shape[:2], size, scale, angle, shift)
        frame = cv2.warpAffine(photo, mat, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(np.ones(photo.shape[:2], np.float32), mat, size, flags=cv2.INTER_LINEAR)[..., None]
        frame = (frame * inside + backdrop * (1.0 - inside)).astype(np.uint8)
        gain = 1 + motion.light * np.sin(t + phases[4])
        yield np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def two_shot(left: np.ndarray, right: np.ndarray, count: int, size: tuple[int, int] = (640, 360),
             seed: int = 0) -> Iterator[np.ndarray]:
    """Yield `count` BGR frames of two people side by side: each photo scaled to the frame height, drifting,
    zooming and turning on its own, with changing light, in front of a dark backdrop."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * np.pi, (2, 5))
    fw, fh = size
    for i in range(count):
        t = 2 * np.pi * i / max(count, 1)
        frame = np.full((fh, fw, 3), 40, np.float32)
        for k, photo in enumerate((left, right)):
            p = phases[k]
            # centred a quarter of the width from either side
            shift = ((0.46 * k - 0.23 + 0.04 * np.sin(t + p[0])) * fw, 0.04 * fh * np.sin(t + p[1]))
            mat = similarity(photo.shape[:2], size, 0.85 + 0.1 * np.sin(t + p[2]), 8 * np.sin(t + p[3]), shift)
            inside = cv2.warpAffine(np.ones(photo.shape[:2], np.float32), mat, size)[..., None]
            frame = cv2.warpAffine(photo, mat, size).astype(np.float32) * inside + frame * (1.0 - inside)
        gain = 1 + 0.2 * np.sin(t + phases[0, 4])
        yield np.clip(frame * gain, 0, 255).astype(np.uint8)
