"""The XSeg editor's state machine driven by synthetic key and mouse events on real aligned faces (no display)."""
from __future__ import annotations

import argparse
import shutil

import cv2
import numpy as np
import pytest

from core.errors import UserError
from core.fsio import list_images
from core.window import KeyDecoder
from facelib.meta import load_face, read_meta, write_meta
from facelib.xseg_polys import EXCLUDE, INCLUDE
from mainscripts import xseg_editor as xe
from mainscripts.sort import trash_dir


@pytest.fixture
def faces(whole_face_set, tmp_path):
    """8 real 192 px whole faces (the 4 of `whole_face_set` twice, with its trained masks); only the last one
    keeps its polygon."""
    folder = tmp_path / "aligned"
    folder.mkdir()
    for copy in range(2):
        for k, name in enumerate(whole_face_set.groups["faces"]):
            shutil.copy2(whole_face_set.dir / name, folder / f"{copy * 10 + k:05d}_0.jpg")
    paths = list_images(folder)
    for path in paths[:-1]:
        meta = read_meta(path)
        meta.xseg_polys = None
        write_meta(path, meta)
    return paths


def open_state(paths, **kw) -> xe.EditorState:
    return xe.EditorState(*xe.scan_faces(paths), **kw)


def window_xy(state, pt) -> tuple[float, float]:
    x, y = state.to_window(pt)[0]
    return float(x), float(y)


def click(state, pt, ctrl: bool = False) -> None:
    """A left click at image point `pt` (through the current view)."""
    x, y = window_xy(state, pt)
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, x, y, 0)
    xe.on_cv2_mouse(state, cv2.EVENT_LBUTTONDOWN, x, y, cv2.EVENT_FLAG_CTRLKEY if ctrl else 0)
    xe.on_cv2_mouse(state, cv2.EVENT_LBUTTONUP, x, y, 0)


def draw(state, pts) -> None:
    """Draw a polygon through `pts` (image pixels) and close it on its first point."""
    for pt in pts:
        click(state, pt)
    click(state, pts[0])


def same(pts, expected) -> bool:
    """Whether two point lists match (to float round-off of the view's round trip)."""
    a, b = np.asarray(pts, np.float64).reshape(-1, 2), np.asarray(expected, np.float64).reshape(-1, 2)
    return a.shape == b.shape and np.allclose(a, b, atol=1e-6)


SQUARE = [(40.0, 40.0), (150.0, 40.0), (150.0, 150.0), (40.0, 150.0)]
TRIANGLE = [(60.0, 60.0), (100.0, 60.0), (80.0, 100.0)]


def test_draw_include_and_exclude_and_save_under_zoom_and_pan(faces):
    state = open_state(faces)
    assert state.index == 0 and state.labeled == {faces[-1].name}
    assert state.scale == pytest.approx(800 / 192)
    assert state.to_image(400, 400) == pytest.approx((96, 96))
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, 300, 500, 0)
    anchor = state.to_image(300, 500)
    for _ in range(3):
        xe.on_cv2_mouse(state, cv2.EVENT_MOUSEWHEEL, 300, 500, 120 << 16)
    assert state.zoom == pytest.approx(1.25 ** 3)
    assert state.to_image(300, 500) == pytest.approx(anchor)  # zoomed around the cursor
    grabbed = state.to_image(400, 400)
    xe.on_cv2_mouse(state, cv2.EVENT_MBUTTONDOWN, 400, 400, 0)
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, 350, 420, cv2.EVENT_FLAG_MBUTTON)
    xe.on_cv2_mouse(state, cv2.EVENT_MBUTTONUP, 350, 420, 0)
    assert state.to_image(350, 420) == pytest.approx(grabbed)        # the grabbed point follows the mouse
    (left, top), (right, bottom) = state.to_image(0, 0), state.to_image(800, 800)

    def visible(u: float, v: float) -> tuple[float, float]:
        """The image point at fraction (u, v) of the zoomed window."""
        return left + u * (right - left), top + v * (bottom - top)

    include = [visible(0.1, 0.1), visible(0.8, 0.15), visible(0.85, 0.9), visible(0.15, 0.8)]
    exclude = [visible(0.4, 0.4), visible(0.6, 0.4), visible(0.5, 0.6)]
    draw(state, include)
    assert state.mode == "edit" and state.active == 0  # closed: selected for editing
    click(state, visible(0.95, 0.5))                    # away from any polygon: deselects
    assert state.mode == "idle"
    state.on_key("w")
    draw(state, exclude)
    assert [p.type for p in state.polys] == [INCLUDE, EXCLUDE]
    pixels = load_face(faces[0])[0]
    state.on_key("d")
    assert state.index == 1 and state.labeled == {faces[0].name, faces[-1].name}
    stored = read_meta(faces[0]).xseg_polys
    assert [p["type"] for p in stored] == [INCLUDE, EXCLUDE]
    np.testing.assert_allclose(stored[0]["pts"], include, atol=1e-3)   # aligned-image pixels, not window ones
    np.testing.assert_allclose(stored[1]["pts"], exclude, atol=1e-3)
    assert stored[0]["pts"].dtype == np.float32
    np.testing.assert_array_equal(load_face(faces[0])[0], pixels)     # the JPEG was not re-encoded
    state.on_key("a")
    assert state.index == 0 and state.zoom == 1.0
    np.testing.assert_allclose([p for p in state.polys[0].pts], include, atol=1e-3)


