"""The identity filter: dlib's face descriptor on the two built-in people, `extract --filter-identity`,
`sort --by identity / identity-groups` and `util faceset-info`'s people count on a two-person clip, through the
CLI. The measured acceptance: with one photo of one person as reference, >= 95 % of that person's faces are kept
and <= 2 % of the other's; identity-groups puts >= 95 % of each person's faces in one folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import main as cli
from core import config, interact
from facelib import identity
from facelib.extractor import FaceExtractor
from facelib.meta import load_face, read_meta

CLIP_FRAMES = 16
CLIP_SIZE = (640, 360)


def _descriptor_of_photo(photo: np.ndarray) -> np.ndarray:
    face = FaceExtractor("blazeface").find_faces(photo)[0]
    return identity.descriptor(photo, face.landmarks)


def test_the_two_people_are_far_apart_and_one_person_stays_close(astronaut_bgr, hopper_bgr):
    from core.sample_media import synth_frames
    collins, hopper = _descriptor_of_photo(astronaut_bgr), _descriptor_of_photo(hopper_bgr)
    assert collins.shape == (128,)
    assert identity.distances(collins, hopper)[0] > identity.DEFAULT_THRESHOLD
    extractor = FaceExtractor("blazeface")
    frames = list(synth_frames(astronaut_bgr, 6, size=(480, 360), seed=3))
    found = [extractor.find_faces(f) for f in frames]
    assert all(len(f) == 1 for f in found)
    clip = np.stack([identity.descriptor(frame, faces[0].landmarks) for frame, faces in zip(frames, found)])
    assert identity.distances(clip, collins).max() < 0.45            # the same person, filmed
    assert identity.distances(clip, hopper).min() > identity.DEFAULT_THRESHOLD
    gray = cv2.cvtColor(cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)[..., 0]
    assert identity.distances(identity.descriptor(gray, found[0][0].landmarks), collins)[0] < 0.45
    people, loose = identity.group_people(np.concatenate([clip, hopper[None], hopper[None]]))
    assert [sorted(p) for p in people] == [list(range(6)), [6, 7]] and loose == []


def _stand_in(photo: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`photo` moved and scaled so that its face lies where the face of `where` is (same image size)."""
    extractor = FaceExtractor("blazeface")
    mat, _ = cv2.estimateAffinePartial2D(extractor.find_faces(photo)[0].landmarks,
                                         extractor.find_faces(where)[0].landmarks)
    return cv2.warpAffine(photo, mat, (where.shape[1], where.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def test_the_filter_measures_again_after_a_cut(astronaut_bgr, hopper_bgr):
    """A face that stays the same keeps its distance for a few frames; another person in the same place (a hard
    cut, the camera moving on) is measured at once and left out."""
    from core.sample_media import synth_frames
    extractor = FaceExtractor("blazeface")
    flt = identity.IdentityFilter(_descriptor_of_photo(astronaut_bgr)[None])
    collins = list(synth_frames(astronaut_bgr, 40, size=(480, 360), seed=3))[:8]   # 40: the camera's period
    hopper = list(synth_frames(_stand_in(hopper_bgr, astronaut_bgr), 40, size=(480, 360), seed=3))[8:11]
    for frame in collins:
        kept, distances = flt.keep(frame, extractor.find_faces(frame))
        assert len(kept) == 1 and distances[0] < 0.45
    assert flt.measured == 1  # the same face, again within RECHECK_FRAMES
    for frame in hopper:
        faces = extractor.find_faces(frame)
        assert len(faces) == 1 and identity.box_iou(faces[0].rect, flt.previous[0].rect) > 0.5
        assert flt.keep(frame, faces) == ([], [])
    assert flt.measured >= 2


# --------------------------------------------------------------------------------------- the two-person clip ---

@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut_bgr, hopper_bgr) -> dict[str, Path]:
    """PNG frames of Collins (left) and Hopper (right) side by side, a photo of each, and the faceset extracted
    from the frames without a filter."""
    from core.sample_media import two_shot
    root = tmp_path_factory.mktemp("two_people")
    frames = root / "frames"
    frames.mkdir()
    for i, frame in enumerate(two_shot(astronaut_bgr, hopper_bgr, CLIP_FRAMES, CLIP_SIZE, seed=2)):
        cv2.imwrite(str(frames / f"{i:05d}.png"), frame)
    cv2.imwrite(str(root / "collins.jpg"), astronaut_bgr)
    cv2.imwrite(str(root / "hopper.jpg"), hopper_bgr)
    assert _extract(frames, root / "aligned") == 0
    return {"frames": frames, "collins": root / "collins.jpg", "hopper": root / "hopper.jpg",
            "aligned": root / "aligned"}


def _extract(frames: Path, out: Path, *flags: str) -> int:
    return cli.main(["--non-interactive", "extract", "--input-dir", str(frames), "--output-dir", str(out),
                     "--detector", "blazeface", "--face-type", "wf", "--image-size", "256", "--no-output-debug",
                     *flags])


def _who(path: Path) -> str:
    """Who a face is, from where it was in the frame: Collins stands on the left."""
    l, _, r, _ = read_meta(path).source_rect
    return "collins" if (l + r) / 2 < CLIP_SIZE[0] / 2 else "hopper"


def _count(folder: Path) -> dict[str, int]:
    counts = {"collins": 0, "hopper": 0}
    for path in folder.glob("*.jpg"):
        counts[_who(path)] += 1
    return counts


def test_the_clip_shows_both_people_in_every_frame(clip):
    assert _count(clip["aligned"]) == {"collins": CLIP_FRAMES, "hopper": CLIP_FRAMES}


def _check_only(folder: Path, person: str) -> None:
    """The acceptance: >= 95 % of the person's faces kept, <= 2 % of the other's; each with its distance."""
    counts = _count(folder)
    other = next(name for name in counts if name != person)
    assert counts[person] >= 0.95 * CLIP_FRAMES and counts[other] <= 0.02 * CLIP_FRAMES, counts
    for path in folder.glob("*.jpg"):
        distance = identity.stored_distance(read_meta(path))
        assert distance is not None and 0 <= distance <= identity.DEFAULT_THRESHOLD


def test_extract_keeps_only_the_person_in_the_reference(clip, tmp_path):
    out = tmp_path / "aligned"
    assert _extract(clip["frames"], out, "--filter-identity", str(clip["collins"])) == 0
    _check_only(out, "collins")
    # The same run again continues (nothing left to do); another reference starts over (non-interactive: yes).
    before = sorted(p.name for p in out.glob("*.jpg"))
    assert _extract(clip["frames"], out, "--filter-identity", str(clip["collins"])) == 0
    assert sorted(p.name for p in out.glob("*.jpg")) == before
    assert _extract(clip["frames"], out, "--filter-identity", str(clip["hopper"])) == 0
    _check_only(out, "hopper")


def test_an_aligned_face_or_a_folder_is_a_reference_too(clip, tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    hopper_faces = [p for p in sorted(clip["aligned"].glob("*.jpg")) if _who(p) == "hopper"]
    for path in hopper_faces[:2]:
        shutil.copy(path, refs / path.name)
    reference = identity.load_reference([refs])
    assert reference.descriptors.shape == (2, 128) and reference.sources == [p.name for p in hopper_faces[:2]]
    out = tmp_path / "aligned"
    assert _extract(clip["frames"], out, "--filter-identity", str(hopper_faces[5]), "--identity-threshold",
                    "0.5", "--smooth-landmarks", "3") == 0
    assert _count(out) == {"collins": 0, "hopper": CLIP_FRAMES}
    assert all(identity.stored_distance(read_meta(p)) <= 0.5 for p in out.glob("*.jpg"))


def test_a_bad_reference_is_one_line_before_any_frame(clip, tmp_path, log_messages):
    out = tmp_path / "aligned"
    assert _extract(clip["frames"], out, "--filter-identity", str(tmp_path / "nobody.jpg")) == 1
    assert log_messages[-1].endswith(f"{tmp_path / 'nobody.jpg'}: reference photo not found")
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 90, np.uint8))
    assert _extract(clip["frames"], out, "--filter-identity", str(blank)) == 1
    assert f"{blank}: no face found in this reference photo" in log_messages[-1]
    assert "\n" not in log_messages[-1]
    assert _extract(clip["frames"], out, "--filter-identity") == 1  # the flag alone, nothing to ask
    assert "no reference photo given" in log_messages[-1]
    assert _extract(clip["frames"], out, "--filter-identity", str(clip["hopper"]), "--identity-threshold",
                    "7") == 1
    assert not out.exists()  # no frame was processed


