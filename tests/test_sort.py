"""Every sort method on a small real faceset: the ordering property it promises, renames, trash, gray, packs."""
from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

import main as cli
from facelib.landmarks import estimate_pitch_yaw_roll
from facelib.meta import load_face, read_meta, save_face
from mainscripts import sort_methods as sm
from mainscripts.sort import sort_folder, trash_dir
from samplelib import pak


def _digest(path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _sorted_files(folder):
    return sorted(p for p in folder.iterdir() if p.is_file())


def _run(folder, method, **opts):
    """Sort and return (kept original names in order, trashed original names); checks the renames kept bytes."""
    before = {p.name: _digest(p) for p in folder.iterdir()}
    result = sort_folder(folder, method, sm.SortOptions(**opts))
    kept = [p.name for p in result.kept]
    files = _sorted_files(folder)
    assert [p.name for p in files] == [f"{i:05d}.jpg" for i in range(len(kept))]
    assert [_digest(p) for p in files] == [before[n] for n in kept]  # same bytes, metadata included
    trash = [p.name for p in result.trash]
    if trash:
        assert sorted(_digest(p) for p in trash_dir(folder).iterdir()) == sorted(before[n] for n in trash)
    return kept, trash


@pytest.fixture
def subset(real_faceset, tmp_path):
    def make(*groups):
        return real_faceset.copy_to(tmp_path / "aligned", groups), real_faceset
    return make


def test_registry_has_every_dfl_method():
    assert list(sm.SORT_METHODS)[:15] == [
        "blur", "motion-blur", "face-yaw", "face-pitch", "face-source-rect-size", "hist", "hist-dissim",
        "brightness", "hue", "black", "origname", "oneface", "absdiff", "absdiff-dissim", "final"][:15]
    assert "final-fast" in sm.SORT_METHODS and sm.DEFAULT_METHOD == "hist"


@pytest.mark.parametrize("method", ["blur", "motion-blur"])
def test_blur_puts_blurred_copies_last(subset, method):
    folder, fs = subset("base", "blurred")
    kept, trash = _run(folder, method)
    assert not trash
    blurred = set(fs.groups["blurred"])
    assert set(kept[-len(blurred):]) == blurred


def test_non_face_images_go_to_trash_for_metadata_methods(subset):
    folder, _ = subset("blurred")
    cv2.imwrite(str(folder / "plain.png"), np.full((64, 64, 3), 128, np.uint8))
    _, trash = _run(folder, "blur")
    assert trash == ["plain.png"] and (trash_dir(folder) / "plain.png").exists()


@pytest.mark.parametrize("method", ["hist", "brightness", "black"])
def test_images_without_face_data_go_to_trash_for_every_method(subset, method):
    # Regression: pixel-only methods renamed add-landmarks-debug-images' `_debug.jpg` files (and any picture
    # dropped in by hand) in among the faces as 000NN.jpg, where nobody could tell them apart any more.
    folder, fs = subset("dark")
    first = folder / fs.groups["dark"][0]
    cv2.imwrite(str(folder / f"{first.stem}_debug.jpg"), cv2.imread(str(first)))
    cv2.imwrite(str(folder / "plain.png"), np.full((64, 64, 3), 128, np.uint8))
    kept, trash = _run(folder, method)
    assert sorted(kept) == sorted(fs.groups["dark"])
    assert sorted(trash) == sorted([f"{first.stem}_debug.jpg", "plain.png"])


@pytest.mark.parametrize("method,index", [("face-yaw", 1), ("face-pitch", 0)])
def test_pose_sorts_are_monotone(subset, method, index):
    folder, _ = subset("base")
    kept, _ = _run(folder, method)
    values = []
    for p in _sorted_files(folder):
        image, meta = load_face(p)
        values.append(estimate_pitch_yaw_roll(meta.landmarks, image.shape[1])[index])
    assert len(set(np.round(values, 4))) > 3  # the faceset really has different poses
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_face_source_rect_size_descending(subset):
    folder, _ = subset("base", "twoface")
    _run(folder, "face-source-rect-size")
    areas = [(m.source_rect[2] - m.source_rect[0]) * (m.source_rect[3] - m.source_rect[1])
             for m in map(read_meta, _sorted_files(folder))]
    assert areas == sorted(areas, reverse=True) and areas[0] > areas[-1]


def _cv_hists(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    planes = [image] * 3 if image.ndim == 2 else cv2.split(image)
    return [cv2.calcHist([p], [0], None, [256], [0, 256]) for p in planes]


def test_hist_is_a_greedy_similarity_chain(subset):
    folder, _ = subset("base", "dark", "blurred")
    originals = {p.name: _cv_hists(p) for p in folder.iterdir()}
    kept, trash = _run(folder, "hist")
    assert not trash and sorted(kept) == sorted(originals) and kept[0] == min(originals, key=lambda n: int(n[:5]))

    def dist(a, b):
        return sum(cv2.compareHist(x, y, cv2.HISTCMP_BHATTACHARYYA) for x, y in zip(originals[a], originals[b]))
    for i in range(len(kept) - 2):
        best = min(dist(kept[i], n) for n in kept[i + 1:])
        assert dist(kept[i], kept[i + 1]) == pytest.approx(best, abs=1e-6)


def test_hist_dissim_descending_against_opencv(subset):
    folder, _ = subset("base", "dark")
    hists = {}
    for p in folder.iterdir():
        image, meta = load_face(p)
        hists[p.name] = sm._gray_face_hist(image, meta) ** 2  # back to a plain normalised histogram
    kept, _ = _run(folder, "hist-dissim")
    scores = [sum(cv2.compareHist(hists[a].astype(np.float32), hists[b].astype(np.float32),
                                  cv2.HISTCMP_BHATTACHARYYA) for b in kept if b != a) for a in kept]
    assert all(a >= b - 1e-4 for a, b in zip(scores, scores[1:]))


def test_brightness_puts_dark_copies_last_and_is_descending(subset):
    folder, fs = subset("base", "dark")
    kept, _ = _run(folder, "brightness")
    assert set(kept[-len(fs.groups["dark"]):]) == set(fs.groups["dark"])
    v = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2HSV)[..., 2].mean() for p in _sorted_files(folder)]
    assert v == sorted(v, reverse=True)


