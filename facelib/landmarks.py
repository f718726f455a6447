"""68-point landmark math: the image→aligned-face transform of every face type, masks, head pose and debug drawing.

Pure functions on numpy arrays. Points are (x, y) pixels, x right, y down; images are OpenCV arrays.
The alignment reproduces DeepFaceLab's geometry: a Umeyama similarity fit of 33 landmarks to a mean face,
then a square around the face centre padded per face type.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from facelib import mean_face
from facelib.face_type import FaceType

# Padding of the face square (as a fraction of the mean-face diagonal) per face type.
FACE_TYPE_PADDING = {
    FaceType.HALF: 0.0,
    FaceType.MID_FULL: 0.0675,
    FaceType.FULL: 0.2109375,
    FaceType.FULL_NO_ALIGN: 0.2109375,
    FaceType.WHOLE_FACE: 0.40,
    FaceType.HEAD: 0.70,
    FaceType.HEAD_NO_ALIGN: 0.70,
}


def _as_face_type(face_type: FaceType | str) -> FaceType:
    return face_type if isinstance(face_type, FaceType) else FaceType.from_string(face_type)


def umeyama(src: np.ndarray, dst: np.ndarray, estimate_scale: bool = True) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping `src` points onto `dst`; 3x3 homogeneous."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    num, dim = src.shape
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_demean, dst_demean = src - src_mean, dst - dst_mean
    a = dst_demean.T @ src_demean / num
    d = np.ones(dim)
    if np.linalg.det(a) < 0:
        d[-1] = -1
    t = np.eye(dim + 1)
    u, s, v = np.linalg.svd(a)
    rank = np.linalg.matrix_rank(a)
    if rank == 0:
        return np.full_like(t, np.nan)
    if rank == dim - 1:
        if np.linalg.det(u) * np.linalg.det(v) > 0:
            t[:dim, :dim] = u @ v
        else:
            flip = d.copy()
            flip[-1] = -1
            t[:dim, :dim] = u @ np.diag(flip) @ v
    else:
        t[:dim, :dim] = u @ np.diag(d) @ v
    scale = (s @ d) / src_demean.var(axis=0).sum() if estimate_scale else 1.0
    t[:dim, dim] = dst_mean - scale * (t[:dim, :dim] @ src_mean)
    t[:dim, :dim] *= scale
    return t


def transform_points(points: np.ndarray, mat: np.ndarray, invert: bool = False) -> np.ndarray:
    """Apply a 2x3 affine `mat` (or its inverse) to Nx2 points; float input keeps its dtype."""
    points = np.asarray(points)
    mat = np.asarray(mat, np.float64)
    if invert:
        mat = cv2.invertAffineTransform(mat)
    out = points.reshape(-1, 2).astype(np.float64) @ mat[:, :2].T + mat[:, 2]
    dtype = points.dtype if np.issubdtype(points.dtype, np.floating) else np.float32
    return out.astype(dtype).reshape(points.shape)


def estimate_averaged_yaw(landmarks: np.ndarray) -> float:
    """Rough yaw from the jaw-to-nose-bridge widths on each side (landmarks in unit mean-face space)."""
    x = np.asarray(landmarks, np.float64)[:, 0]
    left = np.mean([x[27 + k] - x[k] for k in range(3)])
    right = np.mean([x[16 - k] - x[27 + k] for k in range(3)])
    return float(right - left)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def polygon_area(points: np.ndarray) -> float:
    """Area of a simple polygon (shoelace formula)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def get_transform_mat(landmarks: np.ndarray, output_size: int, face_type: FaceType | str,
                      scale: float = 1.0) -> np.ndarray:
    """2x3 matrix mapping the source image onto the `output_size` square aligned face of `face_type`.

    `scale` > 1 zooms out of the face (the merger's output face scale); MARK_ONLY has no transform.
    """
    face_type = _as_face_type(face_type)
    if face_type not in FACE_TYPE_PADDING:
        raise ValueError(f"face type {face_type.to_string()} has no aligned crop")
    lmrks = np.asarray(landmarks, np.float64)
    if lmrks.shape != (68, 2):
        raise ValueError(f"expected 68x2 landmarks, got {lmrks.shape}")
    to_unit = umeyama(lmrks[mean_face.ALIGN_INDICES], mean_face.ALIGN_TARGET)[:2]

    # Unit-square corners and centre back in image space.
    g_p = transform_points(np.array([(0, 0), (1, 0), (1, 1), (0, 1), (0.5, 0.5)], np.float64), to_unit, invert=True)
    g_c = g_p[4].copy()
    tb = _unit(g_p[2] - g_p[0])  # top-left → bottom-right diagonal
    bt = _unit(g_p[1] - g_p[3])  # bottom-left → top-right diagonal
    mod = (1.0 / scale) * np.linalg.norm(g_p[0] - g_p[2]) * (FACE_TYPE_PADDING[face_type] * math.sqrt(2.0) + 0.5)

    up = g_p[0] - g_p[3]  # left edge, bottom → top
    if face_type == FaceType.WHOLE_FACE:
        g_c += _unit(up) * np.linalg.norm(up) * 0.07
    elif face_type == FaceType.HEAD:
        yaw = estimate_averaged_yaw(transform_points(lmrks, to_unit))
        yaw *= abs(math.tanh(yaw * 2.0))
        across = g_p[0] - g_p[1]
        g_c -= _unit(across) * yaw * np.linalg.norm(across) / 2.0
        g_c += _unit(up) * np.linalg.norm(up) * 0.50

    if face_type.aligned:
        src = np.array([g_c - tb * mod, g_c + bt * mod, g_c + tb * mod], np.float32)
    else:
        corners = np.array([g_c - tb * mod, g_c + bt * mod, g_c + tb * mod, g_c - bt * mod])
        side = math.sqrt(polygon_area(corners)) / 2.0
        src = np.array([g_c + (-side, -side), g_c + (side, -side), g_c + (side, side)], np.float32)
    dst = np.array([(0, 0), (output_size, 0), (output_size, output_size)], np.float32)
    return cv2.getAffineTransform(src, dst)


