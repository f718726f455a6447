"""The trainable SAEHD/SAEHDBW network engine: networks, losses, optimizer and one `tf.function` train step.

`channels=3` is SAEHD, `channels=1` is SAEHDBW (one grayscale channel in and out, losses on one channel).
The model classes (options, files, previews) sit on top; this module knows nothing about prompts or folders
beyond the weight files it is told to write.

The step trains src→src and dst→dst, plus DFL's powers when their options are on: the face/background style
losses (a generator term on the src-from-dst swap, `style_term`), "true face" (a code discriminator, DF only)
and GAN (a UNet patch discriminator on the src reconstruction). The discriminators' generator terms are added
to the gradient but not to the reported losses, and each discriminator gets its own update after the
generator's (`_code_d_graph`, `_gan_d_graph`), as in DFL. `add_generator_term` adds further per-sample terms.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
import tensorflow as tf

from core.errors import UserError
from core.imagelib.color_transfer import BGR_LUMA
from core.leras import ops
from core.leras.archis.discriminators import CodeDiscriminator, UNetPatchDiscriminator
from core.leras.archis.deepfake import ArchiSpec, Decoder, Encoder, Inter, lowest_dense_res, normalize_resolution
from core.leras.losses import dssim, dssim_filter_sizes, mae, mse
from core.leras.module import Module
from core.leras.optimizers import AdaBelief, Optimizer, RMSprop
from core.leras.saveable import SavedNetworks

PRECISIONS = ("auto", "float32", "bfloat16")
CODE_DISCRIMINATOR, CODE_OPTIMIZER = "code_discriminator", "D_code_opt"  # DFL's file names
GAN, GAN_OPTIMIZER = "GAN", "GAN_opt"
LR_DROPOUT_KEEP = 0.3
OPTIMIZER_FILE = "src_dst_opt"
CPU_DEVICE = "/CPU:0"


@dataclass
class EngineConfig:
    """Everything that shapes the networks and the step. Option names follow DFL's where they exist.

    `lr_dropout` takes DFL's option values (`n`/`y`/`cpu`, or a bool) or a keep probability in (0, 1].
    `lr_cos` is the LR cosine period in optimizer steps; None = DFL's rule (500 when LR dropout is on).
    `precision`/`data_format`/`jit` "auto" pick the fastest measured path for the device (see `resolved`).
    `input_channels` None = `channels`; 3 with channels=1 is the fork's colour-in/gray-out mode.
    `random_warp` off freezes LIAE's inter_AB, as DFL does.
    `xla_optimizer` compiles just the optimizer update with XLA (measured ~2x faster update on CPU).
    `device` is where the step computes ("auto" = the first GPU TensorFlow sees, else the CPU);
    `train_devices` the devices one train step splits its batch over (empty = every GPU TensorFlow sees when
    `device` is "auto", else just `device`); the first is `device`. Several devices sum their gradients, so
    the update is the one a single device would make on the whole batch.
    `models_opt_on_gpu` off keeps the weights and optimizer state in CPU memory instead (DFL's option: frees
    GPU memory for a bigger batch or model, at some speed); `lr_dropout="cpu"` makes LR dropout's random masks
    on the CPU.
    """

    resolution: int = 128
    channels: int = 3
    archi: str = "liae-ud"
    ae_dims: int = 256
    e_dims: int = 64
    d_dims: int = 64
    d_mask_dims: int = 22
    masked_training: bool = True
    eyes_mouth_prio: bool = False
    blur_out_mask: bool = False
    adabelief: bool = True
    lr_dropout: bool | str | float = False
    clipgrad: bool = False
    batch_size: int = 4
    precision: str = "auto"
    jit: bool | str = "auto"
    data_format: str = "auto"
    random_warp: bool = True
    learning_rate: float = 5e-5
    lr_cos: int | None = None
    input_channels: int | None = None
    xla_optimizer: bool = True
    init: str = "glorot_uniform"
    seed: int | None = None
    device: str = "auto"
    train_devices: tuple[str, ...] = ()
    models_opt_on_gpu: bool = True
    face_style_power: float = 0.0   # DFL's style powers, 0..100 (the model passes 0 while pretraining)
    bg_style_power: float = 0.0
    true_face_power: float = 0.0    # the code discriminator's weight, 0..1 (DF archis only)
    gan_power: float = 0.0          # the patch discriminator's weight, 0..5
    gan_patch_size: int = 0         # 0 = resolution // 8
    gan_dims: int = 16

    @property
    def lr_dropout_keep(self) -> float:
        v = self.lr_dropout
        if isinstance(v, str):
            return LR_DROPOUT_KEEP if v.strip().lower() in ("y", "cpu", "1", "true") else 1.0
        if isinstance(v, bool):
            return LR_DROPOUT_KEEP if v else 1.0
        return float(v)

    @property
    def lr_dropout_on_cpu(self) -> bool:
        return isinstance(self.lr_dropout, str) and self.lr_dropout.strip().lower() == "cpu"

    @property
    def models_opt_device(self) -> str:
        """Where the weights and the optimizer state live (of a `resolved` config): the compute device, or the
        CPU when `models_opt_on_gpu` is off."""
        return self.device if self.models_opt_on_gpu else CPU_DEVICE

    def resolved(self, on_gpu: bool | None = None) -> "EngineConfig":
        """A copy with every "auto" replaced by the concrete choice for this device, and values validated.

        Defaults come from bench/train.py on the project CPU (AVX512-BF16): bfloat16 compute with float32
        master weights was the fastest correct path and XLA was slower, so CPU = NHWC + bfloat16 + no jit.
        GPU = NCHW (DFL's GPU layout) + float32 + no jit until measured on a lent GPU.
        """
        if on_gpu is None:
            on_gpu = bool(tf.config.list_logical_devices("GPU"))
        spec = ArchiSpec.parse(self.archi)
        if self.channels not in (1, 3):
            raise UserError(f"channels must be 1 (SAEHDBW) or 3 (SAEHD), not {self.channels}")
        in_ch = self.input_channels or self.channels
        if in_ch not in (1, 3):
            raise UserError(f"input_channels must be 1 or 3, not {in_ch}")
        if normalize_resolution(self.resolution, spec) != self.resolution:
            raise UserError(f"resolution {self.resolution} is not valid for archi {spec}: use "
                            f"{normalize_resolution(self.resolution, spec)} (64..640, step {32 if spec.has('d') else 16})")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        precision = self.precision
        if precision == "auto":
            precision = "float32" if on_gpu or not cpu_has_bf16() else "bfloat16"
        data_format = self.data_format
        if data_format == "auto":
            data_format = "NCHW" if on_gpu else "NHWC"
        ops.check_data_format(data_format)
        lr_cos = self.lr_cos
        if lr_cos is None:
            lr_cos = 500 if self.lr_dropout_keep < 1.0 else 0
        train_devices = tuple(self.train_devices)
        if not train_devices:
            gpus = max(1, len(tf.config.list_logical_devices("GPU"))) if on_gpu else 0
            auto = tuple(f"/GPU:{i}" for i in range(gpus)) or (CPU_DEVICE,)
            train_devices = auto if self.device == "auto" else (self.device,)
        # An XLA-compiled function runs on one device: several devices train un-jitted.
        jit = False if self.jit == "auto" or len(train_devices) > 1 else self.jit
        return replace(self, archi=str(spec), precision=precision, data_format=data_format, jit=bool(jit),
                       lr_cos=lr_cos, input_channels=in_ch, device=train_devices[0], train_devices=train_devices)

    def to_dict(self) -> dict:
        return asdict(self)


# oneDNN instruction sets (ONEDNN_MAX_CPU_ISA values) from which on it has bfloat16 convolutions
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX10", "ALL", "DEFAULT")


def cpu_has_bf16() -> bool:
    """True when the CPU has native bfloat16 dot products (AVX512-BF16 or AMX), where bf16 compute pays off, and
    oneDNN may use them: `ONEDNN_MAX_CPU_ISA=AVX2` on such a CPU leaves it without bfloat16 convolutions."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    if cap and not cap.startswith(_BF16_ISAS):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return any(f in flags for f in (" avx512_bf16", " amx_bf16"))


class StepLosses(NamedTuple):
    """Batch-mean losses of one step; unpacks as `(src_loss, dst_loss)`. Check `.finite` to catch NaN/Inf."""

    src_loss: float
    dst_loss: float

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.src_loss) and np.isfinite(self.dst_loss))


