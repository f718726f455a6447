"""SAEHDBW: SAEHD with one grayscale channel end to end (the SAEHDBW fork's model).

Faces are loaded or converted to gray once by the sample loader, the networks take and give one channel, the
losses run on it, previews are gray, and only the colour-transfer modes that mean something on one channel
(brightness/contrast matching: `lct`, `sot`) are offered.
"""
from __future__ import annotations

from models.saehd import SAEHDModel


class SAEHDBWModel(SAEHDModel):
    MODEL_NAME = "SAEHDBW"
    CHANNELS = 1
