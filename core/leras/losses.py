"""Training losses on NHWC float32 tensors, per sample: DFL's DSSIM (with its window quirks) and MSE."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def dssim_window(size: int, sigma: float = 1.5) -> np.ndarray:
    """DFL's SSIM window: a Gaussian centred at (size-1)/2 (between pixels for even sizes), normalised as a
    softmax over -d²/(2σ²). Returned as the 1-D factor: the 2-D window is its outer product (exactly)."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    logits = -0.5 * coords ** 2 / sigma ** 2
    w = np.exp(logits - logits.max())
    return (w / w.sum()).astype(np.float32)


def dssim(a: tf.Tensor, b: tf.Tensor, filter_size: int, max_val: float = 1.0, filter_sigma: float = 1.5,
          k1: float = 0.01, k2: float = 0.03) -> tf.Tensor:
    """Structural dissimilarity (1 - SSIM) / 2 per sample and channel: shape (N, C).

    VALID windows (no padding), SSIM averaged over space. The four local means (a, b, a·b, a²+b²) share one
    separable depthwise pass over a channel stack.
    """
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    ch = a.shape[-1]
    w = dssim_window(filter_size, filter_sigma)
    kh = tf.constant(np.tile(w[:, None, None, None], (1, 1, 4 * ch, 1)))
    kw = tf.constant(np.tile(w[None, :, None, None], (1, 1, 4 * ch, 1)))
    stack = tf.concat([a, b, a * b, tf.square(a) + tf.square(b)], axis=-1)
    means = tf.nn.depthwise_conv2d(stack, kh, [1, 1, 1, 1], "VALID")
    means = tf.nn.depthwise_conv2d(means, kw, [1, 1, 1, 1], "VALID")
    mu_a, mu_b, mu_ab, mu_sq = tf.split(means, 4, axis=-1)
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    num0 = mu_a * mu_b * 2.0
    den0 = tf.square(mu_a) + tf.square(mu_b)
    luminance = (num0 + c1) / (den0 + c1)
    cs = (mu_ab * 2.0 - num0 + c2) / (mu_sq - den0 + c2)
    ssim = tf.reduce_mean(luminance * cs, axis=[1, 2])
    return (1.0 - ssim) / 2.0


def mse(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean squared error per sample, over H, W, C: shape (N,)."""
    return tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3])


def mae(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per sample: shape (N,)."""
    return tf.reduce_mean(tf.abs(a - b), axis=[1, 2, 3])


def dssim_filter_sizes(resolution: int) -> list[tuple[float, int]]:
    """(weight, window) pairs of SAEHD's image DSSIM term: 10·DSSIM(R/11.6) below 256 px, else 5+5 with R/23.2."""
    if resolution < 256:
        return [(10.0, int(resolution / 11.6))]
    return [(5.0, int(resolution / 11.6)), (5.0, int(resolution / 23.2))]
