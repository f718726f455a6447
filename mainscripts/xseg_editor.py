"""`main.py xseg editor --input-dir DIR`: draw XSeg include/exclude polygons on aligned faces in an OpenCV window.

`EditorState` holds everything the window shows and reacts to DFL's keys and mouse gestures; it never touches a
window, so tests drive it with synthetic events. `run_window` is the thin OpenCV loop around it. Handlers take
window pixels; `view` maps aligned-image pixels (where the polygons live) to window pixels.

Keys: Q / W polygon type include / exclude; Ctrl+Z or Z undo the last point, Ctrl+Y, Y or Shift+Z redo it
(OpenCV cannot tell Ctrl+Shift+Z from Ctrl+Z, and its Qt backend on Linux swallows Ctrl+letter keys, hence the
plain-letter twins); Delete or Backspace delete the selected polygon; 1 / 2 / 3 colour scheme red / green / blue;
4 baked mask (the polygons rendered), 5 applied (trained) XSeg mask, ` XSeg mask over the face (each toggles);
A / D save and go to the previous / next face (Shift: 5 faces), S / F (Win32 also Ctrl+A / Ctrl+D) to the
previous / next face that has polygons; X move the face to `<DIR>_trash`; Esc / Enter save and quit; H help.
Mouse: left click on a polygon's outline selects it, elsewhere starts a polygon; while drawing each click adds a
point and clicking the first point of a 3+ point polygon closes it; left drag moves a point of the selected
polygon, Ctrl+click deletes a point or inserts one on an edge; middle drag pans; the wheel zooms (1-20x);
holding Shift while drawing locks the view centre to the cursor: the face scrolls under a cross at the window's
centre as the mouse moves, and a click adds the point under the cross (long outlines at high zoom).

A face's polygons are written back (`write_meta`: atomic, pixels not recompressed) when it is left or the editor
quits, and only when they differ from the stored ones; an empty set removes the key.
"""
from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core import interact
from core.errors import UserError
from core.imagelib.text import put_outlined_text
from core.window import KeyDecoder, Mouse, dispatch_mouse, opened, require_window, shift_query, was_closed
from facelib.meta import FaceFileError, FaceMeta, load_face, read_meta, write_meta
from facelib.xseg_polys import EXCLUDE, INCLUDE, has_polys, is_drawable, polys_equal, render_polys
from mainscripts.sort import free_name, trash_dir
from mainscripts.util import face_files, checked_input_dir

WINDOW_NAME = "XSeg editor"
WINDOW_SIZE = 800
THUMB = 64                 # thumbnail strip: squares of this size under the face
STRIP_HEIGHT = THUMB + 12
POINT_RADIUS = 8.0         # window pixels within which a click hits a point
EDGE_RADIUS = 6.0          # ... an outline
ZOOM_STEP = 1.25
MAX_ZOOM = 20.0
NAV_STEP = 5               # faces skipped by Shift+A / Shift+D
BGR = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}
SCHEMES = {  # scheme key -> (name, include colour, exclude colour: its complement)
    "1": ("red", BGR["red"], (255, 255, 0)),
    "2": ("green", BGR["green"], (255, 0, 255)),
    "3": ("blue", BGR["blue"], (0, 255, 255)),
}
VIEW_KEYS = {"4": "baked", "5": "mask", "`": "overlay"}
TYPE_NAMES = {INCLUDE: "include", EXCLUDE: "exclude"}
HELP_LINES = (
    "[Q] include  [W] exclude  [1/2/3] colours red/green/blue",
    "[Ctrl+Z / Z] undo point  [Ctrl+Y / Y / Shift+Z] redo point",
    "[Del / Backspace] delete the selected polygon",
    "[4] baked mask  [5] XSeg mask  [`] XSeg mask overlay",
    "[A / D] save, previous / next  [Shift] 5 faces  [S / F] prev / next with polygons",
    "[X] move to <dir>_trash  [Esc / Enter] save and quit  [H] hide help",
    "L click: select outline / new polygon / add point (first point closes)",
    "L drag: move point  Ctrl+click: delete point / insert on edge",
    "M drag: pan  Wheel: zoom  Shift (drawing): view follows the cursor",
)


