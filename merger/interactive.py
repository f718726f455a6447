"""The interactive merger: a pure state machine (per-frame configs, navigation, DFL's key bindings) that tests
drive with key events, and a thin OpenCV window driver around it.

Keys (Shift = the upper-case letter or the shifted symbol): Tab help/preview, Esc save and quit, ` and 1-6 modes,
Q/A hist threshold, W/S erode, E/D blur, R/F motion blur, Y/H blur/sharpen, N sharpen mode, U/J face scale,
I/K denoise, O/L bicubic degrade, P / ; : colour degrade, Z masked hist match, X mask mode, C colour transfer,
`,` `.` previous/next frame (Shift: first frame / process the rest), M previous frame taking this config
(Shift: back to the first frame), `/` next frame taking this config (Shift: this config for all remaining frames),
Enter process the remaining frames, - = zoom, V checkerboard.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from core.window import KeyDecoder, close_window, open_window, shift_query, was_closed
from merger.config import MergerConfig, MergeSession, step_field
from merger.modes import HIST_OPTIONS, MERGE_MODES

# key -> (field, step); Shift multiplies the step by 5.
FIELD_KEYS: dict[str, tuple[str, int]] = {
    "q": ("hist_match_threshold", 1), "a": ("hist_match_threshold", -1),
    "w": ("erode_mask_modifier", 1), "s": ("erode_mask_modifier", -1),
    "e": ("blur_mask_modifier", 1), "d": ("blur_mask_modifier", -1),
    "r": ("motion_blur_power", 1), "f": ("motion_blur_power", -1),
    "y": ("blursharpen_amount", 1), "h": ("blursharpen_amount", -1),
    "u": ("output_face_scale", 1), "j": ("output_face_scale", -1),
    "i": ("image_denoise_power", 1), "k": ("image_denoise_power", -1),
    "o": ("bicubic_degrade_power", 1), "l": ("bicubic_degrade_power", -1),
    "p": ("color_degrade_power", 1), ";": ("color_degrade_power", -1), ":": ("color_degrade_power", -5),
}


def mode_keys() -> dict[str, str]:
    """key -> merge mode, from the registry (`MergeMode.key`: ` and 1-6 for DFL's modes)."""
    return {mode.key: name for name, mode in MERGE_MODES.items()}


HELP_LINES = (
    "Interactive merger - keys",
    "Tab: help / preview       Esc: save and quit        Enter: merge all remaining frames",
    f"{' '.join(mode_keys())}: mode {' / '.join(mode_keys().values())}",
    "W/S erode mask +/-       E/D blur mask +/-          R/F motion blur +/-",
    "Y/H blur-sharpen +/-     N sharpen mode             U/J output face smaller / larger",
    "Q/A hist match threshold  Z masked hist match        X mask mode    C color transfer",
    "I/K denoise degrade      O/L bicubic degrade        P ; colour degrade +/-  (: -5)",
    "Shift + key: steps of 5",
    ", / . : previous / next frame     Shift+, : first frame      Shift+. (>): merge all remaining",
    "M: previous frame taking this config     Shift+M: back to the first frame, all taking this config",
    "/ : next frame taking this config        Shift+/ (?): this config for every remaining frame",
    "- / = : zoom out / in    V: checkerboard behind the mask",
)


@dataclass
class InteractiveState:
    """Per-frame configs and the view; `handle(key, shift)` applies one key press and says what happened:
    None (nothing), 'config' (the current frame's config changed), 'frame' (another frame is current),
    'view' (screen/zoom/checkerboard), 'quit' or 'process' (merge every remaining frame)."""

    names: list[str]
    base: MergerConfig
    mask_modes: tuple[str, ...]
    configs: list[MergerConfig | None] = field(default_factory=list)
    index: int = 0
    screen: str = "help"
    zoom: float = 1.0
    checkerboard: bool = False
    message: str = ""

    def __post_init__(self) -> None:
        if not self.configs:
            self.configs = [None] * len(self.names)
        if self.configs[0] is None:
            self.configs[0] = self.base

    @classmethod
    def from_session(cls, names: list[str], session: MergeSession, mask_modes: tuple[str, ...]) -> "InteractiveState":
        return cls(names, session.base, mask_modes, [session.frames.get(n) for n in names])

    @property
    def cfg(self) -> MergerConfig:
        return self.configs[self.index]

    def effective(self, index: int) -> MergerConfig:
        """The config frame `index` gets: its own, or the nearest earlier frame's."""
        for i in range(index, -1, -1):
            if self.configs[i] is not None:
                return self.configs[i]
        return self.base

    def to_session(self) -> MergeSession:
        """Only frames whose config differs from what they would inherit are stored."""
        frames, current = {}, self.base
        for name, cfg in zip(self.names, self.configs):
            if cfg is not None and cfg != current:
                frames[name] = cfg
            current = cfg if cfg is not None else current
        return MergeSession(self.base, frames)

    # -- key handling --------------------------------------------------------------------------------------
    def _set(self, cfg: MergerConfig) -> str | None:
        if cfg == self.cfg:
            return None
        self.configs[self.index] = cfg
        return "config"

    def _go(self, index: int) -> str | None:
        index = max(0, min(len(self.names) - 1, index))
        if index == self.index:
            self.message = "first frame" if index == 0 else "last frame"
            return None
        step = 1 if index > self.index else -1
        for i in range(self.index + step, index + step, step):
            if self.configs[i] is None:
                self.configs[i] = self.configs[i - 1] if step > 0 else self.effective(i)
        self.index = index
        return "frame"

    def handle(self, key: str, shift: bool = False) -> str | None:
        self.message = ""
        if key == "tab":
            self.screen = "main" if self.screen == "help" else "help"
            return "view"
        if key == "esc":
            return "quit"
        if key == "enter":
            return "process"
        if (mode := mode_keys().get(key)) is not None:
            return self._set(self.cfg.copy(mode=mode))
        if key in FIELD_KEYS:
            name, step = FIELD_KEYS[key]
            if name in HIST_OPTIONS and name not in self.cfg.merge_mode.options:
                return None
            return self._set(step_field(self.cfg, name, step * (5 if shift and abs(step) == 1 else 1)))
        if key == "z":
            if "masked_hist_match" not in self.cfg.merge_mode.options:
                return None
            return self._set(self.cfg.copy(masked_hist_match=not self.cfg.masked_hist_match))
        if key == "x":
            modes = self.mask_modes
            cur = modes.index(self.cfg.mask_mode) if self.cfg.mask_mode in modes else -1
            return self._set(self.cfg.copy(mask_mode=modes[(cur + 1) % len(modes)]))
        if key == "c":
            return self._set(step_field(self.cfg, "color_transfer_mode", 1))
        if key == "n":
            return self._set(step_field(self.cfg, "sharpen_mode", 1))
        if key == ",":
            return self._go(0 if shift else self.index - 1)
        if key == ".":
            return "process" if shift else self._go(self.index + 1)
        if key == "m":
            if self.index == 0:
                return None
            target = 0 if shift else self.index - 1
            for i in range(target, self.index):
                self.configs[i] = self.cfg
            self.index = target
            return "frame"
        if key == "/":
            if self.index + 1 >= len(self.names):
                return None
            if shift:
                for i in range(self.index + 1, len(self.names)):
                    self.configs[i] = None
            self.configs[self.index + 1] = self.cfg
            self.index += 1
            return "frame"
        if key == "-":
            self.zoom = max(0.1, round(self.zoom - 0.1, 2))
            return "view"
        if key == "=":
            self.zoom = min(4.0, round(self.zoom + 0.1, 2))
            return "view"
        if key == "v":
            self.checkerboard = not self.checkerboard
            return "view"
        if key in ("t", "g"):  # DFL's super resolution power keys
            self.message = "no super resolution: no package ships DFL's FaceEnhancer weights"
            return "view"
        return None


# -------------------------------------------------------------------------------------------- rendering ---

def checkerboard(h: int, w: int, cell: int = 16) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    board = ((ys // cell + xs // cell) % 2).astype(np.float32)
    return (0.55 + 0.25 * board)[..., None]


VIEW_SIZE = (1368, 840)   # the largest frame view (w, h) at zoom 1 (DFL's merger window is 1368 wide)
BAR_LINE = 20


def status_lines(state: InteractiveState, title: str) -> list[str]:
    """The status bar: where we are, the main settings, and every other setting that is not at its default."""
    cfg, default = state.cfg, MergerConfig()
    first = (f"{title}  [{state.index + 1}/{len(state.names)}]  {cfg.mode}  mask {cfg.mask_mode}  "
             f"erode {cfg.erode_mask_modifier}  blur {cfg.blur_mask_modifier}  ct {cfg.color_transfer_mode}")
    shown = {"mode", "mask_mode", "erode_mask_modifier", "blur_mask_modifier", "color_transfer_mode"}
    extra = [f"{name} {getattr(cfg, name)}" for name in cfg.to_dict() if name not in shown and cfg.listed(name)
             and (getattr(cfg, name) != getattr(default, name) or name == "hist_match_threshold")]
    second = "  ".join(extra + ([state.message] if state.message else []) + ["Tab: keys"])
    return [first, second]


def view_image(image: np.ndarray, mask: np.ndarray, state: InteractiveState, title: str) -> np.ndarray:
    """What the window shows: the merged frame (optionally over a checkerboard through the mask), fitted into
    VIEW_SIZE and zoomed, above a two-line status bar."""
    img = image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
    if state.checkerboard and mask.shape[:2] == img.shape[:2]:
        a = mask[..., None].astype(np.float32)
        img = (img.astype(np.float32) * a + 255.0 * checkerboard(*img.shape[:2]) * (1 - a)).astype(np.uint8)
    scale = min(1.0, VIEW_SIZE[0] / img.shape[1], VIEW_SIZE[1] / img.shape[0]) * state.zoom
    if abs(scale - 1.0) > 1e-3:
        img = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    lines = status_lines(state, title)
    bar = np.zeros((BAR_LINE * len(lines) + 6, max(img.shape[1], 640), 3), np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(bar, text, (6, BAR_LINE * (i + 1) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
    canvas = np.zeros((img.shape[0] + bar.shape[0], bar.shape[1], 3), np.uint8)
    canvas[:img.shape[0], :img.shape[1]] = img
    canvas[img.shape[0]:] = bar
    return canvas


def help_image(width: int = 1000) -> np.ndarray:
    canvas = np.full((30 + 26 * len(HELP_LINES), width, 3), 32, np.uint8)
    for i, line in enumerate(HELP_LINES):
        cv2.putText(canvas, line, (12, 30 + 26 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255) if i else (120, 220, 255), 1, cv2.LINE_AA)
    return canvas


def run_window(state: InteractiveState, render: Callable[[int, MergerConfig], tuple[np.ndarray, np.ndarray]],
               save: Callable[[InteractiveState], None], window: str = "Merger",
               decoder: KeyDecoder | None = None) -> str:
    """Show the merger window until Esc ('quit') or a process-the-rest key ('process'); the session is saved
    after every frame change and at the end. The window is sized to what it shows; it is redrawn only after a
    key press changed something."""
    decoder = decoder or KeyDecoder(shift_query())
    open_window(window, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
    cache_key, frame_view = None, None
    canvas, window_size = None, None
    action = None
    try:
        while True:
            if canvas is None:
                if state.screen == "help":
                    canvas = help_image()
                else:
                    key = (state.index, state.cfg)
                    if key != cache_key:
                        try:
                            frame_view = render(state.index, state.cfg)
                        except (UserError, cv2.error, ValueError) as err:   # one bad frame must not end the session
                            state.message = f"cannot merge this frame: {str(err).strip()[:80]}"
                            interact.log_warn(f"{state.names[state.index]}: {state.message}")
                            frame_view = (np.zeros((240, 320, 3), np.uint8), np.zeros((240, 320), np.float32))
                        cache_key = key
                    canvas = view_image(*frame_view, state, state.names[state.index])
                if canvas.shape[:2] != window_size:
                    window_size = canvas.shape[:2]
                    cv2.resizeWindow(window, canvas.shape[1], canvas.shape[0])
                cv2.imshow(window, canvas)
            code = cv2.waitKeyEx(50)
            if was_closed(window):
                action = "quit"
                break
            pressed = decoder.decode(code)
            if pressed is None:
                continue
            action = state.handle(*pressed)
            canvas = None
            if action == "config":
                interact.log_info(state.cfg.summary(state.names[state.index]))
            elif action == "frame":
                save(state)
            elif action in ("quit", "process"):
                break
    finally:
        save(state)
        close_window(window)
    return action or "quit"
