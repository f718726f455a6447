"""DeepFaceLab's DeepFake architecture (SAEHD, SAEHDBW, Quick96): Encoder, Inter and Decoder for df/liae -u -d -t -c.

Layer plan, channel schedules and variable names follow saehd_architecture.md; `in_ch`/`out_ch` are 3 for
SAEHD and 1 for SAEHDBW (one grayscale channel end to end).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from core.leras import ops
from core.leras.layers import Conv2D, Dense, DownscaleBlock, Downscale, ResidualBlock, Upscale
from core.leras.module import Module

ARCHI_TYPES = ("df", "liae")
ARCHI_OPTS = "udtc"


@dataclass(frozen=True)
class ArchiSpec:
    """A parsed archi string such as `liae-udt`: type `df`|`liae` and the option letters."""

    type: str
    opts: str = ""

    @classmethod
    def parse(cls, text: str) -> "ArchiSpec":
        name, _, opts = text.strip().lower().partition("-")
        if name not in ARCHI_TYPES:
            raise ValueError(f"archi {text!r}: type must be df or liae")
        bad = [c for c in opts if c not in ARCHI_OPTS]
        if bad or len(set(opts)) != len(opts) or (_ and not opts):
            raise ValueError(f"archi {text!r}: options after '-' are any of the letters u, d, t, c, each once")
        return cls(name, opts)

    def __str__(self) -> str:
        return f"{self.type}-{self.opts}" if self.opts else self.type

    def has(self, letter: str) -> bool:
        return letter in self.opts


def normalize_resolution(resolution: int, archi: ArchiSpec | str) -> int:
    """Clip to [64, 640] and floor to a multiple of 16 (of 32 when the archi has `d`), as DFL does."""
    spec = ArchiSpec.parse(archi) if isinstance(archi, str) else archi
    res = min(max(int(resolution), 64), 640)
    step = 32 if spec.has("d") else 16
    return res - res % step


def lowest_dense_res(resolution: int, spec: ArchiSpec) -> int:
    return resolution // (32 if spec.has("d") else 16)


def encoder_out_res(resolution: int, spec: ArchiSpec) -> int:
    """Spatial size after the encoder's stride-2 convs (each gives ceil(H/2) with DFL padding).

    DFL sizes the Inter's dense input with R//32 under `-t`, which breaks at resolutions that are multiples of
    16 but not 32; we compute the real (ceil) size instead, so every 16-step resolution works (fixed DFL bug).
    """
    size = resolution
    for _ in range(5 if spec.has("t") else 4):
        size = math.ceil(size / 2)
    return size


class Encoder(Module):
    """Image → flat code (channel-major), pixel-normed with `-u`."""

    def __init__(self, in_ch: int, e_ch: int, spec: ArchiSpec, data_format: str = "NHWC",
                 kernel_init: str = "glorot_uniform", rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.spec, self.data_format = spec, data_format
        kw = dict(use_cos=spec.has("c"), data_format=data_format, kernel_init=kernel_init, rng=rng)
        if spec.has("t"):
            self.down1 = Downscale(in_ch, e_ch, 5, **kw)
            self.res1 = ResidualBlock(e_ch, 3, **kw)
            self.down2 = Downscale(e_ch, e_ch * 2, 5, **kw)
            self.down3 = Downscale(e_ch * 2, e_ch * 4, 5, **kw)
            self.down4 = Downscale(e_ch * 4, e_ch * 8, 5, **kw)
            self.down5 = Downscale(e_ch * 8, e_ch * 8, 5, **kw)
            self.res5 = ResidualBlock(e_ch * 8, 3, **kw)
        else:
            self.down1 = DownscaleBlock(in_ch, e_ch, 4, 5, **kw)
        self.out_ch = e_ch * 8

    def out_features(self, resolution: int) -> int:
        return self.out_ch * encoder_out_res(resolution, self.spec) ** 2

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        if self.spec.has("t"):
            for layer in (self.down1, self.res1, self.down2, self.down3, self.down4, self.down5, self.res5):
                x = layer(x)
        else:
            x = self.down1(x)
        x = ops.flatten(x, self.data_format)
        if self.spec.has("u"):
            x = ops.pixel_norm(x, axis=-1)
        return x


class Inter(Module):
    """Bottleneck: Dense → ae_ch, Dense → L·L·ae_out_ch (no activations), reshape, Upscale (not with `-t`)."""

    def __init__(self, in_ch: int, ae_ch: int, ae_out_ch: int, lowest_res: int, spec: ArchiSpec,
                 data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.spec, self.data_format = spec, data_format
        self.ae_out_ch, self.lowest_res = ae_out_ch, lowest_res
        self.dense1 = Dense(in_ch, ae_ch, kernel_init=kernel_init, rng=rng)
        self.dense2 = Dense(ae_ch, lowest_res * lowest_res * ae_out_ch, kernel_init=kernel_init, rng=rng)
        if not spec.has("t"):
            self.upscale1 = Upscale(ae_out_ch, ae_out_ch, 3, spec.has("c"), data_format, kernel_init, rng)

    @property
    def out_res(self) -> int:
        return self.lowest_res if self.spec.has("t") else self.lowest_res * 2

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        x = self.dense2(self.dense1(x))
        x = ops.reshape_4d(x, self.ae_out_ch, self.lowest_res, self.lowest_res, self.data_format)
        if not self.spec.has("t"):
            x = self.upscale1(x)
        return x


class Decoder(Module):
    """Code → (image with `out_ch` channels, 1-channel mask); both heads sigmoid, returned in float32.

    The output convs run in float32 even under bfloat16 compute: they are cheap and set the final pixel values.
    """

    def __init__(self, in_ch: int, d_ch: int, d_mask_ch: int, spec: ArchiSpec, out_ch: int = 3,
                 data_format: str = "NHWC", kernel_init: str = "glorot_uniform",
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.spec, self.data_format = spec, data_format
        cos = spec.has("c")
        kw = dict(use_cos=cos, data_format=data_format, kernel_init=kernel_init, rng=rng)
        chans = [d_ch * 8, d_ch * 8, d_ch * 4, d_ch * 2] if spec.has("t") else [d_ch * 8, d_ch * 4, d_ch * 2]
        self.image_layers: list[Module] = []
        last = in_ch
        for i, ch in enumerate(chans):
            self.image_layers.append(self.add_child(f"upscale{i}", Upscale(last, ch, 3, **kw)))
            self.image_layers.append(self.add_child(f"res{i}", ResidualBlock(ch, 3, **kw)))
            last = ch
        mchans = [d_mask_ch * 8, d_mask_ch * 8, d_mask_ch * 4, d_mask_ch * 2] if spec.has("t") \
            else [d_mask_ch * 8, d_mask_ch * 4, d_mask_ch * 2]
        if spec.has("d"):
            mchans.append(d_mask_ch)
        self.mask_layers: list[Module] = []
        mlast = in_ch
        for i, ch in enumerate(mchans):
            self.mask_layers.append(self.add_child(f"upscalem{i}", Upscale(mlast, ch, 3, **kw)))
            mlast = ch
        conv_kw = dict(data_format=data_format, kernel_init=kernel_init, rng=rng)
        self.out_conv = Conv2D(last, out_ch, 1, **conv_kw)
        if spec.has("d"):
            self.out_conv1 = Conv2D(last, out_ch, 3, **conv_kw)
            self.out_conv2 = Conv2D(last, out_ch, 3, **conv_kw)
            self.out_conv3 = Conv2D(last, out_ch, 3, **conv_kw)
        self.out_convm = Conv2D(mlast, 1, 1, **conv_kw)

    def image(self, z: tf.Tensor) -> tf.Tensor:
        x = z
        for layer in self.image_layers:
            x = layer(x)
        x = tf.cast(x, tf.float32)
        if self.spec.has("d"):
            heads = [self.out_conv(x), self.out_conv1(x), self.out_conv2(x), self.out_conv3(x)]
            x = ops.depth_to_space(tf.concat(heads, axis=ops.channel_axis(self.data_format)), 2, self.data_format)
        else:
            x = self.out_conv(x)
        return tf.nn.sigmoid(x)

    def mask(self, z: tf.Tensor) -> tf.Tensor:
        m = z
        for layer in self.mask_layers:
            m = layer(m)
        return tf.nn.sigmoid(self.out_convm(tf.cast(m, tf.float32)))

    def __call__(self, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.image(z), self.mask(z)
