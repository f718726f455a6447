"""Who a face is: dlib's ResNet face descriptor (128 numbers from `face_recognition_models`), distances between
descriptors, the reference person read from photos or aligned faces, the per-frame identity filter of
extraction, and dlib's Chinese-whispers clustering of a faceset into people.

Two descriptors nearer than `DEFAULT_THRESHOLD` (0.6, dlib's own figure) are taken to be the same person. A
descriptor costs about 80 ms of one CPU core, far more than finding the face, so `IdentityFilter` measures a face
again only when it is not visibly the same face it measured in the frames just before.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from core.fsio import list_images
from facelib import landmarks as L
from facelib.dlib_models import dlib_module, model_path
from facelib.extractor import FaceExtractor, FoundFace, read_frame
from facelib.face_type import FaceType
from facelib.meta import FaceFileError, FaceMeta, read_meta

DEFAULT_THRESHOLD = 0.6   # dlib: descriptors of one person are nearer than this
MIN_PERSON_SHARE = 0.01   # a group of faces smaller than this share of a faceset (or a lone face) is no person
SAMPLE_FACES = 200        # `PeopleCounter` looks at most at this many faces of a faceset

# Reusing a distance measured in an earlier frame (IdentityFilter)
RECHECK_FRAMES = 10       # a face is measured again at least every this many frames
SAME_FACE_IOU = 0.3       # its box overlaps the box of the frame before at least this much
SAME_FACE_CORRELATION = 0.85  # and its thumbnail still looks like the one of the frame it was measured in
REUSE_MARGIN = 0.05       # and that distance was not this close to the threshold
THUMB_PX = 32

IDENTITY_KEY = "identity_distance"  # FaceMeta.extra: a kept face's distance to the reference (extract filter)

HELP_REFERENCE = ("A photo of the person whose faces you want (the largest face in it counts), one of their "
                  "aligned faces, or a folder of such pictures. Faces of everyone else are left out.")
HELP_THRESHOLD = ("Face-descriptor distance up to which a face counts as the reference person. 0.6 is dlib's "
                  "value; lower it when faces of someone else get through, raise it when faces of the person are "
                  "left out (or one person is split into several groups).")


@lru_cache(maxsize=None)
def recognizer():
    """dlib's face recognition ResNet, loaded once per process."""
    return dlib_module().face_recognition_model_v1(model_path("resnet"))


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or image.shape[2] == 1:
        return np.ascontiguousarray(cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB))
    return np.ascontiguousarray(cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB))


def descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 128-D descriptor of the face with these 68 landmarks (pixels of `image`, BGR or gray uint8)."""
    dlib = dlib_module()
    lm = np.asarray(landmarks, np.float64).reshape(68, 2)
    (x0, y0), (x1, y1) = np.floor(lm.min(axis=0)), np.ceil(lm.max(axis=0))
    shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
                                       [dlib.point(int(round(x)), int(round(y))) for x, y in lm])
    return np.asarray(recognizer().compute_face_descriptor(_rgb(image), shape), np.float32)


def aligned_descriptor(image: np.ndarray, meta: FaceMeta | None) -> np.ndarray | None:
    """The descriptor of an aligned face (its landmarks are in its own pixels), or None without landmarks."""
    if meta is None or meta.landmarks is None or len(meta.landmarks) != 68:
        return None
    return descriptor(image, meta.landmarks)


def stored_distance(meta: FaceMeta | None) -> float | None:
    """The distance `extract --filter-identity` wrote into a face's metadata, or None."""
    value = None if meta is None else meta.extra.get(IDENTITY_KEY)
    return float(value) if isinstance(value, (int, float)) else None


