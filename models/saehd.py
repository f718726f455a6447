"""SAEHD: the DF/LIAE autoencoder model with its options, presets, pretraining mode and style/true-face powers.

The sample generators, previews and merge interface are the autoencoders' (`models.autoencoder`); SAEHDBW
(models/saehdbw.py) is this model with `CHANNELS = 1`.
"""
from __future__ import annotations

from core.errors import UserError
from models import options as opt
from models.autoencoder import AutoencoderModel, missing_xseg_hint  # noqa: F401  (missing_xseg_hint: its old home)


def _archi_flags(archi: str) -> str:
    return archi.partition("-")[2]


class SAEHDModel(AutoencoderModel):
    MODEL_NAME = "SAEHD"
    CHANNELS = 3
    TAKES_PRESETS = True

    @classmethod
    def model_option_specs(cls) -> list[opt.OptionSpec]:
        return opt.saehd_options(cls.CHANNELS)

    def finalize_options(self, values: dict) -> dict:
        # -d needs a multiple of 32 (DFL floors again). DFL does not re-round for -t and then fails while
        # building the graph; users would only suffer from that, so -t is floored to 32 as well.
        flags = _archi_flags(values["archi"])
        if "d" in flags or "t" in flags:
            values["resolution"] = opt.floor_resolution(values["resolution"], 32,
                                                        f"archi {values['archi']} needs a multiple of 32")
        if self.training and values.get("pretrain") and self.pretraining_dir is None:
            raise UserError("pretrain is on but no --pretraining-data-dir was given; pass a folder or "
                            "faceset.pak of many faces, or set pretrain to n")
        return values

    @property
    def pretraining(self) -> bool:
        return bool(self.training and self.options.get("pretrain"))

    # ------------------------------------------------------------------ engine

    def engine_config(self):
        from models.saehd_engine import EngineConfig
        o = self.options
        # The powers shape training only: off while pretraining (as DFL), and merging builds no discriminators.
        powers = self.training and not self.pretraining
        return EngineConfig(
            **self.engine_options(), archi=o["archi"], masked_training=o["masked_training"],
            eyes_mouth_prio=o["eyes_mouth_prio"], adabelief=o["adabelief"],
            lr_dropout="n" if self.pretraining else o["lr_dropout"], learning_rate=o["learning_rate"],
            # LIAE freezes inter_AB when random warp is off; pretraining (warp off) still trains every net.
            random_warp=o["random_warp"] or self.pretraining,
            face_style_power=float(o.get("face_style_power", 0.0)) if powers else 0.0,
            bg_style_power=float(o.get("bg_style_power", 0.0)) if powers else 0.0,
            true_face_power=float(o.get("true_face_power", 0.0)) if powers else 0.0)

    def build_engine(self):
        from models.saehd_engine import SAEHDEngine
        return SAEHDEngine(self.engine_config())

    def inter_names(self) -> tuple[str, ...]:
        return ("inter",) if self.options["archi"].startswith("df") else ("inter_AB", "inter_B")

    def networks_to_reinit(self) -> tuple[str, ...]:
        # Pretraining just ended: keep everything but the inter network(s), which start fresh (as DFL does).
        return self.inter_names() if self.pretrain_just_disabled else ()

    # ------------------------------------------------------------------ samples

    def sample_settings(self) -> dict:
        """The autoencoders' settings; pretraining forces flips and uniform yaw, no warp, no colour transfer, no
        HSV."""
        settings = super().sample_settings()
        if self.pretraining:
            for side in settings.values():
                side.update(random_flip=True, uniform_yaw=True, random_warp=False, ct_mode="none",
                            random_hsv_power=0.0)
        return settings
