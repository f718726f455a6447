"""AutoencoderModel: what the face-swap autoencoders (SAEHD, SAEHDBW, Quick96, AMP, AMPBW) share on top of
`ModelBase`: the engine settings of their common options (sizes, GAN power), the src/dst sample generators, DFL's
previews, and merging and `.dfm` export through the engine. Each model extends it with only what it has: its
options, its engine, and SAEHD its pretraining mode.
"""
from __future__ import annotations

import numpy as np

from core import config, interact
from core.errors import UserError
from facelib.face_type import FaceType
from models import preview as pv
from models.base import MergeSpec, ModelBase


def missing_xseg_hint(samples, face_type: str, where, can_unmask: bool = True) -> str | None:
    """A warning when a whole-face or head model trains masked on faces without XSeg masks: their mask is the
    landmark hull, which ends at the eyebrows (no forehead, no hair). `can_unmask`: the model has the
    masked_training option (AMP always trains masked)."""
    if face_type not in ("wf", "head"):
        return None
    missing = sum(1 for s in samples if s.xseg_png is None)
    if not missing:
        return None
    return (f"{where}: {missing} of {len(samples)} faces have no XSeg mask, so face type {face_type} trains them "
            f"with the landmark hull (no forehead{', no hair' if face_type == 'head' else ''}). Draw masks, train "
            f"XSeg and apply it (the 5.XSeg steps){', or turn masked_training off' if can_unmask else ''}.")


