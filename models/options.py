"""Model options: one `OptionSpec` per option, read by the prompts, the config file, the summary box and the docs.

Precedence of a value: the model's saved value -> a `--preset` -> `<MODEL>_default_options.json` in the model
folder -> the spec's default. A config file (`--config-file`) replaces prompting entirely. "Lock" options are
asked only when the model is created; the others again whenever the user opens the override window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from core import fsio, interact
from core.errors import UserError

_TRUE = {"y", "yes", "1", "true", "on"}
_FALSE = {"n", "no", "0", "false", "off"}


@dataclass(frozen=True)
class OptionEnv:
    """Facts about the run that some defaults and questions depend on."""

    on_gpu: bool = False
    min_gpu_mem_gb: float = 2.0
    has_pretraining_data: bool = False
    first_run: bool = True
    folder_face_type: str | None = None   # the face type of the newest SAEHDBW model in the model folder, if any


Values = dict[str, Any]
Default = Any  # a value, or a callable (values so far, env) -> value


@dataclass(frozen=True)
class OptionSpec:
    """One option: its DFL key, prompt text, type, default, limits, help and whether it is locked."""

    name: str
    prompt: str
    kind: str  # "bool" | "int" | "float" | "choice" | "text"
    default: Default
    help: str
    lock: bool = False
    valid_range: tuple[float | None, float | None] | None = None
    choices: tuple[str, ...] | None = None
    ask_if: Callable[[Values, OptionEnv], bool] | None = None
    normalize: Callable[[Any, Values, OptionEnv], Any] | None = None
    parse: Callable[[str], Any] | None = None  # kind "text": validate/canonicalise, raise ValueError
    aliases: Mapping[str, str] | None = None   # kind "choice": other accepted spellings
    ask: bool = True          # False: never prompted (Quick96), still settable from a config file
    available: bool = True    # False: a seam for a later feature (GAN, true face, style powers)
    neutral: Any = None       # for unavailable options: the only value a config file may give (None: any)
    info: str | None = None   # kind "text": what the prompt and docs show as the accepted values
    flag_help: str | None = None   # a merge question's command-line flag: its help, when not `help`

    def default_value(self, values: Values, env: OptionEnv) -> Any:
        return self.default(values, env) if callable(self.default) else self.default

    def coerce(self, raw: Any) -> Any:
        """Convert a value from JSON or a legacy file; raises ValueError saying what is wrong."""
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise ValueError(f"expected y/n (true/false), got {raw!r}")
        if self.kind == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(f"expected a whole number, got {raw!r}")
            try:
                value = int(raw)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"expected a whole number, got {raw!r}") from None
            return self._check_range(value)
        if self.kind == "float":
            if isinstance(raw, bool):
                raise ValueError(f"expected a number, got {raw!r}")
            try:
                value = float(raw)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"expected a number, got {raw!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"expected a finite number, got {raw!r}")
            return self._check_range(value)
        if self.kind == "choice":
            if isinstance(raw, bool) and self.name == "lr_dropout":  # old DFL models stored a boolean
                raw = "y" if raw else "n"
            text = str(raw).strip().lower()
            text = (self.aliases or {}).get(text, text)
            for choice in self.choices or ():
                if text == choice.lower():
                    return choice
            raise ValueError(f"expected one of {'/'.join(self.choices or ())}, got {raw!r}")
        text = str(raw).strip()
        return self.parse(text) if self.parse else text

    def _check_range(self, value):
        if self.valid_range is not None:
            low, high = self.valid_range
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"{value} is outside {range_text(self.valid_range)}")
        return value

    def prompt_value(self, default: Any) -> Any:
        """Ask the user (or take `default` when non-interactive) through `core.interact`."""
        if self.kind == "bool":
            return interact.input_bool(self.prompt, bool(default), help_message=self.help)
        if self.kind == "int":
            return interact.input_int(self.prompt, int(default), self.valid_range, help_message=self.help)
        if self.kind == "float":
            while True:
                value = interact.input_number(self.prompt, float(default), self.valid_range, help_message=self.help)
                if math.isfinite(value):
                    return value
                print(f"{value} is not a finite number.")
        if self.kind == "choice":
            return interact.input_str(self.prompt, str(default), list(self.choices or ()), help_message=self.help)
        while True:
            try:
                answer = interact.input_str(f"{self.prompt} ( {self.info} )" if self.info else self.prompt,
                                            str(default), help_message=self.help, lowercase=True)
                return self.coerce(answer)
            except ValueError as err:
                if not interact.is_interactive():
                    raise UserError(f"option {self.name}: {err}") from None
                print(err)


def range_text(valid_range) -> str:
    low, high = valid_range
    return f"{'' if low is None else low}..{'' if high is None else high}"


def display(value: Any) -> str:
    """How a value appears in the summary box (DFL shows Python reprs: True, 0.0, liae-ud)."""
    return str(value)


@dataclass
class Resolution:
    """The outcome of resolving options: the values and, per option, where its value came from."""

    values: Values
    sources: dict[str, str] = field(default_factory=dict)


def resolve_options(specs: Sequence[OptionSpec], *, saved: Mapping[str, Any] | None = None,
                    preset: Mapping[str, Any] | None = None, folder_defaults: Mapping[str, Any] | None = None,
                    config: Mapping[str, Any] | None = None, first_run: bool = True, ask_override: bool = False,
                    env: OptionEnv = OptionEnv(), saved_source: str = "the model's data file") -> Resolution:
    """Decide every option's value, asking the user where DFL would.

    With `config` (a validated config-file dict) nothing is asked. A locked option of an existing model keeps
    its saved value even if the config file says otherwise (a warning says so). A saved value that is not valid
    falls back to the default, except for a locked option (the weights were built with it): that is a `UserError`
    naming `saved_source`.
    """
    saved = dict(saved or {})
    values: Values = {}
    sources: dict[str, str] = {}
    for spec in specs:
        if not spec.available:
            continue
        if spec.name in saved and not first_run:
            base, source = _coerce_saved(spec, saved[spec.name], saved_source if spec.lock else None), "saved"
        elif preset and spec.name in preset:
            base, source = preset[spec.name], "preset"
        elif folder_defaults and spec.name in folder_defaults:
            base, source = _coerce_saved(spec, folder_defaults[spec.name]), "folder default"
        else:
            base, source = spec.default_value(values, env), "default"
        if base is None:
            base, source = spec.default_value(values, env), "default"
        value = base
        applicable = spec.ask_if is None or spec.ask_if(values, env)
        may_change = first_run or not spec.lock
        if config is not None and spec.name in config:
            wanted = config[spec.name]
            if may_change:
                value, source = wanted, "config file"
            elif wanted != base:
                interact.log_warn(f"Option {spec.name} is locked for this model (it stays {display(base)}); "
                                  f"the config file's {display(wanted)} is ignored.")
        elif config is None and spec.ask and applicable and (first_run or (ask_override and not spec.lock)):
            value = spec.prompt_value(base)
            source = "asked" if interact.is_interactive() else source
        if spec.normalize is not None:
            value = spec.normalize(value, values, env)
        values[spec.name] = value
        sources[spec.name] = source
    return Resolution(values, sources)


def _coerce_saved(spec: OptionSpec, raw: Any, locked_in: str | None = None) -> Any:
    """Saved/default-file values are trusted less than code: a bad one falls back to the default, except an option
    locked in a model (`locked_in`: its file), whose weights only fit the stored value: that is a `UserError`."""
    try:
        return spec.coerce(raw)
    except ValueError as err:
        if locked_in is not None:
            raise UserError(f"{locked_in}: the stored option {spec.name} {str(raw)[:40]!r} is not valid ({err}); "
                            f"the model cannot be built without it. Restore the file from a backup") from None
        interact.log_warn(f"Ignoring the stored value {str(raw)[:40]!r} of option {spec.name}.")
        return None


def validate_config(specs: Sequence[OptionSpec], raw: Mapping[str, Any], source: str) -> Values:
    """Check a config-file dict against `specs`: unknown keys and bad values are a `UserError` naming them."""
    by_name = {spec.name: spec for spec in specs}
    result: Values = {}
    for key, raw_value in raw.items():
        spec = by_name.get(key)
        if spec is None:
            raise UserError(f"{source}: unknown option {key!r} (known options: {', '.join(by_name)})")
        try:
            value = spec.coerce(raw_value)
        except ValueError as err:
            raise UserError(f"{source}: option {key}: {err}") from None
        if not spec.available and spec.neutral is not None and value != spec.neutral:
            raise UserError(f"{source}: option {key} is not available in this version yet "
                            f"(only {display(spec.neutral)} is accepted)")
        result[key] = value
    return result


def read_config_file(path: str | Path, specs: Sequence[OptionSpec]) -> Values:
    """Load `--config-file`: a JSON object of options under DFL's names."""
    raw = fsio.read_json_object(path, "config file of option names and values")
    return validate_config(specs, raw, str(path))


