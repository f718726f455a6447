"""`MergerConfig`: every per-frame merge setting, described once in `FIELDS` (default, range, prompt, help) so the
prompts, the CLI flags, the JSON file, the interactive keys and the printed summary all agree.

Names follow DFL; the JSON stores names, and DFL's numeric ids are accepted when reading. The choices of the mode,
mask mode and colour transfer come from the registries where each is implemented: `merger.modes.MERGE_MODES`
(which also says which settings apply to each mode), `merger.masks.MASK_BUILDERS` and
`merger.color.MERGE_COLOR_TRANSFERS`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.imagelib.filters import SHARPEN_MODES
from core.fsio import atomic_write_text, read_json_object
from merger.color import MERGE_COLOR_TRANSFERS
from merger.masks import MASK_BUILDERS
from merger.modes import HIST_OPTIONS, MERGE_MODES, MergeMode

# The choices in DFL's numbering (a choice's id is its place), read from the registries where each kind is
# implemented whenever they are asked for: a registered mode is a choice everywhere.
CHOICES = {"mode": MERGE_MODES, "mask_mode": MASK_BUILDERS, "color_transfer_mode": MERGE_COLOR_TRANSFERS,
           "sharpen_mode": SHARPEN_MODES}
MODES = tuple(MERGE_MODES)
COLOR_TRANSFER_MODES = tuple(MERGE_COLOR_TRANSFERS)
HIST_MODES = tuple(name for name, mode in MERGE_MODES.items() if "hist_match_threshold" in mode.options)


@dataclass(frozen=True)
class FieldSpec:
    """One setting: its range (ints) or choices, the prompt text, the batch-prompt default and the help."""

    name: str
    prompt: str
    help: str
    low: int | None = None
    high: int | None = None
    prompt_default: Any = None      # DFL's non-interactive prompt default where it differs from the dataclass

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[str, ...] | None:
        return tuple(CHOICES[self.name]) if self.name in CHOICES else None


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("mode", "Choose mode", "How the predicted face is put into the frame: overlay pastes it through the "
              "mask, hist-match also matches its histogram to the frame's face, seamless uses Poisson blending, "
              "raw-rgb pastes the whole predicted square, raw-predict writes the predicted face alone."),
    FieldSpec("masked_hist_match", "Masked hist match?", "hist-match: match histograms inside the face mask only."),
    FieldSpec("hist_match_threshold", "Hist match threshold", "hist-match modes: 255 is classic histogram matching; "
              "lower values pull bright levels of the face toward darker levels.", 0, 255, prompt_default=255),
    FieldSpec("mask_mode", "Choose mask mode", "Where the new face is used: dst = landmark hull of the frame's face, "
              "learned-prd / learned-dst = the masks the model learned for the predicted / destination face, "
              "products and sums combine them.", prompt_default="dst"),
    FieldSpec("erode_mask_modifier", "Choose erode mask modifier", "Shrink (positive) or grow (negative) the mask, "
              "in pixels at 4x the model resolution.", -400, 400),
    FieldSpec("blur_mask_modifier", "Choose blur mask modifier", "Feather the mask edge (pixels at 4x the model "
              "resolution).", 0, 400),
    FieldSpec("motion_blur_power", "Choose motion blur power", "Blur the face along its motion between the previous "
              "and next frame (frames with one face only).", 0, 100),
    FieldSpec("output_face_scale", "Choose output face scale modifier", "Resize the new face around its centre, in "
              "percent: positive values make it smaller, negative values larger (DFL's convention).", -50, 50),
    FieldSpec("color_transfer_mode", "Color transfer to predicted face", "Match the predicted face's colours to the "
              "frame's face: rct (Reinhard Lab), lct (linear), mkl (Monge-Kantorovich), idt (iterative "
              "distribution), sot (sliced optimal transport), mix (lct lightness + sot colour); -m variants use the "
              "face mask only."),
    FieldSpec("sharpen_mode", "Choose sharpen mode", "Sharpen filter used when blur/sharpen amount is positive."),
    FieldSpec("blursharpen_amount", "Choose blur/sharpen amount", "Positive sharpens the face, negative softens it.",
              -100, 100),
    FieldSpec("image_denoise_power", "Choose image degrade by denoise power", "Median-filter the frame behind the "
              "face so a clean background matches a soft face.", 0, 500),
    FieldSpec("bicubic_degrade_power", "Choose image degrade by bicubic rescale power", "Downscale and upscale the "
              "frame behind the face by this percent.", 0, 100),
    FieldSpec("color_degrade_power", "Degrade color power of final image", "Blend the merged frame toward a "
              "256-colour (16 gray levels for grayscale) palette version.", 0, 100),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}

# The mask edge when the user sets none. DFL starts at erode 0 and blur 0: a hard edge, a visible seam along the
# forehead, temples and jaw. Both are pixels of the mask at 4x the model resolution (DFL's units), so the defaults
# are shares of that size: the same feather, relative to the face, at every model resolution and face size.
EDGE_DEFAULT_SHARES = {"erode_mask_modifier": 0.01, "blur_mask_modifier": 0.25}


def edge_defaults(resolution: int | None) -> dict[str, int]:
    """The default erode / blur mask modifiers for faces of model `resolution` ({} when it is not known)."""
    if not resolution:
        return {}
    return {name: min(FIELD_BY_NAME[name].high, round(share * 4 * resolution))
            for name, share in EDGE_DEFAULT_SHARES.items()}


@dataclass
class MergerConfig:
    """Settings of one frame's merge (defaults = DFL's interactive start)."""

    mode: str = "overlay"
    masked_hist_match: bool = True
    hist_match_threshold: int = 238
    mask_mode: str = "learned-prd*learned-dst"
    erode_mask_modifier: int = 0
    blur_mask_modifier: int = 0
    motion_blur_power: int = 0
    output_face_scale: int = 0
    color_transfer_mode: str = "rct"
    sharpen_mode: str = "none"
    blursharpen_amount: int = 0
    image_denoise_power: int = 0
    bicubic_degrade_power: int = 0
    color_degrade_power: int = 0

    def __post_init__(self) -> None:
        for spec in FIELDS:
            setattr(self, spec.name, _coerce(spec, getattr(self, spec.name)))

    @classmethod
    def batch_defaults(cls, resolution: int | None = None) -> "MergerConfig":
        """The answers DFL's one-time (non-interactive) prompts default to, with the mask edge feathered for faces
        of model `resolution` (`edge_defaults`)."""
        return cls(**{f.name: f.prompt_default for f in FIELDS if f.prompt_default is not None},
                   **edge_defaults(resolution))

    @classmethod
    def start(cls, resolution: int | None = None) -> "MergerConfig":
        """Where the interactive merger starts: DFL's settings, with the mask edge of `edge_defaults`."""
        return cls(**edge_defaults(resolution))

    def copy(self, **changes) -> "MergerConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: "MergerConfig | None" = None) -> "MergerConfig":
        """Build from a (possibly partial or older) dict; unknown keys are ignored, missing keys come from `base`."""
        values = (base or cls()).to_dict()
        values.update({k: v for k, v in data.items() if k in FIELD_BY_NAME})
        return cls(**values)

    @property
    def merge_mode(self) -> MergeMode:
        return MERGE_MODES[self.mode]

    def asks(self, name: str) -> bool:
        """Whether DFL's one-time questions ask setting `name`: the mode, then the settings that apply to it
        (`MergeMode.options`), the blur/sharpen amount only with a sharpen mode."""
        if name == "blursharpen_amount" and self.sharpen_mode == "none":
            return False
        return name == "mode" or name in self.merge_mode.options

    def listed(self, name: str) -> bool:
        """Whether the summary and the interactive status bar list setting `name`: DFL's listing leaves out the
        hist-match settings outside the hist-match modes and the blur/sharpen amount without a sharpen mode."""
        if name in HIST_OPTIONS:
            return "hist_match_threshold" in self.merge_mode.options
        return name != "blursharpen_amount" or self.sharpen_mode != "none"

    def summary(self, title: str = "") -> str:
        """The block printed after every change (DFL's `MergerConfig` listing)."""
        width = max(len(f.name) for f in FIELDS)
        lines = [f"MergerConfig {title}".rstrip() + ":"]
        lines += [f"  {spec.name:<{width}} : {getattr(self, spec.name)}" for spec in FIELDS if self.listed(spec.name)]
        return "\n".join(lines)


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Validate one field: choices by name (or DFL id), ints clamped into range, bools from bool/int."""
    if spec.choices is not None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(spec.choices):
            return spec.choices[value]
        for choice in spec.choices:
            if str(value).lower() == choice.lower():
                return choice
        raise UserError(f"merge setting {spec.name}={value!r} is not one of: {', '.join(spec.choices)}")
    if spec.low is None:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "y", "yes", "true", "on")
        return bool(value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UserError(f"merge setting {spec.name}={value!r} is not a whole number") from None
    return max(spec.low, min(spec.high, number))


def step_field(cfg: MergerConfig, name: str, delta: int) -> MergerConfig:
    """A copy with integer field `name` moved by `delta` (clamped), or choice field `name` cycled by `delta`."""
    spec = FIELD_BY_NAME[name]
    current = getattr(cfg, name)
    if spec.choices is not None:
        return cfg.copy(**{name: spec.choices[(spec.choices.index(current) + delta) % len(spec.choices)]})
    if spec.low is None:
        return cfg.copy(**{name: not current})
    return cfg.copy(**{name: current + delta})


@dataclass
class MergeSession:
    """A merge config file (`merge.json`): the base config plus per-frame configs keyed by frame file name.

    A frame without its own entry uses the nearest earlier frame that has one (DFL's config inheritance),
    or the base config.
    """

    base: MergerConfig
    frames: dict[str, MergerConfig] = dataclasses.field(default_factory=dict)

    FORMAT = "saehdbw-merge-config"

    def config_for(self, names: list[str], index: int) -> MergerConfig:
        for name in reversed(names[: index + 1]):
            if name in self.frames:
                return self.frames[name]
        return self.base

    def resolve(self, names: list[str]) -> list[MergerConfig]:
        """The effective config of every frame in `names` (in order)."""
        out, current = [], self.base
        for name in names:
            current = self.frames.get(name, current)
            out.append(current)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.FORMAT, "version": 1, "config": self.base.to_dict(),
                "frames": {name: cfg.to_dict() for name, cfg in self.frames.items()}}

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path = "merge config",
                  defaults: MergerConfig | None = None) -> "MergeSession":
        """The session in `data`; settings it leaves out come from `defaults` (default: the batch defaults)."""
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a JSON object with a 'config' entry")
        raw = data.get("config", data if "frames" not in data else {})
        if not isinstance(raw, dict):
            raise UserError(f"{path}: 'config' must be an object")
        base = MergerConfig.from_dict(raw, defaults or MergerConfig.batch_defaults())
        frames_raw = data.get("frames", {}) or {}
        if not isinstance(frames_raw, dict):
            raise UserError(f"{path}: 'frames' must map frame file names to configs")
        frames = {str(k): MergerConfig.from_dict(v, base) for k, v in frames_raw.items() if isinstance(v, dict)}
        return cls(base, frames)

    @classmethod
    def load(cls, path: str | Path, defaults: MergerConfig | None = None) -> "MergeSession":
        path = Path(path)
        return cls.from_dict(read_json_object(path, "merge config file"), path, defaults)
