"""The one definition of the DeepFaceLab workspace layout; no other module hard-codes these paths. Also which
workspace the numbered scripts use: the toolkit's `workspace/` unless `current_workspace.txt` in the toolkit folder
names another (written by `main.py workspace new` / `use`, read by setenv.sh and setenv.bat)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


@dataclass(frozen=True)
class Workspace:
    root: Path
    dst: str = "data_dst"  # the dst frames folder's name (another for frames outside a workspace)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def around_frames(cls, frames_dir: str | Path) -> "Workspace":
        """A folder of frames outside any workspace, laid out as one: FRAMES plays data_dst (FRAMES/aligned,
        FRAMES/merged), `FRAMES.<video ext>` beside it is its video, result.mp4 goes beside it."""
        frames_dir = Path(frames_dir)
        return cls(frames_dir.parent, frames_dir.name)

    @property
    def data_src(self) -> Path:
        return self.root / "data_src"

    @property
    def data_dst(self) -> Path:
        return self.root / self.dst

    @property
    def src_aligned(self) -> Path:
        return self.data_src / "aligned"

    @property
    def dst_aligned(self) -> Path:
        return self.data_dst / "aligned"

    @property
    def src_aligned_bw(self) -> Path:
        """Grayscale copies for SAEHDBW (`resize-to-grayscale`, step 4.2); the BW train scripts prefer them."""
        return self.data_src / "aligned_bw"

    @property
    def dst_aligned_bw(self) -> Path:
        return self.data_dst / "aligned_bw"

    @property
    def src_aligned_debug(self) -> Path:
        return self.data_src / "aligned_debug"

    @property
    def dst_aligned_debug(self) -> Path:
        return self.data_dst / "aligned_debug"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def merged(self) -> Path:
        return self.data_dst / "merged"

    @property
    def merged_mask(self) -> Path:
        return self.data_dst / "merged_mask"

    @property
    def predicted(self) -> Path:
        return self.data_dst / "predicted"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def result(self) -> Path:
        return self.root / "result.mp4"

    @property
    def result_mask(self) -> Path:
        return self.root / "result_mask.mp4"

    def video(self, stem: str) -> Path | None:
        """The `data_src.*` / `data_dst.*` video, whatever its extension, or None."""
        for ext in VIDEO_EXTS:
            candidate = self.root / f"{stem}{ext}"
            if candidate.exists():
                return candidate
        return None

    def dst_video(self) -> Path | None:
        """The video the dst frames come from (`data_dst.*`), or None."""
        return self.video(self.dst)

    def create(self) -> None:
        for folder in (self.data_src, self.data_dst, self.src_aligned, self.dst_aligned, self.model):
            folder.mkdir(parents=True, exist_ok=True)


def workspace_above(*paths: str | Path | None) -> Workspace | None:
    """The workspace holding one of `paths`: the nearest folder above it with a `data_dst` folder or video."""
    for value in paths:
        for folder in Path(value).absolute().parents if value else ():
            ws = Workspace(folder)
            if ws.data_dst.is_dir() or ws.dst_video():
                return ws
    return None



# ------------------------------------------------------------------------------------------ the current one ---

CURRENT_FILE = "current_workspace.txt"   # in the toolkit folder: one line, the workspace the scripts use
DEFAULT_NAME = "workspace"               # the toolkit's own workspace (DFL's; the demo's)
WORKSPACES_DIR = "workspaces"            # where `workspace new NAME` makes a workspace given by a plain name
_PLAIN_NAME = re.compile(r"^[\w][\w .+-]*$")


def default_workspace(root: Path) -> Path:
    return Path(root) / DEFAULT_NAME


# setenv.bat reads the file with `set /p`, in the console's (OEM) code page; setenv.sh and Python read UTF-8.
_ENCODING = "oem" if os.name == "nt" else "utf-8"


def read_current(root: Path) -> Path | None:
    """The workspace `current_workspace.txt` in toolkit folder `root` names, or None."""
    try:
        data = (Path(root) / CURRENT_FILE).read_bytes()
    except OSError:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode(_ENCODING, errors="replace")
    lines = text.splitlines()
    return Path(lines[0].strip()) if lines and lines[0].strip() else None


def current_workspace(root: Path) -> Path:
    """The workspace the numbered scripts use when WORKSPACE is not set: the remembered one, else `workspace/`."""
    return read_current(root) or default_workspace(root)


def remember_current(root: Path, folder: Path) -> Path:
    """Make `folder` the workspace of the numbered scripts; returns the file that remembers it."""
    from core.fsio import atomic_write_bytes
    path = Path(root) / CURRENT_FILE
    line = f"{Path(folder).absolute()}{os.linesep}"
    try:
        data = line.encode(_ENCODING)
    except UnicodeEncodeError:      # a name the console's code page cannot spell: UTF-8 (setenv.bat may misread it)
        data = line.encode("utf-8")
    atomic_write_bytes(path, data)
    return path


def workspace_folder(name: str, root: Path) -> Path:
    """The folder a workspace name means: a plain name is `workspaces/<name>` in the toolkit folder (the toolkit's
    own `workspace` is `workspace/`); anything with a slash, `~` or a drive is a path."""
    name = name.strip().strip('"')
    if not name:
        raise UserError("a workspace needs a name or a folder")
    if name == DEFAULT_NAME:
        return default_workspace(root)
    if _PLAIN_NAME.match(name) and name not in (".", ".."):
        return Path(root) / WORKSPACES_DIR / name
    return Path(name).expanduser().absolute()


def free_workspace_name(root: Path, stem: str = "project") -> str:
    """The first of `<stem>1`, `<stem>2`, ... that names no folder yet (a default for `workspace new`)."""
    number = 1
    while workspace_folder(f"{stem}{number}", root).exists():
        number += 1
    return f"{stem}{number}"


def known_workspaces(root: Path) -> list[Path]:
    """The toolkit's `workspace/` and every folder in `workspaces/`, those that exist."""
    found = [default_workspace(root)] if default_workspace(root).is_dir() else []
    folder = Path(root) / WORKSPACES_DIR
    return found + (sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else [])