def options_table(specs: Sequence[OptionSpec]) -> str:
    """A Markdown table of the options (for `train --list-options` and the docs)."""
    rows = ["| option | meaning | default | values | asked |", "|---|---|---|---|---|"]
    for spec in specs:
        if not spec.available:
            continue
        if callable(spec.default):
            default = "depends"
        elif spec.kind == "bool":
            default = "y" if spec.default else "n"
        else:
            default = display(spec.default)
        if spec.choices:
            values = "/".join(spec.choices)
        elif spec.kind == "bool":
            values = "y/n"
        elif spec.valid_range:
            values = range_text(spec.valid_range)
        elif spec.info:
            values = spec.info
        else:
            values = spec.kind
        asked = "never (config file only)" if not spec.ask else ("first run" if spec.lock else "first run + override")
        rows.append(f"| `{spec.name}` | {spec.help.splitlines()[0]} | {default} | {values} | {asked} |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------------------------
# The option specs. Asking order follows DFL: the generic questions first, then the model's own.

def _even_up(value: int, values: Values, env: OptionEnv) -> int:
    return value + (value % 2)


def floor_resolution(value: int, multiple: int, why: str) -> int:
    """`value` floored to a multiple of `multiple` (at least 64), saying so when that changes it."""
    rounded = max(64, value // multiple * multiple)
    if rounded != value:
        interact.log_info(f"resolution {value} rounded down to {rounded} ({why}).")
    return rounded


def _floor16(value: int, values: Values, env: OptionEnv) -> int:
    return floor_resolution(value, 16, "a multiple of 16")


ARCHI_TYPES = ("df", "liae")
ARCHI_FLAGS = "udtc"  # DFL's order of the option letters


def parse_archi(text: str) -> str:
    """`liae-UD` -> `liae-ud`; letters after the dash are any of u, d, t, c, written in DFL's order."""
    archi, _, flags = text.strip().lower().partition("-")
    if archi not in ARCHI_TYPES:
        raise ValueError(f"unknown archi {text!r}: it must start with df or liae")
    if any(ch not in ARCHI_FLAGS for ch in flags) or len(set(flags)) != len(flags):
        raise ValueError(f"archi letters after '-' must be distinct letters from u, d, t, c; got {text!r}")
    flags = "".join(ch for ch in ARCHI_FLAGS if ch in flags)
    return f"{archi}-{flags}" if flags else archi


def _bool(name, prompt, default, help, **kw) -> OptionSpec:
    return OptionSpec(name, prompt, "bool", default, help, **kw)


def _int(name, prompt, default, valid_range, help, **kw) -> OptionSpec:
    return OptionSpec(name, prompt, "int", default, help, valid_range=valid_range, **kw)


def _float(name, prompt, default, valid_range, help, **kw) -> OptionSpec:
    return OptionSpec(name, prompt, "float", default, help, valid_range=valid_range, **kw)


def _choice(name, prompt, default, choices, help, **kw) -> OptionSpec:
    return OptionSpec(name, prompt, "choice", default, help, choices=tuple(choices), **kw)


def _default_batch(values: Values, env: OptionEnv) -> int:
    return 8 if env.on_gpu and env.min_gpu_mem_gb >= 4 else 4


def generic_options(asked: bool = True, session_only: bool = False) -> list[OptionSpec]:
    """The ModelBase questions. `session_only`: just backup/history/target (Quick96, which asks nothing)."""
    specs = [
        _int("autobackup_hour", "Autobackup every N hour", 0, (0, 24),
             "Copy the whole model into its autobackups folder (01 = newest) every N hours of training "
             "(0 = never). The 15 most recent backups are kept.", ask=asked),
        _bool("write_preview_history", "Write preview history", False,
              "Save a preview image every preview_period iterations (env var) into the model's history "
              "folder, to watch the model evolve or make a time-lapse.", ask=asked),
        _int("target_iter", "Target iteration", 0, (0, None),
             "Save and stop once this iteration is reached (0 = train until you stop it).", ask=asked),
    ]
    if session_only:
        return specs
    return specs + [
        _bool("random_src_flip", "Flip SRC faces randomly", False,
              "Mirror src faces at random. Helps when src lacks some head angles, but faces are not symmetric, "
              "so the result can look less like the person.", ask=asked),
        _bool("random_dst_flip", "Flip DST faces randomly", True,
              "Mirror dst faces at random; usually makes src->dst generalise better when src is not flipped.",
              ask=asked),
        _int("batch_size", "Batch_size", _default_batch, (1, 2048),
             "Faces per iteration. Larger batches learn more stably but need more memory; lower it if you run "
             "out of memory.", ask=asked),
    ]


_FACE_ALIASES = {"half_face": "h", "midfull_face": "mf", "full_face": "f", "whole_face": "wf"}
FACE_TYPES = ("h", "mf", "f", "wf", "head")
CT_MODES = ("none", "rct", "lct", "mkl", "idt", "sot")
CT_MODES_GRAY = ("none", "lct", "sot")  # the modes that mean something on one channel: brightness/contrast


def saehd_options(channels: int = 3) -> list[OptionSpec]:
    """SAEHD's own options (and SAEHDBW's with `channels=1`, where colour-transfer modes are limited)."""
    on_gpu = lambda values, env: env.on_gpu  # noqa: E731
    gpu_only = lambda value, values, env: bool(value) and env.on_gpu  # noqa: E731
    return [
        _int("resolution", "Resolution", 128, (64, 640),
             "Size of the faces the model learns, 64..640, rounded down to a multiple of 16 (32 for archis "
             "with -d). Higher is sharper but slower and needs more memory.", lock=True, normalize=_floor16),
        _choice("face_type", "Face type", "f", FACE_TYPES,
                "How much of the head the model covers: h half, mf mid-full, f full, wf whole face with the "
                "forehead, head the whole head (needs XSeg masks). Match the type you extracted.",
                lock=True, aliases=_FACE_ALIASES),
        OptionSpec("archi", "AE architecture", "text", "liae-ud",
                   "df: one shared inter, a decoder per person; keeps src likeness, needs similar faces. "
                   "liae: shared and dst-only inter, one decoder; morphs better to dst. Optional letters after "
                   "'-': u more likeness, d double resolution for the same cost, t deeper encoder, "
                   "c cosine activations.", lock=True, parse=parse_archi, info="df/liae + -u -d -t -c"),
        _int("ae_dims", "AutoEncoder dimensions", 256, (32, 1024),
             "Size of the bottleneck code. More captures more detail but trains slower.", lock=True),
        _int("e_dims", "Encoder dimensions", 64, (16, 256),
             "Encoder width (even). More recognises more facial features.", lock=True, normalize=_even_up),
        _int("d_dims", "Decoder dimensions", 64, (16, 256),
             "Decoder width (even). More renders more detail.", lock=True, normalize=_even_up),
        _int("d_mask_dims", "Decoder mask dimensions",
             lambda values, env: _even_up(max(16, values.get("d_dims", 64) // 3), values, env), (16, 256),
             "Width of the learned-mask decoder (even). The default is a third of the decoder dims.",
             lock=True, normalize=_even_up),
        _bool("masked_training", "Masked training", True,
              "Learn only inside the face mask (for wf/head; h/mf/f always train masked). Turn off for a "
              "while to let the model learn the background/hair, then turn back on.",
              ask_if=lambda values, env: values.get("face_type") in ("wf", "head")),
        _bool("eyes_mouth_prio", "Eyes and mouth priority", False,
              "Weight eyes and mouth errors much more, for sharper eyes and teeth."),
        _bool("uniform_yaw", "Uniform yaw distribution of samples", False,
              "Draw faces evenly over head turn, so side views are not starved; good for pretraining and "
              "facesets with few profiles."),
        _bool("blur_out_mask", "Blur out mask", False,
              "Smear the background outside the face mask in training targets; needs exact (XSeg) masks."),
        _bool("models_opt_on_gpu", "Place models and optimizer on GPU", True,
              "Keep weights and optimizer state in GPU memory (fastest). Turn off to free GPU memory for a "
              "bigger batch or model. Always off on CPU.", ask_if=on_gpu, normalize=gpu_only),
        _bool("adabelief", "Use AdaBelief optimizer?", True,
              "AdaBelief: more accurate and more stable training than RMSprop, with more optimizer memory."),
        _choice("lr_dropout", "Use learning rate dropout", "n", ("n", "y", "cpu"),
                "Randomly drop weight updates to settle finer detail. Turn on late in training, after random "
                "warp is off; 'cpu' makes the random masks on the CPU to save GPU memory."),
        _float("learning_rate", "Learning rate", 5e-5, (1e-6, 1e-3),
               "The optimizer's step size (DFL's fixed 5e-5; config file only). A few times higher learns a "
               "recognisable face in fewer iterations, for short runs on a CPU (the demo uses 1.5e-4); keep "
               "DFL's for long training.", ask=False),
        _bool("random_warp", "Enable random warp of samples", True,
              "Warp training inputs so the model generalises between the two faces. Keep on until the faces "
              "look right, then turn off to sharpen details."),
        _float("random_hsv_power", "Random hue/saturation/light intensity", 0.0, (0.0, 0.3),
               "Random hue, saturation and light shifts of the src faces at the network's input only (0.0-0.3; "
               "0.05 is a typical value). Steadies colour flicker of the swap; needs a colour-diverse src "
               "faceset. Colour models only.", available=channels == 3, neutral=0.0),
        _float("gan_power", "GAN power", 0.0, (0.0, 5.0),
               "Adversarial training: sharper detail and skin texture, once the model is well trained (DFL users "
               "start at 0.1). It can add artefacts and slows every step; off while pretraining."),
        _int("gan_patch_size", "GAN patch size", lambda values, env: values.get("resolution", 128) // 8,
             (3, 640), "Size of the patches the GAN discriminator judges (default resolution / 8); bigger is "
             "more global, and slower.", ask_if=lambda values, env: values.get("gan_power", 0) != 0),
        _int("gan_dims", "GAN dimensions", 16, (4, 512), "Width of the GAN discriminator (default 16).",
             ask_if=lambda values, env: values.get("gan_power", 0) != 0),
        _float("true_face_power", "'True face' power.", 0.0, (0.0, 1.0),
               "DF archis: a discriminator on the bottleneck codes makes the swap look more like src (0.0-1.0; "
               "DFL users try 0.01 late in training). Off while pretraining; LIAE ignores it.",
               ask_if=lambda values, env: str(values.get("archi", "")).startswith("df")),
        _float("face_style_power", "Face style power", 0.0, (0.0, 100.0),
               "Pull the colours and lighting of the swapped face toward the dst face (0-100; DFL users start "
               "around 0.001-0.1 and raise slowly). Too high and the face takes on dst's identity; off while "
               "pretraining."),
        _float("bg_style_power", "Background style power", 0.0, (0.0, 100.0),
               "Train the swapped face's surroundings to match the dst background (0-100; e.g. 0.1-2), which "
               "helps the edge blend. Too high and the face drifts toward dst; off while pretraining."),
        _choice("ct_mode", "Color transfer for src faceset", "none", CT_MODES if channels == 3 else CT_MODES_GRAY,
                "Match src faces to the colours of random dst faces while training. "
                + ("rct/lct/mkl/idt/sot: different transfer methods; try rct or sot."
                   if channels == 3 else "In gray this matches brightness and contrast: lct or sot (better, "
                                         "slower; good for the last tens of thousands of iterations).")),
        _bool("clipgrad", "Enable gradient clipping", False,
              "Limit the size of each update; reduces the chance of the model collapsing, slightly slower."),
        _bool("pretrain", "Enable pretraining mode", False,
              "Train on a large faceset of many people (--pretraining-data-dir) to get a base model. When you "
              "switch it off, the iteration count restarts and the model learns your two faces."),
    ]


def _multiple_of_64(value: int, values: Values, env: OptionEnv) -> int:
    rounded = max(64, value // 64 * 64)
    if rounded != value:
        interact.log_info(f"Resolution {value} rounded down to {rounded} (a multiple of 64).")
    return rounded


def xseg_options() -> list[OptionSpec]:
    """The XSeg mask model's options (DFL asks face type, batch size and pretraining; the size is fixed at 256
    px and base 32 channels, settable from a config file only)."""
    return [
        _choice("face_type", "Face type", "wf", FACE_TYPES,
                "The face area the masks cover: h, mf, f, wf (whole face, DFL's default for XSeg) or head. "
                "Use the widest type your SAEHD model uses.", lock=True, aliases=_FACE_ALIASES),
        _int("batch_size", "Batch_size", 4, (2, 16),
             "Faces per iteration. Larger batches learn more stably but need more memory."),
        _bool("pretrain", "Enable pretraining mode", False,
              "Train on a large faceset without masks first (--pretraining-data-dir): the model learns faces, "
              "then far fewer labelled faces are needed."),
        _bool("restart_training", "Restart training", False,
              "Start the iteration count (and the loss graph) again at 0, keeping what the model has learned: "
              "after you labelled more faces, for example.", ask_if=lambda values, env: not env.first_run),
        _int("resolution", "Resolution", 256, (64, 512),
             "XSeg's input size; DFL's is 256. A multiple of 64.", lock=True, ask=False,
             normalize=_multiple_of_64),
        _int("base_ch", "Base channels", 32, (4, 64),
             "Channels of the first stage (DFL: 32); the others are 2x, 4x and 8x.", lock=True, ask=False),
    ]


def colorizer_options() -> list[OptionSpec]:
    """The Colorizer's options: the face type follows the SAEHDBW model of the same folder unless told."""
    return [
        _choice("face_type", "Face type", lambda values, env: env.folder_face_type or "f", FACE_TYPES,
                "The face type of the SAEHDBW model whose faces it colours (the default is that of the newest "
                "SAEHDBW model in the model folder): the merge needs the two to match.", lock=True,
                aliases=_FACE_ALIASES),
        _int("batch_size", "Batch_size", 8, (1, 64), "Faces per iteration."),
        _int("resolution", "Resolution", 128, (64, 512),
             "The Colorizer's input size, a multiple of 64; the SAEHDBW faces are resized to it and the colour "
             "back (colour is smooth, so 128 serves models of any resolution).", lock=True, normalize=_multiple_of_64),
        _int("base_ch", "Base channels", 16, (4, 64),
             "Channels of the first stage of its U-Net; the others are 2x, 4x and 8x. 32 learns finer colour at 4x "
             "the cost.", lock=True),
    ]


def _floor32(value: int, values: Values, env: OptionEnv) -> int:
    return floor_resolution(value, 32, "a multiple of 32")


AMP_FACE_TYPES = ("f", "wf", "head")


def amp_options(channels: int = 3) -> list[OptionSpec]:
    """AMP's own options in DFL's order: SAEHD's where they mean the same, plus inter_dims and morph_factor."""
    saehd = {spec.name: spec for spec in saehd_options(channels)}
    return [
        replace(saehd["resolution"], default=224, normalize=_floor32,
                help="Size of the faces the model learns, 64..640, rounded down to a multiple of 32. Higher is "
                     "sharper but slower and needs more memory."),
        replace(saehd["face_type"], default="wf", choices=AMP_FACE_TYPES,
                help="How much of the head the model covers: f full face, wf whole face with the forehead, head "
                     "the whole head (needs XSeg masks). Match the type you extracted."),
        saehd["ae_dims"],
        _int("inter_dims", "Inter dimensions", 1024, (32, 2048),
             "Channels of the two intermediate codes the swap mixes; should be at least the AutoEncoder "
             "dimensions. More are better but need more memory.", lock=True),
        saehd["e_dims"], saehd["d_dims"], saehd["d_mask_dims"],
        _float("morph_factor", "Morph factor.", 0.5, (0.1, 0.5),
               "The share of the src-specific code in src's training faces. The smaller, the more of src's "
               "expressions; the larger, the less room for a big dst faceset. Typical fine value is 0.5.",
               lock=True),
        saehd["uniform_yaw"], saehd["blur_out_mask"], saehd["lr_dropout"], saehd["models_opt_on_gpu"],
        saehd["random_warp"], saehd["gan_power"], saehd["gan_patch_size"], saehd["gan_dims"],
        saehd["ct_mode"], saehd["clipgrad"],
    ]


def amp_merge_options() -> list[OptionSpec]:
    """What AMP asks when merging (DFL's get_MergerConfig)."""
    return [_float("morph_factor", "Morph factor", 1.0, (0.0, 1.0),
                   "How much of src the swapped face takes: 1.0 the full src face, lower values keep more of dst "
                   "(0.0 is the dst face itself).",
                   flag_help="how much of src the face takes (1.0 = the full src face, DFL's default; lower keeps "
                             "more of dst).")]
