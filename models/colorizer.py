"""Colorizer: gives SAEHDBW's gray faces the colour of the src person (`merge --bw-output colorize`).

SAEHDBW learns and predicts faces in gray; `--bw-output luma` colours them with the dst frame's own chroma. When
the colour itself must come from src (skin tone, make-up, lips), train this model on the colour src faces:
`main.py train --model Colorizer --training-data-src-dir data_src/aligned --model-dir workspace/model` (the
fork's pix2pix colorizing idea, here a U-Net that predicts Cr and Cb from the luma). At merge time the predicted
gray face keeps its brightness and takes the colour the Colorizer gives it. One Colorizer per model folder
(fixed name), whose face type follows the folder's SAEHDBW (or AMPBW) model.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from core import config, interact
from core.errors import UserError
from facelib.face_type import FaceType
from models import options as opt
from models import preview as pv
from models.base import MergeSpec, ModelBase
from models.files import ModelFiles, list_models, read_model_data
from models.registry import gray_models

COLORIZER_NAME = "Colorizer"
GRAY_CHECKED = 16          # faces looked at to tell a gray faceset from a colour one
GRAY_TOLERANCE = 3         # a face whose channels differ by at most this (of 255) everywhere is gray


def folder_face_type(folder: Path) -> str | None:
    """The face type (short name) of the newest gray model (SAEHDBW or AMPBW: `registry.gray_models`) in `folder`,
    or None."""
    if not folder.is_dir():
        return None
    newest = []
    for cls in gray_models():
        names = list_models(folder, cls)
        if names:
            newest.append(ModelFiles(folder, names[0], cls).data)
    if not newest:
        return None
    try:
        data = max(newest, key=lambda path: path.stat().st_mtime)
        return FaceType.from_string(read_model_data(data)["options"]["face_type"]).short
    except (OSError, UserError, KeyError, TypeError, ValueError):
        return None


def _is_gray_faceset(samples) -> bool:
    """True when the faces looked at (spread over the set) all have equal colour channels."""
    step = max(1, len(samples) // GRAY_CHECKED)
    for sample in samples[::step][:GRAY_CHECKED]:
        image = sample.load_image(grayscale=False).astype(np.int16)
        if np.abs(np.diff(image, axis=2)).max() > GRAY_TOLERANCE:
            return False
    return True


class ColorizerModel(ModelBase):
    MODEL_NAME = COLORIZER_NAME
    CHANNELS = 3
    NEEDS_DST = False
    FIXED_NAME = COLORIZER_NAME  # one Colorizer per model folder, as XSeg
    SESSION_OPTIONS_ONLY = True
    LOSS_NAMES = ("loss",)

    @classmethod
    def model_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.colorizer_options()

    def option_env(self) -> opt.OptionEnv:
        return dataclasses.replace(super().option_env(), folder_face_type=folder_face_type(self.folder))

    def build_engine(self):
        from models.colorizer_engine import ColorizerEngine, ColorizerEngineConfig
        o = self.options
        fmt = "NHWC" if not self.devices else "auto"
        return ColorizerEngine(ColorizerEngineConfig(resolution=o["resolution"], base_ch=o["base_ch"], data_format=fmt))

    def build_generators(self):
        from samplelib.generator import SampleGeneratorFace
        from samplelib.loader import load_samples
        if self.src_dir is None:
            raise UserError("the Colorizer trains on the colour src faces: pass --training-data-src-dir "
                            "(e.g. workspace/data_src/aligned)")
        samples = load_samples(self.src_dir)
        if not samples:
            raise UserError(f"{self.src_dir}: no aligned faces found to train the Colorizer on")
        if _is_gray_faceset(samples):
            raise UserError(f"{self.src_dir}: these faces are grayscale; the Colorizer learns colour from the colour "
                            "src faces (data_src/aligned, not aligned_bw)")
        o = self.options
        gen = SampleGeneratorFace(samples, o["batch_size"], o["resolution"], 3, self.face_type, random_warp=False,
                                  random_flip=True, workers=self.sample_workers(),
                                  cache_mb=config.settings().sample_cache_mb)
        return gen, None

    def next_sample(self, fresh_preview: bool = False):
        batch = next(self.src_gen)
        return batch, batch

    def train_step(self, sample) -> tuple[float, ...]:
        faces, _, masks = sample[0][1:4]
        return (self.engine.train_step(faces, masks),)

    def get_previews(self, sample=None) -> list[tuple[str, np.ndarray]]:
        """Rows of src faces: [the gray input, the Colorizer's colour, the true colour]."""
        sample = sample or self.last_sample or self.sample_for_preview
        if sample is None:
            return []
        faces = np.asarray(sample[0][1][:4], np.float32)
        gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[..., None] for f in faces])
        colored = self.colorize(gray)
        return [("Colorizer", pv.preview_grid([np.repeat(gray, 3, axis=3), colored, faces], len(faces)))]

    def info_line(self) -> str:
        o = self.options
        return " | ".join([self.files.full_name, f"iter {self.iter}", f"{o['resolution']}px {o['face_type']}",
                           f"base {o['base_ch']}", f"bs {o['batch_size']}"])

    def merge_spec(self) -> MergeSpec:
        first, *others = gray_models()
        raise UserError(f"the Colorizer colours a gray model's faces: merge with --model {first} (or "
                        f"{', '.join(others)}) and --bw-output colorize (it is found in the same --model-dir)")

    def colorize(self, gray_faces: np.ndarray) -> np.ndarray:
        """N×S×S×1 gray faces in [0, 1] (any size S, this model's face type) -> N×S×S×3 BGR: each face's own
        luma with the chroma the model predicts for it (`ColorizerEngine.colorize_graph`)."""
        return self.engine.colorize(gray_faces)


def require_colorizer(model_dir: str | Path) -> None:
    """A `UserError` saying how to get one when `model_dir` holds no trained Colorizer."""
    if not ColorizerModel.files_in(model_dir).data.exists():
        raise UserError(f"{model_dir}: --bw-output colorize needs a trained Colorizer there; train one on the colour "
                        f"src faces with `main.py train --model Colorizer` (the '6) train Colorizer' script)")


def load_colorizer(model_dir: str | Path, face_type: str, cpu_only: bool = False,
                   force_gpu_idxs=None) -> ColorizerModel:
    """The trained Colorizer of `model_dir` for faces of `face_type` (a DFL name); a clear error when there is
    none or it was trained for another face type."""
    require_colorizer(model_dir)
    cpu_only = cpu_only or config.settings().force_cpu
    model = ColorizerModel(model_dir, training=False, silent_start=True, cpu_only=cpu_only,
                           force_gpu_idxs=force_gpu_idxs)
    wanted = FaceType.from_string(face_type).to_string()
    if model.face_type != wanted:
        model.close()
        raise UserError(f"{model_dir}: the Colorizer colours {model.face_type} faces but the model predicts {wanted} "
                        f"faces; train a Colorizer with face type {FaceType.from_string(face_type).short}")
    interact.log_info(f"Colour from the Colorizer in {model_dir} (iteration {model.iter})")
    return model