def test_hue_descending(subset):
    folder, _ = subset("base")
    _run(folder, "hue")
    h = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2HSV)[..., 0].mean() for p in _sorted_files(folder)]
    assert h == sorted(h, reverse=True) and h[0] > h[-1]


def test_black_ascending(subset):
    folder, fs = subset("base")
    image, meta = load_face(folder / fs.groups["base"][0])
    image[:, :64] = 0
    save_face(folder / "99999_0.png", image, meta)
    kept, _ = _run_any_ext(folder, "black")
    assert kept[-1] == "99999_0.png"


def _run_any_ext(folder, method):
    result = sort_folder(folder, method, sm.SortOptions())
    counts = [np.count_nonzero(cv2.imread(str(p), cv2.IMREAD_UNCHANGED) == 0) for p in _sorted_files(folder)]
    assert counts == sorted(counts)
    return [p.name for p in result.kept], [p.name for p in result.trash]


def test_origname_orders_by_source_filename(subset):
    folder, _ = subset("base", "blurred", "twoface")
    cv2.imwrite(str(folder / "plain.jpg"), np.zeros((32, 32, 3), np.uint8))
    _, trash = _run(folder, "origname")
    names = [read_meta(p).source_filename for p in _sorted_files(folder)]
    assert names == sorted(names) and trash == ["plain.jpg"]


def test_oneface_trashes_two_face_frames(subset):
    folder, fs = subset("base", "twoface")
    kept, trash = _run(folder, "oneface")
    assert sorted(trash) == sorted(fs.groups["twoface"]) and sorted(kept) == sorted(fs.groups["base"])


@pytest.mark.parametrize("method", ["absdiff", "absdiff-dissim"])
def test_absdiff_chain(subset, method):
    folder, _ = subset("base", "dark")
    pixels = {p.name: cv2.imread(str(p)).astype(np.int64) for p in folder.iterdir()}
    kept, _ = _run(folder, method)
    pick = min if method == "absdiff" else max

    def d(a, b):
        return int(np.abs(pixels[a] - pixels[b]).sum())
    for i in range(len(kept) - 1):
        assert d(kept[i], kept[i + 1]) == pick(d(kept[i], n) for n in kept[i + 1:])


