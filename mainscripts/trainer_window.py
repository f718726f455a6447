"""The "Training preview" window: a key -> action state machine (testable with synthetic keys) and a thin
OpenCV driver. Keys are DFL's plus the SAEHDBW fork's easier-to-hit digits."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Sequence

import cv2
import numpy as np

from core.window import close_window, open_window
from models import preview as pv

WINDOW_TITLE = "Training preview"
# Loss-graph ranges cycled by `l`/`1` (iterations; 0 = the whole history).
HISTORY_RANGES = (0, 1000, 5000, 10000, 50000, 100000, 500000)


class Action(Enum):
    NONE = "none"
    EXIT = "exit"                  # save and stop
    SAVE = "save"
    BACKUP = "backup"
    REFRESH_PREVIEW = "refresh"    # draw a new training batch for the preview
    NEXT_PREVIEW = "next_preview"  # switch preview type (window-only)
    CYCLE_RANGE = "cycle_range"    # loss-graph range (window-only)


KEYMAP: dict[int, Action] = {
    13: Action.EXIT, 10: Action.EXIT,
    ord("s"): Action.SAVE, ord("2"): Action.SAVE,
    ord("b"): Action.BACKUP, ord("0"): Action.BACKUP,
    ord("p"): Action.REFRESH_PREVIEW, **{ord(str(d)): Action.REFRESH_PREVIEW for d in range(3, 10)},
    ord(" "): Action.NEXT_PREVIEW,
    ord("l"): Action.CYCLE_RANGE, ord("1"): Action.CYCLE_RANGE,
}

HELP_LINES = ("[s/2]:save [b/0]:backup [enter]:exit",
              "[p/3-9]:update [space]:next preview [l/1]:change history range")
CHOOSER_LINES = ("Choose image for the preview history.",
                 "[p] - next. [space] - switch preview type. [enter] - confirm.")


@dataclass
class TrainerWindowState:
    """What the window shows; `handle_key` returns the action for the trainer and updates view state."""

    preview_index: int = 0
    range_index: int = 0
    preview_count: int = 1
    needs_redraw: bool = True
    previews: list[tuple[str, np.ndarray]] = field(default_factory=list)
    help_lines: tuple[str, ...] = HELP_LINES

    def handle_key(self, key: int) -> Action:
        if key is None or key < 0:
            return Action.NONE
        action = KEYMAP.get(key & 0xFF, Action.NONE)
        if action is Action.NEXT_PREVIEW:
            self.preview_index = (self.preview_index + 1) % max(1, self.preview_count)
            self.needs_redraw = True
        elif action is Action.CYCLE_RANGE:
            self.range_index = (self.range_index + 1) % len(HISTORY_RANGES)
            self.needs_redraw = True
        return action

    def set_previews(self, previews: Sequence[tuple[str, np.ndarray]]) -> None:
        self.previews = list(previews)
        self.preview_count = max(1, len(self.previews))
        self.preview_index %= self.preview_count
        self.needs_redraw = True

    @property
    def history_range(self) -> int:
        return HISTORY_RANGES[self.range_index]

    def history_slice(self, history: np.ndarray) -> np.ndarray:
        span = self.history_range
        return history[-span:] if span and len(history) > span else history

    def header_lines(self, model_info: str) -> list[str]:
        name = self.previews[self.preview_index][0] if self.previews else "-"
        span = self.history_range
        lines = list(self.help_lines)
        lines.append(f'Preview: "{name}" [{self.preview_index + 1}/{self.preview_count}]  '
                     f'graph: {"all" if not span else f"last {span}"} iterations')
        lines.append(model_info)
        return lines

    def render(self, history: np.ndarray, iteration: int, model_info: str) -> np.ndarray | None:
        """The full window image, or None before the first preview arrives."""
        self.needs_redraw = False
        if not self.previews:
            return None
        image = self.previews[self.preview_index][1]
        return pv.compose(image, self.history_slice(history), iteration, self.header_lines(model_info))


class TrainerWindow:
    """Shows `TrainerWindowState.render()` with OpenCV and turns key presses into actions."""

    def __init__(self, state: TrainerWindowState | None = None):
        self.state = state or TrainerWindowState()
        open_window(WINDOW_TITLE)

    def show(self, history: np.ndarray, iteration: int, model_info: str) -> None:
        image = self.state.render(history, iteration, model_info)
        if image is not None:
            cv2.imshow(WINDOW_TITLE, image)

    def poll(self, wait_ms: int = 50) -> Action:
        return self.state.handle_key(cv2.waitKey(wait_ms))

    def close(self) -> None:
        close_window(WINDOW_TITLE)
