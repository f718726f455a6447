"""Session fixtures: a small real aligned faceset (dlib landmarks on the public-domain photos) with variants.

Frames are built from `astronaut()` and `grace_hopper()` with in-plane roll and a cylinder-warp head turn; dlib
finds the faces and their 68 landmarks; `facelib.landmarks` aligns them (full face, 128 px JPG + FaceMeta).
Variants for the sort tests: Gaussian-blurred and darkened copies of real faces, and frames holding two faces.
`build_faceset` is also used by `bench/sort.py`.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

FACE_SIZE = 128


class DlibLandmarker:
    """Real detector + 68-point predictor (dlib's HOG detector and the face_recognition_models weights)."""

    def __init__(self):
        import dlib
        import face_recognition_models
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def __call__(self, image: np.ndarray, upsample: int = 0) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """[(rect l,t,r,b, landmarks 68x2 float32)] largest face first."""
        import dlib
        rgb = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        rects = sorted(self.detector(rgb, upsample), key=lambda r: -r.area())
        out = []
        for r in rects:
            shape = self.predictor(rgb, r)
            pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            out.append(((r.left(), r.top(), r.right(), r.bottom()), pts))
        return out

    def largest(self, image: np.ndarray, upsample: int = 1) -> np.ndarray | None:
        found = self(image, upsample)
        return found[0][1] if found else None


def _roll_zoom(photo: np.ndarray, roll_deg: float, zoom: float) -> np.ndarray:
    h, w = photo.shape[:2]
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), roll_deg, zoom)
    return cv2.warpAffine(photo, mat, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _cylinder_yaw(photo: np.ndarray, landmarks: np.ndarray, degrees: float) -> np.ndarray:
    """Turn the head by `degrees` as if the face were a vertical cylinder (a real-looking yaw for the pose tests)."""
    h, w = photo.shape[:2]
    cx = float(landmarks[27:36, 0].mean())
    radius = float(np.ptp(landmarks[:, 0])) * 0.75
    xs = np.arange(w, dtype=np.float32)
    phi = np.arcsin(np.clip((xs - cx) / radius, -1, 1)) - np.radians(degrees)
    src_x = np.where(np.abs(xs - cx) < radius, cx + radius * np.sin(np.clip(phi, -np.pi / 2, np.pi / 2)), xs)
    map_x = np.repeat(src_x[None].astype(np.float32), h, 0)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, 1)
    return cv2.remap(photo, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _side_by_side(a: np.ndarray, b: np.ndarray, height: int = 360) -> np.ndarray:
    a = cv2.resize(a, (int(a.shape[1] * height / a.shape[0]), height), interpolation=cv2.INTER_AREA)
    b = cv2.resize(b, (int(b.shape[1] * height / b.shape[0]), height), interpolation=cv2.INTER_AREA)
    return np.concatenate([a, b], axis=1)


@dataclass
class Faceset:
    """A built faceset: its folder and the file names of each group."""

    dir: Path
    groups: dict[str, list[str]] = field(default_factory=dict)

    def names(self, *groups: str) -> list[str]:
        """File names of `groups` (all files when none are given), each once, in group order."""
        return list(dict.fromkeys(n for g in (groups or self.groups) for n in self.groups[g]))

    def copy_to(self, target: Path, groups: tuple[str, ...] = ()) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        for name in self.names(*groups):
            shutil.copy2(self.dir / name, target / name)
        return target


def _align(frame: np.ndarray, frame_name: str, landmarker: DlibLandmarker, max_faces: int, size: int,
           face_type: str = "full_face"):
    from facelib.landmarks import get_transform_mat, transform_points
    from facelib.meta import FaceMeta
    out = []
    for rect, lm in landmarker(frame, 0)[:max_faces]:
        mat = get_transform_mat(lm, size, face_type)
        face = cv2.warpAffine(frame, mat, (size, size), flags=cv2.INTER_LANCZOS4)
        meta = FaceMeta(face_type=face_type, landmarks=transform_points(lm, mat), source_filename=frame_name,
                        source_rect=list(rect), source_landmarks=lm, image_to_face_mat=mat)
        out.append((face, meta))
    return out


def build_faceset(out_dir: Path, landmarker: DlibLandmarker | None = None, size: int = FACE_SIZE,
                  face_type: str = "full_face") -> Faceset:
    """Write the faceset into `out_dir` (names `<frame>_<k>.jpg`) and return its groups."""
    from core.sample_media import astronaut, grace_hopper
    from facelib.meta import save_face
    landmarker = landmarker or DlibLandmarker()
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = {"astronaut": astronaut(), "hopper": grace_hopper()}
    frames: list[tuple[str, np.ndarray]] = []
    for who, photo in photos.items():
        for roll in (-12, 0, 12):
            frames.append((f"{who}-roll", _roll_zoom(photo, roll, 1.0)))
        landmarks = landmarker.largest(photo, 0)
        for degrees in (-35, -15, 15, 35):
            frames.append((f"{who}-yaw", _cylinder_yaw(photo, landmarks, degrees)))
    fs = Faceset(out_dir, {"base": [], "blurred": [], "dark": [], "twoface": []})
    base_faces = []
    index = 1
    for group, frame in frames:
        faces = _align(frame, f"{index:05d}.png", landmarker, 1, size, face_type)
        if faces:
            name = f"{index:05d}_0.jpg"
            save_face(out_dir / name, faces[0][0], faces[0][1], jpeg_quality=95)
            fs.groups["base"].append(name)
            fs.groups.setdefault(group, []).append(name)
            base_faces.append(faces[0])
        index += 1
    for i, (face, meta) in enumerate(base_faces[::3]):  # blurred and darkened copies of real faces
        blurred = cv2.GaussianBlur(face, (0, 0), 2.5)
        name = f"{index:05d}_0.jpg"
        save_face(out_dir / name, blurred, meta.copy(), jpeg_quality=95)
        fs.groups["blurred"].append(name)
        index += 1
        dark = (face.astype(np.float32) * 0.35).astype(np.uint8)
        name = f"{index:05d}_0.jpg"
        save_face(out_dir / name, dark, meta.copy(), jpeg_quality=95)
        fs.groups["dark"].append(name)
        index += 1
    for roll in (0, 8):  # frames with two people
        frame = _side_by_side(_roll_zoom(photos["astronaut"], roll, 1.0), photos["hopper"])
        for k, (face, meta) in enumerate(_align(frame, f"{index:05d}.png", landmarker, 2, size, face_type)):
            name = f"{index:05d}_{k}.jpg"
            save_face(out_dir / name, face, meta, jpeg_quality=95)
            fs.groups["twoface"].append(name)
        index += 1
    return fs


@pytest.fixture(scope="session")
def dlib_landmarker() -> DlibLandmarker:
    return DlibLandmarker()


@pytest.fixture(scope="session")
def real_faceset(tmp_path_factory, dlib_landmarker) -> Faceset:
    """A read-only faceset of ~25 real aligned faces with blurred, dark, yawed and two-face variants."""
    return build_faceset(tmp_path_factory.mktemp("faceset") / "aligned", dlib_landmarker)


@pytest.fixture
def faceset_copy(real_faceset, tmp_path) -> Faceset:
    """A private, writable copy of `real_faceset` (same groups)."""
    target = real_faceset.copy_to(tmp_path / "aligned")
    return Faceset(target, {g: list(n) for g, n in real_faceset.groups.items()})


@pytest.fixture(scope="session")
def whole_face_set(tmp_path_factory, dlib_landmarker) -> Faceset:
    """Four real whole-face 192 px aligned faces (colour JPG) with an XSeg polygon and mask, plus their frames."""
    from core.sample_media import astronaut, grace_hopper
    from facelib.landmarks import get_image_hull_mask
    from facelib.meta import save_face
    out = tmp_path_factory.mktemp("wf") / "aligned"
    out.mkdir()
    fs = Faceset(out, {"faces": []})
    frames_dir = out.parent / "frames"
    frames_dir.mkdir()
    for i, (photo, roll) in enumerate([(astronaut(), 0), (astronaut(), 10), (grace_hopper(), 0),
                                       (grace_hopper(), -10)]):
        frame = _roll_zoom(photo, roll, 1.0)
        cv2.imwrite(str(frames_dir / f"{i:05d}.png"), frame)
        face, meta = _align(frame, f"{i:05d}.png", dlib_landmarker, 1, 192, "whole_face")[0]
        hull = get_image_hull_mask(face.shape, meta.landmarks)[..., 0]
        meta.xseg_mask = cv2.resize(hull, (256, 256), interpolation=cv2.INTER_LINEAR)
        meta.xseg_polys = [{"type": 1, "pts": meta.landmarks[[36, 39, 45, 42]]}]
        name = f"{i:05d}_0.jpg"
        save_face(out / name, face, meta, jpeg_quality=95)
        fs.groups["faces"].append(name)
    return fs