def test_the_reference_is_asked_like_the_other_questions(clip, monkeypatch):
    import argparse
    from mainscripts import extract
    parser = argparse.ArgumentParser()
    extract.register(parser.add_subparsers())
    prompts = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return f'"{clip["hopper"]}"' if "reference photo" in prompt else ""

    config.override(non_interactive=False)
    monkeypatch.setattr(interact, "read_line", answer)
    try:
        opts = extract.build_options(parser.parse_args(["extract", "--input-dir", str(clip["frames"]),
                                                        "--output-dir", "unused"]))
    finally:
        config.override(non_interactive=True)
    assert "Keep only the person in a reference photo (its path, Enter = everyone) ( ?:help ) : " in prompts
    assert "[0.6] Identity threshold ( 0.1-1.5 ?:help ) : " in prompts
    assert opts.identity.sources == ["hopper.jpg"] and opts.identity_threshold == 0.6
    assert opts.signature()["identity"]["reference"] == opts.identity.signature()


# --------------------------------------------------------------------------------------------- sort and info ---

def test_sort_identity_groups_puts_each_person_in_one_folder(clip, tmp_path):
    folder = tmp_path / "aligned"
    shutil.copytree(clip["aligned"], folder)
    assert cli.main(["--non-interactive", "sort", "--input-dir", str(folder), "--by", "identity-groups"]) == 0
    assert not list(folder.glob("*.jpg"))
    people = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert people == ["person_1", "person_2"]
    for person in people:
        counts = _count(folder / person)
        assert max(counts.values()) >= 0.95 * CLIP_FRAMES and min(counts.values()) <= 0.02 * CLIP_FRAMES
    assert {max(_count(folder / p), key=_count(folder / p).get) for p in people} == {"collins", "hopper"}
    assert not (tmp_path / "aligned_trash").exists()