@dataclass
class Poly:
    """One polygon being edited: its type, its points (aligned-image pixels) and the points undo took away."""

    type: int
    pts: list[tuple[float, float]]
    redo: list[tuple[float, float]] = field(default_factory=list)

    def as_meta(self) -> dict:
        return {"type": self.type, "pts": np.asarray(self.pts, np.float32).reshape(-1, 2)}


def scan_faces(files: list[Path]) -> tuple[list[Path], set[str]]:
    """The files that carry face metadata (others are skipped with a warning) and the names of those that have
    polygons."""
    faces, labeled = [], set()
    for path in files:
        try:
            meta = read_meta(path)
        except FaceFileError as err:
            interact.log_warn(f"Skipping {err}")
            continue
        if meta is None:
            interact.log_warn(f"Skipping {path.name}: no face metadata")
            continue
        faces.append(path)
        if has_polys(meta.xseg_polys):
            labeled.add(path.name)
    return faces, labeled


@dataclass
class EditorState:
    """What the editor window shows and how it reacts to events. `mode` is 'idle', 'draw' (polygon `active` is
    open and clicks add points) or 'edit' (polygon `active` is selected)."""

    paths: list[Path]
    labeled: set[str] = field(default_factory=set)
    window_size: int = WINDOW_SIZE
    index: int = 0
    poly_type: int = INCLUDE
    scheme: str = "1"
    view_mode: str = "image"     # image | baked | mask | overlay
    show_help: bool = True
    zoom: float = 1.0
    finished: bool = False
    message: str = ""
    polys: list[Poly] = field(default_factory=list)
    mode: str = "idle"
    active: int | None = None
    cursor: tuple[float, float] = (0.0, 0.0)  # last mouse position, window pixels
    _centre: np.ndarray = field(default_factory=lambda: np.zeros(2))  # image point at the view's centre
    _drag: int | None = None                  # index of the point being dragged
    _pan: tuple[np.ndarray, np.ndarray] | None = None  # (window point, centre) where the middle drag began
    _lock: tuple[np.ndarray, np.ndarray] | None = None  # (window point, centre) where the Shift view lock began
    _image: np.ndarray | None = None
    _meta: FaceMeta | None = None
    _thumbs: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.paths:
            raise UserError("the XSeg editor has no faces to show")
        self._enter(self.index)

    # ------------------------------------------------------------------------------------------- geometry ---
    @property
    def image(self) -> np.ndarray:
        return self._image

    @property
    def path(self) -> Path:
        return self.paths[self.index]

    @property
    def window_shape(self) -> tuple[int, int]:
        """(height, width) of the rendered window: the square face view above the thumbnail strip."""
        return self.window_size + STRIP_HEIGHT, self.window_size

    @property
    def scale(self) -> float:
        h, w = self._image.shape[:2]
        return self.window_size / max(h, w) * self.zoom

    @property
    def view(self) -> np.ndarray:
        """2x3 matrix from aligned-image pixels to window pixels."""
        s, half = self.scale, self.window_size / 2
        cx, cy = self._centre
        return np.array([[s, 0, half - s * cx], [0, s, half - s * cy]], np.float64)

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        s, half = self.scale, self.window_size / 2
        return float((x - half) / s + self._centre[0]), float((y - half) / s + self._centre[1])

    def to_window(self, pts) -> np.ndarray:
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        return pts * self.scale + (self.window_size / 2 - self.scale * self._centre)

    def _set_centre(self, centre) -> None:
        h, w = self._image.shape[:2]
        self._centre = np.clip(np.asarray(centre, np.float64), (0, 0), (w, h))

    def _reset_view(self) -> None:
        h, w = self._image.shape[:2]
        self.zoom = 1.0
        self._centre = np.array([w / 2, h / 2], np.float64)

    # ------------------------------------------------------------------------------------------- hit tests ---
    def _hit_point(self, i: int, x: float, y: float) -> int | None:
        """Index of the point of polygon `i` under window (x, y), if any."""
        pts = self.polys[i].pts
        if not pts:
            return None
        d = np.hypot(*(self.to_window(pts) - (x, y)).T)
        j = int(np.argmin(d))
        return j if d[j] <= POINT_RADIUS else None

    def _hit_edge(self, i: int, x: float, y: float) -> tuple[int, tuple[float, float]] | None:
        """(index of the edge's first point, nearest point on it in image pixels) for an outline of polygon `i`
        (closed) under window (x, y)."""
        pts = self.to_window(self.polys[i].pts)
        if len(pts) < 2:
            return None
        a, b = pts, np.roll(pts, -1, axis=0)
        ab = b - a
        t = np.clip(((np.array([x, y]) - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-9), 0, 1)
        near = a + ab * t[:, None]
        d = np.hypot(*(near - (x, y)).T)
        j = int(np.argmin(d))
        return (j, self.to_image(*near[j])) if d[j] <= EDGE_RADIUS else None

    def _poly_at(self, x: float, y: float) -> int | None:
        """The polygon whose outline or points are under window (x, y): the selected one first, then the top one."""
        order = list(range(len(self.polys) - 1, -1, -1))
        if self.active is not None:
            order.insert(0, self.active)
        for i in order:
            if self._hit_point(i, x, y) is not None or self._hit_edge(i, x, y) is not None:
                return i
        return None

    # ---------------------------------------------------------------------------------------------- faces ---
    def _enter(self, index: int) -> None:
        self.index = index
        self.mode, self.active, self._drag, self._pan, self._lock = "idle", None, None, None, None
        try:
            self._image, self._meta = load_face(self.path)
        except FaceFileError as err:
            self._image, self._meta = np.full((256, 256), 64, np.uint8), None
            self.message = str(err)
        stored = self._meta.xseg_polys if self._meta is not None else None
        self.polys = [Poly(int(p["type"]), [tuple(map(float, pt)) for pt in p["pts"]]) for p in stored or ()]
        self._reset_view()

    def stored_polys(self) -> list[dict]:
        """The current face's polygons as they would be saved (the drawable ones, in order)."""
        return [p.as_meta() for p in self.polys if is_drawable(p.as_meta())]

    def save_current(self) -> bool:
        """Write the current face's polygons into its file if they changed; False (with a message) if it failed."""
        if self._meta is None:
            return True
        polys = self.stored_polys()
        if polys_equal(polys, self._meta.xseg_polys):
            return True
        meta = self._meta.copy()
        meta.xseg_polys = polys or None
        try:
            write_meta(self.path, meta)
        except (OSError, UserError) as err:
            self.message = f"cannot save {self.path.name}: {err}"
            interact.log_err(self.message)
            return False
        self._meta = meta
        (self.labeled.add if polys else self.labeled.discard)(self.path.name)
        return True

    def _go_to(self, index: int) -> None:
        index = int(np.clip(index, 0, len(self.paths) - 1))
        if index != self.index and self.save_current():
            self.message = ""
            self._enter(index)

    def _go_labeled(self, step: int) -> None:
        """To the nearest face in direction `step` (+1 / -1) that has polygons."""
        i = self.index + step
        while 0 <= i < len(self.paths) and self.paths[i].name not in self.labeled:
            i += step
        if 0 <= i < len(self.paths):
            self._go_to(i)
        else:
            self.message = "no face with polygons " + ("after" if step > 0 else "before") + " this one"

    def _trash_current(self) -> None:
        if not self.save_current():
            return
        path = self.path
        trash = trash_dir(path.parent)
        try:
            trash.mkdir(exist_ok=True)
            shutil.move(str(path), free_name(trash, path.name))
        except OSError as err:
            self.message = f"cannot move {path.name} to {trash}: {err}"
            interact.log_err(self.message)
            return
        self.labeled.discard(path.name)
        self._thumbs.pop(str(path), None)
        del self.paths[self.index]
        if not self.paths:
            self.finished = True
            return
        self.message = f"moved {path.name} to {trash.name}"
        self._enter(min(self.index, len(self.paths) - 1))

    # -------------------------------------------------------------------------------------------- editing ---
    def _finish_drawing(self) -> None:
        """Leave drawing mode, dropping the open polygon if it has no point left."""
        if self.mode == "draw" and self.active is not None and not self.polys[self.active].pts:
            del self.polys[self.active]
        self.mode, self.active = "idle", None

    def _select(self, i: int | None) -> None:
        self._finish_drawing()
        if i is not None:
            self.mode, self.active = "edit", i

    def undo(self) -> None:
        """Take away the last point of the polygon being drawn (or reopen the selected / last polygon for it)."""
        if self.mode == "draw" and not self.polys[self.active].pts:
            self._finish_drawing()  # emptied: continue with the polygon before it
        if self.mode != "draw":
            target = self._reopen_target()
            if target is None:
                return
            self.mode, self.active = "draw", target
        poly = self.polys[self.active]
        if poly.pts:
            poly.redo.append(poly.pts.pop())

    def redo(self) -> None:
        """Give back the last point undo took away."""
        if self.mode != "draw":
            target = self._reopen_target()
            if target is None or not self.polys[target].redo:
                return
            self.mode, self.active = "draw", target
        poly = self.polys[self.active]
        if poly.redo:
            poly.pts.append(poly.redo.pop())

    def _reopen_target(self) -> int | None:
        """The polygon undo/redo work on outside drawing: the selected one, else the last one (None: none)."""
        target = self.active if self.mode == "edit" else len(self.polys) - 1
        return None if target is None or target < 0 else target

    def delete_selected(self) -> None:
        if self.active is not None:
            del self.polys[self.active]
            self.mode, self.active = "idle", None

    def set_type(self, poly_type: int) -> None:
        """Type of new polygons, and of the one being drawn."""
        self.poly_type = poly_type
        if self.mode == "draw":
            self.polys[self.active].type = poly_type

    # --------------------------------------------------------------------------------------------- events ---
    @property
    def view_locked(self) -> bool:
        return self._lock is not None

    def pointer(self, x: float, y: float) -> tuple[float, float]:
        """The window point a click at (x, y) acts on: the window's centre while the view is locked."""
        return (self.window_size / 2,) * 2 if self.view_locked else (float(x), float(y))

    def on_left_down(self, x: float, y: float, ctrl: bool = False) -> None:
        if y >= self.window_size:
            return  # the thumbnail strip
        x, y = self.pointer(x, y)
        if self.mode == "draw":
            poly = self.polys[self.active]
            if len(poly.pts) >= 3 and self._hit_point(self.active, x, y) == 0:
                poly.redo.clear()
                self.mode = "edit"  # closed: stays selected for editing
            else:
                poly.pts.append(self.to_image(x, y))
                poly.redo.clear()
            return
        if self.mode == "edit" and self._edit_click(x, y, ctrl):
            return
        hit = self._poly_at(x, y)
        if hit is not None:
            self._select(hit)
        elif self.mode == "edit":
            self._select(None)
        else:
            self.polys.append(Poly(self.poly_type, [self.to_image(x, y)]))
            self.mode, self.active = "draw", len(self.polys) - 1

    def _edit_click(self, x: float, y: float, ctrl: bool) -> bool:
        """A click on the selected polygon's points or edges; False when it hit neither."""
        poly = self.polys[self.active]
        j = self._hit_point(self.active, x, y)
        if ctrl and j is not None:
            del poly.pts[j]
            poly.redo.clear()
            if len(poly.pts) < 3:
                self.delete_selected()
            return True
        if ctrl:
            edge = self._hit_edge(self.active, x, y)
            if edge is None:
                return False
            poly.pts.insert(edge[0] + 1, edge[1])
            poly.redo.clear()
            return True
        if j is not None:
            self._drag = j
            poly.redo.clear()
            return True
        return False

    def on_left_up(self, x: float, y: float) -> None:
        self._drag = None

    def on_middle_down(self, x: float, y: float) -> None:
        self._pan = (np.array([x, y], np.float64), self._centre.copy())

    def on_middle_up(self, x: float, y: float) -> None:
        self._pan = None

    def on_mouse_move(self, x: float, y: float, shift: bool = False) -> None:
        """Pointer motion; `shift` held while drawing locks the view centre to the cursor (DFL's view lock)."""
        self.cursor = (float(x), float(y))
        self._update_lock(x, y, shift and self.mode == "draw")
        if self._pan is not None:
            start, centre = self._pan
            self._set_centre(centre - (np.array([x, y]) - start) / self.scale)
        if self._drag is not None and self.mode == "edit":
            self.polys[self.active].pts[self._drag] = self.to_image(x, y)

    def _update_lock(self, x: float, y: float, locked: bool) -> None:
        """Start, follow or end the view lock: once it starts, the image point under the cursor moves to the
        window's centre, and from then on the centre moves with the cursor."""
        if not locked:
            self._lock = None
        elif self._lock is None:
            self._set_centre(self.to_image(x, y))
            self._lock = (np.array([x, y], np.float64), self._centre.copy())
        else:
            start, centre = self._lock
            self._set_centre(centre + (np.array([x, y]) - start) / self.scale)

    def on_wheel(self, up: bool) -> None:
        """Zoom by one step around the cursor (the last mouse position; the window's centre while locked)."""
        x, y = self.pointer(*self.cursor)
        anchor = np.array(self.to_image(x, y))
        self.zoom = float(np.clip(self.zoom * (ZOOM_STEP if up else 1 / ZOOM_STEP), 1.0, MAX_ZOOM))
        if self.zoom <= 1.0:
            self._reset_view()
        else:
            self._set_centre(anchor - (np.array([x, y]) - self.window_size / 2) / self.scale)
        if self.view_locked:  # the lock follows the cursor from the new view on
            self._lock = (np.array(self.cursor, np.float64), self._centre.copy())

    def on_key(self, key: str, shift: bool = False, ctrl: bool = False) -> None:
        """One key press: `key` is the lower-case character or 'delete' / 'esc' / 'enter'."""
        if key == "z":
            self.redo() if shift else self.undo()
        elif key == "y":
            self.redo()
        elif key in ("q", "w"):
            self.set_type(INCLUDE if key == "q" else EXCLUDE)
        elif key == "delete":
            self.delete_selected()
        elif key in SCHEMES:
            self.scheme = key
        elif key in VIEW_KEYS:
            self.view_mode = "image" if self.view_mode == VIEW_KEYS[key] else VIEW_KEYS[key]
        elif (key in ("a", "d") and ctrl) or key in ("s", "f"):
            self._go_labeled(1 if key in ("d", "f") else -1)
        elif key in ("a", "d"):
            self._go_to(self.index + (NAV_STEP if shift else 1) * (1 if key == "d" else -1))
        elif key == "x":
            self._trash_current()
        elif key in ("esc", "enter"):
            self.finished = self.save_current()
        elif key == "h":
            self.show_help = not self.show_help

    # ------------------------------------------------------------------------------------------- drawing ---
    def _face_bgr(self) -> np.ndarray:
        img = self._image
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img

    def _trained_mask(self) -> np.ndarray | None:
        mask = self._meta.xseg_mask if self._meta is not None else None
        if mask is None:
            return None
        h, w = self._image.shape[:2]
        return cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)

    def _base(self) -> np.ndarray:
        """The picture under the polygons for the current view mode, at the face's size (BGR uint8)."""
        face = self._face_bgr()
        if self.view_mode == "baked":
            mask = render_polys(self.stored_polys(), face.shape)
        elif self.view_mode in ("mask", "overlay"):
            mask = self._trained_mask()
            if mask is None:
                return face
        else:
            return face
        if self.view_mode == "overlay":
            tint = np.array(SCHEMES[self.scheme][1], np.float32)
            m = mask[..., None]
            return (face * m + (face * 0.5 + tint * 0.5) * (1 - m)).astype(np.uint8)
        return cv2.cvtColor((mask * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)

    def _draw_polys(self, canvas: np.ndarray) -> None:
        _, include, exclude = SCHEMES[self.scheme]
        for i, poly in enumerate(self.polys):
            if not poly.pts:
                continue
            colour = include if poly.type == INCLUDE else exclude
            pts = self.to_window(poly.pts)
            fixed = np.rint(pts * 16).astype(np.int32)
            is_open = self.mode == "draw" and i == self.active
            cv2.polylines(canvas, [fixed], not is_open, colour, 2 if i == self.active else 1, cv2.LINE_AA, 4)
            for p in fixed:
                cv2.circle(canvas, tuple(int(v) for v in p), 4 * 16 if i == self.active else 2 * 16, colour,
                           -1, cv2.LINE_AA, 4)
            if is_open:
                cursor = tuple(int(v) for v in np.rint(np.array(self.pointer(*self.cursor)) * 16))
                cv2.line(canvas, tuple(int(v) for v in fixed[-1]), cursor, colour, 1, cv2.LINE_AA, 4)
                if len(pts) >= 3:  # where to click to close it
                    cv2.circle(canvas, tuple(int(v) for v in fixed[0]), int(POINT_RADIUS * 16), colour, 1,
                               cv2.LINE_AA, 4)

    def _thumb(self, path: Path) -> np.ndarray:
        key = str(path)
        if key not in self._thumbs:
            try:
                img = load_face(path)[0]
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img
                self._thumbs[key] = cv2.resize(img, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
            except FaceFileError:
                self._thumbs[key] = np.full((THUMB, THUMB, 3), 64, np.uint8)
        return self._thumbs[key]

    def _draw_strip(self, strip: np.ndarray) -> None:
        """Thumbnails of the neighbouring faces, the current one framed, those with polygons underlined."""
        pitch = THUMB + 8
        count = max(1, self.window_size // pitch)
        first = int(np.clip(self.index - count // 2, 0, max(0, len(self.paths) - count)))
        shown = self.paths[first:first + count]
        left = (self.window_size - len(shown) * pitch) // 2 + 4
        for k, path in enumerate(shown):
            x = left + k * pitch
            strip[4:4 + THUMB, x:x + THUMB] = self._thumb(path)
            if first + k == self.index:
                cv2.rectangle(strip, (x - 3, 1), (x + THUMB + 2, THUMB + 6), (0, 255, 255), 2)
            if path.name in self.labeled:
                cv2.line(strip, (x, THUMB + 8), (x + THUMB - 1, THUMB + 8), BGR["green"], 2)
        keep = {str(p) for p in shown}
        self._thumbs = {k: v for k, v in self._thumbs.items() if k in keep}

    def status_lines(self) -> list[str]:
        total = len(self.paths)
        lines = [f"{len(self.labeled)}/{total} labeled   {self.index + 1}/{total} {self.path.name}",
                 f"type: {TYPE_NAMES[self.poly_type]}   view: {self.view_mode}   zoom {self.zoom:.1f}x"
                 + ("" if self.show_help else "   [H] help")]
        if self.view_mode in ("mask", "overlay") and self._trained_mask() is None:
            lines.append("this face has no applied XSeg mask")
        if self.message:
            lines.append(self.message)
        return lines + (list(HELP_LINES) if self.show_help else [])

    def render(self) -> np.ndarray:
        """The window image (`window_shape`, BGR): the face view with its polygons and text, the thumbnails."""
        canvas = np.zeros((*self.window_shape, 3), np.uint8)
        size = (self.window_size, self.window_size)
        view = canvas[:self.window_size]
        flags = cv2.INTER_NEAREST if self.scale >= 8 else cv2.INTER_LINEAR
        view[:] = cv2.warpAffine(self._base(), self.view, size, flags=flags, borderValue=(40, 40, 40))
        self._draw_polys(view)
        if self.view_locked:
            half = self.window_size // 2
            cv2.drawMarker(view, (half, half), (255, 255, 255), cv2.MARKER_CROSS, 24, 1)
        for i, line in enumerate(self.status_lines()):
            put_outlined_text(view, line, (8, 20 + 20 * i), 0.5)
        self._draw_strip(canvas[self.window_size:])
        return canvas


# ------------------------------------------------------------------------------------------------- driver ---

def on_cv2_mouse(state: EditorState, event: int, x: int, y: int, flags: int) -> None:
    """Translate an OpenCV mouse callback into state events (the wheel zooms around the last mouse position:
    Win32 reports wheel events in screen coordinates)."""
    def left_down(m: Mouse) -> None:
        state.on_mouse_move(m.x, m.y, m.shift)
        state.on_left_down(m.x, m.y, ctrl=m.ctrl)

    dispatch_mouse({"move": lambda m: state.on_mouse_move(m.x, m.y, m.shift), "left_down": left_down,
                    "left_up": lambda m: state.on_left_up(m.x, m.y),
                    "middle_down": lambda m: state.on_middle_down(m.x, m.y),
                    "middle_up": lambda m: state.on_middle_up(m.x, m.y),
                    "wheel": lambda m: state.on_wheel(m.wheel_up)}, event, x, y, flags)


DELETE_CODES = {0x2E0000, 0xFFFF, 0xFF9F, 8, 0xFF08, 127}  # Win32 VK_DELETE, X11 Delete / KP_Delete, Backspace
GTK_SHIFT, GTK_CONTROL = 1, 4   # modifier bits GTK puts above the key symbol


def decode_key(code: int | None, decoder: KeyDecoder) -> tuple[str, bool, bool] | None:
    """An OpenCV `waitKeyEx` code as (key, shift, ctrl); None for no key or one without a binding. Win32 gives
    Ctrl+letter as a control character (Ctrl+Z = 26); GTK puts the modifier state above the key symbol; Qt
    reports Shift on its own (see `KeyDecoder`) and never delivers Ctrl+letter."""
    if code is None or code < 0:
        return None
    mods, low = code >> 16, code & 0xFFFF
    if code in DELETE_CODES or low in DELETE_CODES:
        return "delete", False, False
    if low == 0:
        return None  # another Win32 special key
    shift, ctrl = bool(mods & GTK_SHIFT), bool(mods & GTK_CONTROL)
    if 1 <= low <= 26 and low not in (9, 10, 13):
        return chr(low + 96), shift, True
    pressed = decoder.decode(low)
    if pressed is None:
        return None
    return pressed[0], pressed[1] or shift, ctrl


def run_window(state: EditorState, decoder: KeyDecoder | None = None) -> None:
    """Show the editor until Esc / Enter or the window is closed; the current face is saved at the end."""
    decoder = decoder or KeyDecoder(shift_query())
    with opened(WINDOW_NAME, on_mouse=lambda e, x, y, f: on_cv2_mouse(state, e, x, y, f)):
        try:
            while not state.finished:
                cv2.imshow(WINDOW_NAME, state.render())
                pressed = decode_key(cv2.waitKeyEx(20), decoder)
                if pressed is not None:
                    state.on_key(*pressed)
                if was_closed(WINDOW_NAME):
                    break
        finally:
            state.save_current()


def main(args: argparse.Namespace) -> int:
    """`xseg editor`: edit the polygons of every face in --input-dir."""
    folder = checked_input_dir(args)
    files = face_files(folder)
    require_window("the XSeg editor")
    interact.log_info(f"Loading {len(files)} faces from {folder}")
    faces, labeled = scan_faces(files)
    if not faces:
        raise UserError(f"{folder}: no aligned faces (no image carries face metadata)")
    state = EditorState(faces, labeled)
    run_window(state)
    interact.log_info(f"{len(state.labeled)}/{len(state.paths)} faces in {folder} have XSeg polygons.")
    return 0
