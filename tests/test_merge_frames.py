"""The frame loop on a small real dst workspace: ranges, resume, copy-through, workers, temporal passes and the
precomputed two-pass workflow (the face source is the real aligned astronaut face)."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from core.errors import UserError
from mainscripts.merge import load_alignments
from merger import sources
from merger.config import MergerConfig
from merger.frames import RunOptions, build_frames, parse_frame_ranges, select_frames
from merger.loop import Merger
from tests.fixtures_merge import RealFaceSource

CFG = MergerConfig(mode="overlay", mask_mode="dst", blur_mask_modifier=8, color_transfer_mode="rct")


@pytest.fixture()
def ws(merge_workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(merge_workspace, root)
    return root


def _merger(ws, source, cfg=CFG, **run):
    frames = build_frames(ws / "data_dst", load_alignments(ws / "data_dst" / "aligned"))
    opts = RunOptions(ws / "data_dst" / "merged", ws / "data_dst" / "merged_mask", **run)
    return Merger(frames, [cfg] * len(frames), source, opts), frames


def _read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_frame_ranges():
    assert parse_frame_ranges("100-103,7, 9") == {100, 101, 102, 103, 7, 9}
    with pytest.raises(UserError, match="--frames '5-2'"):
        parse_frame_ranges("5-2")
    with pytest.raises(UserError):
        parse_frame_ranges("a-b")
    with pytest.raises(UserError, match="--skip-frames '1,x'"):   # the error names the flag the user got wrong
        select_frames([], "1", "1,x")


def test_merges_all_frames_and_copies_the_plain_one(ws, merge_scene):
    merger, frames = _merger(ws, RealFaceSource(merge_scene))
    assert [len(f.faces) for f in frames] == [1, 1, 1, 1, 1, 0]
    stats = merger.run_all(frames)
    assert (stats.merged, stats.copied, stats.failed) == (5, 1, 0)
    for f in frames:
        out, mask = _read(ws / "data_dst/merged" / f"{f.stem}.png"), _read(ws / "data_dst/merged_mask" / f"{f.stem}.png")
        src = _read(f.path)
        assert out.shape == src.shape and mask.shape == src.shape[:2]
        if f.faces:
            assert mask.max() == 255 and np.abs(out.astype(int) - src.astype(int)).max() > 30
            np.testing.assert_array_equal(out[mask == 0], src[mask == 0])
        else:
            assert (ws / "data_dst/merged/00006.png").read_bytes() == f.path.read_bytes()
            assert mask.max() == 0


def test_a_frame_range_merges_only_those_frames_and_resume_skips_done(ws, merge_scene):
    source = RealFaceSource(merge_scene)
    merger, frames = _merger(ws, source)
    todo = select_frames(frames, "2-3,5", skip="5")
    assert [f.stem for f in todo] == ["00002", "00003"]
    stats = merger.run_all(todo)
    assert stats.merged == 2
    assert sorted(p.name for p in (ws / "data_dst/merged").glob("*.png")) == ["00002.png", "00003.png"]
    assert sum(source.calls) == 2
    stamp = (ws / "data_dst/merged/00002.png").stat().st_mtime_ns
    again = merger.run_all(frames[:3])
    assert (again.already_done, again.merged) == (2, 1)
    assert (ws / "data_dst/merged/00002.png").stat().st_mtime_ns == stamp
    merger.run.force = True
    assert merger.run_all(frames[:2]).merged == 2
    merger.run.force = False
    merger.run.identity = "the model trained on"          # another model state: nothing counts as done
    assert merger.run_all(frames[:2]).already_done == 0


def test_worker_processes_give_the_same_frames(ws, merge_scene):
    merger, frames = _merger(ws, RealFaceSource(merge_scene))
    merger.run_all(frames)
    single = {f.stem: _read(ws / "data_dst/merged" / f"{f.stem}.png") for f in frames}
    shutil.rmtree(ws / "data_dst/merged")
    merger.run.workers = 2
    stats = merger.run_all(frames)
    assert (stats.merged, stats.copied) == (5, 1)
    for f in frames:
        np.testing.assert_array_equal(_read(ws / "data_dst/merged" / f"{f.stem}.png"), single[f.stem])


def test_gray_luma_and_alpha_outputs(ws, merge_scene):
    merger, frames = _merger(ws, RealFaceSource(merge_scene, channels=1), bw_output="gray")
    merger.run_all(frames)
    assert _read(ws / "data_dst/merged/00001.png").ndim == 2
    assert _read(ws / "data_dst/merged/00006.png").ndim == 2       # frames without faces turn gray too
    merger, frames = _merger(ws, RealFaceSource(merge_scene, channels=1), bw_output="luma", force=True,
                             export_mask_alpha=True)
    merger.run_all(frames)
    out = _read(ws / "data_dst/merged/00001.png")
    assert out.shape[2] == 4
    np.testing.assert_array_equal(out[..., 3], _read(ws / "data_dst/merged_mask/00001.png"))
    assert np.abs(out[..., 0].astype(int) - out[..., 2].astype(int)).mean() > 5   # still a colour frame


def test_unreadable_frame_is_skipped_with_a_warning(ws, merge_scene):
    (ws / "data_dst/00003.png").write_bytes(b"not a png")
    merger, frames = _merger(ws, RealFaceSource(merge_scene))
    stats = merger.run_all(frames)
    assert (stats.merged, stats.failed) == (4, 1)
    assert not (ws / "data_dst/merged/00003.png").exists()


def test_a_full_disk_stops_the_merge_keeps_the_done_frames_and_names_the_file(ws, merge_scene, monkeypatch):
    import errno
    import merger.worker as worker
    real_write, written = worker.write_output, []

    def disk_fills_after_three_files(path, data):
        if len(written) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)
        written.append(path.name)

    monkeypatch.setattr(worker, "write_output", disk_fills_after_three_files)
    merger, frames = _merger(ws, RealFaceSource(merge_scene))
    with pytest.raises(OSError, match="No space left on device") as caught:
        merger.run_all(frames)
    assert caught.value.errno == errno.ENOSPC
    merged = sorted(p.name for p in (ws / "data_dst/merged").glob("*.png"))
    assert merged and len(merged) < len(frames)          # stopped at the first failure, not every frame warned
    monkeypatch.undo()
    stats = merger.run_all(frames)                       # space freed: the resume merges only the rest
    assert stats.already_done >= 1 and stats.merged + stats.copied + stats.already_done == len(frames)


def test_stabilize_gamma_flattens_brightness(ws, merge_scene):
    class Flicker(RealFaceSource):
        def predict(self, keys, faces):
            preds = super().predict(keys, faces)
            for (stem, _), p in zip(keys, preds):
                p.face = np.clip(p.face * (1.25 if int(stem) % 2 else 0.8), 0, 1)
            return preds

    from merger.temporal import face_brightness
    merger, frames = _merger(ws, Flicker(merge_scene), stabilize_gamma=True, gamma_window=5)
    with_faces = [f for f in frames if f.faces]
    merger.probe_gamma(with_faces)
    assert len(merger.gammas) == 5
    raw = [face_brightness(p) for p in merger.source.predict([(f.stem, 0) for f in with_faces],
                                                             [np.zeros((64, 64, 3))] * 5)]
    steady = []
    for f in with_faces:
        item = merger.load(f, CFG)
        merger._predict([item])
        steady.append(face_brightness(item.preds[0]))
    assert np.std(steady) < 0.5 * np.std(raw)
    assert merger.run_all(frames).merged == 5


def test_smooth_mask_averages_masks_along_the_track(ws, merge_scene):
    class Pulsing(RealFaceSource):
        def predict(self, keys, faces):
            preds = super().predict(keys, faces)
            for (stem, _), p in zip(keys, preds):
                if int(stem) % 2:
                    p.learned_prd = np.zeros_like(p.learned_prd)
            return preds

    cfg = CFG.copy(mask_mode="learned-prd", blur_mask_modifier=0)
    merger, frames = _merger(ws, Pulsing(merge_scene), cfg=cfg, smooth_mask=3)
    assert merger.tracks[:5] == [[0]] * 5
    merger.run_all(frames)
    masks = [_read(ws / "data_dst/merged_mask" / f"{i:05d}.png") for i in range(1, 6)]
    # without smoothing odd frames would have an empty mask; with N=3 every face gets a partial mask
    assert all(m.max() > 0 for m in masks)
    assert masks[1].max() > masks[0].max() * 0.5 and masks[0].max() < 255


def test_precomputed_two_pass(ws, merge_scene):
    folder = ws / "data_dst/predicted"
    merger, frames = _merger(ws, RealFaceSource(merge_scene, channels=1))
    assert merger.export_predictions(frames, folder) == 5
    spec, stems = sources.read_spec(folder)
    assert spec.channels == 1 and {"00001", "00005"} <= stems
    # a "colorizer" edits one face: pass 2 merges the edited file as colour
    face = cv2.imread(str(folder / "00002_0.png"), cv2.IMREAD_UNCHANGED)
    colour = cv2.merge([face // 3, face // 2, face])
    cv2.imwrite(str(folder / "00002_0.png"), colour)
    merger2, frames = _merger(ws, sources.PrecomputedSource(folder), bw_output="precomputed")
    stats = merger2.run_all(frames)
    assert stats.merged == 5
    out = _read(ws / "data_dst/merged/00002.png").astype(int)
    mask = _read(ws / "data_dst/merged_mask/00002.png") > 200
    assert (out[..., 2] - out[..., 0])[mask].mean() > 20          # the colorized (reddish) face is in the frame


def test_interactive_preview_matches_the_written_frame(ws, merge_scene):
    merger, frames = _merger(ws, RealFaceSource(merge_scene))
    preview = merger.render(1, CFG)
    merger.run_all(frames[1:2])
    np.testing.assert_array_equal(preview.image, _read(ws / "data_dst/merged/00002.png"))
    other = merger.render(1, CFG.copy(mode="original"))          # cached prediction, new config
    np.testing.assert_array_equal(other.image, _read(frames[1].path))


def test_fast_png_settings_are_lossless_and_leave_no_temp_files(ws, merge_scene):
    from merger.worker import encode_png
    merger, frames = _merger(ws, RealFaceSource(merge_scene))
    merger.run_all(frames)
    assert not list((ws / "data_dst/merged").glob(".*.tmp")) and not list((ws / "data_dst/merged_mask").glob(".*"))
    frame = _read(ws / "data_dst/merged/00002.png")
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(encode_png(frame), np.uint8), cv2.IMREAD_UNCHANGED),
                                  frame)


def test_worker_runs_hand_frames_over_in_shared_memory(ws):
    """The ring is sized for the decoded frames (so they go through shared memory, not the pipe); a run of
    frames without faces decodes nothing and needs none."""
    import multiprocessing
    from merger.loop import frame_ring
    frames = build_frames(ws / "data_dst", load_alignments(ws / "data_dst" / "aligned"))
    ring = frame_ring(multiprocessing.get_context("spawn"), frames, 4)
    first = next(f for f in frames if f.faces)
    assert ring is not None and ring.slot_bytes == _read(first.path).nbytes and len(ring.free) == 4
    assert frame_ring(multiprocessing.get_context("spawn"), [f for f in frames if not f.faces], 4) is None