GeneratorTerm = Callable[[dict[str, tf.Tensor]], tuple[tf.Tensor, tf.Tensor]]


class SAEHDEngine(SavedNetworks):
    """SAEHD/SAEHDBW networks + AdaBelief/RMSprop + the train/predict functions.

    Batches follow the sample generator: `[warped, target, mask, em_mask]` float32 NHWC in [0, 1].
    """

    optimizer_file = OPTIMIZER_FILE

    def __init__(self, config: EngineConfig) -> None:
        self.config = cfg = config.resolved()
        self.spec = ArchiSpec.parse(cfg.archi)
        self.true_face = cfg.true_face_power > 0 and self.spec.type == "df"
        self.compute_dtype = tf.bfloat16 if cfg.precision == "bfloat16" else tf.float32
        # LR dropout masks on the CPU while the step runs elsewhere (DFL's lr_dropout "cpu"); the update is then
        # not XLA-compiled, since one XLA function runs on one device.
        random_device = CPU_DEVICE if cfg.lr_dropout_on_cpu and cfg.device != CPU_DEVICE else None
        with tf.device(cfg.models_opt_device):
            self.nets: dict[str, Module] = self._build_networks(np.random.default_rng(cfg.seed))
            frozen = self._frozen_nets()
            self.trainable_nets = [n for n in self.nets if n not in frozen]
            opt_cls = AdaBelief if cfg.adabelief else RMSprop
            self.optimizer: Optimizer = opt_cls(
                self._named_variables(self._optimizer_nets()), lr=cfg.learning_rate, lr_dropout=cfg.lr_dropout_keep,
                lr_cos=cfg.lr_cos, clipnorm=1.0 if cfg.clipgrad else 0.0,
                xla=cfg.xla_optimizer and not cfg.jit and not random_device,
                random_device=random_device)
        self.optional_nets, self.optional_optimizers = {}, {}
        d_rng = np.random.default_rng(None if cfg.seed is None else cfg.seed + 1)
        discriminators = []
        if self.true_face:  # DFL's "true face": a code discriminator pulls src codes toward dst codes
            discriminators.append((CODE_DISCRIMINATOR, CODE_OPTIMIZER, lambda: CodeDiscriminator(
                cfg.ae_dims, self.nets["inter"].out_res, data_format=cfg.data_format, rng=d_rng)))
        if cfg.gan_power > 0:  # DFL's GAN: a UNet patch discriminator on the src reconstruction
            discriminators.append((GAN, GAN_OPTIMIZER, lambda: UNetPatchDiscriminator(
                cfg.gan_patch_size or cfg.resolution // 8, cfg.channels, cfg.gan_dims, cfg.data_format, rng=d_rng)))
        for name, opt_name, build in discriminators:
            with tf.device(cfg.models_opt_device):
                dis = self.optional_nets[name] = build()
                self.optional_optimizers[opt_name] = opt_cls(
                    {f"{name}/{k}": v for k, v in dis.variables().items()}, lr=cfg.learning_rate,
                    lr_dropout=cfg.lr_dropout_keep, lr_cos=cfg.lr_cos, clipnorm=1.0 if cfg.clipgrad else 0.0,
                    xla=False, random_device=random_device)
        self._train_vars = [v for n in self.trainable_nets for v in self.nets[n].variables().values()]
        self.generator_terms: list[GeneratorTerm] = []
        self.uses_swap = False
        if cfg.face_style_power > 0 or cfg.bg_style_power > 0:
            self.generator_terms.append(style_term(cfg))
            self.uses_swap = True
        self._make_functions()

    # ---------------------------------------------------------------- networks
    def _build_networks(self, rng: np.random.Generator) -> dict[str, Module]:
        cfg, spec = self.config, self.spec
        kw = dict(data_format=cfg.data_format, kernel_init=cfg.init, rng=rng)
        encoder = Encoder(cfg.input_channels, cfg.e_dims, spec, **kw)
        enc_out = encoder.out_features(cfg.resolution)
        low = lowest_dense_res(cfg.resolution, spec)
        if spec.type == "df":
            return {
                "encoder": encoder,
                "inter": Inter(enc_out, cfg.ae_dims, cfg.ae_dims, low, spec, **kw),
                "decoder_src": Decoder(cfg.ae_dims, cfg.d_dims, cfg.d_mask_dims, spec, cfg.channels, **kw),
                "decoder_dst": Decoder(cfg.ae_dims, cfg.d_dims, cfg.d_mask_dims, spec, cfg.channels, **kw),
            }
        return {
            "encoder": encoder,
            "inter_AB": Inter(enc_out, cfg.ae_dims, cfg.ae_dims * 2, low, spec, **kw),
            "inter_B": Inter(enc_out, cfg.ae_dims, cfg.ae_dims * 2, low, spec, **kw),
            "decoder": Decoder(cfg.ae_dims * 4, cfg.d_dims, cfg.d_mask_dims, spec, cfg.channels, **kw),
        }

    def _frozen_nets(self) -> tuple[str, ...]:
        """Networks the step does not train: LIAE's inter_AB while random warp is off, as DFL does."""
        return ("inter_AB",) if self.spec.type == "liae" and not self.config.random_warp else ()

    def _optimizer_nets(self) -> list[str]:
        """Networks whose optimizer state is kept: all (a frozen inter_AB keeps its state for when it thaws)."""
        return list(self.nets)

    def _named_variables(self, nets: Sequence[str] | None = None) -> dict[str, tf.Variable]:
        return {f"{net}/{name}": v for net in (self.nets if nets is None else nets)
                for name, v in self.nets[net].variables().items()}

    def param_counts(self) -> dict[str, int]:
        counts = {name: net.param_count() for name, net in self.nets.items()}
        counts["total"] = sum(counts.values())
        return counts

    def _input(self, x: tf.Tensor) -> tf.Tensor:
        return tf.cast(ops.to_format(x, self.config.data_format), self.compute_dtype)

    def _out(self, x: tf.Tensor) -> tf.Tensor:
        return ops.from_format(x, self.config.data_format)

    def _codes(self, x: tf.Tensor, n_src: tf.Tensor | None) -> dict[str, tf.Tensor]:
        """Decoder inputs. x holds src faces then dst faces (n_src of them src; None = all dst)."""
        feats = self.nets["encoder"](x)
        if self.spec.type == "df":
            code = self.nets["inter"](feats)
            if n_src is None:
                return {"dst": code, "swap": code}
            src, dst = tf.split(code, [n_src, -1])
            return {"src": src, "dst": dst, "swap": dst}
        ch = ops.channel_axis(self.config.data_format)
        ab = self.nets["inter_AB"](feats)
        if n_src is None:
            ab_src, ab_dst, dst_feats = None, ab, feats
        else:
            ab_src, ab_dst = tf.split(ab, [n_src, -1])
            dst_feats = tf.split(feats, [n_src, -1])[1]
        codes = {"dst": tf.concat([self.nets["inter_B"](dst_feats), ab_dst], ch),
                 "swap": tf.concat([ab_dst, ab_dst], ch)}
        if ab_src is not None:
            codes["src"] = tf.concat([ab_src, ab_src], ch)
        return codes

    def _decoders(self) -> tuple[Decoder, Decoder]:
        if self.spec.type == "df":
            return self.nets["decoder_src"], self.nets["decoder_dst"]
        return self.nets["decoder"], self.nets["decoder"]

    def _forward_train(self, warped_src: tf.Tensor, warped_dst: tf.Tensor) -> dict[str, tf.Tensor]:
        """src→src and dst→dst (+ src-from-dst when `uses_swap`), NHWC float32."""
        n_src = tf.shape(warped_src)[0]
        codes = self._codes(self._input(tf.concat([warped_src, warped_dst], 0)), n_src)
        dec_src, dec_dst = self._decoders()
        out: dict[str, tf.Tensor] = {}
        if dec_src is dec_dst:  # LIAE: one decoder, one batched call
            img, msk = dec_src(tf.concat([codes["src"], codes["dst"]], 0))
            out["src_src"], out["dst_dst"] = tf.split(self._out(img), [n_src, -1])
            out["src_srcm"], out["dst_dstm"] = tf.split(self._out(msk), [n_src, -1])
        else:
            img, msk = dec_src(codes["src"])
            out["src_src"], out["src_srcm"] = self._out(img), self._out(msk)
            img, msk = dec_dst(codes["dst"])
            out["dst_dst"], out["dst_dstm"] = self._out(img), self._out(msk)
        if self.uses_swap:
            img, msk = dec_src(codes["swap"])
            out["src_dst"], out["src_dstm"] = self._out(img), self._out(msk)
        if self.config.face_style_power > 0:  # the swap through the src decoder only (the code gets no gradient)
            out["src_dst_nocodegrad"] = self._out(dec_src(tf.stop_gradient(codes["swap"]))[0])
        out["code_src"], out["code_dst"] = codes["src"], codes["dst"]
        return out

    # ---------------------------------------------------------------- losses
    def _face_loss(self, target: tf.Tensor, mask: tf.Tensor, em_mask: tf.Tensor, pred: tf.Tensor,
                   pred_mask: tf.Tensor) -> tf.Tensor:
        """SAEHD's per-sample reconstruction loss for one side (src or dst)."""
        cfg = self.config
        res = cfg.resolution
        target = self._loss_target(target, mask)
        blurred = mask_blur(mask, res)
        if cfg.masked_training:
            t_opt, p_opt = target * blurred, pred * blurred
        else:
            t_opt, p_opt = target, pred
        loss = tf.add_n([w * tf.reduce_mean(dssim(t_opt, p_opt, k), axis=1) for w, k in self._dssim_terms()])
        loss += 10.0 * mse(t_opt, p_opt)
        if cfg.eyes_mouth_prio:
            loss += 300.0 * mae(target * em_mask, pred * em_mask)
        loss += 10.0 * mse(mask, pred_mask)
        return loss

    def _loss_target(self, target: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """The target the losses compare with: with `blur_out_mask`, its background smeared outside the mask."""
        return blur_out_mask(target, mask, self.config.resolution / 128) if self.config.blur_out_mask else target

    def _dssim_terms(self) -> list[tuple[float, int]]:
        """(weight, window) of each DSSIM term of the face loss."""
        return dssim_filter_sizes(self.config.resolution)

    def _code_logits(self, code: tf.Tensor) -> tf.Tensor:
        return self.optional_nets[CODE_DISCRIMINATOR](code)

    def _losses(self, src: Sequence[tf.Tensor], dst: Sequence[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per-sample src and dst losses (what is reported) and the generator's extra adversarial loss."""
        out = self._forward_train(src[0], dst[0])
        src_vec = self._face_loss(src[1], src[2], src[3], out["src_src"], out["src_srcm"])
        dst_vec = self._face_loss(dst[1], dst[2], dst[3], out["dst_dst"], out["dst_dstm"])
        if self.generator_terms:
            ctx = dict(out, warped_src=src[0], target_src=src[1], target_srcm=src[2], target_srcm_em=src[3],
                       warped_dst=dst[0], target_dst=dst[1], target_dstm=dst[2], target_dstm_em=dst[3])
            for term in self.generator_terms:
                add_src, add_dst = term(ctx)
                src_vec, dst_vec = src_vec + add_src, dst_vec + add_dst
        extra = tf.zeros_like(src_vec)
        if self.true_face:  # the src code should look like a dst code to the discriminator
            extra += self.config.true_face_power * bce(1.0, self._code_logits(out["code_src"]))
        if self.config.gan_power > 0:  # the src reconstruction should look real to the patch discriminator
            fake, blurred = self._gan_inputs(out["src_src"], src[2])
            center, full = self.optional_nets[GAN](self._input(fake))
            extra += self.config.gan_power * (bce(1.0, center) + bce(1.0, full))
            if self.config.masked_training:  # DFL: against GAN speckles, and a weak hold on the background
                pred, anti = out["src_src"], 1.0 - blurred
                extra += 1e-6 * total_variation_mse(pred) + 0.02 * mse(pred * anti, src[1] * anti)
        return src_vec, dst_vec, extra

    def _gan_inputs(self, image: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """What the patch discriminator sees of an src image (masked when training is masked), and the blurred
        src mask."""
        blurred = mask_blur(mask, self.config.resolution)
        return (image * blurred if self.config.masked_training else image), blurred

    def add_generator_term(self, term: GeneratorTerm, needs_swap: bool = False) -> None:
        """Add `term(ctx) -> (src_vec, dst_vec)` to the generator loss; ctx holds the batch tensors
        (`warped_src`, `target_src`, `target_srcm`, `target_srcm_em`, same for dst) and the predictions
        (`src_src`, `src_srcm`, `dst_dst`, `dst_dstm`, and `src_dst`, `src_dstm` when `needs_swap`)."""
        self.generator_terms.append(term)
        self.uses_swap = self.uses_swap or needs_swap
        self._make_functions()  # retrace with the new term

    # ---------------------------------------------------------------- tf.functions
    def _batch_signature(self, channels: int) -> list[tf.TensorSpec]:
        r = self.config.resolution
        return [tf.TensorSpec([None, r, r, channels], tf.float32)]

    def _make_functions(self) -> None:
        cfg = self.config
        side = (self._batch_signature(cfg.input_channels) + self._batch_signature(cfg.channels)
                + self._batch_signature(1) + self._batch_signature(1))
        faces = self._batch_signature(cfg.input_channels)
        self._train_fn = tf.function(self._on_device(self._train_graph), input_signature=side + side,
                                     jit_compile=cfg.jit)
        self._eval_fn = tf.function(self._on_device(self._eval_graph), input_signature=side + side)
        self._predict_fn = tf.function(self._on_device(self._predict_graph),
                                       input_signature=faces + list(self.swap_inputs()))
        self._view_fn = tf.function(self._on_device(self._view_graph), input_signature=faces * 2)
        if self.true_face:
            self._code_d_fn = tf.function(self._on_device(self._code_d_graph), input_signature=faces * 2)
        if cfg.gan_power > 0:
            self._gan_d_fn = tf.function(self._on_device(self._gan_d_graph), input_signature=side + side)

    def _on_device(self, graph: Callable) -> Callable:
        """`graph` with its ops placed on the compute device (the weights stay where they were made)."""
        def placed(*tensors: tf.Tensor):
            with tf.device(self.config.device):
                return graph(*tensors)
        return placed

    def _sharded_losses(self, tensors: Sequence[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per-sample loss vectors of the whole batch, each device of `train_devices` computing its share of
        the samples (shares differ by at most one sample)."""
        devices = self.config.train_devices
        if len(devices) == 1:
            return self._losses(tensors[:4], tensors[4:])
        n = len(devices)
        shares = []
        for t in (tensors[0], tensors[4]):
            size = tf.shape(t)[0]
            shares.append(size // n + tf.cast(tf.range(n) < size % n, tf.int32))
        parts = [tf.split(t, shares[k // 4], num=n) for k, t in enumerate(tensors)]
        vecs = []
        for i, device in enumerate(devices):
            with tf.device(device):
                vecs.append(self._losses([p[i] for p in parts[:4]], [p[i] for p in parts[4:]]))
        return tuple(tf.concat([v[i] for v in vecs], 0) for i in range(3))

    def _train_graph(self, *tensors: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            src_vec, dst_vec, extra = self._sharded_losses(tensors)
            # DFL differentiates the per-sample loss vector: the gradient of the batch sum, not the mean.
            total = tf.reduce_sum(src_vec) + tf.reduce_sum(dst_vec) + tf.reduce_sum(extra)
        grads = tape.gradient(total, self._train_vars)

        def update() -> tf.Tensor:
            with tf.device(self.config.models_opt_device):
                applied = self.optimizer.apply_gradients(zip(grads, self._train_vars))
            with tf.control_dependencies([applied]):
                return tf.constant(True)

        # A NaN/Inf loss skips the update, so the weights stay those of the last finite step.
        tf.cond(tf.math.is_finite(total), update, lambda: tf.constant(False))
        return tf.reduce_mean(src_vec), tf.reduce_mean(dst_vec)

    def _code_d_graph(self, warped_src: tf.Tensor, warped_dst: tf.Tensor) -> tf.Tensor:
        """One update of the code discriminator (after the generator's): dst codes are real, src codes fake."""
        codes = self._codes(self._input(tf.concat([warped_src, warped_dst], 0)), tf.shape(warped_src)[0])
        dis = self.optional_nets[CODE_DISCRIMINATOR]
        variables = list(dis.variables().values())
        with tf.GradientTape() as tape:
            vec = 0.5 * (bce(1.0, dis(tf.stop_gradient(codes["dst"]))) + bce(0.0, dis(tf.stop_gradient(codes["src"]))))
            total = tf.reduce_sum(vec)
        grads = tape.gradient(total, variables)
        with tf.device(self.config.models_opt_device):
            self.optional_optimizers[CODE_OPTIMIZER].apply_gradients(zip(grads, variables))
        return tf.reduce_mean(vec)

    def _gan_d_graph(self, *tensors: tf.Tensor) -> tf.Tensor:
        """One update of the patch discriminator (after the generator's, on its new reconstructions)."""
        pairs, weight = self._gan_pairs(tensors[:4], tensors[4:])
        dis = self.optional_nets[GAN]
        variables = list(dis.variables().values())
        with tf.GradientTape() as tape:
            vec = tf.zeros_like(tensors[0][:, 0, 0, 0])
            for real, fake in pairs:
                (real_c, real_f), (fake_c, fake_f) = dis(self._input(real)), dis(self._input(fake))
                vec += weight * (bce(1.0, real_c) + bce(0.0, fake_c) + bce(1.0, real_f) + bce(0.0, fake_f))
            total = tf.reduce_sum(vec)
        grads = tape.gradient(total, variables)
        with tf.device(self.config.models_opt_device):
            self.optional_optimizers[GAN_OPTIMIZER].apply_gradients(zip(grads, variables))
        return tf.reduce_mean(vec)

    def _gan_pairs(self, src: Sequence[tf.Tensor], dst: Sequence[tf.Tensor]) -> tuple[list, float]:
        """The (real, fake) images the patch discriminator learns to tell apart, and the weight of each of their
        four terms: SAEHD's src target and src reconstruction, 1/2 (DFL)."""
        codes = self._codes(self._input(tf.concat([src[0], dst[0]], 0)), tf.shape(src[0])[0])
        pred = tf.stop_gradient(self._out(self._decoders()[0](codes["src"])[0]))
        return [(self._gan_inputs(src[1], src[2])[0], self._gan_inputs(pred, src[2])[0])], 0.5

    def _eval_graph(self, *tensors: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        src_vec, dst_vec, _ = self._losses(tensors[:4], tensors[4:])
        return tf.reduce_mean(src_vec), tf.reduce_mean(dst_vec)

    def swap_inputs(self) -> tuple[tf.TensorSpec, ...]:
        """Inputs of the swap besides the faces (AMP: its morph value); the `.dfm` takes them under these names."""
        return ()

    def _swap(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(src face from the dst code, src-decoder mask, dst-decoder mask), NHWC, of faces in the model's layout."""
        codes = self._codes(x, None)
        dec_src, dec_dst = self._decoders()
        face, src_mask = dec_src(codes["swap"])
        dst_mask = dec_dst.mask(codes["dst"])
        return self._out(face), self._out(src_mask), self._out(dst_mask)

    def _predict_graph(self, dst_faces: tf.Tensor, *extra: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        return self._swap(self._input(dst_faces), *extra)

    def dfm_function(self, colorize: Callable[[tf.Tensor], tf.Tensor] | None = None) -> Callable:
        """DeepFaceLive's model interface as one float32 `tf.function` (what `exportdfm` turns into a `.dfm`):
        `in_face` N×R×R×3 BGR in [0, 1] (and the `swap_inputs()`: AMP's `morph_value`) → (`out_face_mask` the dst
        decoder's mask, `out_celeb_face` N×R×R×3 the swapped face, `out_celeb_face_mask` the src decoder's mask),
        DeepFaceLab's names and order. A gray model
        reads the face's luma (the weights of OpenCV's BGR→gray, as its facesets were made) and gives its face in
        colour as the merger's `--bw-output luma` does: the live face's colour with the model's brightness (Y of
        YCrCb replaced) - or, given `colorize` (the Colorizer's `colorize_graph`: N×R×R×1 gray -> N×R×R×3 BGR), in
        the colour that function gives it (src's). It computes in float32 whatever the training precision (layers
        follow their input)."""
        r, cfg = self.config.resolution, self.config
        luma = tf.constant(BGR_LUMA, tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, r, r, 3], tf.float32, name="in_face"),
                                      *self.swap_inputs()])
        def dfm(in_face: tf.Tensor, *extra: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            y = tf.reduce_sum(in_face * luma, axis=-1, keepdims=True)
            face, src_mask, dst_mask = self._swap(ops.to_format(in_face if cfg.input_channels == 3 else y,
                                                                cfg.data_format), *extra)
            if cfg.channels == 1 and colorize is not None:
                face = colorize(face)
            elif cfg.channels == 1:  # same Cr and Cb, new Y: every channel moves by the change of Y
                face = tf.clip_by_value(in_face + (face - y), 0.0, 1.0)
            return (tf.identity(dst_mask, name="out_face_mask"), tf.identity(face, name="out_celeb_face"),
                    tf.identity(src_mask, name="out_celeb_face_mask"))

        return dfm

    def _view_graph(self, src_faces: tf.Tensor, dst_faces: tf.Tensor) -> dict[str, tf.Tensor]:
        n_src = tf.shape(src_faces)[0]
        codes = self._codes(self._input(tf.concat([src_faces, dst_faces], 0)), n_src)
        dec_src, dec_dst = self._decoders()
        out = {}
        for key, dec, code in (("src_src", dec_src, "src"), ("dst_dst", dec_dst, "dst"), ("src_dst", dec_src, "swap")):
            img, msk = dec(codes[code])
            out[key], out[key + "m"] = self._out(img), self._out(msk)
        return out

    # ---------------------------------------------------------------- public API
    def _tensors(self, batch: Sequence[np.ndarray], name: str) -> list[tf.Tensor]:
        if len(batch) != 4:
            raise ValueError(f"{name} batch must be [warped, target, mask, em_mask], got {len(batch)} arrays")
        return [tf.convert_to_tensor(a, tf.float32) for a in batch]

    def train_step(self, src_batch: Sequence[np.ndarray], dst_batch: Sequence[np.ndarray]) -> StepLosses:
        """One optimizer update on a src and a dst batch; returns the losses computed before the update."""
        s, d = self.train_step_tensors(src_batch, dst_batch)
        return StepLosses(float(s), float(d))

    def train_step_tensors(self, src_batch, dst_batch) -> tuple[tf.Tensor, tf.Tensor]:
        """`train_step` without the host sync: scalar tensors, for callers that check losses less often."""
        n = len(self.config.train_devices)
        if n > 1 and min(len(src_batch[0]), len(dst_batch[0])) < n:
            raise UserError(f"batch size {min(len(src_batch[0]), len(dst_batch[0]))} cannot be split over {n} "
                            f"devices: use a batch size of at least {n}")
        losses = self._train_fn(*self._tensors(src_batch, "src"), *self._tensors(dst_batch, "dst"))
        if self.true_face or self.config.gan_power > 0:  # DFL: then each discriminator's update on the same batch
            src, dst = self._tensors(src_batch, "src"), self._tensors(dst_batch, "dst")
            if self.true_face:
                self._code_d_fn(src[0], dst[0])
            if self.config.gan_power > 0:
                self._gan_d_fn(*src, *dst)
        return losses

    def evaluate(self, src_batch, dst_batch) -> StepLosses:
        """The step's losses without updating anything."""
        s, d = self._eval_fn(*self._tensors(src_batch, "src"), *self._tensors(dst_batch, "dst"))
        return StepLosses(float(s), float(d))

    def predict(self, dst_faces: np.ndarray, *extra) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Swap: (src face from dst code N×R×R×C, src-decoder mask N×R×R×1, dst-decoder mask N×R×R×1); `extra`:
        the values of `swap_inputs()`."""
        x = np.asarray(dst_faces, np.float32)
        r, c = self.config.resolution, self.config.input_channels
        if x.ndim == 2 or (x.ndim == 3 and x.shape == (r, r, c)):  # one face
            x = x.reshape(1, r, r, -1)
        elif x.ndim == 3 and c == 1:  # N gray faces without a channel axis
            x = x[..., None]
        if x.ndim != 4 or x.shape[1:] != (r, r, c):
            raise ValueError(f"predict expects N×{r}×{r}×{c} faces, got {x.shape}")
        extra = [np.asarray(v, np.float32).reshape(spec.shape) for v, spec in zip(extra, self.swap_inputs())]
        return tuple(t.numpy() for t in self._predict_fn(x, *extra))  # type: ignore[return-value]

    def view(self, src_faces: np.ndarray, dst_faces: np.ndarray) -> dict[str, np.ndarray]:
        """Preview outputs: src_src, src_srcm, dst_dst, dst_dstm, src_dst, src_dstm (NHWC float32 in [0, 1])."""
        out = self._view_fn(tf.convert_to_tensor(src_faces, tf.float32), tf.convert_to_tensor(dst_faces, tf.float32))
        return {k: v.numpy() for k, v in out.items()}

    @property
    def iteration(self) -> int:
        """Optimizer updates applied so far (restored by `load`)."""
        return int(self.optimizer.iters.numpy())


def total_variation_mse(x: tf.Tensor) -> tf.Tensor:
    """Per sample: the sum of squared differences between vertical and between horizontal neighbours (NHWC)."""
    return (tf.reduce_sum(tf.square(x[:, 1:] - x[:, :-1]), [1, 2, 3])
            + tf.reduce_sum(tf.square(x[:, :, 1:] - x[:, :, :-1]), [1, 2, 3]))


def bce(label: float, logits: tf.Tensor) -> tf.Tensor:
    """Sigmoid cross-entropy of logits against a constant label, averaged per sample (DFL's DLoss)."""
    labels = tf.fill(tf.shape(logits), tf.constant(label, logits.dtype))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=[1, 2, 3])


def style_loss(a: tf.Tensor, b: tf.Tensor, sigma: float, weight: float) -> tf.Tensor:
    """DFL's style loss per sample: after a Gaussian blur, (Σ_c (μa−μb)² + Σ_c (σa−σb)²)·weight/C over space,
    σ = sqrt(var + 1e-5)."""
    if sigma > 0:
        a, b = ops.gaussian_blur(a, sigma), ops.gaussian_blur(b, sigma)
    mean_a, var_a = tf.nn.moments(a, axes=[1, 2])
    mean_b, var_b = tf.nn.moments(b, axes=[1, 2])
    std_a, std_b = tf.sqrt(var_a + 1e-5), tf.sqrt(var_b + 1e-5)
    total = tf.reduce_sum(tf.square(mean_a - mean_b), -1) + tf.reduce_sum(tf.square(std_a - std_b), -1)
    return total * (weight / int(a.shape[-1]))


def style_term(cfg: EngineConfig) -> GeneratorTerm:
    """The face and background style powers as one generator term on the src loss (saehd_training.md §4):
    face: the swap (src decoder, no code gradient) inside its own mask should have the colour statistics of the
    dst reconstruction inside its mask; background: the swap outside the (blurred src) mask should look like
    the dst target there (DSSIM + MSE)."""
    r = cfg.resolution

    def term(ctx: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        add = tf.zeros_like(ctx["target_src"][:, 0, 0, 0])
        if cfg.face_style_power > 0:
            swap = ctx["src_dst_nocodegrad"] * tf.stop_gradient(ctx["src_dstm"])
            dst = tf.stop_gradient(ctx["dst_dst"] * ctx["dst_dstm"])
            add += style_loss(swap, dst, r // 8, 10000.0 * cfg.face_style_power / 100.0)
        if cfg.bg_style_power > 0:
            # DFL means a blurred swap-mask here but uses the src target mask's blur; so do we
            anti = 1.0 - mask_blur(ctx["target_srcm"], r)
            swap, dst = ctx["src_dst"] * anti, ctx["target_dst"] * anti
            w = 10.0 * cfg.bg_style_power / 100.0
            add += w * tf.reduce_mean(dssim(swap, dst, int(r / 11.6)), axis=1) + w * mse(swap, dst)
        return add, tf.zeros_like(add)
    return term


def mask_blur(mask: tf.Tensor, resolution: int) -> tf.Tensor:
    """DFL's loss mask: the face mask blurred (sigma resolution/32), doubled and capped at 1, so the loss fades in
    across the mask's edge."""
    return tf.clip_by_value(ops.gaussian_blur(mask, max(1, resolution // 32)), 0.0, 0.5) * 2.0


def blur_out_mask(target: tf.Tensor, mask: tf.Tensor, sigma: float) -> tf.Tensor:
    """Fill the background of `target` with a normalised-convolution smear of its own colours (DFL's option)."""
    x = ops.gaussian_blur(target * (1.0 - mask), sigma)
    y = 1.0 - ops.gaussian_blur(mask, sigma)
    y = tf.where(tf.equal(y, 0.0), tf.ones_like(y), y)
    return target * mask + (x / y) * (1.0 - mask)
