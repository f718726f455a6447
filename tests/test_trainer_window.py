"""The training preview window's state machine (synthetic keys) and the preview/loss-graph images."""
from __future__ import annotations

import numpy as np

from mainscripts.trainer_window import HISTORY_RANGES, Action, TrainerWindowState
from models import preview as pv


def _previews(n: int = 2, size: int = 32) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(f"P{i}", rng.random((size, size * 5, 3)).astype(np.float32)) for i in range(n)]


def test_keys_map_to_dfl_and_fork_actions():
    state = TrainerWindowState()
    expected = {13: Action.EXIT, 10: Action.EXIT, ord("s"): Action.SAVE, ord("2"): Action.SAVE,
                ord("b"): Action.BACKUP, ord("0"): Action.BACKUP, ord("p"): Action.REFRESH_PREVIEW,
                ord("x"): Action.NONE, -1: Action.NONE}
    expected.update({ord(str(d)): Action.REFRESH_PREVIEW for d in range(3, 10)})
    for key, action in expected.items():
        assert state.handle_key(key) is action, chr(key) if key > 0 else key


def test_space_cycles_previews_and_l_cycles_graph_range():
    state = TrainerWindowState()
    state.set_previews(_previews(3))
    assert state.handle_key(ord(" ")) is Action.NEXT_PREVIEW and state.preview_index == 1
    state.handle_key(ord(" "))
    state.handle_key(ord(" "))
    assert state.preview_index == 0  # wrapped around
    history = np.arange(3000 * 2, dtype=np.float32).reshape(3000, 2)
    assert len(state.history_slice(history)) == 3000  # "all"
    assert state.handle_key(ord("l")) is Action.CYCLE_RANGE
    assert state.history_range == HISTORY_RANGES[1] and len(state.history_slice(history)) == HISTORY_RANGES[1]
    for _ in range(len(HISTORY_RANGES) - 1):
        state.handle_key(ord("1"))
    assert state.history_range == 0


def test_fewer_previews_keep_index_valid_and_render_shows_selected():
    state = TrainerWindowState()
    state.set_previews(_previews(3))
    state.handle_key(ord(" "))
    state.handle_key(ord(" "))
    state.set_previews(_previews(2))
    assert state.preview_index == 0
    history = np.random.default_rng(1).random((50, 2)).astype(np.float32)
    image = state.render(history, 50, "model info")
    lines = state.header_lines("model info")
    assert lines[-1] == "model info" and '"P0" [1/2]' in lines[-2]
    assert image.dtype == np.uint8 and image.shape[1] == 32 * 5
    assert image.shape[0] == pv.HEADER_LINE * len(lines) + pv.GRAPH_HEIGHT + 32
    assert TrainerWindowState().render(history, 0, "") is None  # nothing to show before the first preview


def test_loss_graph_draws_bars_scaled_to_recent_mean():
    # scale = 2 x mean of both losses over the last 80 %; values above it are clipped to the top
    history = np.stack([np.linspace(1.2, 0.5, 400), np.linspace(1.0, 0.25, 400)], axis=1)
    graph = pv.loss_graph(history, 200, 100, iteration=400)
    assert graph.shape == (100, 200, 3) and graph.dtype == np.uint8
    src_color, dst_color = pv._loss_colors(2)
    src_cols = np.where((graph == src_color).all(axis=-1).any(axis=0))[0]
    dst_cols = np.where((graph == dst_color).all(axis=-1).any(axis=0))[0]
    assert len(src_cols) > 150 and len(dst_cols) > 150
    # src loss falls: its bar is high on the left and low on the right
    rows_left = np.where((graph[:, 5] == src_color).all(axis=-1))[0]
    rows_right = np.where((graph[:, 195] == src_color).all(axis=-1))[0]
    assert rows_left.mean() < rows_right.mean()
    assert pv.loss_graph(np.zeros((0, 2)), 64).shape == (100, 64, 3)  # empty history is fine
    short = pv.loss_graph([[1.0, 0.5], [0.9, 0.4]], 64)  # fewer iterations than columns
    assert (short == src_color).all(axis=-1).any()


def test_preview_grid_and_gray_to_bgr():
    gray = np.random.default_rng(2).random((6, 16, 16, 1)).astype(np.float32)
    grid = pv.preview_grid([gray, gray], rows=4)
    assert grid.shape == (64, 32, 3)
    assert np.array_equal(grid[..., 0], grid[..., 2])  # gray previews stay gray
    assert np.array_equal(grid[:16, :16, 0], (gray[0, ..., 0] * 255 + 0.5).astype(np.uint8))


def test_header_lines_fit_a_narrow_preview():
    line = "new_SAEHDBW | iter 102 | liae-ud 64px wf ae64 e16 d16 m16 | bs 4 | gray"
    img = pv.header([line], 320)
    lit = np.flatnonzero(img.max(axis=(0, 2)) > 100)
    assert lit.max() < 320 - 3  # the whole line is drawn, none of it cut off at the right edge
