"""The manual-pass state machine driven by synthetic key and mouse events on real frames (no display needed)."""
from __future__ import annotations

import numpy as np
import pytest

from core.fsio import list_images
from facelib import landmarks as L
from facelib.extract_job import ExtractOptions, run_extraction
from facelib.extractor import FaceExtractor, read_frame
from facelib.face_type import FaceType
from facelib.manual import HELP_LINES, ManualState, forced_landmarks, on_cv2_mouse
from facelib.meta import read_meta


@pytest.fixture(scope="module")
def extractor():
    return FaceExtractor("blazeface")


@pytest.fixture
def frames(tiny_workspace):
    return list_images(tiny_workspace.data_dst)[:4]


def make_state(frames, extractor, **kw) -> ManualState:
    return ManualState([p.name for p in frames], lambda i: read_frame(frames[i]),
                       lambda img, rect, acc: extractor.landmarks_in_rect(img, rect, acc), **kw)


def truth(frame) -> np.ndarray:
    """Landmarks the automatic pass found for this tiny_workspace frame."""
    aligned = frame.parent / "aligned" / f"{frame.stem}_0.jpg"
    return read_meta(aligned).source_landmarks


def to_window(state: ManualState, point) -> tuple[float, float]:
    x, y = L.transform_points(np.asarray([point], np.float64), state.view)[0]
    return float(x), float(y)


def test_place_lock_confirm_skip_and_go_back(frames, extractor):
    state = make_state(frames, extractor, window_size=640)
    expected = truth(frames[0])
    size = np.ptp(expected[:, 0])
    state.half_size = int(size * 0.55)
    state.on_mouse_move(*to_window(state, expected[27:36].mean(0)))
    assert state.landmarks is not None
    assert np.linalg.norm(state.landmarks - expected, axis=1).mean() < 0.1 * size
    state.on_left_click(*to_window(state, expected[27:36].mean(0)))
    assert state.locked
    before = state.cursor.copy()
    state.on_mouse_move(5, 5)  # locked: the square stays
    np.testing.assert_allclose(state.cursor, before)
    state.on_key("enter")
    assert state.index == 1 and not state.locked
    assert len(state.results[frames[0].name]) == 1
    state.on_key("space")
    assert state.index == 2 and state.results[frames[1].name] == []
    state.on_key(",")
    assert state.index == 1
    state.on_key(",")
    assert state.index == 0 and state.locked  # a confirmed frame comes back locked on its face
    np.testing.assert_allclose(state.landmarks, state.results[frames[0].name][0].landmarks)
    state.on_key(".")
    state.on_key(".")
    assert state.index == 2
    state.on_key("q")
    assert state.finished


def test_wheel_sizes_and_zoom(frames, extractor):
    state = make_state(frames, extractor, window_size=640)
    assert state.half_size == 100
    state.on_wheel(up=True)
    assert state.half_size == 110
    for _ in range(20):
        state.on_wheel(up=False)
    assert state.half_size < 40 and state.zoom_centre is not None
    zoomed = state.view
    assert zoomed[0, 0] > state.window_size / (240 * 16 / 9)  # zoomed in beyond the plain fit
    square = L.transform_points(np.array(state.rect, np.float64).reshape(2, 2), zoomed)
    assert square[1, 1] - square[0, 1] == pytest.approx(state.window_size_px()[1] / 4, rel=0.01)
    for _ in range(60):
        state.on_wheel(up=False)
    assert state.half_size == 5
    for _ in range(40):
        state.on_wheel(up=True)
    assert state.half_size > 40 and state.zoom_centre is None


def test_keys_toggle_accuracy_and_help(frames, extractor):
    state = make_state(frames, extractor, window_size=640)
    with_help = state.render()
    assert with_help.shape[1::-1] == state.window_size_px() == (480, 360)  # scale = 640 / (240 * 16 / 9)
    state.on_key("h")
    assert not state.show_help
    without = state.render()
    assert np.abs(with_help.astype(int) - without).sum() > 0
    state.on_key("a")
    assert not state.accurate
    assert len(HELP_LINES) == 6 and HELP_LINES[2] == "[Enter] / [Space] - confirm / skip frame"


