"""Every stage on the footage corpus (core/sample_footage.py) through the CLI: extract finds the faces where they
are, sort, XSeg apply and pack keep them, merge swaps every face that has an aligned file (a person whose files
are deleted stays untouched), keeps every frame and the pixels far from the faces, video-from-sequence keeps
the frame count and the sound; several people in the interactive merger, the --bw-output modes, and tracks that
never swap two people."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from core.sample_footage import CLIPS, CORPUS, PEOPLE
from merger.sources import SourceSpec
from tests.fixtures_footage import aligned_faces, face_owner, run_cli

SORTS = ("hist", "face-yaw", "face-source-rect-size", "brightness", "black", "origname", "face-pitch",
         "motion-blur", "hist-dissim")
CLEAR = 0.9      # a face at least this visible must be found ...
FOUND = 0.9      # ... in at least this share of the frames


def frame_index(path) -> int:
    return int(path.stem) - 1


def far_from_faces(truths, shape, margin: float = 0.9) -> np.ndarray:
    """Pixels farther than `margin` face sizes from every face's box (the merge may touch the rest)."""
    far = np.ones(shape[:2], bool)
    for t in truths:
        m = margin * t.size
        x0, y0, x1, y1 = t.box
        far[max(0, int(y0 - m)):max(0, int(y1 + m + 1)), max(0, int(x0 - m)):max(0, int(x1 + m + 1))] = False
    return far


def check_found(shot) -> dict[str, list[np.ndarray]]:
    """Every aligned face lies on a true face (one each); every clear face is found in most frames."""
    found = aligned_faces(shot.aligned)
    frames = shot.frame_paths()
    hits: dict[str, list[int]] = {}
    for path in frames:
        truths = shot.clip.truth(frame_index(path))
        owners = [face_owner(lm, truths) for lm in found.get(path.stem, [])]
        assert None not in owners, f"{path.name}: a face found where there is none"
        assert len(set(owners)) == len(owners), f"{path.name}: one face found twice"
        for k, t in enumerate(truths):
            if t.visible >= CLEAR:
                hits.setdefault(t.person, []).append(int(k in owners))
    for person, seen in hits.items():
        assert np.mean(seen) >= FOUND, f"{person}: found in {sum(seen)} of {len(seen)} frames"
    return found


def merge_args(shot, model, out, *extra) -> list:
    return ["merge", "--input-dir", shot.frames, "--output-dir", out, "--output-mask-dir", f"{out}_mask",
            "--aligned-dir", shot.aligned, "--model-dir", model, "--model", "SAEHDBW", "--force-model-name", "tiny",
            "--no-interactive", *extra]


def changed_faces(shot, out, found) -> tuple[int, int]:
    """(faces whose centre area changed in the merged frame, faces with an aligned file)."""
    changed = total = 0
    for path in shot.frame_paths():
        src, dst = cv2.imread(str(path)), cv2.imread(str(out / path.name))
        for lm in found.get(path.stem, []):
            (cx, cy), r = np.asarray(lm).mean(0).astype(int), max(2, int(np.ptp(lm, axis=0).max() / 6))
            area = (slice(max(0, cy - r), cy + r), slice(max(0, cx - r), cx + r))
            total += 1
            changed += int(np.abs(src[area].astype(int) - dst[area].astype(int)).mean() > 3)
    return changed, total


