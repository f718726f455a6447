"""Where predicted faces come from: a loaded model (batched `predict`), or files written earlier to
`data_dst/predicted/` (the two-pass workflow: pass 1 writes them, a person or a colorizer may edit them, pass 2
merges them without running the model).

Files of the predicted folder: `<frame stem>_<k>.png` (the face, gray or colour, editable),
`masks/<frame stem>_<k>.png` (blue = learned-prd mask, green = learned-dst mask) and `predicted.json`
(resolution, face type, channels and model of pass 1).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from core.fsio import atomic_write_bytes, atomic_write_text
from core.imagelib.io import MAX_FACE_PIXELS, read_image
from merger.masked import FacePrediction

FaceKey = tuple[str, int]   # (frame stem, face index in that frame)
SPEC_FILE = "predicted.json"


@dataclass(frozen=True)
class SourceSpec:
    """What the merger needs to know about a face source."""

    resolution: int
    face_type: str
    channels: int
    name: str = "model"


class FaceSource(Protocol):
    spec: SourceSpec

    def predict(self, keys: list[FaceKey], faces: list[np.ndarray]) -> list[FacePrediction | None]:
        """Predictions for the RxRxC dst faces (None where a face cannot be predicted). A source with an `xseg`
        model also takes `xseg_faces`: the same faces cut from the colour frame at the XSeg model's size."""


def _face_type_name(face_type) -> str:
    return face_type.to_string() if hasattr(face_type, "to_string") else str(face_type)


def _xseg_masks(xseg, faces: np.ndarray, size: int) -> np.ndarray:
    """An XSeg model's masks of N faces (resized to its input and back, as DFL's merger does), N x size x size x 1."""
    r = int(xseg.resolution)
    big = np.stack([cv2.resize(f, (r, r), interpolation=cv2.INTER_CUBIC).reshape(r, r, -1) for f in faces])
    masks = np.asarray(xseg.predict(np.clip(big, 0.0, 1.0)), np.float32)
    return np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_CUBIC).reshape(size, size, 1)
                     for m in masks]).clip(0.0, 1.0)


class ModelSource:
    """A loaded model (anything with `merge_spec()` and `predict(NHWC) -> (face, src_mask, dst_mask)`), and
    optionally an XSeg model (`resolution`, `predict(N x r x r x C) -> masks`) for the XSeg mask modes and a
    Colorizer for one-channel faces."""

    def __init__(self, model, batch_size: int = 8, name: str = "model", xseg=None, colorizer=None):
        spec = model.merge_spec()
        self.model = model
        self.xseg = xseg
        self.colorizer = colorizer   # colours one-channel faces (`colorize(N x R x R x 1) -> N x R x R x 3`)
        self.batch_size = max(1, batch_size)
        self.spec = SourceSpec(int(spec.resolution), _face_type_name(spec.face_type), int(spec.channels), name)

    def predict(self, keys: list[FaceKey], faces: list[np.ndarray],
                xseg_faces: list[np.ndarray] | None = None) -> list[FacePrediction | None]:
        out: list[FacePrediction | None] = []
        for start in range(0, len(faces), self.batch_size):
            batch = np.stack(faces[start:start + self.batch_size]).astype(np.float32)
            xseg_batch = batch if xseg_faces is None else np.stack(xseg_faces[start:start + self.batch_size])
            face, src_mask, dst_mask = (np.asarray(a, np.float32) for a in self.model.predict(batch))
            c = self.spec.channels
            r = self.spec.resolution
            face = np.clip(face.reshape(len(batch), r, r, c), 0, 1)
            if self.colorizer is not None and c == 1:
                face = self.colorizer.colorize(face)
            xseg_prd = xseg_dst = [None] * len(batch)
            if self.xseg is not None:
                xseg_prd, xseg_dst = _xseg_masks(self.xseg, face, r), _xseg_masks(self.xseg, xseg_batch, r)
            for j in range(len(batch)):
                out.append(FacePrediction(face[j], np.clip(src_mask[j].reshape(r, r, 1), 0, 1),
                                          np.clip(dst_mask[j].reshape(r, r, 1), 0, 1), xseg_prd[j], xseg_dst[j]))
        return out


