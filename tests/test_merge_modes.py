"""A new merge mode, mask mode or colour transfer is one function plus one registry line: toys registered in this
file only become `merge` flag choices, DFL-style numeric ids in the config, interactive keys and summary lines,
and merge real faces; the registries agree with DFL's settings, keys and questions."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

import main as cli
from merger.color import MERGE_COLOR_TRANSFERS, ColorTransfer
from merger.config import FIELDS, MergerConfig, step_field
from merger.interactive import FIELD_KEYS, InteractiveState, help_image, mode_keys
from merger.masked import FaceLayer, FaceMerge, merge_faces, prepare_face
from merger.masks import MASK_BUILDERS, MaskMode, MaskSources, build_mask
from merger.modes import MERGE_MODES, RAW_OPTIONS, MergeMode
from tests.fixtures_merge import RealFaceSource

RES = 64


def negative(m: FaceMerge) -> FaceLayer:
    """A toy merge mode: the predicted face's negative through the mask."""
    return FaceLayer(m.face.roi, 1.0 - m.face_to_frame(m.prd), m.frame_mask, m.frame_mask)


@pytest.fixture
def toys(monkeypatch):
    """The one registry line of each kind."""
    monkeypatch.setitem(MERGE_MODES, "negative", MergeMode("negative", "7", negative, RAW_OPTIONS))
    monkeypatch.setitem(MASK_BUILDERS, "left-half", MaskMode("left-half", lambda s: s.dst_hull * _left(s.dst_hull)))
    monkeypatch.setitem(MERGE_COLOR_TRANSFERS, "darker", ColorTransfer("darker", lambda prd, dst, area: prd * 0.5))


def _left(mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mask)
    out[:, : mask.shape[1] // 2] = 1.0
    return out


def _merge_flags() -> dict[str, argparse.Action]:
    merge = cli.build_parser()._subparsers._group_actions[0].choices["merge"]
    return {a.dest: a for a in merge._actions}


def _merge(scene, cfg: MergerConfig):
    source = RealFaceSource(scene, RES)
    face = prepare_face(scene.frame, scene.landmarks, RES, "full_face", cfg.output_face_scale)
    pred = source.predict([("f", 0)], [face.dst_face])[0]
    return merge_faces(scene.frame, [(face, pred, None)], cfg)


def test_registered_toys_are_choices_ids_keys_and_summary_lines(toys):
    flags = _merge_flags()
    assert list(flags["mode"].choices)[-1] == "negative"
    assert list(flags["mask_mode"].choices)[-1] == "left-half"
    assert list(flags["color_transfer_mode"].choices)[-1] == "darker"
    cfg = MergerConfig(mode=7, mask_mode=10, color_transfer_mode=9)         # DFL-style ids: the place in the registry
    assert (cfg.mode, cfg.mask_mode, cfg.color_transfer_mode) == ("negative", "left-half", "darker")
    assert MergerConfig.from_dict({"mode": "Negative"}).mode == "negative"
    assert "  mode                  : negative" in cfg.summary()
    # the settings the toy declares are the ones asked; the others are not
    assert [s.name for s in FIELDS if cfg.asks(s.name)] == ["mode", "mask_mode", "output_face_scale", "sharpen_mode"]
    # its key in the interactive merger, and the colour-transfer key cycles on to the new transfer
    state = InteractiveState(["a.png"], MergerConfig(), tuple(MASK_BUILDERS))
    assert state.handle("7") == "config" and state.cfg.mode == "negative"
    last = MergerConfig(color_transfer_mode="mix-m")
    assert step_field(last, "color_transfer_mode", 1).color_transfer_mode == "darker"
    assert step_field(cfg, "color_transfer_mode", 1).color_transfer_mode == "none"


def test_registered_toys_merge_real_faces(toys, merge_scene):
    base = MergerConfig(mode="overlay", mask_mode="dst", color_transfer_mode="none")
    overlay = _merge(merge_scene, base)
    negative_ = _merge(merge_scene, base.copy(mode="negative"))
    inside = overlay.mask > 0.999
    assert inside.sum() > 500
    total = overlay.image[inside].astype(int) + negative_.image[inside].astype(int)
    assert np.abs(total - 255).max() <= 1                                     # the face and its negative
    np.testing.assert_array_equal(negative_.image[overlay.mask == 0], merge_scene.frame[overlay.mask == 0])
    left = _merge(merge_scene, base.copy(mask_mode="left-half"))
    cols = np.nonzero(overlay.mask.max(axis=0) > 0)[0]
    assert 0 < left.mask.sum() < 0.7 * overlay.mask.sum()                     # only the face's left half
    assert left.mask[:, cols.max() - 2:].max() == 0
    darker = _merge(merge_scene, base.copy(color_transfer_mode="darker"))
    assert darker.image[inside].mean() < 0.6 * overlay.image[inside].mean()


def test_the_registries_hold_dfls_modes_keys_and_questions():
    assert list(MERGE_MODES) == ["original", "overlay", "hist-match", "seamless", "seamless-hist-match", "raw-rgb",
                                 "raw-predict"]
    assert "".join(mode_keys()) == "`123456"
    assert not set(mode_keys()) & (set(FIELD_KEYS) | set("zxcnmv,./-=")), "a mode key shadows another binding"
    names = {s.name for s in FIELDS}
    for mode in MERGE_MODES.values():
        assert set(mode.options) <= names and mode.gray
    asked = {name: [s.name for s in FIELDS if MergerConfig(mode=name, sharpen_mode="box").asks(s.name)]
             for name in MERGE_MODES}
    blended = ["mode", "mask_mode", "erode_mask_modifier", "blur_mask_modifier", "motion_blur_power",
               "output_face_scale", "color_transfer_mode", "sharpen_mode", "blursharpen_amount",
               "image_denoise_power", "bicubic_degrade_power", "color_degrade_power"]
    assert asked["overlay"] == asked["seamless"] == asked["original"] == blended
    assert asked["hist-match"] == blended[:1] + ["masked_hist_match", "hist_match_threshold"] + blended[1:]
    assert asked["seamless-hist-match"] == blended[:1] + ["hist_match_threshold"] + blended[1:]
    assert asked["raw-rgb"] == asked["raw-predict"] == ["mode", "mask_mode", "output_face_scale", "sharpen_mode",
                                                        "blursharpen_amount"]
    assert not MergerConfig(sharpen_mode="none").asks("blursharpen_amount")
    assert [m.name for m in MERGE_MODES.values() if m.raw] == ["raw-rgb", "raw-predict"]
    assert [name for name, m in MASK_BUILDERS.items() if m.xseg] == ["XSeg-prd", "XSeg-dst", "XSeg-prd*XSeg-dst",
                                                                     "learned-prd*learned-dst*XSeg-prd*XSeg-dst"]
    assert help_image().shape[0] > 100


def test_an_xseg_mask_mode_names_itself_when_the_masks_are_missing():
    disk = np.ones((8, 8, 1), np.float32)
    sources = MaskSources(disk, disk, disk, xseg_prd=disk)
    assert build_mask("XSeg-prd", sources).min() == 1                       # needs only the predicted face's XSeg
    from core.errors import UserError
    with pytest.raises(UserError, match=r"mask mode learned-prd\*learned-dst\*XSeg-prd\*XSeg-dst needs XSeg"):
        build_mask("learned-prd*learned-dst*XSeg-prd*XSeg-dst", sources)