def test_the_view_maps_clicks_to_image_pixels(faces):
    state = open_state(faces)
    state.on_mouse_move(200, 200)
    state.on_wheel(up=True)
    state.on_middle_down(400, 400)
    state.on_mouse_move(300, 350)
    state.on_middle_up(300, 350)
    s = 800 / 192 * 1.25
    cx, cy = state._centre
    assert state.scale == pytest.approx(s)
    state.on_mouse_move(123, 456)
    state.on_left_down(123, 456)
    assert state.polys[0].pts[0] == pytest.approx(((123 - 400) / s + cx, (456 - 400) / s + cy))
    np.testing.assert_allclose(cv2.transform(np.array([[state.polys[0].pts[0]]]), state.view)[0, 0], (123, 456))
    for _ in range(30):
        state.on_wheel(up=True)
    assert state.zoom == 20.0
    for _ in range(40):
        state.on_wheel(up=False)
    assert state.zoom == 1.0 and tuple(state._centre) == (96, 96)


def test_shift_while_drawing_locks_the_view_centre_to_the_cursor(faces):
    state = open_state(faces)
    shift = cv2.EVENT_FLAG_SHIFTKEY
    state.on_mouse_move(400, 400)
    for _ in range(4):
        state.on_wheel(up=True)
    click(state, (96.0, 96.0))
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, 500, 400, shift)  # lock: the point under the cursor centres
    assert state.view_locked
    under = state.to_image(400, 400)
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, 540, 380, shift)  # the view follows the cursor
    assert same([state.to_image(400, 400)], [(under[0] + 40 / state.scale, under[1] - 20 / state.scale)])
    canvas = state.render()
    assert tuple(canvas[400, 400 - 8]) == (255, 255, 255)  # the cross marks where a click puts the point
    xe.on_cv2_mouse(state, cv2.EVENT_LBUTTONDOWN, 700, 100, shift)
    assert same([state.polys[0].pts[-1]], [state.to_image(400, 400)])
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, 600, 500, 0)  # Shift released: clicks land under the cursor
    assert not state.view_locked
    xe.on_cv2_mouse(state, cv2.EVENT_LBUTTONDOWN, 600, 500, 0)
    assert same([state.polys[0].pts[-1]], [state.to_image(600, 500)]) and len(state.polys[0].pts) == 3


def test_shift_outside_drawing_does_not_lock_the_view(faces):
    state = open_state(faces)
    centre = state._centre.copy()
    xe.on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, 500, 300, cv2.EVENT_FLAG_SHIFTKEY)
    assert not state.view_locked and tuple(state._centre) == tuple(centre)


def test_undo_redo_last_point(faces):
    state = open_state(faces)
    for pt in SQUARE:
        click(state, pt)
    assert state.mode == "draw" and len(state.polys[0].pts) == 4
    state.on_key("z", ctrl=True)
    state.on_key("z", ctrl=True)
    assert same(state.polys[0].pts, SQUARE[:2])
    state.on_key("y", ctrl=True)
    assert same(state.polys[0].pts, SQUARE[:3])
    state.on_key("z", shift=True)  # Ctrl+Shift+Z as Qt delivers it
    assert same(state.polys[0].pts, SQUARE)
    state.on_key("y")
    assert same(state.polys[0].pts, SQUARE)          # nothing left to redo
    state.on_key("z")
    click(state, (100.0, 170.0))                 # a new point drops what could be redone
    state.on_key("y")
    assert same(state.polys[0].pts, SQUARE[:3] + [(100.0, 170.0)])
    click(state, SQUARE[0])
    assert state.mode == "edit"
    click(state, (5.0, 5.0))
    state.on_key("w")
    draw(state, TRIANGLE)
    click(state, (5.0, 5.0))
    state.on_key("z", ctrl=True)                  # idle: reopens the last polygon and takes its last point
    assert state.mode == "draw" and state.active == 1 and same(state.polys[1].pts, TRIANGLE[:2])
    state.on_key("z")
    state.on_key("z")
    assert same(state.polys[1].pts, []) and len(state.polys) == 2
    state.on_key("z")                             # emptied: dropped, undo goes on into the polygon before
    assert len(state.polys) == 1 and state.active == 0 and len(state.polys[0].pts) == 3
    state.on_key("y")
    assert len(state.polys[0].pts) == 4


