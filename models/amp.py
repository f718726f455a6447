"""AMP: DeepFaceLab's "amplifier" model, whose swap can be dialled between the dst and the src face; and AMPBW,
AMP with one grayscale channel end to end (as SAEHDBW is to SAEHD).

One encoder and one decoder learn both faces; two intermediate codes (`inter_src`, `inter_dst`) feed the decoder.
Merging asks for a morph factor (DFL's default 1.0 = the full src face); the `.dfm` export takes it as a second
input (`morph_value`), DeepFaceLive's morph slider. Options follow DFL's final AMP: resolution 224, whole face,
ae 256, inter 1024, e/d 64, morph factor 0.5, always masked with eyes/mouth priority; no pretraining mode. The
networks and losses are in `models.amp_engine`; sample generators, saving and merging are the autoencoders'
(`models.autoencoder`).
"""
from __future__ import annotations

import numpy as np

from core import interact
from models import options as opt
from models import preview as pv
from models.autoencoder import AutoencoderModel


class AMPModel(AutoencoderModel):
    """Always masked with eyes/mouth priority (it has neither option), and DFL's AMP scale jitter."""

    MODEL_NAME = "AMP"
    CHANNELS = 3
    SCALE_RANGE = (-0.125, 0.125)

    @classmethod
    def model_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.amp_options(cls.CHANNELS)

    def finalize_options(self, values: dict) -> dict:
        if self.training and self.pretraining_dir is not None:
            interact.log_warn("AMP has no pretraining mode (as DFL's final AMP): --pretraining-data-dir is ignored")
        return values

    def engine_config(self):
        from models.amp_engine import AMPConfig
        o = self.options
        return AMPConfig(**self.engine_options(), inter_dims=o["inter_dims"], morph_factor=o["morph_factor"],
                         lr_dropout=o["lr_dropout"], random_warp=o["random_warp"])

    def build_engine(self):
        from models.amp_engine import AMPEngine
        return AMPEngine(self.engine_config())

    # ------------------------------------------------------------------ previews

    def get_previews(self, sample=None) -> list[tuple[str, np.ndarray]]:
        """DFL's AMP previews: the reconstructions and the full swap, then the swap at morph 0.25 .. 1.0 (plain and
        masked) beside the dst reconstruction."""
        from models.amp_engine import PREVIEW_MORPHS
        sample = sample or self.last_sample or self.sample_for_preview
        if sample is None:
            return []
        src_batch, dst_batch = sample
        wide = self.options["resolution"] > 256   # then one face in DFL's 2 x 3 layout, not a row per face
        rows = 1 if wide else max(1, min(4, len(src_batch[1]), len(dst_batch[1]), 800 // self.options["resolution"]))
        s, d = np.asarray(src_batch[1][:rows]), np.asarray(dst_batch[1][:rows])
        views = {m: self.engine.view(s, d, m) for m in PREVIEW_MORPHS}
        full = views[1.0]
        dd, ddm = full["dst_dst"], full["dst_dstm"]
        swaps = [views[m]["src_dst"] for m in PREVIEW_MORPHS]
        masked = [views[m]["src_dst"] * ddm * views[m]["src_dstm"] for m in PREVIEW_MORPHS]

        def panel(columns: list[np.ndarray]) -> np.ndarray:
            if not wide:
                return pv.preview_grid(columns, rows)
            half = len(columns) // 2
            return np.concatenate([pv.preview_grid(columns[:half], 1), pv.preview_grid(columns[half:], 1)], axis=0)

        overview = [s, d, dd * ddm, full["src_src"], dd, full["src_dst"]] if wide else \
            [s, full["src_src"], d, dd, full["src_dst"]]
        name = self.MODEL_NAME
        return [(f"{name} morph 1.0", panel(overview)), (f"{name} morph list", panel([dd, *swaps])),
                (f"{name} morph list masked", panel([dd, *masked]))]

    # ------------------------------------------------------------------ merging

    @classmethod
    def merge_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.amp_merge_options()

    def predict(self, faces: np.ndarray):
        """Dst faces -> (the swap at the merge's morph factor, src-decoder mask, dst-decoder mask)."""
        return self.engine.predict(faces, float(self.merge_values.get("morph_factor", 1.0)))

    def info_line(self) -> str:
        o = self.options
        return " | ".join([self.files.full_name, f"iter {self.iter}",
                           f"{self.MODEL_NAME} {o['resolution']}px {o['face_type']} ae{o['ae_dims']} "
                           f"inter{o['inter_dims']} e{o['e_dims']} d{o['d_dims']} m{o['d_mask_dims']} "
                           f"morph {o['morph_factor']}",
                           f"bs {o['batch_size']}", "gray" if self.CHANNELS == 1 else "color"])


class AMPBWModel(AMPModel):
    """AMP on one grayscale channel: faces loaded or converted to gray once, gray previews, and colour back at merge
    time like SAEHDBW's (`--bw-output luma` or `colorize`); colour transfer limited to lct and sot."""

    MODEL_NAME = "AMPBW"
    CHANNELS = 1