@pytest.fixture(scope="module")
def model_with_xseg(footage_model, footage_xseg, tmp_path_factory):
    """The tiny SAEHDBW model folder with the tiny XSeg model beside it (the XSeg mask modes of merge)."""
    folder = tmp_path_factory.mktemp("model_xseg") / "model"
    shutil.copytree(footage_model, folder)
    shutil.copytree(footage_xseg, folder, dirs_exist_ok=True)
    return folder


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", CORPUS)
def test_every_stage_passes_the_clip(name, footage_shot, footage_xseg, model_with_xseg, tmp_path):
    from core.ffmpeg import probe
    shot = footage_shot(name).copy_to(tmp_path / "shot")
    clip = shot.clip
    frames = shot.frame_paths()
    found = check_found(shot)
    faces = sum(len(v) for v in found.values())

    sort = SORTS[CORPUS.index(name) % len(SORTS)]
    assert run_cli("sort", "--input-dir", shot.aligned, "--by", sort) == 0
    assert run_cli("xseg", "apply", "--input-dir", shot.aligned, "--model-dir", footage_xseg) == 0
    assert run_cli("util", "pack-faceset", "--input-dir", shot.aligned) == 0
    assert sum(len(v) for v in aligned_faces(shot.aligned).values()) == faces, sort

    out = tmp_path / "merged"   # every other clip: the temporal passes, or the XSeg masks
    extra = (["--smooth-mask", "3", "--stabilize-gamma", "--motion-blur-power", "40"] if CORPUS.index(name) % 2
             else ["--mask-mode", "XSeg-dst"])
    assert run_cli(*merge_args(shot, model_with_xseg, out, "--workers", "1", *extra)) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [p.name for p in frames]
    for path in frames:
        src, dst = cv2.imread(str(path)), cv2.imread(str(out / path.name))
        assert dst.shape == src.shape
        far = far_from_faces(shot.clip.truth(frame_index(path)), src.shape)
        np.testing.assert_array_equal(dst[far], src[far], err_msg=f"{name} {path.name}: pixels far from faces")
    changed, total = changed_faces(shot, out, found)
    assert changed >= 0.9 * total, f"{changed} of {total} faces swapped"

    result = tmp_path / "result.mp4"
    assert run_cli("video", "video-from-sequence", "--input-dir", out, "--output-file", result,
                   "--reference-file", clip.path, "--include-audio", "--bitrate", "2") == 0
    info = probe(result)
    w, h = clip.size
    assert (info.width, info.height) == (w + w % 2, h + h % 2)   # upright (a phone clip too), even for H.264
    assert info.frame_count == len(frames)
    assert info.has_audio == clip.spec.audio


def test_face_extents_of_the_people_match_dlib():
    """The face extents core/sample_footage.py places faces by are where dlib's HOG detector and 68-point
    predictor put the landmarks (which move by up to a tenth of the face with the detector's box)."""
    from core.sample_footage import cutout
    from facelib.detectors.dlib_detectors import DlibHogDetector
    from facelib.landmarkers.dlib_shape import DlibLandmarker
    for name in ("astronaut", "hopper"):
        image, _, (x0, y0, x1, y1) = cutout(name)
        image = np.clip(image, 0, 255).astype(np.uint8)
        box = max(DlibHogDetector().detect(image), key=lambda d: d.score)
        lm = DlibLandmarker().landmarks(image, box)
        size = max(x1 - x0, y1 - y0)
        assert np.linalg.norm(lm.mean(0) - ((x0 + x1) / 2, (y0 + y1) / 2)) < 0.1 * size
        assert abs(np.ptp(lm, axis=0).max() / size - 1) < 0.15


def test_the_corpus_holds_what_it_promises(footage_clip):
    from core.ffmpeg import probe
    info = {name: probe(footage_clip(name).path) for name in ("phone_portrait", "variable_rate", "odd_size",
                                                              "grayscale", "no_audio")}
    assert (info["phone_portrait"].width, info["phone_portrait"].height) == (270, 480)   # turned upright
    assert (info["odd_size"].width, info["odd_size"].height) == (1281, 719)
    assert info["grayscale"].video_codec == "ffv1" and not info["no_audio"].has_audio
    clip = footage_clip("variable_rate")
    assert info["variable_rate"].frame_count == len(clip.truths) < clip.spec.frames
    sizes = [t.size for t in footage_clip("small_faces").truths[0]]
    assert all(36 <= s <= 44 for s in sizes)
    assert 850 <= footage_clip("huge_face").truths[0][0].size <= 950
    group = footage_clip("group").truths
    assert all(len(t) == 6 and all(50 <= f.size <= 120 for f in t) for t in group)
    assert {f.identity for f in group[0]} == {"astronaut", "grace_hopper"}
    assert {PEOPLE[p].identity for p in PEOPLE} == {"astronaut", "grace_hopper"}
    cut = CLIPS["hard_cut"].frames // 2
    two = footage_clip("hard_cut").truths
    assert [t.person for t in two[cut - 1]] == ["astronaut", "hopper"] and [t.person for t in two[cut]] == [
        "hopper", "astronaut"]


