"""XSeg training data: polygon rendering (facelib.xseg_polys), label selection and the XSeg sample generator on
real whole-face faces."""
from __future__ import annotations

import dataclasses
import logging

import cv2
import numpy as np
import pytest

from core.errors import UserError
from facelib.landmarks import get_image_hull_mask, get_transform_mat
from facelib.meta import load_face, save_face
from facelib.xseg_polys import has_polys, polys_equal, render_polys, transform_polys
from samplelib import loader
from samplelib.loader import load_samples
from samplelib.xseg_generator import NO_AUGMENT, SampleGeneratorXSeg, XSegAugment, labelled_samples

R = 64
GEOMETRY_ONLY = XSegAugment(background_chance=0.0, photometric=False)


def _square(x0, y0, x1, y1, kind=1) -> dict:
    return {"type": kind, "pts": np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)}


# ------------------------------------------------------------------------------------------- polygons ---

def test_render_polys_fills_in_order_and_ignores_short_polygons():
    big, hole = _square(2, 2, 13, 13), _square(5, 5, 9, 9, kind=0)
    mask = render_polys([big, hole], (16, 16, 3))
    assert mask.shape == (16, 16) and mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    assert mask[3, 3] == 1 and mask[7, 7] == 0 and mask[0, 0] == 0 and mask[13, 13] == 1 and mask[14, 14] == 0
    assert mask.sum() == 12 * 12 - 5 * 5
    # order matters: an include drawn after the exclude fills the hole again
    assert render_polys([big, hole, _square(6, 6, 8, 8)], (16, 16))[7, 7] == 1
    # an exclude first removes nothing; polygons of fewer than 3 points draw nothing
    line = {"type": 1, "pts": np.array([[0, 0], [15, 15]], np.float32)}
    assert np.array_equal(render_polys([hole, big], (16, 16)), render_polys([big], (16, 16)))
    assert render_polys([line, {"type": 1, "pts": np.zeros((0, 2))}], (16, 16)).sum() == 0
    assert render_polys(None, (4, 5)).shape == (4, 5)
    assert not has_polys([line]) and has_polys([line, hole]) and not has_polys(None)


def test_transform_polys_and_polys_equal():
    polys = [_square(2, 2, 10, 10), _square(4, 4, 6, 6, kind=0)]
    mat = np.array([[2.0, 0, 1], [0, 2.0, -1]])
    moved = transform_polys(polys, mat)
    assert moved[0]["pts"].dtype == np.float32 and moved[1]["type"] == 0
    assert np.allclose(moved[0]["pts"][0], [5, 3]) and np.allclose(moved[1]["pts"][2], [13, 11])
    assert transform_polys(None, mat) == []
    assert polys_equal(polys, [dict(p) for p in polys]) and polys_equal(None, [])
    assert not polys_equal(polys, moved) and not polys_equal(polys, polys[:1])
    assert not polys_equal(polys, [polys[0], dict(polys[1], type=1)])
    nudged = [polys[0], {"type": 0, "pts": polys[1]["pts"] + 0.01}]
    assert not polys_equal(polys, nudged) and polys_equal(polys, nudged, atol=0.1)


# ------------------------------------------------------------------------------------------- facesets ---

def _labels(meta) -> list[dict]:
    """The landmark hull as an include polygon and a square over the left eye as an exclude one."""
    hull = cv2.convexHull(meta.landmarks.astype(np.float32)).reshape(-1, 2)
    cx, cy = meta.landmarks[36:42].mean(axis=0)
    half = 0.06 * 192
    return [{"type": 1, "pts": hull}, _square(cx - half, cy - half, cx + half, cy + half, kind=0)]


def _make_set(src, out, paint: bool = False, gray: bool = False):
    """Copies of the whole-face faces with `_labels` polygons; `paint`: bright label, dark rest (a face whose
    label can be seen in its pixels); `gray`: 1-channel JPEGs."""
    out.mkdir(parents=True)
    for name in src.names():
        image, meta = load_face(src.dir / name)
        meta.xseg_polys = _labels(meta)
        if paint:
            label = render_polys(meta.xseg_polys, image.shape)[..., None]
            image = np.where(label > 0, np.uint8(220), np.uint8(30)) * np.ones_like(image)
        if gray:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        save_face(out / name, image, meta, jpeg_quality=95)
    loader.clear_cache()
    return out


