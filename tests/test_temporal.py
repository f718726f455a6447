"""Face tracks across frames (merger/temporal.py): ids that hold when the faces' order flips, when two people
cross, when one leaves and another enters, and across a hard cut; motion per track; frames that cannot be
matched. Landmarks are the real ones of dlib on the package photos, moved around the frame."""
from __future__ import annotations

import numpy as np
import pytest

from merger import temporal


@pytest.fixture(scope="module")
def face(merge_scene) -> np.ndarray:
    """Grace Hopper's 68 landmarks, centred on (0, 0)."""
    lm = np.asarray(merge_scene.landmarks, np.float64)
    return lm - lm.mean(axis=0)


def at(face: np.ndarray, x: float, y: float, size: float = 100.0) -> np.ndarray:
    return face * (size / np.ptp(face, axis=0).max()) + [x, y]


def ids_of(tracks, frames, who):
    """Track id of person `who` (an index into the per-frame `who_order`) in every frame."""
    return [tracks[i][order.index(who)] for i, order in enumerate(frames)]


def test_ids_hold_when_the_faces_order_flips(face):
    """The two-shot whose larger face alternates: extract lists the larger face first, so the order of the
    aligned files flips from frame to frame (today's code raised ValueError from list.remove)."""
    a, b = (200.0, 150.0), (420.0, 150.0)
    orders = [[0, 1], [1, 0], [1, 0], [0, 1], [1, 0]]
    faces = [[at(face, *(a if who == 0 else b)) for who in order] for order in orders]
    tracks = temporal.assign_tracks(faces)
    assert len(set(ids_of(tracks, orders, 0))) == 1 and len(set(ids_of(tracks, orders, 1))) == 1
    assert ids_of(tracks, orders, 0)[0] != ids_of(tracks, orders, 1)[0]


def test_ids_follow_two_people_who_cross(face):
    """Two people cross, 30 px apart vertically at the crossing (faces of 100 px): matching each face to its
    nearest one in turn would hand the first face the other person's track."""
    n = 15
    people = [[(100 + 30 * i, 150.0) for i in range(n)], [(520 - 30 * i, 180.0) for i in range(n)]]
    orders = [[0, 1] if i % 3 else [1, 0] for i in range(n)]
    faces = [[at(face, *people[who][i]) for who in order] for i, order in enumerate(orders)]
    tracks = temporal.assign_tracks(faces)
    first, second = ids_of(tracks, orders, 0), ids_of(tracks, orders, 1)
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0] != second[0]


def test_optimal_matching_beats_nearest_first(face):
    """A at 0 moves to 40, B at 70 moves to 110 (faces of 100 px): A's new face is nearest to B's old one, so a
    greedy match of the first face takes B's track; the assignment minimising the total distance does not."""
    faces = [[at(face, 0, 0), at(face, 70, 0)], [at(face, 40, 0), at(face, 110, 0)]]
    tracks = temporal.assign_tracks(faces)
    assert tracks[1] == tracks[0]


def test_one_leaves_and_another_enters(face):
    """B walks out; three frames later C comes in where B was: C starts a new track, A keeps its own."""
    frames = [[at(face, 150, 150), at(face, 450, 150)]] * 3 + [[at(face, 150, 150)]] * 3
    frames += [[at(face, 450, 150), at(face, 152, 150)]] * 3
    tracks = temporal.assign_tracks(frames)
    a, b = tracks[0]
    assert [t[0] for t in tracks[:6]] == [a] * 6 and all(t[1] == a for t in tracks[6:])
    c = tracks[6][0]
    assert c not in (a, b) and all(t[0] == c for t in tracks[6:])


def test_a_face_missed_for_a_frame_keeps_its_track(face):
    frames = [[at(face, 150, 150), at(face, 450, 150)], [at(face, 152, 150)], [at(face, 154, 150),
                                                                                  at(face, 452, 150)]]
    tracks = temporal.assign_tracks(frames)
    assert tracks[2] == tracks[0] and tracks[1] == [tracks[0][0]]


def test_a_jump_starts_a_new_track(face):
    frames = [[at(face, 150, 150)], [at(face, 400, 150)]]
    tracks = temporal.assign_tracks(frames)
    assert tracks[0] != tracks[1]


def test_a_cut_starts_new_tracks(face):
    """After a hard cut the people stand where the other one stood: positions alone would carry the ids over."""
    frames = [[at(face, 150, 150), at(face, 450, 150)]] * 4
    tracks = temporal.assign_tracks(frames, cuts={2})
    assert tracks[1] == tracks[0] and tracks[3] == tracks[2]
    assert not set(tracks[2]) & set(tracks[1])


def test_faces_that_cannot_be_matched_get_tracks_of_their_own(face):
    """Landmarks with NaN (a damaged alignment) match nothing, and the rest still do."""
    bad = at(face, 150, 150)
    bad[5] = np.nan
    frames = [[at(face, 150, 150), at(face, 450, 150)], [bad, at(face, 452, 150)], [at(face, 151, 150)]]
    tracks = temporal.assign_tracks(frames)
    assert tracks[1][1] == tracks[0][1]
    assert tracks[1][0] not in tracks[0] and tracks[2][0] not in tracks[1]
    motions = temporal.motion_vectors(frames, tracks)
    assert motions[1][0] is None


def test_motion_is_measured_per_track(face):
    """Two people moving in opposite directions: each face gets its own track's motion (today a frame with two
    faces got none)."""
    frames = [[at(face, 100 + 10 * i, 150), at(face, 500 - 20 * i, 150)] for i in range(4)]
    frames[2].reverse()
    tracks = temporal.assign_tracks(frames)
    motions = temporal.motion_vectors(frames, tracks)
    left = motions[1][0]
    right = motions[2][0]       # frame 2 lists the right-hand face first
    assert left is not None and right is not None
    assert left.power == pytest.approx(20, abs=2) and abs(left.deg) < 5
    assert right.power == pytest.approx(40, abs=3) and abs(abs(right.deg) - 180) < 5


def test_scene_cuts_on_the_footage_corpus():
    """The hard cut of the corpus is found; moving cameras, people walking out and light changes are not cuts."""
    from core.sample_footage import CLIPS, clip_frames
    for name in ("hard_cut", "two_shot", "crossing", "leave_and_return", "variable_rate", "huge_face"):
        thumbs = [temporal.thumbnail(image) for image, _ in clip_frames(CLIPS[name])]
        cuts = [k for k in range(1, len(thumbs)) if temporal.is_cut(thumbs[k - 1], thumbs[k])]
        assert cuts == ([CLIPS[name].frames // 2] if name == "hard_cut" else []), name
