"""The XSeg engine: DFL's XSeg U-Net with RMSprop (lr 1e-4, LR dropout 0.3) and the train/predict functions.

Training minimises the sigmoid cross-entropy against the target masks; pretraining (skips zeroed) redraws the
grayscale face: 10·MSE + 5·DSSIM at two window sizes. NHWC on the CPU, NCHW on a GPU (as DFL). Weights go to
`<prefix>_XSeg.h5`, the optimizer to `<prefix>_XSeg_opt.h5`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from core.leras.losses import dssim
from core.leras.optimizers import RMSprop
from models.unet_engine import UNetEngine

NETWORK = "XSeg"  # DFL's name of the network (and of its weights file)


@dataclass(frozen=True)
class XSegEngineConfig:
    """The network and its optimiser (DFL's fixed values; `resolution`/`base_ch` only shrink for tests)."""

    resolution: int = 256
    base_ch: int = 32
    learning_rate: float = 1e-4
    lr_dropout_keep: float = 0.3
    data_format: str = "auto"
    seed: int | None = None


class XSegEngine(UNetEngine):
    """XSegNet + RMSprop + the train and predict `tf.function`s. Images NHWC float32 BGR in [0, 1]."""

    network = NETWORK

    def __init__(self, config_: XSegEngineConfig) -> None:
        # RMSprop's slots are keyed `acc/XSeg/<path>`, the layout DFL's XSeg optimizer file converts to
        super().__init__(config_, 3, 1, lambda variables: RMSprop(variables, lr=config_.learning_rate, rho=0.9,
                                                                  lr_dropout=config_.lr_dropout_keep))
        r = config_.resolution
        spec = [tf.TensorSpec([None, r, r, 3], tf.float32), tf.TensorSpec([None, r, r, 1], tf.float32)]
        self._train_fn = tf.function(lambda x, y: self._train_graph(x, y, False), input_signature=spec)
        self._pretrain_fn = tf.function(lambda x, y: self._train_graph(x, y, True), input_signature=spec)
        self._predict_fn = tf.function(self._predict_graph, input_signature=spec[:1])

    def _loss_vector(self, images, targets, pretrain: bool):
        logits = self.run_net(images, pretrain=pretrain)
        if not pretrain:
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), [1, 2, 3])
        pred, r = tf.sigmoid(logits), self.config.resolution
        loss = 10.0 * tf.reduce_mean(tf.square(pred - targets), [1, 2, 3])
        for size in (int(r / 11.6), int(r / 23.2)):  # DFL's DSSIM 22 and 11 at 256 px
            loss += 5.0 * tf.reduce_mean(dssim(pred, targets, max(3, size)), 1)
        return loss

    def _train_graph(self, images, targets, pretrain: bool):
        with tf.device(self.device):
            return self.finite_step(lambda: self._loss_vector(images, targets, pretrain))

    def _predict_graph(self, images):
        with tf.device(self.device):
            return tf.sigmoid(self.run_net(images, pretrain=False))

    def train_step(self, images: np.ndarray, targets: np.ndarray, pretrain: bool = False) -> float:
        fn = self._pretrain_fn if pretrain else self._train_fn
        return float(fn(np.asarray(images, np.float32), np.asarray(targets, np.float32)))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """N×R×R×3 float32 BGR faces in [0, 1] -> N×R×R×1 masks in [0, 1]."""
        x = np.asarray(images, np.float32)
        r = self.config.resolution
        if x.ndim != 4 or x.shape[1:] != (r, r, 3):
            raise ValueError(f"XSeg predicts N×{r}×{r}×3 faces, got {x.shape}")
        return self._predict_fn(x).numpy()
