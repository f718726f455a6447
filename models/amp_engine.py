"""The AMP network engine: DeepFaceLab's AMP model (one encoder, `inter_src` and `inter_dst`, one decoder).

Training (DFL's final AMP): the dst face is rebuilt from its `inter_dst` code; the src face from a per-sample mix
of its `inter_src` and `inter_dst` codes, with exactly `morph_factor · inter_dims` channels (chosen at random)
taken from `inter_src`. Only the encoder and the decoder learn: the two inters keep their initial weights, fixed
random projections of the code. The losses are SAEHD's, always masked and with eyes/mouth priority, with both
DSSIM windows at every resolution, plus a weak hold on the dst background (0.1 MSE outside the mask and a tiny
total-variation term). GAN judges the src and the dst reconstructions.

The swap takes the morph value at run time (`swap_inputs`): the first `morph · inter_dims` channels of the dst
face's `inter_src` code, the rest of its `inter_dst` code; 1 is the full src face, 0 the dst reconstruction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import tensorflow as tf

from core.errors import UserError
from core.leras.archis.amp import AMPEncoder, AMPInter, amp_decoder, amp_lowest_res, morph_code, random_channel_mask
from core.leras.losses import mse
from core.leras.module import Module
from models.saehd_engine import GAN, EngineConfig, SAEHDEngine, bce, mask_blur, total_variation_mse

PREVIEW_MORPHS = (0.25, 0.5, 0.65, 0.75, 1.0)   # DFL's morph list preview


@dataclass
class AMPConfig(EngineConfig):
    """EngineConfig with AMP's own sizes. `archi` stays "df-udt": AMP's encoder and decoder are those layer plans,
    and its resolution, like theirs, is a multiple of 32."""

    resolution: int = 224
    archi: str = "df-udt"
    inter_dims: int = 1024
    morph_factor: float = 0.5       # the share of inter_src channels in the src face's training code
    masked_training: bool = True    # AMP always trains masked ...
    eyes_mouth_prio: bool = True    # ... and with eyes/mouth priority
    lr_cos: int | None = 0          # no cosine LR cycle in DFL's AMP (SAEHD has one with LR dropout)


class AMPEngine(SAEHDEngine):
    """AMP networks + AdaBelief + the train/predict functions; predict and the `.dfm` take a morph value."""

    config: AMPConfig

    def __init__(self, config: AMPConfig) -> None:
        if not 0.0 < config.morph_factor <= 1.0:
            raise UserError(f"morph_factor must be in (0, 1], not {config.morph_factor}")
        if config.true_face_power or config.face_style_power or config.bg_style_power:
            raise UserError("AMP has no true-face or style powers (DFL's AMP has GAN power only)")
        super().__init__(config)

    # ---------------------------------------------------------------- networks
    def _build_networks(self, rng: np.random.Generator) -> dict[str, Module]:
        cfg = self.config
        kw = dict(data_format=cfg.data_format, kernel_init=cfg.init, rng=rng)
        low = amp_lowest_res(cfg.resolution)
        return {
            "encoder": AMPEncoder(cfg.input_channels, cfg.e_dims, cfg.ae_dims, cfg.resolution, **kw),
            "inter_src": AMPInter(cfg.ae_dims, cfg.inter_dims, low, **kw),
            "inter_dst": AMPInter(cfg.ae_dims, cfg.inter_dims, low, **kw),
            "decoder": amp_decoder(cfg.inter_dims, cfg.d_dims, cfg.d_mask_dims, cfg.channels, **kw),
        }

    def _frozen_nets(self) -> tuple[str, ...]:
        return ("inter_src", "inter_dst")   # DFL's final AMP trains the encoder and the decoder only

    def _optimizer_nets(self) -> list[str]:
        return self.trainable_nets

    def _dssim_terms(self) -> list[tuple[float, int]]:
        r = self.config.resolution
        return [(5.0, int(r / 11.6)), (5.0, int(r / 23.2))]

    # ---------------------------------------------------------------- codes
    def _inter_codes(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(inter_src code, inter_dst code) of faces in the model's layout."""
        feats = self.nets["encoder"](x)
        return self.nets["inter_src"](feats), self.nets["inter_dst"](feats)

    def _training_src_code(self, by_src: tf.Tensor, by_dst: tf.Tensor) -> tf.Tensor:
        """The src face's training code: per sample, a random `morph_factor` share of the channels from inter_src."""
        cfg = self.config
        ones = int(cfg.inter_dims * cfg.morph_factor)
        mask = random_channel_mask(tf.shape(by_src)[0], cfg.inter_dims, ones, cfg.data_format, by_src.dtype)
        return by_src * mask + by_dst * (1 - mask)

    def _decode(self, codes: Sequence[tf.Tensor]) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """(image, mask) NHWC of each code batch, in one decoder call."""
        img, msk = self.nets["decoder"](tf.concat(list(codes), 0))
        sizes = [tf.shape(c)[0] for c in codes]
        return list(zip(tf.split(self._out(img), sizes), tf.split(self._out(msk), sizes)))

    def _forward_train(self, warped_src: tf.Tensor, warped_dst: tf.Tensor) -> dict[str, tf.Tensor]:
        n_src = tf.shape(warped_src)[0]
        feats = self.nets["encoder"](self._input(tf.concat([warped_src, warped_dst], 0)))
        src_by_src = self.nets["inter_src"](feats[:n_src])   # (dst faces need no inter_src code here)
        src_by_dst, dst_by_dst = tf.split(self.nets["inter_dst"](feats), [n_src, -1])
        (src, srcm), (dst, dstm) = self._decode([self._training_src_code(src_by_src, src_by_dst), dst_by_dst])
        return {"src_src": src, "src_srcm": srcm, "dst_dst": dst, "dst_dstm": dstm}

    # ---------------------------------------------------------------- losses
    def _losses(self, src: Sequence[tf.Tensor], dst: Sequence[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        cfg = self.config
        out = self._forward_train(src[0], dst[0])
        src_vec = self._face_loss(src[1], src[2], src[3], out["src_src"], out["src_srcm"])
        dst_vec = self._face_loss(dst[1], dst[2], dst[3], out["dst_dst"], out["dst_dstm"])
        # a weak hold on the dst background, so the dst reconstruction (and the merge's masks) stay calm there
        dst_anti = 1.0 - mask_blur(dst[2], cfg.resolution)
        pred_bg = out["dst_dst"] * dst_anti
        extra = 0.1 * mse(pred_bg, self._loss_target(dst[1], dst[2]) * dst_anti) + 1e-6 * total_variation_mse(pred_bg)
        if cfg.gan_power > 0:  # both reconstructions should look real to the patch discriminator
            for side, key in ((src, "src_src"), (dst, "dst_dst")):
                center, full = self.optional_nets[GAN](self._input(out[key] * mask_blur(side[2], cfg.resolution)))
                extra += cfg.gan_power * (bce(1.0, center) + bce(1.0, full))
            src_anti = 1.0 - mask_blur(src[2], cfg.resolution)  # DFL: against GAN speckles, a hold on src's background
            extra += (1e-6 * total_variation_mse(out["src_src"])
                      + 0.02 * mse(out["src_src"] * src_anti, self._loss_target(src[1], src[2]) * src_anti))
        return src_vec, dst_vec, extra

    def _gan_pairs(self, src: Sequence[tf.Tensor], dst: Sequence[tf.Tensor]) -> tuple[list, float]:
        """AMP's discriminator sees the masked src and dst targets and reconstructions, each term weighted 1/8."""
        out = self._forward_train(src[0], dst[0])
        pairs = []
        for side, key in ((src, "src_src"), (dst, "dst_dst")):
            blurred = mask_blur(side[2], self.config.resolution)
            pairs.append((self._loss_target(side[1], side[2]) * blurred, tf.stop_gradient(out[key]) * blurred))
        return pairs, 1.0 / 8.0

    # ---------------------------------------------------------------- swap, views
    def swap_inputs(self) -> tuple[tf.TensorSpec, ...]:
        return (tf.TensorSpec([1], tf.float32, name="morph_value"),)

    def _swap(self, x: tf.Tensor, morph: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        by_src, by_dst = self._inter_codes(x)
        decoder = self.nets["decoder"]
        face, src_mask = decoder(morph_code(by_src, by_dst, morph[0], self.config.data_format))
        return self._out(face), self._out(src_mask), self._out(decoder.mask(by_dst))

    def _make_functions(self) -> None:
        super()._make_functions()
        faces = self._batch_signature(self.config.input_channels)
        self._view_fn = tf.function(self._on_device(self._view_graph),
                                    input_signature=faces * 2 + list(self.swap_inputs()))

    def _view_graph(self, src_faces: tf.Tensor, dst_faces: tf.Tensor, morph: tf.Tensor) -> dict[str, tf.Tensor]:
        n_src = tf.shape(src_faces)[0]
        by_src, by_dst = self._inter_codes(self._input(tf.concat([src_faces, dst_faces], 0)))
        src_by_src, dst_by_src = tf.split(by_src, [n_src, -1])
        src_by_dst, dst_by_dst = tf.split(by_dst, [n_src, -1])
        swap = morph_code(dst_by_src, dst_by_dst, morph[0], self.config.data_format)
        decoded = self._decode([self._training_src_code(src_by_src, src_by_dst), dst_by_dst, swap])
        return {key: t for name, (img, msk) in zip(("src_src", "dst_dst", "src_dst"), decoded)
                for key, t in ((name, img), (name + "m", msk))}

    def view(self, src_faces: np.ndarray, dst_faces: np.ndarray, morph: float = 1.0) -> dict[str, np.ndarray]:
        """Preview outputs at one morph value: src_src, src_srcm, dst_dst, dst_dstm, src_dst, src_dstm."""
        out = self._view_fn(tf.convert_to_tensor(src_faces, tf.float32), tf.convert_to_tensor(dst_faces, tf.float32),
                            tf.constant([morph], tf.float32))
        return {k: v.numpy() for k, v in out.items()}
