"""The dst frames of a merge: their faces (from the aligned folder), the user's frame selection, the run
options and where each frame's output goes."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import UserError
from core.fsio import atomic_write_text, list_images
from merger.config import MergerConfig


@dataclass
class FaceAlignment:
    """One dst face as the aligned folder describes it."""

    landmarks: np.ndarray            # 68x2 frame pixels
    eyebrows_expand_mod: float = 1.0


@dataclass
class Frame:
    index: int
    path: Path
    faces: list[FaceAlignment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stem(self) -> str:
        return self.path.stem


def build_frames(input_dir: Path, alignments: dict[str, list[FaceAlignment]]) -> list[Frame]:
    """Every image of `input_dir` (natural order) with the faces the alignments give for its stem."""
    paths = list_images(input_dir)
    if not paths:
        raise UserError(f"{input_dir}: no frame images found")
    return [Frame(i, p, list(alignments.get(p.stem, []))) for i, p in enumerate(paths)]


def parse_frame_ranges(text: str, flag: str = "--frames") -> set[int]:
    """'100-400,500' -> {100..400, 500}; errors name `flag`."""
    out: set[int] = set()
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", part)
        if not m:
            raise UserError(f"{flag} {text!r}: {part!r} is not a frame number N or a range N-M (e.g. 100-400,500)")
        if m.group(3):
            out.add(int(m.group(3)))
        else:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise UserError(f"{flag} {text!r}: the range {part!r} ends before it starts")
            out.update(range(a, b + 1))
    return out


def frame_numbers(frames: list[Frame]) -> list[int]:
    """The numbers a user sees for frames: the trailing digits of their names (00123.png -> 123), or their 1-based
    positions when the names carry no numbers."""
    found = [re.search(r"(\d+)$", f.stem) for f in frames]
    if all(found):
        return [int(m.group(1)) for m in found]
    return [f.index + 1 for f in frames]


def select_frames(frames: list[Frame], only: str | None = None, skip: str | None = None) -> list[Frame]:
    """The frames `--frames` keeps and `--skip-frames` does not drop."""
    keep = parse_frame_ranges(only, "--frames") if only else None
    drop = parse_frame_ranges(skip, "--skip-frames") if skip else set()
    return [f for f, n in zip(frames, frame_numbers(frames)) if (keep is None or n in keep) and n not in drop]


@dataclass
class RunOptions:
    output_dir: Path
    mask_dir: Path | None = None
    bw_output: str = "luma"          # one-channel faces into colour frames: gray | luma | precomputed
    stabilize_gamma: bool = False
    gamma_window: int = 25           # frames in the running average of gamma stabilization
    smooth_mask: int = 0             # frames averaged by temporal mask smoothing (0/1 = off)
    export_mask_alpha: bool = False  # merged PNGs carry the mask as alpha
    force: bool = False              # re-merge frames that already have output
    workers: int = 1                 # worker processes; 1 = merge in this process
    batch_size: int = 8              # faces per model call
    identity: str = ""               # the face source's state (model name and iteration); see frame_signature


def output_paths(frame: Frame, run: RunOptions) -> tuple[Path, Path | None]:
    name = frame.stem + ".png"
    return run.output_dir / name, (run.mask_dir / name if run.mask_dir else None)


def frame_signature(run: RunOptions, cfg: MergerConfig) -> str:
    """What a merged frame depends on: the face source's state, the frame's config and the run's options."""
    parts = [run.identity, cfg.to_dict(), run.bw_output, run.stabilize_gamma, run.gamma_window, run.smooth_mask,
             run.export_mask_alpha, run.mask_dir is not None]
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


STATE_FILE = ".merge_state.json"


@dataclass
class MergeState:
    """The signature each merged frame of an output folder was made with (`frame_signature`). Resuming skips a
    frame only when its signature is unchanged: after more training, other settings or another model the
    frame is merged again (DFL re-merges everything once the model's iteration changed)."""

    path: Path
    frames: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, output_dir: Path) -> "MergeState":
        path = Path(output_dir) / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            frames = {str(k): str(v) for k, v in data.get("frames", {}).items()}
        except (OSError, ValueError, AttributeError):
            frames = {}
        return cls(path, frames)

    def save(self) -> None:
        if self.path.parent.is_dir():
            atomic_write_text(self.path, json.dumps({"frames": self.frames}, indent=0, sort_keys=True) + "\n")

    def is_done(self, frame: Frame, run: RunOptions, cfg: MergerConfig) -> bool:
        out, mask = output_paths(frame, run)
        return (self.frames.get(frame.name) == frame_signature(run, cfg) and out.exists()
                and (mask is None or mask.exists()))
