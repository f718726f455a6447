"""DeepFaceLab's XSeg face segmentation net: a U-Net of Conv→FRN→TLU blocks with BlurPool downsampling.

Layer plan and variable names follow sorting_and_tools.md §5.1 (DFL's `XSeg`), so DFL weights map one to one;
the bottleneck is generalised from DFL's fixed 4×4 to resolution/64 square.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.leras import ops
from core.leras.layers import TLU, BlurPool, Conv2D, Conv2DTranspose, Dense, FRNorm2D
from core.leras.module import Module

# Per encoder stage 0..5: (channels as a multiple of base_ch, number of ConvBlocks, BlurPool filter size,
# channels of the decoder's up-conv into this stage as a multiple of base_ch). The decoder mirrors the encoder.
STAGES = ((1, 2, 4, 1), (2, 2, 3, 2), (4, 2, 2, 4), (8, 3, 2, 4), (8, 3, 2, 4), (8, 3, 2, 4))
DENSE_CH = 512  # bottleneck width, fixed in DFL whatever base_ch


def _check_resolution(resolution: int) -> int:
    """Spatial size of the bottleneck (six stride-2 BlurPools)."""
    if resolution <= 0 or resolution % 64:
        raise ValueError(f"XSeg resolution must be a positive multiple of 64, not {resolution}")
    return resolution // 64


class ConvBlock(Module):
    """Conv 3×3 (stride 1, DFL padding) → FRN → TLU."""

    def __init__(self, in_ch: int, out_ch: int, data_format: str = "NHWC",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.conv = Conv2D(in_ch, out_ch, 3, data_format=data_format, rng=rng)
        self.frn = FRNorm2D(out_ch, data_format)
        self.tlu = TLU(out_ch, data_format)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.tlu(self.frn(self.conv(x)))


class UpConvBlock(Module):
    """Conv2DTranspose 3×3 stride 2 (output ×2) → FRN → TLU."""

    def __init__(self, in_ch: int, out_ch: int, data_format: str = "NHWC",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.conv = Conv2DTranspose(in_ch, out_ch, 3, strides=2, data_format=data_format, rng=rng)
        self.frn = FRNorm2D(out_ch, data_format)
        self.tlu = TLU(out_ch, data_format)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.tlu(self.frn(self.conv(x)))


class XSegNet(Module):
    """Image (N, R, R, in_ch) in [0, 1] → mask logits (N, R, R, out_ch) in `data_format` (float32).

    Children: conv01, conv02, bp0, ..., conv51..conv53, bp5, dense1, dense2, up5, uconv53..uconv51, ..., up0,
    uconv02, uconv01, out_conv. Decoder stage s concatenates [up-conv output, encoder skip s].
    """

    def __init__(self, in_ch: int = 3, base_ch: int = 32, out_ch: int = 1, resolution: int = 256,
                 data_format: str = "NHWC", rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.data_format = ops.check_data_format(data_format)
        self.bottom_res = _check_resolution(resolution)
        self.bottom_ch = base_ch * STAGES[-1][0]
        rng = rng or np.random.default_rng()
        kw = dict(data_format=data_format, rng=rng)

        self.encoder: list[tuple[list[ConvBlock], BlurPool]] = []
        last = in_ch
        for s, (mult, n_convs, filt, _) in enumerate(STAGES):
            ch = base_ch * mult
            convs = []
            for j in range(1, n_convs + 1):
                convs.append(self.add_child(f"conv{s}{j}", ConvBlock(last, ch, **kw)))
                last = ch
            self.encoder.append((convs, self.add_child(f"bp{s}", BlurPool(ch, filt, data_format))))

        flat = self.bottom_ch * self.bottom_res ** 2
        self.dense1 = Dense(flat, DENSE_CH, rng=rng)
        self.dense2 = Dense(DENSE_CH, flat, rng=rng)

        self.decoder: list[tuple[UpConvBlock, list[ConvBlock]]] = []
        for s in reversed(range(len(STAGES))):
            mult, n_convs, _, up_mult = STAGES[s]
            ch, up_ch = base_ch * mult, base_ch * up_mult
            up = self.add_child(f"up{s}", UpConvBlock(last, up_ch, **kw))
            last = up_ch + ch  # concat [upsampled, skip]
            convs = []
            for j in reversed(range(1, n_convs + 1)):
                convs.append(self.add_child(f"uconv{s}{j}", ConvBlock(last, ch, **kw)))
                last = ch
            self.decoder.append((up, convs))
        self.out_conv = Conv2D(last, out_ch, 3, **kw)

    def __call__(self, x: tf.Tensor, pretrain: bool = False) -> tf.Tensor:
        """Mask logits; sigmoid gives the mask. With `pretrain` every skip is zeros (bottleneck path only)."""
        skips = []
        for convs, bp in self.encoder:
            for conv in convs:
                x = conv(x)
            skips.append(x)
            x = bp(x)
        x = self.dense2(self.dense1(ops.flatten(x, self.data_format)))
        x = ops.reshape_4d(x, self.bottom_ch, self.bottom_res, self.bottom_res, self.data_format)
        axis = ops.channel_axis(self.data_format)
        for (up, convs), skip in zip(self.decoder, reversed(skips)):
            x = up(x)
            x = tf.concat([x, tf.zeros_like(skip) if pretrain else skip], axis=axis)
            for conv in convs:
                x = conv(x)
        return self.out_conv(tf.cast(x, tf.float32))


def xseg_param_count(in_ch: int = 3, base_ch: int = 32, out_ch: int = 1, resolution: int = 256) -> int:
    """Number of weights of `XSegNet(in_ch, base_ch, out_ch, resolution)`, from the layer formulas alone."""
    def block(a: int, b: int) -> int:  # (Up)ConvBlock: 3×3 kernel + bias, FRN weight/bias/eps, TLU tau
        return 9 * a * b + b + (2 * b + 1) + b

    total, last = 0, in_ch
    for mult, n_convs, _, _ in STAGES:
        ch = base_ch * mult
        total += block(last, ch) + (n_convs - 1) * block(ch, ch)
        last = ch
    flat = last * _check_resolution(resolution) ** 2
    total += (flat * DENSE_CH + DENSE_CH) + (DENSE_CH * flat + flat)
    for mult, n_convs, _, up_mult in reversed(STAGES):
        ch, up_ch = base_ch * mult, base_ch * up_mult
        total += block(last, up_ch) + block(up_ch + ch, ch) + (n_convs - 1) * block(ch, ch)
        last = ch
    return total + 9 * last * out_ch + out_ch
