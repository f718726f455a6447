"""SAEHD's discriminators: the code discriminator of the "true face" power (DF archis) and the UNet patch
discriminator of the GAN power.

Layer plan and names as DFL's `CodeDiscriminator` (saehd_architecture.md §8.1): `1 + code_res // 8` stride-2
convs (`convs_0` kernel 4, then kernel 3; 256·min(2^i, 8) channels; LeakyReLU 0.1; DFL padding, so a k-4 conv
gives H/2 + 1) and a 1×1 `out_conv` to one logit map.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.leras import ops
from core.leras.layers import Conv2D, Conv2DTranspose
from core.leras.module import Module


class CodeDiscriminator(Module):
    """Inter code (N, code_res, code_res, in_ch) → logits (N, h, w, 1) in float32: is this a dst code?"""

    def __init__(self, in_ch: int, code_res: int, ch: int = 256, data_format: str = "NHWC",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.convs: list[Conv2D] = []
        last = in_ch
        for i in range(1 + code_res // 8):
            out = ch * min(2 ** i, 8)
            self.convs.append(self.add_child(f"convs_{i}", Conv2D(last, out, 4 if i == 0 else 3, strides=2,
                                                                 data_format=data_format, rng=rng)))
            last = out
        self.out_conv = Conv2D(last, 1, 1, data_format=data_format, rng=rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        for conv in self.convs:
            x = ops.activation(conv(x), 0.1)
        return tf.cast(self.out_conv(x), tf.float32)


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Receptive field of a stack of (kernel, stride) convs: k₁ + Σ_{i≥2} (k_i − 1)·Π_{j<i} s_j."""
    rf, total_stride = 0, 1
    for i, (k, s) in enumerate(layers):
        rf = k if i == 0 else rf + (k - 1) * total_stride
        total_stride *= s
    return rf


def find_patch_archi(patch_size: int, max_layers: int = 9) -> list[tuple[int, int]]:
    """DFL's layer search for the UNet patch discriminator: 3×3 convs, the first of stride 2, the others 1 or 2;
    per receptive field the fewest layers (ties: the larger stride sum); the field closest to `patch_size` (ties:
    the smaller)."""
    best: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}
    for count in range(1, max_layers + 1):
        for pattern in range((1 << (count - 1)) - 1, -1, -1):
            layers = [(3, 2)] + [(3, 2 if pattern & (1 << i) else 1) for i in range(count - 1)]
            rf, strides = receptive_field(layers), sum(s for _, s in layers)
            kept = best.get(rf)
            if kept is None or count < kept[0] or (count == kept[0] and strides > kept[1]):
                best[rf] = (count, strides, layers)
    fields = sorted(best)
    return best[min(fields, key=lambda rf: (abs(rf - patch_size), rf))][2]


class UNetPatchDiscriminator(Module):
    """Image → (centre logits, full-resolution logits), both float32 (DFL's `UNetPatchDiscriminator`,
    saehd_architecture.md §8.2): a 1×1 `in_conv`, the searched convs, a centre head, and transposed convs back
    up with skips. Children: in_conv, convs_i, upconvs_i (deepest first), out_conv, center_out, center_conv."""

    def __init__(self, patch_size: int, in_ch: int, base_ch: int = 16, data_format: str = "NHWC",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()

        self.data_format = data_format
        layers = find_patch_archi(patch_size)
        chs = {i - 1: min(base_ch * 2 ** i, 512) for i in range(len(layers) + 1)}
        kw = dict(data_format=data_format, rng=rng)
        self.in_conv = Conv2D(in_ch, chs[-1], 1, **kw)
        self.convs, ups = [], []
        for i, (k, s) in enumerate(layers):
            self.convs.append(self.add_child(f"convs_{i}", Conv2D(chs[i - 1], chs[i], k, strides=s, **kw)))
            ups.insert(0, (chs[i] * (1 if i == len(layers) - 1 else 2), chs[i - 1], k, s))
        self.upconvs = [self.add_child(f"upconvs_{i}", Conv2DTranspose(a, b, k, strides=s, **kw))
                        for i, (a, b, k, s) in enumerate(ups)]
        self.out_conv = Conv2D(chs[-1] * 2, 1, 1, **kw)
        deepest = chs[len(layers) - 1]
        self.center_out = Conv2D(deepest, 1, 1, **kw)
        self.center_conv = Conv2D(deepest, deepest, 1, **kw)

    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = ops.activation(self.in_conv(x), 0.2)
        skips = []
        for conv in self.convs:
            skips.insert(0, x)
            x = ops.activation(conv(x), 0.2)
        center = self.center_out(x)
        x = ops.activation(self.center_conv(x), 0.2)
        axis = ops.channel_axis(self.data_format)
        for up, skip in zip(self.upconvs, skips):
            x = tf.concat([skip, ops.activation(up(x), 0.2)], axis)
        return tf.cast(center, tf.float32), tf.cast(self.out_conv(x), tf.float32)