@pytest.fixture
def labelled(whole_face_set, tmp_path):
    return _make_set(whole_face_set, tmp_path / "labelled")


@pytest.fixture
def dfl_log():
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    handler = Collect(logging.INFO)
    logger = logging.getLogger("dfl")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_labelled_samples_prefers_polygons_then_masks(labelled, dfl_log):
    samples = load_samples(labelled)
    assert len(samples) == 4 and all(has_polys(s.xseg_polys) and s.xseg_png for s in samples)
    assert np.allclose(samples[0].xseg_polys[1]["pts"], load_face(labelled / samples[0].name)[1].xseg_polys[1]["pts"])
    mixed = [dataclasses.replace(s, xseg_polys=None) if k % 2 else s for k, s in enumerate(samples)]
    chosen, kind = labelled_samples(mixed)
    assert kind == "polygons" and chosen == [mixed[0], mixed[2]]
    masks_only = [dataclasses.replace(s, xseg_polys=None) for s in samples]
    masks_only[3] = dataclasses.replace(masks_only[3], xseg_png=None)
    chosen, kind = labelled_samples(masks_only)
    assert kind == "masks" and chosen == masks_only[:3]
    assert any("Using 3 xseg labeled samples" in line for line in dfl_log)
    with pytest.raises(UserError, match="No segmented faces found") as err:
        labelled_samples([dataclasses.replace(s, xseg_png=None) for s in masks_only])
    assert "xseg editor" in str(err.value)
    with pytest.raises(UserError, match="No segmented faces found"):
        SampleGeneratorXSeg([dataclasses.replace(s, xseg_png=None) for s in masks_only], 2, R, workers=0)


# ------------------------------------------------------------------------------------------ generator ---

def test_batches_have_the_model_shapes_and_binary_masks(labelled):
    with SampleGeneratorXSeg(load_samples(labelled), 4, R, "wf", seed=1, workers=0) as gen:
        for _ in range(3):
            images, masks = next(gen)
            assert images.shape == (4, R, R, 3) and images.dtype == np.float32
            assert masks.shape == (4, R, R, 1) and masks.dtype == np.float32
            assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.05
            assert set(np.unique(masks)) <= {0.0, 1.0}
            assert 0.1 < masks.mean() < 0.9


def test_masks_from_stored_xseg_masks_follow_the_polygon_path(whole_face_set):
    """The fixture's faces carry a landmark-hull mask at 256 px: without polygons that mask is the label."""
    samples = [dataclasses.replace(s, xseg_polys=None) for s in load_samples(whole_face_set.dir)]
    gen = SampleGeneratorXSeg(samples, 4, R, "wf", seed=2, augment=False, workers=0)
    _, masks = gen.next()
    assert set(np.unique(masks)) <= {0.0, 1.0}
    hulls = [get_image_hull_mask((R, R), s.landmarks * (R / 192))[..., 0] > 0.5 for s in samples]
    for mask in masks[..., 0] > 0:
        assert max((h & mask).sum() / (h | mask).sum() for h in hulls) > 0.9


@pytest.mark.parametrize("model_type", ["wf", "f"])
def test_unaugmented_mask_is_the_polygon_at_model_resolution(labelled, model_type):
    """Same face type: the polygons resized to R; another type: re-aligned with get_transform_mat."""
    samples = load_samples(labelled)
    gen = SampleGeneratorXSeg(samples, len(samples), R, model_type, seed=3, augment=NO_AUGMENT, workers=0)
    images, masks = gen.next()
    for image, mask in zip(images, masks[..., 0]):
        ious = []
        for s in samples:
            mat = (np.array([[R / 192, 0, 0.5 * R / 192 - 0.5], [0, R / 192, 0.5 * R / 192 - 0.5]])
                   if model_type == "wf" else get_transform_mat(s.landmarks, R, model_type))
            want = render_polys(transform_polys(s.xseg_polys, mat), (R, R)) > 0
            ious.append((want & (mask > 0)).sum() / max(1, (want | (mask > 0)).sum()))
        assert max(ious) > 0.93 and sorted(ious)[-2] < max(ious)
    if model_type == "f":  # a full face is a closer crop than a whole face: the face fills more of it
        assert masks.mean() > SampleGeneratorXSeg(samples, 4, R, "wf", augment=NO_AUGMENT, workers=0).next()[1].mean()