def get_rect_from_landmarks(landmarks: np.ndarray) -> tuple[int, int, int, int]:
    """Upright bounding square (l, t, r, b) of a full face, in the landmarks' image space."""
    mat = get_transform_mat(landmarks, 256, FaceType.FULL_NO_ALIGN)
    (l, t), (r, b) = transform_points(np.array([(0, 0), (255, 255)], np.float64), mat, invert=True)
    return int(l), int(t), int(r), int(b)


def mirror_landmarks(landmarks: np.ndarray, width: int) -> np.ndarray:
    """Landmarks of the horizontally flipped image (point order swapped left/right, x' = width - x - 1)."""
    out = np.array(landmarks, copy=True)
    for a, b in mean_face.MIRROR_PAIRS:
        out[[a, b]] = out[[b, a]]
    out[:, 0] = width - out[:, 0] - 1
    return out


def expand_eyebrows(landmarks: np.ndarray, eyebrows_expand_mod: float = 1.0) -> np.ndarray:
    """Integer landmarks with both brows pushed up away from the eyes (so hull masks cover the brows)."""
    lm = np.array(landmarks, copy=True).astype(np.int64)
    ml = (lm[36] + lm[0]) // 2
    mr = (lm[16] + lm[45]) // 2
    ql = (lm[36] + ml) // 2
    qr = (lm[45] + mr) // 2
    bottom_l = np.array([ql, lm[36], lm[37], lm[38], lm[39]])
    bottom_r = np.array([lm[42], lm[43], lm[44], lm[45], qr])
    top_l, top_r = lm[17:22], lm[22:27]
    lm[17:22] = top_l + eyebrows_expand_mod * 0.5 * (top_l - bottom_l)
    lm[22:27] = top_r + eyebrows_expand_mod * 0.5 * (top_r - bottom_r)
    return lm


