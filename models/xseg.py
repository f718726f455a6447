"""XSeg: DeepFaceLab's face segmentation model, a U-Net trained on hand-drawn masks (`main.py xseg editor`).

`main.py train --model XSeg` trains it on the labelled faces of data_src and data_dst together; `main.py xseg
apply` writes its masks into the faces' metadata (SAEHD then trains on exact masks) and the merger's XSeg mask
modes run it on the predicted and destination faces. As in DFL: 256 px, whole-face by default, RMSprop at 1e-4
with learning-rate dropout 0.3, sigmoid cross-entropy loss; pretraining learns to redraw the grayscale face
through the bottleneck only (DSSIM + MSE). The model name is fixed ("XSeg"): one mask model per model folder.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config
from core.errors import UserError
from facelib.face_type import FaceType
from models import options as opt
from models import preview as pv
from models.base import MergeSpec, ModelBase
from models.files import ModelFiles

XSEG_NAME = "XSeg"
OVERLAY_GREEN = np.array([0.0, 1.0, 0.0], np.float32)  # BGR green outside the mask, as DFL's previews


@dataclass(frozen=True)
class XSegEngineConfig:
    """The network and its optimiser (DFL's fixed values; `resolution`/`base_ch` only shrink for tests)."""

    resolution: int = 256
    base_ch: int = 32
    learning_rate: float = 1e-4
    lr_dropout_keep: float = 0.3
    data_format: str = "auto"
    seed: int | None = None


class XSegEngine:
    """XSegNet + RMSprop + the train and predict `tf.function`s. Images NHWC float32 BGR in [0, 1]."""

    def __init__(self, config_: XSegEngineConfig) -> None:
        import tensorflow as tf

        from core.leras.archis.xseg import XSegNet
        from core.leras.optimizers import RMSprop
        from core.leras.saveable import SavedNetworks

        self._tf = tf
        on_gpu = bool(tf.config.list_logical_devices("GPU"))
        self.device = "/GPU:0" if on_gpu else "/CPU:0"
        fmt = config_.data_format if config_.data_format != "auto" else ("NCHW" if on_gpu else "NHWC")
        self.config, self.data_format = config_, fmt
        r = config_.resolution
        with tf.device(self.device):
            self.nets = {XSEG_NAME: XSegNet(3, config_.base_ch, 1, r, fmt, rng=np.random.default_rng(config_.seed))}
            self.optimizer = RMSprop(self.nets[XSEG_NAME].variables(), lr=config_.learning_rate, rho=0.9,
                                     lr_dropout=config_.lr_dropout_keep)
        self._io = SavedNetworks()
        self._io.optimizer_file, self._io.nets, self._io.optimizer = f"{XSEG_NAME}_opt", self.nets, self.optimizer
        self._vars = list(self.nets[XSEG_NAME].variables().values())
        spec = [tf.TensorSpec([None, r, r, 3], tf.float32), tf.TensorSpec([None, r, r, 1], tf.float32)]
        self._train_fn = tf.function(lambda x, y: self._train_graph(x, y, False), input_signature=spec)
        self._pretrain_fn = tf.function(lambda x, y: self._train_graph(x, y, True), input_signature=spec)
        self._predict_fn = tf.function(self._predict_graph, input_signature=spec[:1])

    def _logits(self, images, pretrain: bool):
        tf = self._tf
        x = images if self.data_format == "NHWC" else tf.transpose(images, (0, 3, 1, 2))
        logits = self.nets[XSEG_NAME](x, pretrain=pretrain)
        return logits if self.data_format == "NHWC" else tf.transpose(logits, (0, 2, 3, 1))

    def _loss_vector(self, images, targets, pretrain: bool):
        tf = self._tf
        from core.leras.losses import dssim
        logits = self._logits(images, pretrain)
        if not pretrain:
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), [1, 2, 3])
        pred, r = tf.sigmoid(logits), self.config.resolution
        loss = 10.0 * tf.reduce_mean(tf.square(pred - targets), [1, 2, 3])
        for size in (int(r / 11.6), int(r / 23.2)):  # DFL's DSSIM 22 and 11 at 256 px
            loss += 5.0 * tf.reduce_mean(dssim(pred, targets, max(3, size)), 1)
        return loss

    def _train_graph(self, images, targets, pretrain: bool):
        tf = self._tf
        with tf.device(self.device):
            with tf.GradientTape() as tape:
                vec = self._loss_vector(images, targets, pretrain)
                total = tf.reduce_sum(vec)  # DFL differentiates the per-sample vector: the gradient of the sum
            grads = tape.gradient(total, self._vars)
            tf.cond(tf.math.is_finite(total), lambda: self._apply(grads), lambda: tf.constant(False))
            return tf.reduce_mean(vec)

    def _apply(self, grads):
        with self._tf.control_dependencies([self.optimizer.apply_gradients(zip(grads, self._vars))]):
            return self._tf.constant(True)

    def _predict_graph(self, images):
        with self._tf.device(self.device):
            return self._tf.sigmoid(self._logits(images, False))

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

    def save(self, folder, prefix: str = "") -> None:
        self._io.save(folder, prefix)

    def load(self, folder, prefix: str = "", skip=()) -> None:
        self._io.load(folder, prefix, skip)