def test_image_and_mask_share_the_random_warp(whole_face_set, tmp_path):
    """Faces painted bright inside their label: after the random warp, affine and flip the bright pixels are
    exactly the mask (a flip, rotation or warp drawn separately for the two would break this)."""
    samples = load_samples(_make_set(whole_face_set, tmp_path / "painted", paint=True))
    gen = SampleGeneratorXSeg(samples, 8, R, "wf", seed=4, augment=GEOMETRY_ONLY, workers=0)
    for _ in range(2):
        images, masks = gen.next()
        bright = images.mean(axis=3) > 0.5
        agree = (bright == (masks[..., 0] > 0)).mean(axis=(1, 2))
        assert agree.min() > 0.97, agree
        shuffled = (bright == (np.roll(masks, 1, axis=0)[..., 0] > 0)).mean()
        assert shuffled < agree.mean() - 0.03
    # with every augmentation on (background mixing, flares, colour, blur, JPEG) the face still sits in the mask
    gen = SampleGeneratorXSeg(samples, 16, R, "wf", seed=5, workers=0)
    images, masks = gen.next()
    inside = images.mean(axis=3)[masks[..., 0] > 0].mean()
    outside = images.mean(axis=3)[masks[..., 0] == 0].mean()
    assert inside - outside > 0.25, (inside, outside)


@pytest.mark.parametrize("grayscale_load", [False, True])
def test_gray_faces_give_three_equal_channels(whole_face_set, tmp_path, grayscale_load):
    samples = load_samples(_make_set(whole_face_set, tmp_path / "gray", gray=True), grayscale=grayscale_load)
    gen = SampleGeneratorXSeg(samples, 8, R, "wf", seed=6, workers=0)
    for _ in range(3):
        images, masks = gen.next()
        assert images.shape == (8, R, R, 3)
        assert np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 1], images[..., 2])
        assert images.std() > 0.05 and set(np.unique(masks)) <= {0.0, 1.0}


def test_pretrain_uses_every_face_and_targets_the_gray_image(labelled):
    samples = [dataclasses.replace(s, xseg_polys=None, xseg_png=None) for s in load_samples(labelled)]
    gen = SampleGeneratorXSeg(samples, 4, R, "wf", pretrain=True, seed=7, workers=0)
    assert len(gen.samples) == len(samples)
    images, targets = gen.next()
    assert images.shape == (4, R, R, 3) and targets.shape == (4, R, R, 1)
    for image, target in zip(images, targets):
        assert np.allclose(target[..., 0], cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), atol=1e-6)
    assert len(np.unique(targets)) > 50  # a gray picture, not a binary mask


def test_same_seed_same_batches_whatever_the_threads(labelled):
    samples = load_samples(labelled)

    def batches(seed, workers):
        with SampleGeneratorXSeg(samples, 3, R, "wf", seed=seed, workers=workers) as gen:
            return [gen.next() for _ in range(3)]
    first, again, threaded, other = batches(11, 0), batches(11, 0), batches(11, 2), batches(12, 0)
    for a, b, c in zip(first, again, threaded):
        assert all(np.array_equal(x, y) and np.array_equal(x, z) for x, y, z in zip(a, b, c))
    assert not np.array_equal(first[0][0], other[0][0])


def test_unreadable_face_is_skipped_with_one_warning(labelled, dfl_log):
    samples = load_samples(labelled)
    broken = labelled / samples[1].name
    broken.write_bytes(broken.read_bytes()[:300])  # truncated after loading (e.g. the disk went away)
    gen = SampleGeneratorXSeg(samples, 4, R, "wf", seed=8, workers=2)
    for _ in range(4):
        images, masks = gen.next()
        assert images.shape == (4, R, R, 3) and set(np.unique(masks)) <= {0.0, 1.0}
    gen.close()
    warnings = [line for line in dfl_log if samples[1].name in line]
    assert len(warnings) == 1 and "Skipping" in warnings[0]
    with pytest.raises(RuntimeError, match="closed"):
        gen.next()
    for s in samples:
        (labelled / s.name).write_bytes(b"")
    with pytest.raises(UserError, match="can be read"):
        SampleGeneratorXSeg(samples, 2, R, "wf", seed=9, workers=0).next()
