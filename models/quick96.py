"""Quick96: a fixed, question-free model for a first try: DF-UD, 96 px, full face, batch 4.

Networks: encoder 64, ae 128, decoders 64 with a 16-wide mask head; RMSprop at 2e-4 with learning-rate
dropout always on (no cosine), masked training, random warp, no flips. Only the session settings
(target_iter, autobackup_hour, write_preview_history) can be set, from a config file. It runs SAEHD's engine
(`models.saehd_engine`) at these settings; samples, previews and merging are the autoencoders'.
"""
from __future__ import annotations

from models.autoencoder import AutoencoderModel

FIXED_OPTIONS = {
    "resolution": 96, "face_type": "f", "archi": "df-ud", "ae_dims": 128, "e_dims": 64, "d_dims": 64,
    "d_mask_dims": 16, "masked_training": True, "eyes_mouth_prio": False, "uniform_yaw": False,
    "blur_out_mask": False, "models_opt_on_gpu": True, "adabelief": False, "lr_dropout": "y",
    "random_warp": True, "ct_mode": "none", "clipgrad": False, "pretrain": False,
    "random_src_flip": False, "random_dst_flip": False, "batch_size": 4,
}
ENGINE_OPTIONS = ("archi", "masked_training", "eyes_mouth_prio", "adabelief", "lr_dropout", "random_warp")


class Quick96Model(AutoencoderModel):
    MODEL_NAME = "Quick96"
    CHANNELS = 3
    SCALE_RANGE = (-0.05, 0.05)  # Quick96 keeps DFL's default scale jitter
    SESSION_OPTIONS_ONLY = True

    def finalize_options(self, values: dict) -> dict:
        return {**values, **FIXED_OPTIONS, "models_opt_on_gpu": bool(self.devices)}

    def engine_config(self):
        from models.saehd_engine import EngineConfig
        return EngineConfig(**self.engine_options(), **{k: self.options[k] for k in ENGINE_OPTIONS},
                            learning_rate=2e-4, lr_cos=0)

    def build_engine(self):
        from models.saehd_engine import SAEHDEngine
        return SAEHDEngine(self.engine_config())

    def summary_options(self):
        return [(k, self.options[k]) for k in ("resolution", "face_type", "archi", "ae_dims", "e_dims", "d_dims",
                                               "d_mask_dims", "batch_size", "target_iter", "autobackup_hour",
                                               "write_preview_history")]