def test_sort_identity_trashes_the_other_person_nearest_first(clip, tmp_path):
    folder = tmp_path / "aligned"
    shutil.copytree(clip["aligned"], folder)
    assert cli.main(["--non-interactive", "sort", "--input-dir", str(folder), "--by", "identity", "--ref",
                     str(clip["collins"])]) == 0
    assert _count(folder) == {"collins": CLIP_FRAMES, "hopper": 0}
    assert _count(tmp_path / "aligned_trash") == {"collins": 0, "hopper": CLIP_FRAMES}
    reference = identity.load_reference([clip["collins"]]).descriptors
    kept = sorted(folder.glob("*.jpg"))[::5]  # renamed in order: nearest first
    values = [identity.distances(identity.aligned_descriptor(*load_face(p)), reference)[0] for p in kept]
    assert values == sorted(values)


def test_faceset_info_counts_the_people(clip, tmp_path, capsys):
    faces = sorted(clip["aligned"].glob("*.jpg"))
    for name, people in (("one", ["collins"]), ("two", ["collins", "hopper"])):
        folder = tmp_path / name
        folder.mkdir()
        for person in people:
            for path in [p for p in faces if _who(p) == person][:5]:
                shutil.copy(path, folder / path.name)
        assert cli.main(["util", "faceset-info", "--input-dir", str(folder), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["people"] == len(people)
