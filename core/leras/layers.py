"""Layers on raw tf ops: Conv2D, Conv2DTranspose, Dense, DFL's Downscale/Upscale/Residual blocks, and XSeg's
FRNorm2D, TLU and BlurPool.

Weights are float32 `tf.Variable`s; a layer computes in the dtype of its input (weights are cast on the fly),
which is how bfloat16 compute with float32 master weights works. Convs pad symmetrically with zeros by
((k-1)·dilation+1)//2 per side and then run VALID, exactly like DFL (TF "SAME" pads asymmetrically).
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from core.leras import ops
from core.leras.initializers import get_initializer
from core.leras.module import Module


def _variable(shape: tuple[int, ...], init: str, rng: np.random.Generator, name: str) -> tf.Variable:
    return tf.Variable(get_initializer(init)(shape, rng), name=name, dtype=tf.float32)


def _cast_like(w: tf.Variable, x: tf.Tensor) -> tf.Tensor:
    return w if x.dtype == w.dtype else tf.cast(w, x.dtype)


def dfl_padding(kernel_size: int, dilation: int = 1) -> int:
    """Zero padding DFL puts on each side of a conv input."""
    return ((kernel_size - 1) * dilation + 1) // 2


class Conv2D(Module):
    """k×k convolution, kernel (k, k, in, out) + bias, DFL symmetric padding."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, strides: int = 1, dilations: int = 1,
                 use_bias: bool = True, data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = rng or np.random.default_rng()
        self.in_ch, self.out_ch, self.kernel_size = in_ch, out_ch, kernel_size
        self.strides, self.dilations, self.use_bias = strides, dilations, use_bias
        self.data_format = ops.check_data_format(data_format)
        self.weight = _variable((kernel_size, kernel_size, in_ch, out_ch), kernel_init, rng, "weight")
        if use_bias:
            self.bias = _variable((out_ch,), "zeros", rng, "bias")
        p = dfl_padding(kernel_size, dilations)
        # Stride 1 with an odd receptive field: TF "SAME" pads exactly p per side, so use it (one fused op).
        # Otherwise pad explicitly then run VALID. (The conv op's own explicit-padding form is equal too, but
        # has no oneDNN bfloat16 kernel on CPU and runs ~50x slower there.)
        self._pre_pad = None
        if p == 0:
            self._padding = "VALID"
        elif strides == 1 and ((kernel_size - 1) * dilations) % 2 == 0:
            self._padding = "SAME"
        else:
            self._padding = "VALID"
            spatial = [[p, p], [p, p]]
            self._pre_pad = [[0, 0]] + spatial + [[0, 0]] if data_format == "NHWC" else [[0, 0], [0, 0]] + spatial

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        if self._pre_pad is not None:
            x = tf.pad(x, self._pre_pad)
        x = tf.nn.conv2d(x, _cast_like(self.weight, x), strides=self.strides, padding=self._padding,
                         dilations=self.dilations, data_format=self.data_format)
        if self.use_bias:
            x = tf.nn.bias_add(x, _cast_like(self.bias, x), data_format=self.data_format)
        return x