class AutoencoderModel(ModelBase):
    """A face-swap autoencoder trained on src and dst faces. Subclasses give `engine_config` and `build_engine`.

    A model without the `masked_training` or `eyes_mouth_prio` option (AMP) always trains masked and with
    eyes/mouth priority."""

    MERGEABLE = True
    EXPORTS_DFM = True
    SCALE_RANGE: tuple[float, float] | None = None   # the samples' random scale (None: the generator's default)

    @property
    def pretraining(self) -> bool:
        """Training on the faces of --pretraining-data-dir (SAEHD's pretrain option)."""
        return False

    @property
    def trains_masked(self) -> bool:
        return bool(self.options.get("masked_training", True))

    # ------------------------------------------------------------------ engine

    def engine_options(self) -> dict:
        """The engine settings of the options every autoencoder has (and GAN power, when it has it)."""
        o = self.options
        if self.training and len(self.devices) > o["batch_size"]:
            raise UserError(f"batch_size {o['batch_size']} is smaller than the {len(self.devices)} GPUs chosen, "
                            "which split each batch: raise batch_size or choose fewer GPUs")
        return dict(
            resolution=o["resolution"], channels=self.CHANNELS, ae_dims=o["ae_dims"], e_dims=o["e_dims"],
            d_dims=o["d_dims"], d_mask_dims=o["d_mask_dims"], blur_out_mask=o["blur_out_mask"],
            clipgrad=o["clipgrad"], batch_size=o["batch_size"], precision=config.settings().train_precision,
            # Weights off the GPU only save memory while training; merging keeps them where it computes.
            models_opt_on_gpu=bool(o.get("models_opt_on_gpu", True)) or not self.training,
            # GAN shapes training only: off while pretraining (as DFL), and merging builds no discriminator.
            gan_power=float(o.get("gan_power", 0.0)) if self.training and not self.pretraining else 0.0,
            gan_patch_size=int(o.get("gan_patch_size", 0) or 0), gan_dims=int(o.get("gan_dims", 16)))

    def engine_config(self):
        raise NotImplementedError

    # ------------------------------------------------------------------ samples

    def sample_settings(self) -> dict:
        """Per-side generator settings; random HSV and colour transfer on src only."""
        o = self.options
        common = dict(batch_size=o["batch_size"], resolution=o["resolution"], channels=self.CHANNELS,
                      face_type=o["face_type"], uniform_yaw=o["uniform_yaw"],
                      eyes_mouth_prio=bool(o.get("eyes_mouth_prio", True)), masked=self.trains_masked,
                      random_warp=o["random_warp"])
        if self.SCALE_RANGE is not None:
            common["scale_range"] = self.SCALE_RANGE
        src = dict(common, random_flip=o["random_src_flip"], ct_mode=o["ct_mode"],
                   random_hsv_power=o.get("random_hsv_power", 0.0))
        dst = dict(common, random_flip=o["random_dst_flip"], ct_mode="none")
        return {"src": src, "dst": dst}

    def build_generators(self):
        from samplelib.generator import SampleGeneratorFace
        from samplelib.loader import load_samples
        gray = self.CHANNELS == 1
        if self.pretraining:
            src_samples = dst_samples = load_samples(self.pretraining_dir, grayscale=gray)
            where = {"src": self.pretraining_dir, "dst": self.pretraining_dir}
        else:
            if self.src_dir is None or self.dst_dir is None:
                raise UserError("training needs --training-data-src-dir and --training-data-dst-dir")
            src_samples = load_samples(self.src_dir, grayscale=gray)
            dst_samples = load_samples(self.dst_dir, grayscale=gray)
            where = {"src": self.src_dir, "dst": self.dst_dir}
        for side, samples in (("src", src_samples), ("dst", dst_samples)):
            if not samples:
                raise UserError(f"{where[side]}: no aligned faces found for {side}")
        settings = self.sample_settings()
        process = dict(workers=self.sample_workers(), cache_mb=config.settings().sample_cache_mb)
        ct_samples = dst_samples if settings["src"]["ct_mode"] != "none" else None
        src_gen = SampleGeneratorFace(src_samples, ct_samples=ct_samples, **process, **settings["src"])
        dst_gen = SampleGeneratorFace(dst_samples, ct_samples=None, **process, **settings["dst"])
        for side, samples in (("src", src_samples), ("dst", dst_samples)):  # (faces of the wrong type stop above)
            once = side == "src" or where["dst"] != where["src"]
            hint = once and self.trains_masked and missing_xseg_hint(samples, self.options["face_type"], where[side],
                                                                     can_unmask="masked_training" in self.options)
            if hint:
                interact.log_warn(hint)
        return src_gen, dst_gen

    # ------------------------------------------------------------------ previews

    def get_previews(self, sample=None) -> list[tuple[str, np.ndarray]]:
        """DFL's previews from (src batch, dst batch): the raw columns and the masked ones."""
        sample = sample or self.last_sample or self.sample_for_preview
        if sample is None:
            return []
        src_batch, dst_batch = sample
        res = self.options["resolution"]
        rows = max(1, min(4, len(src_batch[1]), len(dst_batch[1]), 800 // res))
        s, d = np.asarray(src_batch[1][:rows]), np.asarray(dst_batch[1][:rows])
        sm, dm = np.asarray(src_batch[2][:rows]), np.asarray(dst_batch[2][:rows])
        v = self.engine.view(s, d)
        ss, dd, sd, ddm, sdm = v["src_src"], v["dst_dst"], v["src_dst"], v["dst_dstm"], v["src_dstm"]
        swap_mask = sdm if self.options["face_type"] == "head" else ddm * sdm
        plain = {"src": s, "src-src": ss, "dst": d, "dst-dst": dd, "pred": sd}
        masked = {"src": s * sm, "src-src": ss, "dst": d * dm, "dst-dst": dd * ddm, "pred": sd * swap_mask}
        title = self.MODEL_NAME
        if res <= 256:
            return [(title, pv.preview_grid(list(plain.values()), rows)),
                    (f"{title} masked", pv.preview_grid(list(masked.values()), rows))]
        previews = []
        for suffix, table in (("", plain), (" masked", masked)):
            previews += [(f"{title} src-src{suffix}", pv.preview_grid([table["src"], table["src-src"]], rows)),
                         (f"{title} dst-dst{suffix}", pv.preview_grid([table["dst"], table["dst-dst"]], rows)),
                         (f"{title} pred{suffix}", pv.preview_grid([table["dst"], table["pred"]], rows))]
        return previews

    # ------------------------------------------------------------------ merging

    def merge_spec(self) -> MergeSpec:
        face = FaceType.from_string(self.options["face_type"]).to_string()
        return MergeSpec(resolution=self.options["resolution"], face_type=face, channels=self.CHANNELS)

    def predict(self, faces: np.ndarray):
        """Dst faces N x R x R x C float [0,1] -> (swapped face, src-decoder mask, dst-decoder mask)."""
        return self.engine.predict(faces)

    def dfm_function(self, colorize=None):
        """The float32 `tf.function` that `exportdfm` turns into a DeepFaceLive `.dfm` (the engine's `dfm_function`;
        `colorize`: a Colorizer's `colorize_graph` for a gray model's face)."""
        return self.engine.dfm_function(colorize)
