"""BlazeFace full-range face detector (MediaPipe's `face_detection_full_range.tflite`).

The image is letterboxed into the 192x192 input; the 2304 SSD anchors (one per cell of a 48x48 grid) are
decoded into boxes and six keypoints, scored with a sigmoid and merged by weighted non-maximum suppression.
"""
from __future__ import annotations

import cv2
import numpy as np

from facelib.detectors.base import Detection, shrink, to_bgr
from facelib.detectors.tflite_runtime import load_model

MODEL_FILE = "face_detection_full_range.tflite"
INPUT_SIZE = 192
GRID = 48  # one anchor per cell, stride 4


def make_anchors(grid: int = GRID) -> np.ndarray:
    """Anchor centres (N x 2) in normalised input coordinates, row-major like the model's outputs."""
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


ANCHORS = make_anchors()


def letterbox(image: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float, np.ndarray]:
    """Fit `image` into a size x size square keeping its aspect; returns (square, scale, pad_xy)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = shrink(image, nw, nh) if scale < 1 else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad = np.array([(size - nw) // 2, (size - nh) // 2], np.float32)
    square = np.zeros((size, size, 3), np.uint8)
    square[int(pad[1]):int(pad[1]) + nh, int(pad[0]):int(pad[0]) + nw] = resized
    return square, scale, pad


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray = ANCHORS,
           input_size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model outputs → (boxes Nx4 l,t,r,b, scores N, keypoints Nx6x2), all in normalised input coordinates."""
    raw = raw_boxes.reshape(-1, 16) / input_size
    centre = raw[:, 0:2] + anchors
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -100, 100)))
    return boxes, scores, keypoints


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one l,t,r,b box with many."""
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, threshold: float = 0.3):
    """MediaPipe-style weighted NMS: each cluster of overlapping boxes becomes their score-weighted mean.

    Yields (box, score, keypoints) per cluster, best first; the cluster keeps its best score.
    """
    remaining = np.argsort(-scores)
    while remaining.size:
        overlap = iou(boxes[remaining[0]], boxes[remaining])
        cluster = remaining[overlap > threshold]
        weights = scores[cluster][:, None]
        box = (boxes[cluster] * weights).sum(axis=0) / weights.sum()
        kps = (keypoints[cluster] * weights[:, :, None]).sum(axis=0) / weights.sum()
        yield box, float(scores[remaining[0]]), kps
        remaining = remaining[overlap <= threshold]


class BlazeFaceDetector:
    """The default detector: fast, robust to roll and light; in one pass it finds faces from about 1/12 of the
    frame's longer side upwards (~160 px in 1080p; the extractor searches tiles for smaller ones:
    `base.detect_in_tiles`)."""

    name = "blazeface"
    input_size = INPUT_SIZE

    def __init__(self, min_score: float = 0.5, nms_threshold: float = 0.3, num_threads: int = 1):
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        self.model = load_model(MODEL_FILE, num_threads)

    def detect(self, image: np.ndarray) -> list[Detection]:
        square, scale, pad = letterbox(to_bgr(image))
        x = cv2.cvtColor(square, cv2.COLOR_BGR2RGB).astype(np.float32) * (2.0 / 255.0) - 1.0
        outputs = self.model.run(x[None])
        raw_boxes = next(o for o in outputs if o.shape[-1] == 16)
        raw_scores = next(o for o in outputs if o.shape[-1] == 1)
        boxes, scores, keypoints = decode(raw_boxes, raw_scores)
        keep = scores >= self.min_score
        found = []
        for box, score, kps in weighted_nms(boxes[keep], scores[keep], keypoints[keep], self.nms_threshold):
            to_image = lambda p: (p * INPUT_SIZE - pad) / scale
            rect = to_image(box.reshape(2, 2)).reshape(4)
            found.append(Detection(rect.astype(np.float32), score, to_image(kps).astype(np.float32)))
        return found
