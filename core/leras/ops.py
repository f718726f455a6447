"""Small tensor ops shared by layers, archis and losses: activations, pixel norm, depth-to-space, layout moves."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

DATA_FORMATS = ("NHWC", "NCHW")


def check_data_format(data_format: str) -> str:
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be NHWC or NCHW, not {data_format!r}")
    return data_format


def placement(data_format: str = "auto") -> tuple[str, str]:
    """(device, data format) for a one-device network: the first GPU with NCHW (DFL's GPU layout), else the CPU
    with NHWC; a data format other than "auto" is kept."""
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    chosen = data_format if data_format != "auto" else ("NCHW" if on_gpu else "NHWC")
    return ("/GPU:0" if on_gpu else "/CPU:0"), check_data_format(chosen)


def channel_axis(data_format: str) -> int:
    return -1 if data_format == "NHWC" else 1


def activation(x: tf.Tensor, slope: float, use_cos: bool = False) -> tf.Tensor:
    """DFL's `act`: LeakyReLU(slope), or x·cos(x) for archi option `-c` (slope ignored)."""
    if use_cos:
        return x * tf.cos(x)
    return tf.nn.leaky_relu(x, alpha=slope)


def pixel_norm(x: tf.Tensor, axis: int = -1) -> tf.Tensor:
    """x / sqrt(mean(x²) + 1e-6) over `axis`, computed in float32 whatever the input dtype."""
    x32 = tf.cast(x, tf.float32)
    y = x32 * tf.math.rsqrt(tf.reduce_mean(tf.square(x32), axis=axis, keepdims=True) + 1e-6)
    return tf.cast(y, x.dtype)


def depth_to_space(x: tf.Tensor, size: int, data_format: str) -> tf.Tensor:
    """TF's DCR depth-to-space: out[(y·s+i, x·s+j), k] = in[(y, x), (i·s + j)·C + k], in either layout."""
    if data_format == "NHWC":
        return tf.nn.depth_to_space(x, size)
    # Reshape/transpose form: works on CPU too, where TF has no NCHW kernel for this op.
    n, c, h, w = tf.unstack(tf.shape(x))
    oc = x.shape[1] // (size * size)
    x = tf.reshape(x, (n, size, size, oc, h, w))
    x = tf.transpose(x, (0, 3, 4, 1, 5, 2))
    return tf.reshape(x, (n, oc, h * size, w * size))


def flatten(x: tf.Tensor, data_format: str) -> tf.Tensor:
    """Flatten in channel-major (C, H, W) order in both layouts, so dense weights do not depend on layout."""
    if data_format == "NHWC":
        x = tf.transpose(x, (0, 3, 1, 2))
    return tf.reshape(x, (tf.shape(x)[0], int(np.prod(x.shape[1:]))))


def reshape_4d(x: tf.Tensor, channels: int, height: int, width: int, data_format: str) -> tf.Tensor:
    """Inverse of `flatten`: a (N, C·H·W) vector read as (C, H, W), returned in `data_format`."""
    x = tf.reshape(x, (-1, channels, height, width))
    if data_format == "NHWC":
        x = tf.transpose(x, (0, 2, 3, 1))
    return x


def to_format(x: tf.Tensor, data_format: str) -> tf.Tensor:
    """NHWC tensor (the API layout) → `data_format`."""
    return x if data_format == "NHWC" else tf.transpose(x, (0, 3, 1, 2))


def from_format(x: tf.Tensor, data_format: str) -> tf.Tensor:
    """`data_format` tensor → NHWC."""
    return x if data_format == "NHWC" else tf.transpose(x, (0, 2, 3, 1))


def gaussian_kernel_2d(sigma: float) -> np.ndarray:
    """DFL's blur kernel: size max(3, int(4σ)) made odd, centred on size//2, normalised to sum 1."""
    size = max(3, int(4 * sigma))
    if size % 2 == 0:
        size += 1
    coords = np.arange(size, dtype=np.float64) - np.floor(size / 2)
    g = np.exp(-(coords ** 2) / (2 * sigma ** 2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def gaussian_blur(x: tf.Tensor, sigma: float, data_format: str = "NHWC") -> tf.Tensor:
    """Per-channel Gaussian blur with zero padding (output the same size), as used on masks."""
    k = gaussian_kernel_2d(sigma)
    pad = k.shape[0] // 2
    ch = x.shape[channel_axis(data_format)]
    kernel = tf.constant(np.tile(k[:, :, None, None], (1, 1, ch, 1)), dtype=x.dtype)
    if data_format == "NCHW":  # depthwise conv has no CPU NCHW kernel; blur is cheap, go through NHWC
        x = tf.transpose(x, (0, 2, 3, 1))
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    x = tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")
    return x if data_format == "NHWC" else tf.transpose(x, (0, 3, 1, 2))