def test_right_click_forces_a_mean_face(frames, extractor):
    state = make_state(frames, extractor, window_size=640)
    anchor = np.array([150.0, 120.0])
    state.on_right_click(*to_window(state, anchor))
    assert state.force_anchor is not None
    np.testing.assert_allclose(state.landmarks[30], anchor, atol=1.0)
    state.on_mouse_move(*to_window(state, anchor + (40, 0)))  # pointing right = face turned by +90°
    eyes = state.landmarks[45] - state.landmarks[36]
    assert abs(eyes[0]) < 0.2 * abs(eyes[1])
    state.on_left_click(*to_window(state, anchor + (40, 0)))
    assert state.locked
    state.on_key("enter")
    face = state.results[frames[0].name][0]
    np.testing.assert_allclose(face.landmarks[30], anchor, atol=1.0)
    lm = forced_landmarks(np.array([0.0, 0.0]), np.array([0.0, -50.0]))
    assert lm[17:27, 1].mean() == pytest.approx(-50, abs=0.5) and lm[36, 0] < lm[45, 0]


def test_cv2_mouse_events_reach_the_state(frames, extractor):
    import cv2
    state = make_state(frames, extractor, window_size=640)
    x, y = to_window(state, truth(frames[0])[30])
    on_cv2_mouse(state, cv2.EVENT_MOUSEMOVE, x, y, 0)
    np.testing.assert_allclose(state.cursor, state.to_frame(x, y))
    on_cv2_mouse(state, cv2.EVENT_MOUSEWHEEL, x, y, -120 << 16)
    assert state.half_size == 90
    on_cv2_mouse(state, cv2.EVENT_LBUTTONDOWN, x, y, 0)
    assert state.locked


def test_manual_detector_through_the_extraction_job(frames, extractor, tmp_path):
    """--detector manual: the scripted user confirms a face on frame 0 and skips frame 1; files follow."""
    import shutil
    src = tmp_path / "frames"
    src.mkdir()
    for p in frames[:2]:
        shutil.copy2(p, src / p.name)
    centre = truth(frames[0])[27:36].mean(0)
    half = int(np.ptp(truth(frames[0])[:, 0]) * 0.55)

    def scripted_pass(paths, results):
        state = make_state(paths, extractor, results=dict(results), window_size=640)
        state.half_size = half
        state.on_mouse_move(*to_window(state, centre))
        state.on_key("enter")
        state.on_key("space")
        assert state.finished
        return state.results

    opts = ExtractOptions(input_dir=src, output_dir=tmp_path / "aligned", detector="manual",
                          face_type=FaceType.FULL, image_size=64, output_debug=True, workers=1)
    report = run_extraction(opts, manual_pass=scripted_pass)
    assert report.faces_detected == 1 and report.no_face == [frames[1].name]
    meta = read_meta(opts.output_dir / f"{frames[0].stem}_0.jpg")
    assert np.linalg.norm(meta.source_landmarks - truth(frames[0]), axis=1).mean() < 3.0
    assert sorted(p.name for p in opts.debug_dir.iterdir()) == sorted(f"{p.stem}.jpg" for p in frames[:2])


def test_manual_fix_only_visits_faceless_frames(frames, extractor, tmp_path):
    import cv2
    src = tmp_path / "frames"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), read_frame(frames[0]))
    cv2.imwrite(str(src / "b.png"), np.full((240, 320, 3), 40, np.uint8))  # nothing to find
    visited = []

    def scripted_fix(paths, results):
        todo = [p for p in paths if not results.get(p.name)]
        visited.extend(p.name for p in todo)
        state = make_state(todo, extractor, results=dict(results), window_size=640)
        state.on_key("space")
        return state.results

    opts = ExtractOptions(input_dir=src, output_dir=tmp_path / "aligned", face_type=FaceType.FULL, image_size=64,
                          workers=1)
    report = run_extraction(opts, manual_pass=scripted_fix)
    assert visited == ["b.png"] and report.faces_detected == 1


def test_manual_output_debug_fix_needs_a_window(tiny_workspace, tmp_path):
    import shutil
    from core.errors import UserError
    from facelib.manual import manual_output_debug_fix
    src = tmp_path / "data_dst"
    shutil.copytree(tiny_workspace.data_dst, src)
    opts = ExtractOptions(input_dir=src, output_dir=src / "aligned", face_type=FaceType.FULL, image_size=128)
    victim = sorted((src / "aligned_debug").iterdir())[3]
    victim.unlink()
    with pytest.raises(UserError, match="needs a desktop window"):
        manual_output_debug_fix(opts, 640)
    assert (src / "aligned" / f"{victim.stem}_0.jpg").is_file()  # nothing deleted before the window opens