@pytest.mark.parametrize("method", ["final", "final-fast"])
def test_final_keeps_exactly_the_target(subset, method):
    folder, fs = subset("base", "blurred", "dark", "twoface")
    total = len(fs.names("base", "blurred", "dark", "twoface"))
    kept, trash = _run(folder, method, target_count=9)
    assert len(kept) == 9 and len(trash) == total - 9
    assert len(list(trash_dir(folder).iterdir())) == total - 9


def test_final_selection_balances_yaw_and_prefers_sharp():
    rng = np.random.default_rng(0)
    hist = np.sqrt(np.full(256, 1 / 256))
    records = [(float(s), yaw, 0.0, hist) for yaw in (-0.5, 0.0, 0.5) for s in rng.uniform(0, 1, 20)]
    kept, trash = sm.select_best(records, 6)
    assert len(kept) == 6 and len(trash) == 54
    assert sorted(records[i][1] for i in kept) == [-0.5, -0.5, 0.0, 0.0, 0.5, 0.5]
    for yaw in (-0.5, 0.0, 0.5):  # one pitch bin per face wanted; with equal pitch the sharpest lead
        group = [i for i in range(60) if records[i][1] == yaw]
        best = max(group, key=lambda i: records[i][0])
        assert best in kept
    assert sm.select_best(records, 1000)[1] == []


def test_grayscale_faceset(subset):
    folder, fs = subset("base", "blurred")
    for p in list(folder.iterdir()):
        image, meta = load_face(p)
        save_face(p, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), meta, jpeg_quality=95)
    kept, _ = _run(folder, "blur")
    assert set(kept[-len(fs.groups["blurred"]):]) == set(fs.groups["blurred"])
    assert load_face(folder / "00000.jpg")[0].ndim == 2
    kept, _ = _run(folder, "hist")
    assert len(kept) == len(fs.names("base", "blurred"))
    kept, trash = _run(folder, "final", target_count=5)
    assert len(kept) == 5


def test_trash_never_overwrites(subset):
    folder, fs = subset("twoface")
    trash = trash_dir(folder)
    trash.mkdir()
    (trash / fs.groups["twoface"][0]).write_bytes(b"older trash")
    _run_trash = sort_folder(folder, "oneface", sm.SortOptions())
    assert (trash / fs.groups["twoface"][0]).read_bytes() == b"older trash"
    assert len(list(trash.iterdir())) == len(fs.groups["twoface"]) + 1 and not _run_trash.kept


def test_dfl_final_names_select_the_best_faces(subset, log_messages):
    folder, fs = subset("base", "blurred")
    assert cli.main(["--non-interactive", "sort", "--input-dir", str(folder), "--by", "final-by-size",
                     "--target-count", "5"]) == 0
    assert len(_sorted_files(folder)) == 5 and any("by final-fast" in m for m in log_messages)


def test_cli_sorts_a_packed_faceset(subset):
    folder, fs = subset("base", "blurred")
    pak.pack_faceset(folder, delete_originals=True)
    assert cli.main(["sort", "--input-dir", str(folder), "--by", "blur"]) == 0
    assert [p.name for p in folder.iterdir()] == ["faceset.pak"]
    packed = pak.PackedFaceset(folder / "faceset.pak")
    assert packed.names() == [f"{i:05d}.jpg" for i in range(len(fs.names("base", "blurred")))]


def test_cli_without_by_uses_hist_non_interactively(subset, monkeypatch):
    from core import interact
    lines = []
    monkeypatch.setattr(interact, "log_info", lines.append)
    folder, fs = subset("dark")
    assert cli.main(["sort", "--input-dir", str(folder)]) == 0
    assert any("by hist (histogram similarity)" in line for line in lines)
    assert [p.name for p in _sorted_files(folder)] == [f"{i:05d}.jpg" for i in range(len(fs.groups["dark"]))]
    assert cli.main(["sort", "--input-dir", str(folder / "missing"), "--by", "blur"]) == 1
    # Regression: a zero or negative target count moved the whole faceset to the trash.
    for count in ("0", "-5"):
        assert cli.main(["sort", "--input-dir", str(folder), "--by", "final", "--target-count", count]) == 1
    assert len(_sorted_files(folder)) == len(fs.groups["dark"]) and not trash_dir(folder).exists()


def test_parallel_workers_match_serial(real_faceset):
    paths = [str(real_faceset.dir / n) for n in real_faceset.names("base")[:6]]
    assert sm.parallel_map(sm.measure_blur, paths, "t", workers=2) == [sm.measure_blur(p) for p in paths]