def distances(descriptors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For (n, 128) descriptors: each one's distance to the nearest of the (m, 128) reference descriptors."""
    d = np.asarray(descriptors, np.float32).reshape(-1, 128)
    r = np.asarray(reference, np.float32).reshape(-1, 128)
    return np.sqrt(((d[:, None, :] - r[None, :, :]) ** 2).sum(-1)).min(axis=1)


# ---------------------------------------------------------------------------------------------- questions ---

def ask_threshold(threshold: float | None) -> float:
    """`threshold` (asked when None, default 0.6), or a UserError when it is out of range."""
    if threshold is None:
        threshold = interact.input_number("Identity threshold", DEFAULT_THRESHOLD, (0.1, 1.5),
                                          help_message=HELP_THRESHOLD)
    if not 0.1 <= threshold <= 1.5:
        raise UserError(f"--identity-threshold {threshold}: must be within 0.1-1.5")
    return threshold


def ask_reference(text: str) -> Path | None:
    """The reference picture's path typed at the prompt `text` (quotes of a pasted path removed); None for Enter
    or when nothing can be asked."""
    answer = interact.input_str(text, "", show_default=False, help_message=HELP_REFERENCE, lowercase=False)
    answer = answer.strip().strip("\"'")
    return Path(answer) if answer else None


# ------------------------------------------------------------------------------------------ the reference ---

@dataclass
class Reference:
    """The person to keep: one descriptor per reference picture."""

    descriptors: np.ndarray   # (m, 128)
    sources: list[str]

    def signature(self) -> str:
        """A short digest that changes when the reference pictures do (the extract journal keys on it)."""
        return hashlib.sha1(np.round(self.descriptors, 3).astype(np.float32).tobytes()).hexdigest()[:12]


def _pictures(path: Path) -> list[Path]:
    if path.is_dir():
        pictures = list_images(path)
        if not pictures:
            raise UserError(f"{path}: no images in this reference folder")
        return pictures
    if not path.is_file():
        raise UserError(f"{path}: reference photo not found")
    return [path]


def _reference_descriptor(path: Path, extractor: FaceExtractor) -> np.ndarray:
    image = read_frame(path)
    if image is None:
        raise UserError(f"{path}: cannot read this reference image")
    try:
        meta = read_meta(path) if path.suffix.lower() in (".jpg", ".jpeg", ".png") else None
    except FaceFileError:
        meta = None
    found = aligned_descriptor(image, meta)
    if found is not None:
        return found
    faces = extractor.find_faces(image)
    if not faces:
        raise UserError(f"{path}: no face found in this reference photo (use a clear photo of the person's face, "
                        "or one of their aligned faces)")
    if len(faces) > 1:
        interact.log_info(f"{path.name}: {len(faces)} faces; the largest is the reference person")
    return descriptor(image, faces[0].landmarks)


def load_reference(paths: Sequence[str | Path], detector: str = "blazeface") -> Reference:
    """Descriptors of the reference pictures (photos, aligned faces or folders of them); a missing, unreadable or
    faceless one is a one-line UserError naming it."""
    if not paths:
        raise UserError("no reference photo given for the identity filter")
    pictures = [p for path in paths for p in _pictures(Path(path))]
    extractor = FaceExtractor(detector if detector != "manual" else "blazeface")
    found = [_reference_descriptor(p, extractor) for p in pictures]
    return Reference(np.stack(found), [p.name for p in pictures])


# ------------------------------------------------------------------------------ the filter of extraction ---

@dataclass
class _Seen:
    rect: np.ndarray
    thumb: np.ndarray       # of the frame where `distance` was measured
    distance: float
    age: int                # frames since it was measured


def _thumbnail(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face as a small gray full-face square, zero mean and unit norm (for a normalized correlation)."""
    mat = L.get_transform_mat(np.asarray(landmarks, np.float32), THUMB_PX, FaceType.FULL)
    gray = image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
    thumb = cv2.warpAffine(gray, mat, (THUMB_PX, THUMB_PX), flags=cv2.INTER_AREA).astype(np.float32)
    thumb -= thumb.mean()
    return thumb / (np.linalg.norm(thumb) + 1e-6)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(np.clip(a[2:] - a[:2], 0, None)) + np.prod(np.clip(b[2:] - b[:2], 0, None)) - inter
    return float(inter / max(union, 1e-9))


class IdentityFilter:
    """Keeps the faces of a frame within `threshold` of the reference person, each with its distance.

    Made once per extraction process; frames come in video order within a process. A face whose box overlaps a
    face of the previous frame, whose thumbnail still matches the one of the frame it was measured in, and whose
    distance was clearly on one side of the threshold keeps that distance for up to `RECHECK_FRAMES` frames; any
    other face (a new face, a cut, a turn of the head) is measured."""

    def __init__(self, reference: np.ndarray, threshold: float = DEFAULT_THRESHOLD):
        self.reference = np.asarray(reference, np.float32).reshape(-1, 128)
        self.threshold = float(threshold)
        self.previous: list[_Seen] = []
        self.measured = 0
        recognizer()

    def _earlier(self, rect: np.ndarray, thumb: np.ndarray, used: set[int]) -> _Seen | None:
        best, best_iou = None, SAME_FACE_IOU
        for i, seen in enumerate(self.previous):
            overlap = box_iou(rect, seen.rect)
            if i not in used and overlap >= best_iou:
                best, best_iou = i, overlap
        if best is None:
            return None
        seen = self.previous[best]
        if (seen.age + 1 >= RECHECK_FRAMES or abs(seen.distance - self.threshold) < REUSE_MARGIN
                or float((thumb * seen.thumb).sum()) < SAME_FACE_CORRELATION):
            return None
        used.add(best)
        return seen

    def measure(self, image: np.ndarray, faces: Sequence[FoundFace]) -> list[float]:
        """The distance of each face to the reference (measured now, or carried from an earlier frame)."""
        now, used = [], set()
        for face in faces:
            thumb = _thumbnail(image, face.landmarks)
            seen = self._earlier(face.rect, thumb, used)
            if seen is None:
                d = float(distances(descriptor(image, face.landmarks), self.reference)[0])
                self.measured += 1
                now.append(_Seen(np.asarray(face.rect), thumb, d, 0))
            else:
                now.append(_Seen(np.asarray(face.rect), seen.thumb, seen.distance, seen.age + 1))
        self.previous = now
        return [s.distance for s in now]

    def keep(self, image: np.ndarray, faces: Sequence[FoundFace]) -> tuple[list[FoundFace], list[float]]:
        """(the faces of the reference person in their order, their distances)."""
        pairs = [(face, round(d, 4)) for face, d in zip(faces, self.measure(image, faces)) if d <= self.threshold]
        return [f for f, _ in pairs], [d for _, d in pairs]


# ------------------------------------------------------------------------------------------------ people ---

def cluster(descriptors: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[list[int]]:
    """dlib's Chinese-whispers clustering: groups of descriptor indices, largest group first."""
    if len(descriptors) == 0:
        return []
    dlib = dlib_module()
    labels = dlib.chinese_whispers_clustering([dlib.vector(d.astype(np.float64).tolist()) for d in descriptors],
                                              float(threshold))
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def min_person_faces(count: int) -> int:
    """The smallest group of faces that counts as a person in a faceset of `count` faces."""
    return max(2, math.ceil(MIN_PERSON_SHARE * count))


def group_people(descriptors: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> tuple[list[list[int]], list[int]]:
    """(people as lists of indices, largest first; indices of faces in groups too small to be a person)."""
    groups = cluster(descriptors, threshold)
    least = min_person_faces(len(descriptors))
    people = [g for g in groups if len(g) >= least]
    loose = sorted(i for g in groups if len(g) < least for i in g)
    return people, loose


class PeopleCounter:
    """Counts the people of a faceset of `total` faces from an even sample of at most `SAMPLE_FACES` of them;
    `add` every face in order, then read `count()`."""

    def __init__(self, total: int, threshold: float = DEFAULT_THRESHOLD):
        self.step = max(1, math.ceil(total / SAMPLE_FACES))
        self.threshold = threshold
        self.seen = 0
        self.descriptors: list[np.ndarray] = []

    def add(self, image: np.ndarray, meta: FaceMeta | None) -> None:
        if self.seen % self.step == 0:
            found = aligned_descriptor(image, meta)
            if found is not None:
                self.descriptors.append(found)
        self.seen += 1

    def count(self) -> int:
        return len(group_people(np.array(self.descriptors), self.threshold)[0]) if self.descriptors else 0
