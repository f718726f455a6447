"""XSeg: DeepFaceLab's face segmentation model, a U-Net trained on hand-drawn masks (`main.py xseg editor`).

`main.py train --model XSeg` trains it on the labelled faces of data_src and data_dst together; `main.py xseg
apply` writes its masks into the faces' metadata (SAEHD then trains on exact masks) and the merger's XSeg mask
modes run it on the predicted and destination faces. As in DFL: 256 px, whole-face by default, RMSprop at 1e-4
with learning-rate dropout 0.3, sigmoid cross-entropy loss; pretraining learns to redraw the grayscale face
through the bottleneck only (DSSIM + MSE). The model name is fixed ("XSeg"): one mask model per model folder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core import config, interact
from core.errors import UserError
from models import options as opt
from models import preview as pv
from models.base import MergeSpec, ModelBase
from models.dfl_import import import_new_models, list_dfl_models

XSEG_NAME = "XSeg"  # the fixed model name (one XSeg model per model folder, as in DFL)
NOISE_FLOOR = 0.1   # mask values below this are noise and become 0 (DFL's XSegNet.extract, for apply and merge)
OVERLAY_GREEN = np.array([0.0, 1.0, 0.0], np.float32)  # BGR green outside the mask, as DFL's previews


def _overlay(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """DFL's mask preview: the face inside the mask, half face half green outside."""
    return images * masks + (0.5 * images + 0.5 * OVERLAY_GREEN) * (1.0 - masks)


class XSegModel(ModelBase):
    MODEL_NAME = XSEG_NAME
    CHANNELS = 3
    FIXED_NAME = XSEG_NAME  # DFL: one XSeg model per folder, no name prompt
    SESSION_OPTIONS_ONLY = True
    LOSS_NAMES = ("loss",)

    @classmethod
    def model_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.xseg_options()

    def finalize_options(self, values: dict) -> dict:
        if self.training and values.get("pretrain") and self.pretraining_dir is None:
            raise UserError("pretrain is on but no --pretraining-data-dir was given; pass a folder of many faces, "
                            "or set pretrain to n")
        if self.training and values.get("restart_training") and not self.first_run:
            interact.log_info("Restarting training: the iteration count starts again at 0; the weights are kept.")
            self.iter, self.loss_history = 0, []
        return {**values, "restart_training": False}  # a one-time action, never saved as on

    @property
    def pretraining(self) -> bool:
        return bool(self.training and self.options.get("pretrain"))

    def build_engine(self):
        from models.xseg_engine import XSegEngine, XSegEngineConfig
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

    _preview_faces = None

    def next_sample(self, fresh_preview: bool = False):
        """(training batch, unaugmented faces to preview); the faces are drawn again only when previews are made
        (every preview_period iterations, or when asked), not every step."""
        if fresh_preview or self._preview_faces is None or self.iter % self.preview_period() == 0:
            self._preview_faces = next(self.dst_gen)
        return next(self.src_gen), self._preview_faces

    def train_step(self, sample) -> tuple[float, ...]:
        images, masks = sample[0][:2]
        return (self.engine.train_step(images, masks, pretrain=self.pretraining),)

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
        raise UserError("XSeg is a mask model: merge with the face model (SAEHD, SAEHDBW, Quick96, AMP) and choose an "
                        "XSeg mask mode; the merger finds the XSeg model in the same --model-dir")

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """N×R×R×3 (or N×R×R×1 gray) float32 faces in [0, 1] of the model's face type -> N×R×R×1 masks, values
        below `NOISE_FLOOR` set to 0."""
        x = np.asarray(faces, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        masks = self.engine.predict(x)
        masks[masks < NOISE_FLOOR] = 0.0
        return masks


def has_xseg_model(model_dir: str | Path) -> bool:
    """A trained XSeg model in `model_dir`: ours, or DeepFaceLab's `XSeg_256.npy` (imported when loaded)."""
    folder = Path(model_dir)
    return XSegModel.files_in(folder).data.exists() or bool(list_dfl_models(folder, XSEG_NAME))


def load_xseg_predictor(model_dir: str | Path, cpu_only: bool = False, force_gpu_idxs=None) -> XSegModel:
    """The trained XSeg model of `model_dir` for inference (`face_type`, `resolution`, `predict`)."""
    if not Path(model_dir).is_dir():
        raise UserError(f"{model_dir}: model folder not found")
    if not has_xseg_model(model_dir):
        raise UserError(f"{model_dir}: no trained XSeg model here; train one first with `main.py train --model XSeg` "
                        f"(the '5.XSeg) train' script), or put DeepFaceLab's XSeg_256.npy there")
    import_new_models(Path(model_dir), XSEG_NAME)
    cpu_only = cpu_only or config.settings().force_cpu
    return XSegModel(model_dir, training=False, silent_start=True, cpu_only=cpu_only, force_gpu_idxs=force_gpu_idxs)