def _name(key: FaceKey) -> str:
    return f"{key[0]}_{key[1]}.png"


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise UserError("cannot encode a predicted face as PNG")
    return buf.tobytes()


def write_spec(folder: Path, spec: SourceSpec, stems: list[str]) -> None:
    """Describe pass 1: the source's spec and the frames (stems) whose faces were written."""
    data = {"resolution": spec.resolution, "face_type": spec.face_type, "channels": spec.channels,
            "model": spec.name, "frames": sorted(set(stems))}
    atomic_write_text(Path(folder) / SPEC_FILE, json.dumps(data, indent=1) + "\n")


def read_spec(folder: Path) -> tuple[SourceSpec, set[str]] | None:
    """(spec, frame stems covered) of a predicted folder; None when pass 1 has not run there."""
    path = Path(folder) / SPEC_FILE
    if not path.exists():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8-sig"))
        spec = SourceSpec(int(d["resolution"]), str(d["face_type"]), int(d["channels"]), str(d.get("model", "")))
        if not 16 <= spec.resolution <= 4096 or spec.channels not in (1, 3):
            raise ValueError(f"resolution {spec.resolution} or channels {spec.channels} out of range")
        return spec, {str(s) for s in d.get("frames", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError) as err:
        raise UserError(f"{path}: not a valid predicted-faces description ({err})") from None


def save_prediction(folder: Path, key: FaceKey, pred: FacePrediction) -> None:
    """Write one predicted face (8-bit PNG) and its two learned masks."""
    face = np.clip(np.rint(pred.face * 255), 0, 255).astype(np.uint8)
    masks = np.concatenate([pred.learned_prd, pred.learned_dst, np.zeros_like(pred.learned_prd)], axis=2)
    atomic_write_bytes(folder / _name(key), _png(face))
    atomic_write_bytes(folder / "masks" / _name(key), _png(np.clip(np.rint(masks * 255), 0, 255).astype(np.uint8)))


def has_prediction(folder: Path, key: FaceKey) -> bool:
    return (folder / _name(key)).exists() and (folder / "masks" / _name(key)).exists()


class PrecomputedSource:
    """Faces from the predicted folder; a colorized (3-channel) face replaces the stored gray one as is."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        found = read_spec(self.folder)
        if found is None:
            raise UserError(f"{self.folder / SPEC_FILE}: missing; run the precomputed pass 1 first")
        self.spec, self.frames = found

    def predict(self, keys: list[FaceKey], faces: list[np.ndarray]) -> list[FacePrediction | None]:
        out: list[FacePrediction | None] = []
        r = self.spec.resolution
        for key in keys:
            face = read_image(self.folder / _name(key), cv2.IMREAD_UNCHANGED, MAX_FACE_PIXELS)
            masks = read_image(self.folder / "masks" / _name(key), cv2.IMREAD_COLOR, MAX_FACE_PIXELS)
            if face is None or masks is None:
                interact.log_warn(f"{self.folder / _name(key)}: missing or unreadable predicted face, skipped")
                out.append(None)
                continue
            if face.ndim == 3 and face.shape[2] == 4:
                face = face[..., :3]
            face = face if face.ndim == 3 else face[..., None]
            if face.shape[:2] != (r, r):
                face = cv2.resize(face, (r, r), interpolation=cv2.INTER_CUBIC).reshape(r, r, face.shape[2])
                masks = cv2.resize(masks, (r, r), interpolation=cv2.INTER_CUBIC)
            m = masks.astype(np.float32) / 255.0
            out.append(FacePrediction(face.astype(np.float32) / 255.0, m[..., 0:1], m[..., 1:2]))
        return out