def _naive_widths(edges, image):
    """Edge widths walked pixel by pixel as the CPBD description states (reference for the vectorised code)."""
    h, w = image.shape
    gy, gx = np.gradient(image)
    out = np.zeros((h, w))
    for r in range(1, h - 1):
        for c in range(1, w - 1):
            if not edges[r, c]:
                continue
            angle = np.degrees(np.arctan2(gy[r, c], gx[r, c])) if gx[r, c] != 0 else 0.0
            q = 45 * np.round(angle / 45)
            if q not in (0, 180, -180):
                continue
            sign = 1 if q == 0 else -1  # rising edge: intensity grows to the right
            m = 0
            while m <= 100 and c - 2 - m >= 0 and sign * (image[r, c - 2 - m] - image[r, c - 1 - m]) < 0:
                m += 1
            left = min(m, 100) + 1
            m = 0
            while m <= 100 and c + 2 + m < w and sign * (image[r, c + 2 + m] - image[r, c + 1 + m]) > 0:
                m += 1
            out[r, c] = left + min(m, 100) + 1
    return out


def test_cpbd_vectorised_widths_match_the_pixel_walk(astronaut_bgr):
    from core.imagelib import sharpness
    gray = cv2.cvtColor(cv2.resize(astronaut_bgr, (96, 80)), cv2.COLOR_BGR2GRAY).astype(np.float64)
    gray = cv2.GaussianBlur(gray, (0, 0), 1.2)
    edges = sharpness._sobel_vertical_edges(gray)
    assert edges.sum() > 50
    assert np.array_equal(sharpness._edge_widths(edges, gray), _naive_widths(edges, gray))


def test_cpbd_ranks_blur(astronaut_bgr):
    from core.imagelib.sharpness import estimate_sharpness
    face = cv2.resize(astronaut_bgr[60:200, 150:290], (192, 192))
    scores = [estimate_sharpness(cv2.GaussianBlur(face, (0, 0), s) if s else face) for s in (0, 1.5, 3.0)]
    assert 0 <= scores[2] < scores[1] < scores[0] <= 1
    assert estimate_sharpness(np.zeros((128, 128), np.uint8)) == 0.0


def test_identity_groups_split_a_packed_faceset_into_person_folders(subset):
    """Each of the two people of the faceset in their own folder (even the faces turned 35 degrees); a packed
    faceset stays unpacked in those folders, for the user to pick one. A face like no one else's (dlib finds the
    mission patch on the astronaut's sleeve in one rolled photo) goes to the trash."""
    folder, fs = subset("astronaut-roll", "astronaut-yaw", "hopper-roll", "hopper-yaw")
    pak.pack_faceset(folder, delete_originals=True)
    assert cli.main(["--non-interactive", "sort", "--input-dir", str(folder), "--by", "identity-groups"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["person_1", "person_2"]
    groups = [{p.name for p in (folder / person).iterdir()} for person in ("person_1", "person_2")]
    people = [set(fs.names("astronaut-roll", "astronaut-yaw")), set(fs.names("hopper-roll", "hopper-yaw"))]
    assert all(any(group <= person for person in people) for group in groups) and groups[0] != groups[1]
    trash = {p.name for p in trash_dir(folder).iterdir()} if trash_dir(folder).exists() else set()
    assert groups[0] | groups[1] | trash == people[0] | people[1] and len(trash) <= 1
    assert sm.SORT_METHODS["identity-groups"].func([], sm.SortOptions(identity_threshold=0.6)).groups == []


def test_identity_keeps_the_reference_person_nearest_first(subset, hopper_bgr, tmp_path):
    folder, fs = subset("astronaut-roll", "hopper-roll", "hopper-yaw")
    ref = tmp_path / "hopper.png"
    cv2.imwrite(str(ref), hopper_bgr)
    kept, trash = _run(folder, "identity", reference=[ref], identity_threshold=0.6, workers=1)
    assert sorted(kept) == sorted(fs.names("hopper-roll", "hopper-yaw"))
    assert sorted(trash) == sorted(fs.groups["astronaut-roll"])
    from facelib.identity import distances, load_reference
    reference = load_reference([ref]).descriptors
    values = [distances(sm.measure_descriptor(str(p)), reference)[0] for p in _sorted_files(folder)]
    assert values == sorted(values) and values[-1] <= 0.6
