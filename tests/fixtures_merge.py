"""Merge fixtures built from real photos: a dst frame with dlib landmarks, a "predictor" that answers every dst
face with the real aligned astronaut face and its landmark-hull mask (used until a trained model is needed),
and a small dst workspace (moving-camera Grace Hopper frames, aligned faces with metadata, one frame without
a face)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.sample_media import Motion, synth_frames
from facelib.landmarks import get_image_hull_mask, get_transform_mat, transform_points
from facelib.meta import FaceMeta, save_face
from merger.masked import FacePrediction
from merger.sources import SourceSpec

RES = 64


@dataclass
class MergeScene:
    frame: np.ndarray          # BGR uint8 dst frame (Grace Hopper)
    landmarks: np.ndarray      # its 68 landmarks
    src_face: np.ndarray       # 128x128x3 float32 aligned astronaut face
    src_mask: np.ndarray       # 128x128x1 its hull mask


class RealFaceSource:
    """A face source answering every dst face with the same real aligned face (resized to the resolution)."""

    def __init__(self, scene: MergeScene, resolution: int = RES, channels: int = 3, face_type: str = "full_face"):
        self.spec = SourceSpec(resolution, face_type, channels, "real-face")
        face = cv2.resize(scene.src_face, (resolution, resolution), interpolation=cv2.INTER_AREA)
        if channels == 1:
            face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
        self.face = face.reshape(resolution, resolution, channels).astype(np.float32)
        self.mask = cv2.resize(scene.src_mask, (resolution, resolution))[..., None].astype(np.float32)
        self.calls: list[int] = []

    def predict(self, keys, faces):
        self.calls.append(len(faces))
        return [FacePrediction(self.face.copy(), self.mask.copy(), self.mask.copy()) for _ in faces]


@pytest.fixture(scope="session")
def merge_scene(hopper_bgr, astronaut_bgr, dlib_landmarker) -> MergeScene:
    """(`dlib_landmarker` comes from tests/fixtures_faceset.py.)"""
    lm_dst = dlib_landmarker.largest(hopper_bgr)
    lm_src = dlib_landmarker.largest(astronaut_bgr)
    assert lm_dst is not None and lm_src is not None
    mat = get_transform_mat(lm_src, 128, "full_face")
    face = cv2.warpAffine(astronaut_bgr, mat, (128, 128), flags=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    hull = get_image_hull_mask((128, 128), transform_points(lm_src, mat))
    return MergeScene(hopper_bgr, lm_dst, face, hull)


def write_aligned(folder: Path, frame_name: str, frame: np.ndarray, landmarks: np.ndarray, k: int = 0) -> None:
    mat = get_transform_mat(landmarks, 128, "full_face")
    face = cv2.warpAffine(frame, mat, (128, 128), flags=cv2.INTER_LINEAR)
    meta = FaceMeta(face_type="full_face", landmarks=transform_points(landmarks, mat),
                    source_filename=frame_name, source_landmarks=landmarks, image_to_face_mat=mat)
    save_face(folder / f"{Path(frame_name).stem}_{k}.jpg", face, meta)


@pytest.fixture(scope="session")
def merge_workspace(tmp_path_factory, hopper_bgr, dlib_landmarker) -> Path:
    """workspace/data_dst: 00001..00006.png (5 with a detected face, 00006 a plain frame) and aligned faces."""
    root = tmp_path_factory.mktemp("merge_ws")
    dst = root / "data_dst"
    aligned = dst / "aligned"
    aligned.mkdir(parents=True)
    frames = list(synth_frames(hopper_bgr, 5, size=(320, 240), motion=Motion(pan=0.05, zoom=0.05, roll_deg=5,
                                                                             light=0.1), seed=3))
    for i, frame in enumerate(frames, 1):
        name = f"{i:05d}.png"
        cv2.imwrite(str(dst / name), frame)
        landmarks = dlib_landmarker.largest(frame, upsample=1)
        assert landmarks is not None, f"dlib found no face in synthetic frame {name}"
        write_aligned(aligned, name, frame, landmarks)
    plain = np.tile(np.linspace(40, 200, 320, dtype=np.uint8)[None, :, None], (240, 1, 3))
    cv2.imwrite(str(dst / "00006.png"), plain)
    return root
