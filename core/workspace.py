"""The one definition of the DeepFaceLab workspace layout; no other module hard-codes these paths."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