_HULL_PARTS = (
    list(range(0, 9)) + [17],                      # right jaw
    list(range(8, 17)) + [26],                     # left jaw
    [17, 18, 19, 8],                               # right cheek
    [24, 25, 26, 8],                               # left cheek
    list(range(19, 25)) + [8],                     # nose ridge
    list(range(17, 22)) + [27] + list(range(31, 36)) + [8],  # right eye region
    list(range(22, 27)) + [27] + list(range(31, 36)) + [8],  # left eye region
    list(range(27, 36)),                           # nose
)


def _hw(image_shape) -> tuple[int, int]:
    return int(image_shape[0]), int(image_shape[1])


def get_image_hull_mask(image_shape, landmarks: np.ndarray, eyebrows_expand_mod: float = 1.0) -> np.ndarray:
    """HxWx1 float32 mask of the face from the jaw line up to the (raised) eyebrows."""
    h, w = _hw(image_shape)
    mask = np.zeros((h, w), np.float32)
    lm = expand_eyebrows(landmarks, eyebrows_expand_mod)
    for part in _HULL_PARTS:
        cv2.fillConvexPoly(mask, cv2.convexHull(lm[part].astype(np.int32)), 1.0)
    return mask[..., None]


def _soften(mask: np.ndarray, h: int) -> np.ndarray:
    """Dilate by h/32 and blur by h/16 (odd) like DFL's eye and mouth masks."""
    grow = h // 32
    if grow > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)), iterations=1)
    k = h // 16
    k += 1 if k % 2 == 0 else 0
    if k > 1:
        mask = cv2.GaussianBlur(mask, (k, k), 0)
    return mask


def get_eyes_mask(image_shape, landmarks: np.ndarray) -> np.ndarray:
    """HxWx1 float32 soft mask over both eyes."""
    h, w = _hw(image_shape)
    mask = np.zeros((h, w), np.float32)
    lm = np.asarray(landmarks).astype(np.int32)
    for eye in (lm[36:42], lm[42:48]):
        cv2.fillConvexPoly(mask, cv2.convexHull(eye), 1.0)
    return _soften(mask, h)[..., None]


def get_mouth_mask(image_shape, landmarks: np.ndarray) -> np.ndarray:
    """HxWx1 float32 soft mask over the inner mouth."""
    h, w = _hw(image_shape)
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.asarray(landmarks).astype(np.int32)[60:68]), 1.0)
    return _soften(mask, h)[..., None]


def get_eyes_mouth_mask(image_shape, landmarks: np.ndarray) -> np.ndarray:
    """HxWx1 float32 eyes + mouth priority mask, clipped to [0, 1]."""
    return np.clip(get_eyes_mask(image_shape, landmarks) + get_mouth_mask(image_shape, landmarks), 0.0, 1.0)


def estimate_pitch_yaw_roll(landmarks: np.ndarray, size: int = 256) -> tuple[float, float, float]:
    """Head pose (pitch, yaw, roll) in radians, each within ±π/2, from aligned-face landmarks of a `size` image.

    The PnP fit starts from an upright head facing the camera at the distance its image size implies. Started
    blind, the solver often lands on the mirror solution behind the camera (turned 180° about the view axis),
    which reads as roll ±π/2 and a yaw jump on ordinary upright faces with little perspective.
    """
    camera = np.array([[size, 0, size / 2], [0, size, size / 2], [0, 0, 1]], np.float64)
    image_pts = np.asarray(landmarks, np.float64)[mean_face.POSE_INDICES]
    model_pts = mean_face.LANDMARKS_68_3D[mean_face.POSE_INDICES].astype(np.float64)
    image_spread = max(float(np.linalg.norm(image_pts.std(axis=0))), 1e-6)
    depth = size * float(np.linalg.norm(model_pts[:, :2].std(axis=0))) / image_spread
    centre = (image_pts.mean(axis=0) - size / 2) * depth / size
    rvec = np.zeros((3, 1))
    tvec = np.array([[centre[0]], [centre[1]], [depth]])
    _, rvec, tvec = cv2.solvePnP(model_pts, image_pts, camera, np.zeros(4), rvec, tvec, useExtrinsicGuess=True)
    if tvec[2, 0] <= 0:  # still behind the camera: take the closed-form solution, which keeps the head in front
        _, rvecs, _, _ = cv2.solvePnPGeneric(model_pts, image_pts, camera, np.zeros(4), flags=cv2.SOLVEPNP_SQPNP)
        rvec = rvecs[0]
    r, _ = cv2.Rodrigues(rvec)
    sy = math.hypot(r[0, 0], r[1, 0])
    if sy >= 1e-6:
        x, y, z = math.atan2(r[2, 1], r[2, 2]), math.atan2(-r[2, 0], sy), math.atan2(r[1, 0], r[0, 0])
    else:
        x, y, z = math.atan2(-r[1, 2], r[1, 1]), math.atan2(-r[2, 0], sy), 0.0
    half_pi = math.pi / 2
    pitch, yaw, roll = (float(np.clip(v, -half_pi, half_pi)) for v in (-x, y, z))
    return pitch, yaw, roll