def _overlay(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """DFL's mask preview: the face inside the mask, half face half green outside."""
    return images * masks + (0.5 * images + 0.5 * OVERLAY_GREEN) * (1.0 - masks)


class XSegModel(ModelBase):
    MODEL_NAME = XSEG_NAME
    CHANNELS = 3
    LOSS_NAMES = ("loss",)

    def __init__(self, model_dir, **kwargs):
        kwargs["force_model_name"] = XSEG_NAME  # DFL: one XSeg model per folder, no name prompt
        super().__init__(model_dir, **kwargs)

    @classmethod
    def model_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.xseg_options()

    @classmethod
    def generic_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.generic_options(asked=False, session_only=True)

    def finalize_options(self, values: dict) -> dict:
        if self.training and values.get("pretrain") and self.pretraining_dir is None:
            raise UserError("pretrain is on but no --pretraining-data-dir was given; pass a folder of many faces, "
                            "or set pretrain to n")
        return values

    @property
    def pretraining(self) -> bool:
        return bool(self.training and self.options.get("pretrain"))

    @property
    def face_type(self) -> str:
        """The DFL face type name the model segments (`whole_face`...)."""
        return FaceType.from_string(self.options["face_type"]).to_string()

    @property
    def resolution(self) -> int:
        return int(self.options["resolution"])

    def build_engine(self) -> XSegEngine:
        o = self.options
        fmt = "NHWC" if not self.devices else "auto"
        return XSegEngine(XSegEngineConfig(resolution=o["resolution"], base_ch=o["base_ch"], data_format=fmt))

    def build_generators(self):
        from samplelib.loader import load_samples
        from samplelib.xseg_generator import SampleGeneratorXSeg
        if self.pretraining:
            samples = load_samples(self.pretraining_dir)
        else:
            if self.src_dir is None or self.dst_dir is None:
                raise UserError("XSeg training needs --training-data-src-dir and --training-data-dst-dir")
            samples = load_samples(self.src_dir) + load_samples(self.dst_dir)
        if not samples:
            raise UserError("no aligned faces found to train XSeg on")
        o = self.options
        # (the generator keeps the labelled faces, or every face when pretraining)
        gen = SampleGeneratorXSeg(samples, o["batch_size"], o["resolution"], o["face_type"], pretrain=self.pretraining)
        faces = SampleGeneratorXSeg(samples, min(4, o["batch_size"]), o["resolution"], o["face_type"],
                                    pretrain=True, augment=False)
        return gen, faces

    def train_one_iter(self) -> tuple[float, ...]:
        from models.base import NonFiniteLoss
        batch = next(self.src_gen)
        self.last_sample = (batch, next(self.dst_gen))
        if self.sample_for_preview is None:
            self.sample_for_preview = tuple([a[:4] for a in side] for side in self.last_sample)
        loss = self.engine.train_step(batch[0], batch[1], pretrain=self.pretraining)
        if not np.isfinite(loss):
            raise NonFiniteLoss(f"loss is {loss} at iteration {self.iter + 1}")
        self.iter += 1
        self.loss_history.append((loss,))
        return (loss,)

    def get_previews(self, sample=None) -> list[tuple[str, np.ndarray]]:
        """DFL's XSeg previews: training faces [target overlay, predicted mask, predicted overlay]; then
        unaugmented faces of the facesets [face, predicted mask, overlay] (pretraining: [face, prediction])."""
        sample = sample or self.last_sample or self.sample_for_preview
        if sample is None:
            return []
        (images, targets, *_), (faces, *_) = sample
        rows = max(1, min(4, len(images), len(faces)))
        images, targets, faces = (np.asarray(a[:rows], np.float32) for a in (images, targets, faces))
        pred, pred_faces = self.engine.predict(images), self.engine.predict(faces)
        if self.pretraining:
            return [("XSeg pretrain", pv.preview_grid([images, targets, pred], rows))]
        return [("XSeg training faces", pv.preview_grid([_overlay(images, targets), pred, _overlay(images, pred)],
                                                        rows)),
                ("XSeg faces", pv.preview_grid([faces, pred_faces, _overlay(faces, pred_faces)], rows))]

    def info_line(self) -> str:
        o = self.options
        return " | ".join([self.files.full_name, f"iter {self.iter}", f"{o['resolution']}px {o['face_type']}",
                           f"bs {o['batch_size']}", "pretrain" if self.pretraining else "masks"])

    def merge_spec(self) -> MergeSpec:
        raise UserError("XSeg is a mask model: merge with the face model (SAEHD, SAEHDBW, Quick96) and choose an "
                        "XSeg mask mode; the merger finds the XSeg model in the same --model-dir")

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """N×R×R×3 (or N×R×R×1 gray) float32 faces in [0, 1] of the model's face type -> N×R×R×1 masks."""
        x = np.asarray(faces, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        return self.engine.predict(x)


def has_xseg_model(model_dir: str | Path) -> bool:
    return ModelFiles(Path(model_dir), XSEG_NAME, XSEG_NAME).data.exists()


def load_xseg_predictor(model_dir: str | Path, cpu_only: bool = False, force_gpu_idxs=None) -> XSegModel:
    """The trained XSeg model of `model_dir` for inference (`face_type`, `resolution`, `predict`)."""
    if not Path(model_dir).is_dir():
        raise UserError(f"{model_dir}: model folder not found")
    if not has_xseg_model(model_dir):
        raise UserError(f"{model_dir}: no trained XSeg model here; train one first with `main.py train --model XSeg` "
                        f"(the '5.XSeg) train' script)")
    cpu_only = cpu_only or config.settings().force_cpu
    return XSegModel(model_dir, training=False, silent_start=True, cpu_only=cpu_only, force_gpu_idxs=force_gpu_idxs)
