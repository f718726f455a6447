"""The Colorizer engine: a U-Net (XSeg's) that reads a face's luma and predicts its chroma (Cr, Cb).

Trained on colour src faces: the input is their luma (the gray face SAEHDBW learns), the target their own Cr/Cb
planes (OpenCV's float YCrCb: Cr = 0.713 (R - Y) + 0.5, Cb = 0.564 (B - Y) + 0.5). The loss is L1 on the
chroma, weighted to the face mask (outside the mask counts a tenth: the merge pastes only the face), plus
DSSIM of the chroma for the colour's layout. AdaBelief at 1e-4. Weights go to `<prefix>_Colorizer.h5`, the
optimizer to `<prefix>_Colorizer_opt.h5`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from core.imagelib.color_transfer import BGR_LUMA
from core.leras.losses import dssim
from core.leras.optimizers import AdaBelief
from models.unet_engine import UNetEngine

NETWORK = "Colorizer"
OUTSIDE_MASK_WEIGHT = 0.1   # loss weight of the pixels outside the face mask
CHROMA_GAINS = (0.713, 0.564)   # OpenCV's float YCrCb: Cr = 0.713 (R - Y) + 0.5, Cb = 0.564 (B - Y) + 0.5
# OpenCV's float YCrCb -> BGR: each channel is Y plus this (Cr - 0.5, Cb - 0.5) combination
CHROMA_TO_BGR = np.array([[0.0, 1.773], [-0.714, -0.344], [1.403, 0.0]], np.float32)


@dataclass(frozen=True)
class ColorizerEngineConfig:
    resolution: int = 128
    base_ch: int = 16
    learning_rate: float = 1e-4
    data_format: str = "auto"
    seed: int | None = None


def bgr_to_luma_chroma(bgr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """NHWC BGR in [0, 1] -> (Y N×R×R×1, CrCb N×R×R×2), OpenCV's float YCrCb."""
    b, g, r = tf.unstack(bgr, axis=-1)
    y = BGR_LUMA[0] * b + BGR_LUMA[1] * g + BGR_LUMA[2] * r
    cr = CHROMA_GAINS[0] * (r - y) + 0.5
    cb = CHROMA_GAINS[1] * (b - y) + 0.5
    return y[..., None], tf.stack([cr, cb], axis=-1)


def luma_chroma_to_bgr(luma: tf.Tensor, chroma: tf.Tensor) -> tf.Tensor:
    """NHWC luma (…×1) and (Cr, Cb) (…×2) in [0, 1] -> BGR (…×3) in [0, 1], OpenCV's float YCrCb. Where the colour
    would leave [0, 1] (saturated colour in the darkest or brightest parts) it is desaturated just enough to fit,
    so the brightness stays the model's (clipping would change it)."""
    y = tf.clip_by_value(luma, 0.0, 1.0)
    delta = tf.tensordot(chroma - 0.5, tf.constant(CHROMA_TO_BGR.T), 1)   # each channel's offset from Y
    room = tf.where(delta > 0, 1.0 - y, y)                                  # how far each channel may move
    size = tf.abs(delta)
    fit = tf.reduce_min(tf.where(size > 1e-6, room / tf.maximum(size, 1e-6), 1.0), axis=-1, keepdims=True)
    return tf.clip_by_value(y + delta * tf.minimum(fit, 1.0), 0.0, 1.0)


def resize_faces(x: tf.Tensor, size: int) -> tf.Tensor:
    """NHWC square faces to size x size: an exact box average for whole-number shrinks, else bilinear (ops that
    ONNX runs the same way, so the .dfm matches)."""
    have = x.shape[1]
    if have == size:
        return x
    if have > size and have % size == 0:
        return tf.nn.avg_pool2d(x, have // size, have // size, "VALID")
    return tf.image.resize(x, (size, size), method="bilinear")


class ColorizerEngine(UNetEngine):
    """U-Net + AdaBelief + the train and predict `tf.function`s. Faces NHWC float32 in [0, 1]."""

    network = NETWORK

    def __init__(self, config_: ColorizerEngineConfig) -> None:
        super().__init__(config_, 1, 2, lambda variables: AdaBelief(variables, lr=config_.learning_rate))
        r = config_.resolution
        faces = tf.TensorSpec([None, r, r, 3], tf.float32)
        self._train_fn = tf.function(self._train_graph, input_signature=[faces, tf.TensorSpec([None, r, r, 1])])
        self._colorize_fns: dict = {}   # face size -> traced colorize_graph

    def _chroma(self, luma: tf.Tensor) -> tf.Tensor:
        return tf.sigmoid(self.run_net(luma))

    def _train_graph(self, faces, masks):
        with tf.device(self.device):
            luma, target = bgr_to_luma_chroma(faces)
            weight = OUTSIDE_MASK_WEIGHT + (1.0 - OUTSIDE_MASK_WEIGHT) * masks

            def loss_vector():
                pred = self._chroma(luma)
                l1 = tf.reduce_sum(tf.abs(pred - target) * weight, [1, 2, 3]) / (2 * tf.reduce_sum(weight, [1, 2, 3]))
                window = max(3, int(self.config.resolution / 11.6))
                return 10.0 * l1 + 2.0 * tf.reduce_mean(dssim(pred * masks, target * masks, window), 1)
            return self.finite_step(loss_vector)

    def colorize_graph(self, gray: tf.Tensor) -> tf.Tensor:
        """N×S×S×1 gray faces in [0, 1] (S known when traced) -> N×S×S×3 BGR: each face's own luma with the chroma
        predicted at the Colorizer's resolution and scaled back to S. Also part of a colorizing `.dfm`."""
        chroma = self._chroma(resize_faces(tf.clip_by_value(gray, 0.0, 1.0), self.config.resolution))
        return luma_chroma_to_bgr(gray, resize_faces(chroma, gray.shape[1]))

    def colorize(self, gray: np.ndarray) -> np.ndarray:
        """`colorize_graph` on N×S×S×1 float32 numpy faces (one trace per face size S)."""
        x = np.asarray(gray, np.float32)
        if x.ndim != 4 or x.shape[3] != 1 or x.shape[1] != x.shape[2]:
            raise ValueError(f"the Colorizer colours N×S×S×1 gray faces, got {x.shape}")
        size = x.shape[1]
        if size not in self._colorize_fns:
            spec = tf.TensorSpec([None, size, size, 1], tf.float32)
            self._colorize_fns[size] = tf.function(self._device_colorize, input_signature=[spec])
        return self._colorize_fns[size](x).numpy()

    def _device_colorize(self, gray):
        with tf.device(self.device):
            return self.colorize_graph(gray)

    def train_step(self, faces: np.ndarray, masks: np.ndarray) -> float:
        """One update on N×R×R×3 BGR faces and their N×R×R×1 face masks; the mean loss."""
        return float(self._train_fn(np.asarray(faces, np.float32), np.asarray(masks, np.float32)))
