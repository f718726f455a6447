"""MergerConfig (JSON, DFL ids, ranges) and the interactive merger's state machine driven by key sequences."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import UserError
from core.window import KeyDecoder, normalize_key
from merger.config import MergerConfig, MergeSession
from merger.interactive import InteractiveState, help_image, view_image
from merger.masks import MASK_BUILDERS, XSEG_MASK_MODES

MASK_MODES = tuple(m for m in MASK_BUILDERS if m not in XSEG_MASK_MODES)
NAMES = [f"{i:05d}.png" for i in range(1, 7)]


def _state(**base) -> InteractiveState:
    return InteractiveState(NAMES, MergerConfig(**base), MASK_MODES)


def _press(state: InteractiveState, keys: str) -> list:
    """Feed characters as a window would (upper case / shifted symbols = Shift)."""
    return [state.handle(*normalize_key(ord(ch))) for ch in keys]


def test_config_json_roundtrip_ids_and_ranges(tmp_path):
    cfg = MergerConfig(mode=3, mask_mode=1, color_transfer_mode=7, sharpen_mode=2, erode_mask_modifier=999,
                       blur_mask_modifier=-5)
    assert (cfg.mode, cfg.mask_mode, cfg.color_transfer_mode, cfg.sharpen_mode) == ("seamless", "dst", "sot-m",
                                                                                     "gaussian")
    assert cfg.erode_mask_modifier == 400 and cfg.blur_mask_modifier == 0
    with pytest.raises(UserError, match="mode"):
        MergerConfig(mode="sideways")
    session = MergeSession(cfg, {"00003.png": cfg.copy(blur_mask_modifier=50)})
    path = tmp_path / "merge.json"
    session.save(path)
    loaded = MergeSession.load(path)
    assert loaded.base == cfg and loaded.frames["00003.png"].blur_mask_modifier == 50
    assert [c.blur_mask_modifier for c in loaded.resolve(NAMES)] == [0, 0, 50, 50, 50, 50]
    path.write_text(json.dumps({"config": {"mode": "hist-match", "unknown": 1}}))
    partial = MergeSession.load(path).base
    assert partial.mode == "hist-match" and partial.hist_match_threshold == 255   # batch default
    path.write_text("{broken")
    with pytest.raises(UserError, match="merge.json"):
        MergeSession.load(path)


def test_summary_lists_the_fields():
    text = MergerConfig(mode="hist-match", sharpen_mode="box", blursharpen_amount=4).summary("00001.png")
    assert text.startswith("MergerConfig 00001.png:")
    for name in ("hist_match_threshold", "mask_mode", "erode_mask_modifier", "blursharpen_amount",
                 "color_degrade_power"):
        assert name in text


def test_keys_change_the_right_fields():
    st = _state()
    assert st.screen == "help"
    assert _press(st, "\t") == ["view"] and st.screen == "main"
    _press(st, "wwwS")                                  # +1 +1 +1 -5
    assert st.cfg.erode_mask_modifier == -2
    _press(st, "eeE")
    assert st.cfg.blur_mask_modifier == 7
    _press(st, "dddddddddd")                            # clamped at 0
    assert st.cfg.blur_mask_modifier == 0
    _press(st, "RRf")
    assert st.cfg.motion_blur_power == 9
    _press(st, "uuJ")
    assert st.cfg.output_face_scale == -3
    _press(st, "yyH")
    assert st.cfg.blursharpen_amount == -3
    _press(st, "nn")
    assert st.cfg.sharpen_mode == "gaussian"
    _press(st, "iIkoOlpP;:")
    assert (st.cfg.image_denoise_power, st.cfg.bicubic_degrade_power, st.cfg.color_degrade_power) == (5, 5, 0)
    _press(st, "c")
    assert st.cfg.color_transfer_mode == "lct"
    _press(st, "x")
    assert st.cfg.mask_mode == "learned-prd+learned-dst"
    _press(st, "x")
    assert st.cfg.mask_mode == "full"                   # XSeg modes are skipped without an XSeg model


def test_mode_keys_and_hist_keys():
    st = _state()
    assert _press(st, "q") == [None]                    # threshold keys only act in hist-match modes
    assert st.cfg.hist_match_threshold == 238
    _press(st, "2")
    assert st.cfg.mode == "hist-match"
    _press(st, "qqA")
    assert st.cfg.hist_match_threshold == 235
    _press(st, "z")
    assert st.cfg.masked_hist_match is False
    for key, mode in zip("`13456", ("original", "overlay", "seamless", "seamless-hist-match", "raw-rgb",
                                    "raw-predict")):
        _press(st, key)
        assert st.cfg.mode == mode
    assert _press(st, "z") == [None]


def test_navigation_inherits_and_applies_configs():
    st = _state()
    _press(st, "w")                                     # frame 0: erode 1
    _press(st, ".")                                     # frame 1 inherits
    assert st.index == 1 and st.cfg.erode_mask_modifier == 1
    _press(st, "ww")                                    # frame 1: erode 3
    _press(st, ",")
    assert st.index == 0 and st.cfg.erode_mask_modifier == 1
    _press(st, "..")
    assert st.index == 2 and st.cfg.erode_mask_modifier == 3   # inherited from frame 1
    _press(st, "e")                                     # frame 2: blur 1
    _press(st, "m")                                     # back to frame 1, overwriting it with frame 2's config
    assert st.index == 1 and st.cfg.blur_mask_modifier == 1
    _press(st, "/")                                     # frame 2 takes frame 1's config
    _press(st, "s")
    _press(st, "/")
    assert st.index == 3 and st.cfg.erode_mask_modifier == 2
    _press(st, "<")                                     # Shift+, : first frame
    assert st.index == 0 and st.cfg.erode_mask_modifier == 1
    _press(st, "..")
    _press(st, "E")
    _press(st, "M")                                     # Shift+M: back to the first frame, all overwritten
    assert st.index == 0 and all(c.blur_mask_modifier == 6 for c in st.configs[:3])
    _press(st, "?")                                     # Shift+/ : this config for every remaining frame
    assert st.index == 1 and all(st.effective(i).blur_mask_modifier == 6 for i in range(6))
    assert all(c is None for c in st.configs[2:])


def test_session_keeps_only_changes_and_round_trips():
    st = _state()
    _press(st, "..w.")                                  # frames 0,1 base; frame 2 erode 1; frame 3 inherits
    session = st.to_session()
    assert list(session.frames) == ["00003.png"]
    again = InteractiveState.from_session(NAMES, session, MASK_MODES)
    assert again.effective(4).erode_mask_modifier == 1 and again.effective(1).erode_mask_modifier == 0


def test_process_quit_and_view_keys():
    st = _state()
    assert _press(st, "\r") == ["process"]
    assert _press(st, ">") == ["process"]               # Shift+. : process the rest
    assert _press(st, "\x1b") == ["quit"]
    _press(st, "==-v")
    assert st.zoom == pytest.approx(1.1) and st.checkerboard
    assert _press(st, "b") == [None]
    assert _press(st, "t") == ["view"] and "FaceEnhancer" in st.message    # DFL's super resolution key says why
    assert normalize_key(-1) is None and normalize_key(0x250000) is None


def test_view_and_help_images():
    st = _state()
    st.checkerboard = True
    img = np.full((40, 60, 3), 200, np.uint8)
    mask = np.zeros((40, 60), np.float32)
    mask[10:30, 20:40] = 1
    out = view_image(img, mask, st, "00001.png")
    assert out.shape[0] > 40 and out.shape[1] >= 60
    assert (out[20, 30] == 200).all() and not (out[0, 0] == 200).all()     # checkerboard outside the mask
    assert help_image().mean() > 30
    # a 1080p frame is fitted into the window (DFL's 1368 px wide view), zoom scales from there
    big = view_image(np.zeros((1080, 1920, 3), np.uint8), np.zeros((1080, 1920), np.float32), st, "x")
    assert big.shape[1] == 1368
    st.handle("=")
    assert view_image(np.zeros((1080, 1920, 3), np.uint8), np.zeros((1080, 1920), np.float32), st,
                      "x").shape[1] == round(1920 * 1368 / 1920 * 1.1)


def test_status_bar_names_the_settings():
    from merger.interactive import status_lines
    st = _state(mode="hist-match", erode_mask_modifier=7, motion_blur_power=3)
    first, second = status_lines(st, "00001.png")
    assert "00001.png" in first and "[1/6]" in first and "hist-match" in first and "erode 7" in first
    assert "motion_blur_power 3" in second and "hist_match_threshold" in second
    assert "output_face_scale" not in second            # defaults stay out of the way


def test_key_decoder_finds_shift_on_every_backend():
    """Win32/GTK send Shift+E as 'E'; Qt sends the Shift press (0xFFE1) and then 'e'."""
    now = [0.0]
    dec = KeyDecoder(clock=lambda: now[0])
    assert dec.decode(ord("e")) == ("e", False)
    assert dec.decode(ord("E")) == ("e", True)
    assert dec.decode(0xFFE1) is None and dec.decode(ord("e")) == ("e", True)
    assert dec.decode(ord("e")) == ("e", False)                   # the Shift press counted once
    dec.decode(0xFFE2)
    now[0] = 5.0
    assert dec.decode(ord("m")) == ("m", False)                   # a stale Shift press does not count
    held = KeyDecoder(shift_held=lambda: True)
    assert held.decode(ord("w")) == ("w", True) and held.decode(ord("<")) == (",", True)
    assert dec.decode(-1) is None


def test_window_driver_with_synthetic_keys(monkeypatch):
    """run_window on a fake OpenCV: the key codes a window would deliver drive the state machine, every frame
    change and the end save the session, and each (frame, config) is rendered once."""
    import merger.interactive as mi

    codes = [9, ord("w"), 0xFFE1, ord("w"), -1, ord("."), ord("e"), ord("."), 13]   # Qt's Shift+W
    shown, saved, rendered, sizes = [], [], [], []
    monkeypatch.setattr(mi.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "resizeWindow", lambda *a: sizes.append(a[1:]))
    monkeypatch.setattr(mi.cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "imshow", lambda name, img: shown.append(img.shape))
    monkeypatch.setattr(mi.cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(mi.cv2, "waitKeyEx", lambda delay: codes.pop(0))

    def render(index, cfg):
        rendered.append((index, cfg.erode_mask_modifier, cfg.blur_mask_modifier))
        return np.zeros((30, 40, 3), np.uint8), np.zeros((30, 40), np.float32)

    st = _state()
    action = mi.run_window(st, render, lambda s: saved.append(s.to_session()), decoder=mi.KeyDecoder())
    assert action == "process" and not codes
    assert sizes[0] == help_image().shape[1::-1] and sizes[1] == shown[1][1::-1]   # the window fits the view
    assert rendered == [(0, 0, 0), (0, 1, 0), (0, 6, 0), (1, 6, 0), (1, 6, 1), (2, 6, 1)]
    assert len(saved) == 3 and saved[-1].frames["00002.png"].blur_mask_modifier == 1
    assert st.effective(5).erode_mask_modifier == 6


def test_window_survives_a_frame_that_cannot_be_merged(monkeypatch):
    import merger.interactive as mi
    from core.errors import UserError

    codes = [9, ord("."), 27]
    sizes = []
    monkeypatch.setattr(mi.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "resizeWindow", lambda *a: sizes.append(a[1:]))
    monkeypatch.setattr(mi.cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "imshow", lambda name, img: None)
    monkeypatch.setattr(mi.cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(mi.cv2, "waitKeyEx", lambda delay: codes.pop(0))

    def render(index, cfg):
        if index == 0:
            raise UserError("00001.png: unreadable frame")
        return np.zeros((30, 40, 3), np.uint8), np.zeros((30, 40), np.float32)

    st = _state()
    assert mi.run_window(st, render, lambda s: None, decoder=mi.KeyDecoder()) == "quit" and st.index == 1