class Conv2DTranspose(Module):
    """Transposed conv with TF "SAME" sizing (output = input · stride); kernel (k, k, out, in) + bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, strides: int = 2, use_bias: bool = True,
                 data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = rng or np.random.default_rng()
        self.out_ch, self.strides, self.use_bias = out_ch, strides, use_bias
        self.data_format = ops.check_data_format(data_format)
        self.weight = _variable((kernel_size, kernel_size, out_ch, in_ch), kernel_init, rng, "weight")
        if use_bias:
            self.bias = _variable((out_ch,), "zeros", rng, "bias")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(x)
        if self.data_format == "NHWC":
            out_shape = tf.stack([shape[0], shape[1] * self.strides, shape[2] * self.strides, self.out_ch])
        else:
            out_shape = tf.stack([shape[0], self.out_ch, shape[2] * self.strides, shape[3] * self.strides])
        x = tf.nn.conv2d_transpose(x, _cast_like(self.weight, x), out_shape, strides=self.strides,
                                   padding="SAME", data_format=self.data_format)
        if self.use_bias:
            x = tf.nn.bias_add(x, _cast_like(self.bias, x), data_format=self.data_format)
        return x


class Dense(Module):
    """x @ W + b with W (in, out)."""

    def __init__(self, in_ch: int, out_ch: int, use_bias: bool = True, kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = rng or np.random.default_rng()
        self.in_ch, self.out_ch, self.use_bias = in_ch, out_ch, use_bias
        # Dense layers stay Glorot even when convs use CA init (CA is defined for kernels only).
        self.weight = _variable((in_ch, out_ch), "glorot_uniform" if kernel_init == "ca" else kernel_init,
                                rng, "weight")
        if use_bias:
            self.bias = _variable((out_ch,), "zeros", rng, "bias")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.matmul(x, _cast_like(self.weight, x))
        if self.use_bias:
            x = tf.nn.bias_add(x, _cast_like(self.bias, x))
        return x


class Downscale(Module):
    """Stride-2 conv `in → out` then act(0.1): halves the spatial size (ceil)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 5, use_cos: bool = False,
                 data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.use_cos = use_cos
        self.conv1 = Conv2D(in_ch, out_ch, kernel_size, strides=2, data_format=data_format,
                            kernel_init=kernel_init, rng=rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return ops.activation(self.conv1(x), 0.1, self.use_cos)


class DownscaleBlock(Module):
    """`n` Downscales; the i-th outputs ch·min(2^i, 8) channels. Children are named downs_0..downs_{n-1}."""

    def __init__(self, in_ch: int, ch: int, n_downscales: int, kernel_size: int = 5, use_cos: bool = False,
                 data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.downs: list[Downscale] = []
        last = in_ch
        for i in range(n_downscales):
            out = ch * min(2 ** i, 8)
            self.downs.append(self.add_child(f"downs_{i}", Downscale(
                last, out, kernel_size, use_cos, data_format, kernel_init, rng)))
            last = out
        self.out_ch = last

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        for down in self.downs:
            x = down(x)
        return x


class Upscale(Module):
    """Conv `in → 4·out`, act(0.1), depth-to-space(2): doubles the spatial size."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, use_cos: bool = False,
                 data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.use_cos, self.data_format = use_cos, data_format
        self.conv1 = Conv2D(in_ch, out_ch * 4, kernel_size, data_format=data_format,
                            kernel_init=kernel_init, rng=rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = ops.activation(self.conv1(x), 0.1, self.use_cos)
        return ops.depth_to_space(x, 2, self.data_format)


class ResidualBlock(Module):
    """y = act(conv1(x), 0.2); y = conv2(y); out = act(x + y, 0.2)."""

    def __init__(self, ch: int, kernel_size: int = 3, use_cos: bool = False, data_format: str = "NHWC",
                 kernel_init: str = "glorot_uniform", rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.use_cos = use_cos
        self.conv1 = Conv2D(ch, ch, kernel_size, data_format=data_format, kernel_init=kernel_init, rng=rng)
        self.conv2 = Conv2D(ch, ch, kernel_size, data_format=data_format, kernel_init=kernel_init, rng=rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = ops.activation(self.conv1(x), 0.2, self.use_cos)
        return ops.activation(x + self.conv2(y), 0.2, self.use_cos)


def _per_channel(w: tf.Variable, x: tf.Tensor, data_format: str) -> tf.Tensor:
    """A (C,) variable in x's dtype, shaped to broadcast over x's channel axis."""
    w = _cast_like(w, x)
    return w if data_format == "NHWC" else tf.reshape(w, (-1, 1, 1))


class FRNorm2D(Module):
    """Filter response norm: y = x · rsqrt(mean_HW(x²) + |eps|) · weight + bias (statistics in float32).

    `weight`/`bias` are per channel; `eps` is one learnable scalar of shape (1,), as in DFL.
    """

    def __init__(self, ch: int, data_format: str = "NHWC") -> None:
        super().__init__()
        self.data_format = ops.check_data_format(data_format)
        self.weight = tf.Variable(np.ones((ch,), np.float32), name="weight")
        self.bias = tf.Variable(np.zeros((ch,), np.float32), name="bias")
        self.eps = tf.Variable(np.full((1,), 1e-6, np.float32), name="eps")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x32 = tf.cast(x, tf.float32)
        spatial = (1, 2) if self.data_format == "NHWC" else (2, 3)
        nu2 = tf.reduce_mean(tf.square(x32), axis=spatial, keepdims=True)
        x = x * tf.cast(tf.math.rsqrt(nu2 + tf.abs(self.eps)), x.dtype)
        return x * _per_channel(self.weight, x, self.data_format) + _per_channel(self.bias, x, self.data_format)


class TLU(Module):
    """Thresholded linear unit: max(x, tau_weight), one learnable threshold per channel (initialised 0)."""

    def __init__(self, ch: int, data_format: str = "NHWC") -> None:
        super().__init__()
        self.data_format = ops.check_data_format(data_format)
        self.tau_weight = tf.Variable(np.zeros((ch,), np.float32), name="tau_weight")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.maximum(x, _per_channel(self.tau_weight, x, self.data_format))


def binomial_kernel_2d(filt_size: int) -> np.ndarray:
    """Outer product of the binomial row C(f-1, k), normalised to sum 1 (f=3: [1, 2, 1] ⊗ [1, 2, 1] / 16)."""
    if not 1 <= filt_size <= 7:
        raise ValueError(f"BlurPool filt_size must be 1..7, not {filt_size}")
    row = np.array([math.comb(filt_size - 1, k) for k in range(filt_size)], np.float64)
    k = np.outer(row, row)
    return (k / k.sum()).astype(np.float32)


class BlurPool(Module):
    """Anti-aliased stride-2 downsample: zero pad [(f-1)//2, ceil((f-1)/2)] per spatial side, then a depthwise
    binomial blur with stride 2 (output ceil(H/2) × ceil(W/2)). No variables: the kernel is a constant."""

    def __init__(self, ch: int, filt_size: int = 3, data_format: str = "NHWC") -> None:
        super().__init__()
        self.data_format = ops.check_data_format(data_format)
        self.kernel = np.tile(binomial_kernel_2d(filt_size)[:, :, None, None], (1, 1, ch, 1))
        pad = [(filt_size - 1) // 2, math.ceil((filt_size - 1) / 2)]
        if data_format == "NHWC":
            self._padding, self._strides = [[0, 0], pad, pad, [0, 0]], [1, 2, 2, 1]
        else:
            self._padding, self._strides = [[0, 0], [0, 0], pad, pad], [1, 1, 2, 2]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.pad(x, self._padding)
        return tf.nn.depthwise_conv2d(x, tf.constant(self.kernel, dtype=x.dtype), self._strides, "VALID",
                                      data_format=self.data_format)