def test_select_and_delete_polygon(faces):
    state = open_state(faces)
    draw(state, SQUARE)
    click(state, (5.0, 5.0))
    draw(state, TRIANGLE)
    click(state, (5.0, 5.0))
    assert state.mode == "idle"
    click(state, (95.0, 40.0))                    # on the square's top edge
    assert state.mode == "edit" and state.active == 0
    click(state, (80.0, 60.0))                    # on the triangle's edge: selects that one
    assert state.active == 1
    state.on_key(*xe.decode_key(8, KeyDecoder()))  # Backspace works as Delete
    assert len(state.polys) == 1 and state.mode == "idle" and same(state.polys[0].pts, SQUARE)
    click(state, (150.0, 95.0))
    state.on_key("delete")
    assert state.polys == []
    click(state, (10.0, 10.0))
    state.on_key("delete")                        # the polygon being drawn goes too
    assert state.polys == [] and state.mode == "idle"


def test_ctrl_click_deletes_and_inserts_points_and_drag_moves_one(faces):
    state = open_state(faces)
    draw(state, SQUARE)
    click(state, (95.0, 150.0), ctrl=True)        # on the bottom edge: a point is inserted there
    assert same(state.polys[0].pts, SQUARE[:3] + [(95.0, 150.0)] + SQUARE[3:])
    click(state, SQUARE[1], ctrl=True)
    assert same(state.polys[0].pts, [SQUARE[0]] + SQUARE[2:3] + [(95.0, 150.0)] + SQUARE[3:])
    x, y = window_xy(state, SQUARE[0])
    state.on_mouse_move(x, y)
    state.on_left_down(x, y)
    for step in range(1, 6):
        state.on_mouse_move(x + step * 10, y + step * 5)
    state.on_left_up(x + 50, y + 25)
    moved = state.polys[0].pts[0]
    assert moved == pytest.approx((SQUARE[0][0] + 50 / state.scale, SQUARE[0][1] + 25 / state.scale))
    state.on_mouse_move(x + 90, y + 90)           # released: no longer dragged
    assert state.polys[0].pts[0] == moved
    click(state, SQUARE[2], ctrl=True)
    click(state, SQUARE[3], ctrl=True)            # down to 2 points: the polygon is removed
    assert state.polys == [] and state.mode == "idle"


def test_q_w_choose_the_polygon_type(faces):
    state = open_state(faces)
    assert state.poly_type == INCLUDE
    state.on_key("w")
    click(state, (20.0, 20.0))
    assert state.polys[0].type == EXCLUDE
    state.on_key("q")                             # also retypes the polygon being drawn
    assert state.poly_type == INCLUDE and state.polys[0].type == INCLUDE
    assert "type: include" in state.status_lines()[1]


def test_navigation_saves_only_changes_and_an_empty_set_removes_the_key(faces):
    state = open_state(faces)
    before = faces[1].read_bytes()
    state.on_key("d")
    state.on_key("d")
    assert state.index == 2 and faces[1].read_bytes() == before  # nothing changed: not rewritten
    state.on_key("a", shift=True)
    assert state.index == 0
    state.on_key("d", shift=True)
    assert state.index == 5
    state.on_key("d", shift=True)
    assert state.index == 7                        # clamped at the last face
    state.on_key("d")
    assert state.index == 7 and not state.finished
    assert len(state.polys) == 1                   # the fixture's labeled face
    click(state, state.polys[0].pts[0])
    state.on_key("delete")
    state.on_key("a")
    assert read_meta(faces[7]).xseg_polys is None and state.labeled == set()
    assert read_meta(faces[7]).xseg_mask is not None  # the rest of the metadata stays


def test_jump_to_faces_with_polygons(faces):
    state = open_state(faces)
    draw(state, SQUARE)
    state.on_key("d", shift=True)
    draw(state, TRIANGLE)
    state.on_key("a", shift=True)
    assert state.index == 0
    state.on_key("f")
    assert state.index == 5
    state.on_key("d", ctrl=True)                   # Ctrl+D where the backend delivers it
    assert state.index == 7
    state.on_key("f")
    assert state.index == 7 and "no face with polygons after" in state.message
    state.on_key("s")
    assert state.index == 5
    state.on_key("a", ctrl=True)
    assert state.index == 0


