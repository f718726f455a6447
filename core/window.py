"""What every OpenCV window of the toolkit shares: opening one without Qt's toolbar and noticing it was closed,
the display check, key decoding across backends (Win32, GTK, Qt) and mouse dispatch with the wheel.

Used by the four windows: the manual extractor (facelib/manual.py), the interactive merger
(merger/interactive.py), the XSeg editor (mainscripts/xseg_editor.py) and the training preview
(mainscripts/trainer_window.py). Each keeps its own state machine; this module only turns OpenCV's events into
plain values for it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import cv2

from core.errors import UserError

# ------------------------------------------------------------------------------------------------ the window ---


def can_show_window() -> bool:
    """True when a window may open: a display and an interactive session."""
    from core import config
    s = config.settings()
    return not s.non_interactive and s.has_display


def require_window(what: str, needs: str = "a display") -> None:
    """A one-line UserError when no window can open: '<what> needs <needs> and an interactive session ...'."""
    if not can_show_window():
        raise UserError(f"{what} needs {needs} and an interactive session (no display or --non-interactive)")


def open_window(name: str, flags: int = cv2.WINDOW_AUTOSIZE,
                on_mouse: Callable[[int, int, int, int], None] | None = None) -> None:
    """A named window with GUI_NORMAL: no Qt toolbar, whose own zoom on the wheel and menu on right click would
    fight the windows' gestures (DFL's windows had none). `on_mouse(event, x, y, flags)` gets the mouse."""
    cv2.namedWindow(name, flags | cv2.WINDOW_GUI_NORMAL)
    if on_mouse is not None:
        cv2.setMouseCallback(name, lambda event, x, y, mouse_flags, _: on_mouse(event, x, y, mouse_flags))


def close_window(name: str) -> None:
    cv2.destroyWindow(name)


@contextmanager
def opened(name: str, flags: int = cv2.WINDOW_AUTOSIZE,
           on_mouse: Callable[[int, int, int, int], None] | None = None) -> Iterator[str]:
    """`open_window` for the length of a `with` block; the window is destroyed however the block ends."""
    open_window(name, flags, on_mouse)
    try:
        yield name
    finally:
        close_window(name)


def was_closed(name: str) -> bool:
    """True once the user closed the window with its title bar button."""
    return cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) < 1


# ------------------------------------------------------------------------------------------------------ keys ---

SHIFTED = {"<": ",", ">": ".", "?": "/", "~": "`"}   # shifted symbols of a US keyboard -> their key
SPECIAL_KEYS = {9: "tab", 27: "esc", 13: "enter", 10: "enter",
                0xFF09: "tab", 0xFF1B: "esc", 0xFF0D: "enter", 0xFF8D: "enter"}   # GTK key symbols


def normalize_key(code: int | None) -> tuple[str, bool] | None:
    """An OpenCV `waitKeyEx` code as (key, shift); None for no key or a key without a binding."""
    if code is None or code < 0:
        return None
    if code in SPECIAL_KEYS:
        return SPECIAL_KEYS[code], False
    if code >= 0x100:
        return None
    ch = chr(code)
    if ch in SHIFTED:
        return SHIFTED[ch], True
    if ch.isalpha() and ch.isupper():
        return ch.lower(), True
    return ch, False


SHIFT_CODES = {0xFFE1, 0xFFE2}   # Shift_L / Shift_R key symbols: Qt reports the Shift key press on its own
STICKY_SHIFT_SECONDS = 1.5


class KeyDecoder:
    """`waitKeyEx` codes -> (key, shift) across OpenCV backends. Win32 and GTK deliver Shift+E as 'E', but Qt (the
    Linux wheels) delivers the Shift press as its own code and then a lower-case 'e'. So Shift counts when the
    letter comes upper-case, when a Shift press came just before it, or when `shift_held()` (a query of the
    keyboard, see `shift_query`) says Shift is down - the latter covers several presses while Shift is held."""

    def __init__(self, shift_held: Callable[[], bool] | None = None, clock: Callable[[], float] = time.monotonic):
        self.shift_held = shift_held
        self.clock = clock
        self._shift_at: float | None = None

    def decode(self, code: int | None) -> tuple[str, bool] | None:
        if code is not None and code in SHIFT_CODES:
            self._shift_at = self.clock()
            return None
        pressed = normalize_key(code)
        if pressed is None:
            return None
        key, shift = pressed
        recent = self._shift_at is not None and self.clock() - self._shift_at < STICKY_SHIFT_SECONDS
        self._shift_at = None
        held = bool(self.shift_held and self.shift_held())
        return key, shift or recent or held


def shift_query() -> Callable[[], bool] | None:
    """A function telling whether a Shift key is down right now (Windows API, or the X11 keymap), or None."""
    try:
        if sys.platform == "win32":
            user32 = ctypes.windll.user32
            return lambda: bool(user32.GetAsyncKeyState(0x10) & 0x8000)
        name = ctypes.util.find_library("X11")
        if not name:
            return None
        x11 = ctypes.cdll.LoadLibrary(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x11.XQueryKeymap.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        display = x11.XOpenDisplay(None)
        if not display:
            return None
        keycodes = [c for c in (x11.XKeysymToKeycode(display, sym) for sym in SHIFT_CODES) if c]
        keymap = ctypes.create_string_buffer(32)

        def held() -> bool:
            x11.XQueryKeymap(display, keymap)
            return any(keymap.raw[c // 8] & (1 << (c % 8)) for c in keycodes)
        return held
    except (OSError, AttributeError):
        return None


# ----------------------------------------------------------------------------------------------------- mouse ---

MOUSE_EVENTS = {
    cv2.EVENT_MOUSEMOVE: "move",
    cv2.EVENT_LBUTTONDOWN: "left_down", cv2.EVENT_LBUTTONUP: "left_up",
    cv2.EVENT_RBUTTONDOWN: "right_down",
    cv2.EVENT_MBUTTONDOWN: "middle_down", cv2.EVENT_MBUTTONUP: "middle_up",
    cv2.EVENT_MOUSEWHEEL: "wheel",
}


@dataclass(frozen=True)
class Mouse:
    """One mouse event in window pixels, with the modifier keys held and (for the wheel) its signed step."""

    x: int
    y: int
    shift: bool = False
    ctrl: bool = False
    wheel: int = 0

    @property
    def wheel_up(self) -> bool:
        return self.wheel > 0


def wheel_delta(flags: int) -> int:
    """The signed wheel step packed in the high 16 bits of OpenCV's mouse flags."""
    delta = (int(flags) >> 16) & 0xFFFF
    return delta - 0x10000 if delta >= 0x8000 else delta


def dispatch_mouse(handlers: Mapping[str, Callable[[Mouse], None]], event: int, x: int, y: int,
                   flags: int) -> None:
    """Call the handler of an OpenCV mouse callback's event ('move', 'left_down', 'left_up', 'right_down',
    'middle_down', 'middle_up', 'wheel'; see MOUSE_EVENTS), if the window has one."""
    handler = handlers.get(MOUSE_EVENTS.get(event, ""))
    if handler is not None:
        handler(Mouse(x, y, bool(flags & cv2.EVENT_FLAG_SHIFTKEY), bool(flags & cv2.EVENT_FLAG_CTRLKEY),
                      wheel_delta(flags) if event == cv2.EVENT_MOUSEWHEEL else 0))
