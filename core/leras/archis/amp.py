"""DeepFaceLab's AMP architecture: one encoder, two inters (src, dst) and one decoder.

The encoder is the DF `-ut` encoder (five stride-2 convs, residual blocks after the first and last, pixel norm)
followed by a dense layer to `ae_dims`; each inter is one dense layer to an `inter_dims`-channel map of
resolution/32 square; the decoder is the DF `-dt` decoder (four upscales with residual blocks, four output convs
joined by depth-to-space, and a five-upscale mask head). A swap mixes the channels of the two inters' codes:
the first `morph · inter_dims` channels from `inter_src`, the rest from `inter_dst` (`morph_code`).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.leras import ops
from core.leras.archis.deepfake import ArchiSpec, Decoder, Encoder
from core.leras.layers import Dense
from core.leras.module import Module

AMP_ENCODER = ArchiSpec("df", "ut")
AMP_DECODER = ArchiSpec("df", "dt")


def amp_lowest_res(resolution: int) -> int:
    """The inters' map size: AMP's resolution is a multiple of 32 and its encoder halves it five times."""
    return resolution // 32


class AMPEncoder(Encoder):
    """Image -> `ae_dims` code: the DF `-ut` encoder, then `dense1` (variables down1, res1, ..., res5, dense1)."""

    def __init__(self, in_ch: int, e_ch: int, ae_ch: int, resolution: int, data_format: str = "NHWC",
                 kernel_init: str = "glorot_uniform", rng: np.random.Generator | None = None) -> None:
        super().__init__(in_ch, e_ch, AMP_ENCODER, data_format, kernel_init, rng)
        self.dense1 = Dense(self.out_features(resolution), ae_ch, kernel_init=kernel_init, rng=rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense1(super().__call__(x))


class AMPInter(Module):
    """`ae_dims` code -> `inter_dims` x L x L map (one dense layer, no activation)."""

    def __init__(self, ae_ch: int, inter_ch: int, lowest_res: int, data_format: str = "NHWC",
                 kernel_init: str = "glorot_uniform", rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.inter_ch, self.lowest_res, self.data_format = inter_ch, lowest_res, data_format
        self.dense2 = Dense(ae_ch, lowest_res * lowest_res * inter_ch, kernel_init=kernel_init, rng=rng)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return ops.reshape_4d(self.dense2(x), self.inter_ch, self.lowest_res, self.lowest_res, self.data_format)


def amp_decoder(inter_ch: int, d_ch: int, d_mask_ch: int, out_ch: int = 3, data_format: str = "NHWC",
                kernel_init: str = "glorot_uniform", rng: np.random.Generator | None = None) -> Decoder:
    """AMP's decoder: the DF `-dt` decoder on `inter_ch` input channels (upscale0-3, res0-3, upscalem0-4, out_conv,
    out_conv1-3, out_convm)."""
    return Decoder(inter_ch, d_ch, d_mask_ch, AMP_DECODER, out_ch, data_format, kernel_init, rng)


def morph_code(src_code: tf.Tensor, dst_code: tf.Tensor, morph: tf.Tensor | float, data_format: str) -> tf.Tensor:
    """The swap's code: the first int(morph · C) channels of `src_code` (the dst face through `inter_src`), the
    rest of `dst_code` (through `inter_dst`). morph 0 is the dst reconstruction, 1 all src."""
    axis = ops.channel_axis(data_format)
    channels = int(src_code.shape[axis])
    keep = tf.cast(tf.cast(channels, tf.float32) * tf.cast(morph, tf.float32), tf.int32)
    take_src = tf.range(channels) < keep
    shape = [1, 1, 1, channels] if axis == -1 else [1, channels, 1, 1]
    return tf.where(tf.reshape(take_src, shape), src_code, dst_code)


def random_channel_mask(batch: tf.Tensor, channels: int, ones: int, data_format: str,
                        dtype: tf.DType = tf.float32) -> tf.Tensor:
    """Per sample, exactly `ones` of `channels` channels set to 1 at random, the others 0 (DFL's shuffled mask of
    AMP's training morph), shaped to broadcast over a code map."""
    ranks = tf.argsort(tf.argsort(tf.random.uniform(tf.stack([batch, channels])), axis=1), axis=1)
    mask = tf.cast(ranks < ones, dtype)
    return mask[:, None, None, :] if ops.channel_axis(data_format) == -1 else mask[:, :, None, None]