def test_x_moves_the_face_to_trash(faces):
    folder = faces[0].parent
    state = open_state(faces[-2:])
    draw(state, SQUARE)
    state.on_key("x")
    trashed = trash_dir(folder) / faces[-2].name
    assert trashed.is_file() and not faces[-2].exists()
    assert read_meta(trashed).xseg_polys is not None   # saved before it moved
    assert state.paths == [faces[-1]] and state.index == 0 and state.path == faces[-1]
    assert state.labeled == {faces[-1].name} and "moved" in state.message
    state.on_key("x")
    assert state.finished and len(list(trash_dir(folder).iterdir())) == 2


def test_esc_and_enter_save_and_quit(faces):
    state = open_state(faces)
    draw(state, SQUARE)
    state.on_key("esc")
    assert state.finished and len(read_meta(faces[0]).xseg_polys) == 1
    state = open_state(faces)
    state.on_key("enter")
    assert state.finished


def test_render_draws_the_window(faces):
    state = open_state(faces, window_size=640)
    frame = state.render()
    assert frame.shape == (640 + xe.STRIP_HEIGHT, 640, 3) and frame.dtype == np.uint8
    draw(state, SQUARE)
    click(state, (5.0, 5.0))
    with_poly = state.render()
    x, y = (int(round(v)) for v in window_xy(state, (95.0, 40.0)))   # on the top edge: red (scheme 1)
    patch = with_poly[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(int)
    assert (patch[:, 2] - patch[:, :2].max(1)).max() > 100
    state.on_key("2")
    patch = state.render()[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).astype(int)
    assert (patch[:, 1] - patch[:, [0, 2]].max(1)).max() > 100
    state.on_key("h")
    assert not state.show_help and "[H] help" in state.status_lines()[1]
    state.on_key("4")                                                 # baked mask: white inside, black outside
    baked = state.render()
    cx, cy = (int(v) for v in window_xy(state, (95.0, 95.0)))
    ox, oy = (int(v) for v in window_xy(state, (170.0, 170.0)))
    assert baked[cy, cx].min() == 255 and baked[oy, ox].max() == 0
    state.on_key("5")                                                 # the trained mask of the fixture
    mask = state.render()
    assert state.view_mode == "mask" and not np.array_equal(mask, baked)
    state.on_key("`")
    overlay = state.render()
    state.on_key("`")
    assert state.view_mode == "image" and not np.array_equal(overlay, state.render())
    strip = frame[640:]
    assert strip.max() > 0                                            # thumbnails are drawn


def test_decode_key_across_backends():
    decoder = KeyDecoder()
    assert xe.decode_key(26, decoder) == ("z", False, True)            # Win32 Ctrl+Z
    assert xe.decode_key(25, decoder) == ("y", False, True)            # Win32 Ctrl+Y
    assert xe.decode_key(4, decoder) == ("d", False, True)
    assert xe.decode_key(0x4007A, decoder) == ("z", False, True)       # GTK: Ctrl state above the key
    assert xe.decode_key(0x5005A, decoder) == ("z", True, True)
    assert xe.decode_key(ord("D"), decoder) == ("d", True, False)
    assert xe.decode_key(0xFFE1, decoder) is None                      # Qt: Shift on its own, then 'a'
    assert xe.decode_key(ord("a"), decoder) == ("a", True, False)
    for code in (0x2E0000, 0xFFFF, 8, 127):
        assert xe.decode_key(code, decoder) == ("delete", False, False)
    assert xe.decode_key(27, decoder) == ("esc", False, False)
    assert xe.decode_key(13, decoder) == ("enter", False, False)
    assert xe.decode_key(ord("`"), decoder) == ("`", False, False)
    assert xe.decode_key(0x250000, decoder) is None and xe.decode_key(-1, decoder) is None


def test_main_needs_a_display_and_a_folder_of_faces(faces, tmp_path):
    from core import config
    with pytest.raises(UserError, match="input folder not found") as err:
        xe.main(argparse.Namespace(input_dir=str(tmp_path / "missing")))
    assert "missing" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no face images") as err:
        xe.main(argparse.Namespace(input_dir=str(tmp_path / "empty")))
    assert "empty" in str(err.value)
    config.override(has_display=False)
    try:
        with pytest.raises(UserError, match="the XSeg editor needs a display"):
            xe.main(argparse.Namespace(input_dir=str(faces[0].parent)))
    finally:
        config.override(has_display=config.load_settings().has_display)


def test_scan_skips_images_without_face_metadata(faces):
    plain = faces[0].parent / "plain.jpg"
    cv2.imwrite(str(plain), np.zeros((32, 32, 3), np.uint8))
    found, labeled = xe.scan_faces(list_images(faces[0].parent))
    assert plain not in found and len(found) == 8 and labeled == {faces[-1].name}