# Polylines drawn for debug images: (slice, closed).
_DRAW_PARTS = ((slice(0, 17), False), (slice(17, 22), False), (slice(22, 27), False), (slice(27, 31), False),
               (slice(30, 36), False), (slice(36, 42), True), (slice(42, 48), True), (slice(48, 60), True),
               (slice(60, 68), True))


def _colour(image: np.ndarray, color) -> tuple:
    """A BGR colour usable on `image`; one-channel images get the colour's brightest component."""
    return (max(color),) if image.ndim == 2 or image.shape[2] == 1 else tuple(color)


def draw_landmarks(image: np.ndarray, landmarks: np.ndarray, color=(0, 255, 0), transparent_mask: bool = False,
                   draw_circles: bool = True, thickness: int = 1) -> None:
    """Draw the 68 points and their contours onto `image` in place; optionally darken the face hull."""
    lm = np.asarray(landmarks, np.float64)
    if transparent_mask:
        mask = get_image_hull_mask(image.shape, lm)
        if image.ndim == 2:
            mask = mask[..., 0]
        image[...] = (image * (1.0 - mask) + image * mask / 2).astype(image.dtype)
    pts = np.round(lm).astype(np.int32)
    color = _colour(image, color)
    for part, closed in _DRAW_PARTS:
        cv2.polylines(image, [pts[part]], closed, color, thickness, cv2.LINE_AA)
    if draw_circles:
        radius = max(1, int(round(math.sqrt(image.shape[0] * image.shape[1]) / 400)))
        for x, y in pts:
            cv2.circle(image, (int(x), int(y)), radius, color, -1, cv2.LINE_AA)


def face_square(landmarks: np.ndarray, face_type: FaceType | str, face_size: int = 256) -> np.ndarray:
    """The four corners (TL, TR, BR, BL) of the aligned face square in image space."""
    mat = get_transform_mat(landmarks, face_size, face_type)
    corners = np.array([(0, 0), (face_size, 0), (face_size, face_size), (0, face_size)], np.float64)
    return transform_points(corners, mat, invert=True)


def draw_rect_landmarks(image: np.ndarray, rect, landmarks: np.ndarray, face_type: FaceType | str,
                        face_size: int = 256, transparent_mask: bool = False, landmarks_color=(0, 255, 0)) -> None:
    """Debug overlay in place: landmarks (green), detector rect (blue) and the face-type square (red, TL marked)."""
    face_type = _as_face_type(face_type)
    draw_landmarks(image, landmarks, color=landmarks_color, transparent_mask=transparent_mask)
    if rect is not None:
        l, t, r, b = (int(round(v)) for v in rect)
        cv2.rectangle(image, (l, t), (r, b), _colour(image, (255, 0, 0)), 2)
    if face_type not in FACE_TYPE_PADDING:
        return
    mat = get_transform_mat(landmarks, face_size, face_type)
    square = face_square(landmarks, face_type, face_size)
    red = _colour(image, (0, 0, 255))
    cv2.polylines(image, [np.round(square).astype(np.int32)], True, red, 2, cv2.LINE_AA)
    a, b = face_size * 0.05, face_size * 0.10
    corner = transform_points(np.array([(a, 0), (b, b), (0, a)], np.float64), mat, invert=True)
    cv2.polylines(image, [np.round(corner).astype(np.int32)], True, red, 2, cv2.LINE_AA)