@pytest.mark.slow
def test_two_people_whose_order_flips(footage_shot, footage_model, tmp_path):
    """The two-shot whose larger face alternates: two faces in every frame, their order in the aligned files
    flips, the merge (with the temporal passes) finishes every frame, and track ids never pass from one person
    to the other."""
    shot = footage_shot("two_shot")
    found = aligned_faces(shot.aligned)
    frames = shot.frame_paths()
    assert all(len(found.get(p.stem, [])) == 2 for p in frames)
    firsts = [face_owner(found[p.stem][0], shot.clip.truth(frame_index(p))) for p in frames]
    assert len(set(firsts)) == 2, "the larger face alternates, so the first aligned face changes person"

    assert len(track_owners(shot)) == 2

    out = tmp_path / "merged"
    assert run_cli(*merge_args(shot, footage_model, out, "--workers", "2", "--smooth-mask", "5",
                               "--stabilize-gamma", "--motion-blur-power", "50")) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [p.name for p in frames]
    changed, total = changed_faces(shot, out, found)
    assert changed == total == 2 * len(frames)


def track_owners(shot) -> dict[int, tuple[str, int, int]]:
    """Track id -> (person, first frame, last frame) of the merger's tracks on a shot's aligned faces; fails when
    a track passes from one person to another."""
    from mainscripts.merge import load_alignments
    from merger.config import MergerConfig
    from merger.frames import RunOptions, build_frames
    from merger.loop import Merger
    built = build_frames(shot.frames, load_alignments(shot.aligned))
    merger = Merger(built, [MergerConfig()] * len(built), _NoSource(), RunOptions(shot.root / "unused"))
    owners: dict[int, tuple[str, int, int]] = {}
    for frame, ids in zip(built, merger.tracks):
        truths = shot.clip.truth(frame.index)
        for fa, tid in zip(frame.faces, ids):
            person = truths[face_owner(fa.landmarks, truths)].person
            first = owners.get(tid, (person, frame.index, 0))
            assert first[0] == person, f"track {tid} passed from {first[0]} to {person} in {frame.name}"
            owners[tid] = (person, first[1], frame.index)
    return owners


@pytest.mark.parametrize("name", ["crossing", "hard_cut", "leave_and_return", "group"])
def test_tracks_never_pass_between_people(name, footage_shot):
    """People crossing, a hard cut where they swap sides, one leaving and coming back, a group of six: no track
    passes from one person to another, and no track runs over the cut."""
    owners = track_owners(footage_shot(name))
    people = {p for p, _, _ in owners.values()}
    assert len(people) == len(footage_shot(name).clip.truths[0])
    if name == "hard_cut":
        cut = CLIPS["hard_cut"].frames // 2
        assert all(last < cut or first >= cut for _, first, last in owners.values())
        assert len(owners) == 4
    if name == "crossing":
        assert len(owners) == 2


class _NoSource:
    """A face source for tracking only (nothing is predicted)."""

    spec = SourceSpec(64, "full_face", 1, "none")

    def predict(self, keys, faces):
        raise AssertionError("not used")


@pytest.mark.slow
def test_a_person_whose_aligned_files_are_deleted_is_left_untouched(footage_shot, footage_model, tmp_path):
    """As in DFL: the merge swaps the faces that have aligned files; delete a person's files and that person
    stays as filmed while the other is swapped."""
    from facelib.meta import read_meta
    shot = footage_shot("crossing").copy_to(tmp_path / "shot")
    kept = 0
    for path in sorted(shot.aligned.glob("*.jpg")):
        meta = read_meta(path)
        truths = shot.clip.truth(int(meta.source_filename.split(".")[0]) - 1)
        if truths[face_owner(meta.source_landmarks, truths)].person == "hopper":
            path.unlink()
        else:
            kept += 1
    assert kept >= CLIPS["crossing"].frames - 1
    out = tmp_path / "merged"
    assert run_cli(*merge_args(shot, footage_model, out, "--workers", "1")) == 0
    touched = untouched = 0
    for path in shot.frame_paths():
        src, dst = cv2.imread(str(path)), cv2.imread(str(out / path.name))
        for t in shot.clip.truth(frame_index(path)):
            x0, y0, x1, y1 = (int(round(v)) for v in t.box)
            same = np.array_equal(src[max(0, y0):y1, max(0, x0):x1], dst[max(0, y0):y1, max(0, x0):x1])
            if t.person == "hopper":
                assert same, f"{path.name}: the person without aligned files was changed"
                untouched += 1
            else:
                touched += int(not same)
    assert untouched == len(shot.frame_paths()) and touched >= kept - 1


