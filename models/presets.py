"""Named starting configurations for SAEHD/SAEHDBW: the DeepFaceLab 1.0 models and the SAEHDBW fork's configs.

DFL 2.0 dropped the 1.0 model zoo; each legacy model is mapped to the SAEHD configuration closest to its network
(same crop, resolution and wiring; widths read off the old layer plans: an encoder of 128-256-512-1024 filters is
`e_dims` 128, a decoder starting at 512 filters is `d_dims` 64). A preset only sets the first-run defaults of a
new model (a config file still wins); an existing model keeps its saved options.

| preset     | was (DFL 1.0 / fork)                         | resolution | face | archi   | ae  | e   | d  | mask |
|------------|----------------------------------------------|-----------:|------|---------|----:|----:|---:|-----:|
| `H64`      | H64: half face 64 px, DF-style two decoders  | 64         | h    | df      | 256 | 128 | 64 | 22   |
| `H128`     | H128: half face 128 px                       | 128        | h    | df      | 512 | 128 | 64 | 22   |
| `DF`       | DF: full face 128 px, shared encoder         | 128        | f    | df      | 512 | 128 | 64 | 22   |
| `LIAEF128` | LIAEF128: full face, LIAE intermediate split | 128        | f    | liae    | 256 | 128 | 64 | 22   |
| `SAE`      | SAE with its 1.0 defaults (ae 512, 42, 21)   | 128        | f    | df      | 512 | 42  | 22 | 16   |
| `BW96`     | fork: lean grayscale model for small GPUs    | 96         | f    | df-ud   | 96  | 32  | 32 | 16   |
| `BW192`    | fork: the author's film model (mid-full)     | 192        | mf   | df-udt  | 128 | 48  | 32 | 16   |

All presets train masked with the learned mask decoder, as H64/H128/SAE did with "learn mask" on.
"""
from __future__ import annotations

from core.errors import UserError


def _preset(resolution: int, face_type: str, archi: str, ae: int, e: int, d: int, mask: int) -> dict:
    return {"resolution": resolution, "face_type": face_type, "archi": archi, "ae_dims": ae, "e_dims": e,
            "d_dims": d, "d_mask_dims": mask, "masked_training": True}


PRESETS: dict[str, dict] = {
    "H64": _preset(64, "h", "df", 256, 128, 64, 22),
    "H128": _preset(128, "h", "df", 512, 128, 64, 22),
    "DF": _preset(128, "f", "df", 512, 128, 64, 22),
    "LIAEF128": _preset(128, "f", "liae", 256, 128, 64, 22),
    "SAE": _preset(128, "f", "df", 512, 42, 22, 16),
    "BW96": _preset(96, "f", "df-ud", 96, 32, 32, 16),
    "BW192": _preset(192, "mf", "df-udt", 128, 48, 32, 16),
}


def get_preset(name: str) -> dict:
    """The options of preset `name` (case-insensitive); an unknown name is a `UserError` listing the presets."""
    for key, values in PRESETS.items():
        if key.lower() == str(name).strip().lower():
            return dict(values)
    raise UserError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