def face_changes(src: np.ndarray, dst: np.ndarray, truths) -> list[float]:
    """Mean absolute change in the middle of each true face."""
    out = []
    for t in truths:
        (cx, cy), r = (int(v) for v in t.centre), max(2, int(t.size / 6))
        area = (slice(max(0, cy - r), cy + r), slice(max(0, cx - r), cx + r))
        out.append(float(np.abs(src[area].astype(int) - dst[area].astype(int)).mean()))
    return out


@pytest.mark.slow
def test_the_interactive_merger_shows_both_faces_swapped(footage_shot, footage_model, tmp_path, monkeypatch):
    """`merge --interactive` on the two-shot (a stand-in window takes the keys): every frame shown has both
    faces swapped; Enter then merges the rest."""
    import merger.interactive as mi
    from core import config
    shot = footage_shot("two_shot")
    shown = []
    codes = [9, ord("."), ord("."), 13]   # Tab: from help to the frame, next, next, Enter: merge the rest
    monkeypatch.setattr(mi.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "resizeWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(mi.cv2, "imshow", lambda name, img: shown.append(img.copy()))
    monkeypatch.setattr(mi.cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(mi.cv2, "waitKeyEx", lambda delay: codes.pop(0) if codes else 27)
    before = config.settings().has_display
    config.override(has_display=True)
    try:
        out = tmp_path / "merged"
        argv = merge_args(shot, footage_model, out, "--workers", "1")
        argv[argv.index("--no-interactive")] = "--interactive"
        assert run_cli(*argv) == 0
    finally:
        config.override(has_display=before)
    frames = shot.frame_paths()
    h, w = cv2.imread(str(frames[0])).shape[:2]
    views = [v for v in shown if v.shape != mi.help_image().shape]
    assert len(views) == 3
    for k, view in enumerate(views):
        src = cv2.imread(str(frames[k]))
        assert min(face_changes(src, view[:h, :w], shot.clip.truth(k))) > 3, f"frame {k + 1}"
    assert sorted(p.name for p in out.glob("*.png")) == [p.name for p in frames]


@pytest.mark.slow
def test_bw_output_modes_with_two_people(footage_shot, footage_model, tiny_workspace, tmp_path):
    """--bw-output gray, precomputed (both passes) and colorize on the two-shot (luma, the default, is the corpus
    test's): both faces swapped in every frame; gray frames are gray, the others keep their colour away from
    the faces."""
    from tests.fixtures_training import training_test_settings
    shot = footage_shot("two_shot").copy_to(tmp_path / "shot")
    model = tmp_path / "model"
    shutil.copytree(footage_model, model)
    options = tmp_path / "colorizer.json"
    options.write_text('{"resolution": 64, "base_ch": 8, "batch_size": 4, "target_iter": 2}')
    with training_test_settings():
        assert run_cli("train", "--model", "Colorizer", "--training-data-src-dir", tiny_workspace.src_aligned,
                       "--model-dir", model, "--config-file", options, "--no-preview") == 0
    frames = shot.frame_paths()
    for mode in ("gray", "precomputed", "colorize"):
        out = tmp_path / mode
        args = merge_args(shot, model, out, "--bw-output", mode, "--workers", "1")
        assert run_cli(*args) == 0, mode
        if mode == "precomputed":   # pass 1 wrote both faces of every frame; pass 2 merges them
            assert len(list((shot.frames / "predicted").glob("*.png"))) == 2 * len(frames)
            assert run_cli(*args) == 0
        assert sorted(p.name for p in out.glob("*.png")) == [p.name for p in frames], mode
        for k, path in enumerate(frames):
            src, dst = cv2.imread(str(path)), cv2.imread(str(out / path.name))
            assert min(face_changes(src, dst, shot.clip.truth(k))) > 3, f"{mode} {path.name}"
            far = far_from_faces(shot.clip.truth(k), src.shape)
            if mode == "gray":
                assert np.ptp(dst.astype(int), axis=2).max() <= 1
            else:
                np.testing.assert_array_equal(dst[far], src[far])
