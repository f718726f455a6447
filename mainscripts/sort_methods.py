"""The faceset sort methods of DeepFaceLab, one registry entry each: key -> (menu text, function).

Every method takes the image paths and `SortOptions` and returns `SortResult(kept in order, trash)`. Per-image
measurements run in spawn-safe worker processes (module-level functions) with a tqdm bar; the orderings that
compare images with each other (histogram chains, absdiff, best-faces selection) run vectorised in this process.
Grayscale (1-channel) facesets work everywhere; colour-only measures say so.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from core import interact
from core.errors import UserError
from core.fsio import natural_key
from core.imagelib.sharpness import estimate_sharpness, laplacian_variance, to_gray
from facelib import identity
from facelib.landmarks import estimate_pitch_yaw_roll, get_image_hull_mask
from facelib.meta import FaceFileError, FaceMeta, load_face

HIST_CHUNK = 20000
PARALLEL_MIN_ITEMS = 200  # below this, starting worker processes costs more than it saves


@dataclass
class SortOptions:
    target_count: int | None = None  # final / final-fast; None asks (default 2000)
    similar: bool | None = None  # absdiff; None asks (default similar)
    workers: int = 0  # 0 = automatic (all CPU cores for large facesets), 1 = in this process
    reference: list[Path] | None = None  # identity: pictures of the person to keep; None asks
    identity_threshold: float | None = None  # identity, identity-groups; None asks (default 0.6)


@dataclass
class SortResult:
    kept: list[Path]
    trash: list[Path] = field(default_factory=list)
    groups: list[list[Path]] = field(default_factory=list)  # moved into sub-folders person_1, person_2, ...


@dataclass(frozen=True)
class SortMethod:
    key: str
    description: str  # DFL's menu text
    explain: str  # what the user gets, for --help
    func: Callable[[list[Path], SortOptions], SortResult]


SORT_METHODS: dict[str, SortMethod] = {}


def _method(key: str, description: str, explain: str):
    def wrap(func):
        SORT_METHODS[key] = SortMethod(key, description, explain, func)
        return func
    return wrap


# ----------------------------------------------------------------------------------------- parallel plumbing ---

def worker_count(requested: int, items: int) -> int:
    if requested > 0:
        return requested
    return 1 if items < PARALLEL_MIN_ITEMS else max(1, min(os.cpu_count() or 1, 8))


def parallel_map(func: Callable, items: Sequence, desc: str, workers: int = 0) -> list:
    """`[func(x) for x in items]` with a progress bar, in spawned worker processes when worthwhile."""
    workers = worker_count(workers, len(items))
    if workers <= 1:
        return [func(x) for x in tqdm(items, desc=desc, ascii=True)]
    chunk = max(1, min(64, len(items) // (workers * 8)))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(tqdm(pool.map(func, items, chunksize=chunk), total=len(items), desc=desc, ascii=True))


# ------------------------------------------------------------------------------- per-image measures (workers) ---

def _load(path: str) -> tuple[np.ndarray | None, FaceMeta | None]:
    try:
        return load_face(path)
    except FaceFileError:
        return None, None


def _load_face_with_landmarks(path: str):
    image, meta = _load(path)
    if image is None or meta is None or meta.landmarks is None:
        return None, None
    return image, meta


def _hull_masked(image: np.ndarray, meta: FaceMeta) -> np.ndarray:
    mask = get_image_hull_mask(image.shape, meta.landmarks, meta.eyebrows_expand_mod)
    if image.ndim == 2:
        mask = mask[..., 0]
    return (image * mask).astype(np.uint8)


def measure_blur(path: str) -> float | None:
    image, meta = _load_face_with_landmarks(path)
    return None if image is None else estimate_sharpness(_hull_masked(image, meta))


def measure_motion_blur(path: str) -> float | None:
    image, meta = _load_face_with_landmarks(path)
    return None if image is None else laplacian_variance(_hull_masked(image, meta))


def measure_pose(path: str) -> tuple[float, float] | None:
    """(pitch, yaw) from the aligned landmarks, or None."""
    image, meta = _load_face_with_landmarks(path)
    if image is None:
        return None
    pitch, yaw, _ = estimate_pitch_yaw_roll(meta.landmarks, size=image.shape[1])
    return pitch, yaw


def _rect_area(meta: FaceMeta | None) -> float | None:
    if meta is None or meta.source_rect is None:
        return None
    l, t, r, b = meta.source_rect
    return float(abs((r - l) * (b - t)))


def measure_rect_area(path: str) -> float | None:
    return _rect_area(_load(path)[1])


def _normalized_sqrt_hist(hist: np.ndarray) -> np.ndarray:
    """sqrt(h / sum h): Bhattacharyya coefficients become dot products of these vectors."""
    hist = hist.astype(np.float64).reshape(-1)
    total = hist.sum()
    return np.sqrt(hist / total) if total > 0 else np.zeros_like(hist)


def measure_bgr_hist(path: str) -> np.ndarray | None:
    """3x256 per-channel histograms (B, G, R) of the whole image; a gray image repeats its one histogram."""
    image, _ = _load(path)
    if image is None:
        return None
    planes = [image] * 3 if image.ndim == 2 else cv2.split(image)
    return np.stack([_normalized_sqrt_hist(cv2.calcHist([p], [0], None, [256], [0, 256])) for p in planes])


def _gray_face_hist(image: np.ndarray, meta: FaceMeta | None) -> np.ndarray:
    gray = to_gray(image)
    mask = None
    if meta is not None and meta.landmarks is not None:
        mask = (get_image_hull_mask(gray.shape, meta.landmarks, meta.eyebrows_expand_mod)[..., 0] > 0).astype(np.uint8)
        mask = mask if mask.any() else None
    return _normalized_sqrt_hist(cv2.calcHist([gray], [0], mask, [256], [0, 256]))


def measure_gray_hist(path: str) -> np.ndarray | None:
    """256-bin grayscale histogram of the face hull (whole image for non-face files)."""
    image, meta = _load(path)
    return None if image is None else _gray_face_hist(image, meta)


def measure_brightness(path: str) -> float | None:
    image, _ = _load(path)
    if image is None:
        return None
    return float(image.mean() if image.ndim == 2 else image.max(axis=2).mean())  # HSV value = max(B, G, R)


def measure_hue(path: str) -> float | None:
    image, _ = _load(path)
    if image is None:
        return None
    return 0.0 if image.ndim == 2 else float(cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 0].mean())


def measure_black(path: str) -> int | None:
    image, _ = _load(path)
    return None if image is None else int(np.count_nonzero(image == 0))


def measure_source_filename(path: str) -> str | None:
    _, meta = _load(path)
    return None if meta is None else meta.source_filename


def measure_descriptor(path: str) -> np.ndarray | None:
    """dlib's face descriptor of the aligned face (None without landmarks)."""
    image, meta = _load_face_with_landmarks(path)
    return None if image is None else identity.aligned_descriptor(image, meta)


def measure_best(path: str, fast: bool = False) -> tuple | None:
    """(sharpness or source-rect area, yaw, pitch, gray face histogram) for the best-faces selection."""
    image, meta = _load_face_with_landmarks(path)
    if image is None:
        return None
    pitch, yaw, _ = estimate_pitch_yaw_roll(meta.landmarks, size=image.shape[1])
    if fast:
        sharpness = _rect_area(meta) or 0.0
    else:
        sharpness = estimate_sharpness(_hull_masked(image, meta))
    return sharpness, yaw, pitch, _gray_face_hist(image, meta)


def measure_best_fast(path: str) -> tuple | None:
    return measure_best(path, fast=True)


# ----------------------------------------------------------------------------------------- ordering helpers ---

def order_by(paths: list[Path], values: list, reverse: bool, trash_missing: bool = True) -> SortResult:
    """Stable sort of `paths` by `values`; paths whose value is None go to trash (or last when kept)."""
    pairs = [(p, v) for p, v in zip(paths, values) if v is not None]
    missing = [p for p, v in zip(paths, values) if v is None]
    pairs.sort(key=lambda pv: pv[1], reverse=reverse)
    kept = [p for p, _ in pairs]
    return SortResult(kept, missing) if trash_missing else SortResult(kept + missing, [])


def bhattacharyya_chain(u: np.ndarray) -> list[int]:
    """Greedy similarity chain: position i+1 takes the remaining image closest to image i.

    `u` is (n, channels, bins) of sqrt-normalised histograms; the distance is the sum over channels of
    OpenCV's Bhattacharyya distance sqrt(1 - sum sqrt(p q)).
    """
    n = len(u)
    work = np.ascontiguousarray(np.transpose(u, (1, 0, 2)))  # (channels, n, bins)
    order = np.arange(n)
    for i in range(n - 2):
        bc = np.matmul(work[:, i + 1:], work[:, i, :, None])[..., 0]  # (channels, n - i - 1)
        score = np.sqrt(np.clip(1.0 - bc, 0.0, None)).sum(axis=0)
        j = i + 1 + int(np.argmin(score))
        if j != i + 1:
            work[:, [i + 1, j]] = work[:, [j, i + 1]]
            order[[i + 1, j]] = order[[j, i + 1]]
    return order.tolist()


def dissimilarity_scores(u: np.ndarray, block: int = 2048) -> np.ndarray:
    """For (n, bins) sqrt-normalised histograms: each image's summed Bhattacharyya distance to all others."""
    scores = np.zeros(len(u))
    for start in range(0, len(u), block):
        bc = u[start:start + block] @ u.T
        scores[start:start + block] = np.sqrt(np.clip(1.0 - bc, 0.0, None)).sum(axis=1)
    return scores


# ----------------------------------------------------------------------------------------------- the methods ---

def _measure(func: Callable, paths: list[Path], desc: str, opts: SortOptions) -> list:
    """`func` of every face (in workers when worthwhile), with a progress bar titled `desc`."""
    return parallel_map(func, [str(p) for p in paths], desc, opts.workers)


def _ordering(key: str, description: str, explain: str, measure: Callable, desc: str, reverse: bool = True,
              value: Callable | None = None) -> Callable[[list[Path], SortOptions], SortResult]:
    """Register a method that orders faces by one measure (`value` of it, when given); faces whose measure (or
    value) is None go to trash."""
    def sort(paths: list[Path], opts: SortOptions) -> SortResult:
        values = _measure(measure, paths, desc, opts)
        if value is not None:
            values = [None if v is None else value(v) for v in values]
        return order_by(paths, values, reverse=reverse)
    return _method(key, description, explain)(sort)


def _positive(v: float) -> float | None:
    return None if v <= 0 else v


sort_blur = _ordering("blur", "blur", "sharpest faces first (CPBD on the face area); featureless faces go to trash",
                      measure_blur, "Sorting by blur", value=_positive)
sort_motion_blur = _ordering("motion-blur", "motion blur",
                             "most fine detail first (Laplacian variance); catches motion blur",
                             measure_motion_blur, "Sorting by motion blur", value=_positive)
sort_face_yaw = _ordering("face-yaw", "face yaw direction", "head turned to one side first, to the other side last",
                          measure_pose, "Sorting by face yaw", value=lambda pose: pose[1])
sort_face_pitch = _ordering("face-pitch", "face pitch direction", "looking up first, looking down last",
                            measure_pose, "Sorting by face pitch", value=lambda pose: pose[0])
sort_source_rect_size = _ordering("face-source-rect-size", "face rect size in source image",
                                  "faces that were largest in their frame first",
                                  measure_rect_area, "Sorting by face rect size")


@_method("hist", "histogram similarity",
         "chains faces so each is followed by the one with the most similar colours")
def sort_hist(paths: list[Path], opts: SortOptions) -> SortResult:
    hists = _measure(measure_bgr_hist, paths, "Sorting by histogram similarity", opts)
    good = [(p, h) for p, h in zip(paths, hists) if h is not None]
    kept: list[Path] = []
    for start in tqdm(range(0, len(good), HIST_CHUNK), desc="Chaining", ascii=True, disable=len(good) <= HIST_CHUNK):
        chunk = good[start:start + HIST_CHUNK]
        order = bhattacharyya_chain(np.stack([h for _, h in chunk])) if chunk else []
        kept += [chunk[i][0] for i in order]
    return SortResult(kept, [p for p, h in zip(paths, hists) if h is None])


@_method("hist-dissim", "histogram dissimilarity",
         "most unusual faces (by face-area histogram) first")
def sort_hist_dissim(paths: list[Path], opts: SortOptions) -> SortResult:
    hists = _measure(measure_gray_hist, paths, "Sorting by histogram dissimilarity", opts)
    good = [i for i, h in enumerate(hists) if h is not None]
    scores: list = [None] * len(paths)
    if good:
        for i, s in zip(good, dissimilarity_scores(np.stack([hists[i] for i in good]))):
            scores[i] = float(s)
    return order_by(paths, scores, reverse=True)


sort_brightness = _ordering("brightness", "brightness", "brightest faces first",
                            measure_brightness, "Sorting by brightness")


@_method("hue", "hue",
         "by average hue (colour faces only)")
def sort_hue(paths: list[Path], opts: SortOptions) -> SortResult:
    values = _measure(measure_hue, paths, "Sorting by hue", opts)
    if all(v == 0.0 for v in values if v is not None):
        interact.log_warn("Hue is meaningless for grayscale faces; the order is unchanged.")
    return order_by(paths, values, reverse=True)


sort_black = _ordering("black", "amount of black pixels",
                       "fewest black pixels first: faces cut by the frame edge go last",
                       measure_black, "Sorting by amount of black pixels", reverse=False)
sort_origname = _ordering("origname", "original filename", "in the order of the video frames they came from",
                          measure_source_filename, "Sorting by original filename", reverse=False, value=natural_key)


def _frame_and_index(path: Path) -> tuple[str, int] | None:
    stem, _, k = path.stem.rpartition("_")
    return (stem, int(k)) if stem and k.isdigit() else None


@_method("oneface", "one face in image",
         "trashes every face of frames where more than one face was found")
def sort_oneface(paths: list[Path], opts: SortOptions) -> SortResult:
    """Trash every face of a frame that held more than one face (by `<frame>_<k>` names and source file)."""
    sources = _measure(measure_source_filename, paths, "Sorting by one face", opts)
    multi_frames: set[str] = set()
    per_source: dict[str, int] = {}
    for path, source in zip(paths, sources):
        parsed = _frame_and_index(path)
        if parsed and parsed[1] != 0:
            multi_frames.add(parsed[0])
        if source:
            per_source[source] = per_source.get(source, 0) + 1

    def is_multi(path: Path, source: str | None) -> bool:
        parsed = _frame_and_index(path)
        if parsed and parsed[0] in multi_frames:
            return True
        if source and (per_source[source] > 1 or Path(source).stem in multi_frames):
            return True
        return False

    flags = [is_multi(p, s) for p, s in zip(paths, sources)]
    return SortResult([p for p, f in zip(paths, flags) if not f], [p for p, f in zip(paths, flags) if f])


def _load_pixels(path: str) -> np.ndarray | None:
    image, _ = _load(path)
    return image


def absdiff_matrix(images: np.ndarray) -> np.ndarray:
    """(n, n) matrix of summed absolute pixel differences between (n, d) uint8 rows (OpenCV SIMD, exact int)."""
    n = len(images)
    full = np.zeros((n, n), np.int32)
    if n:
        # batchDistance's Python binding always sorts neighbours; ask for all n and scatter them back.
        dist, idx = cv2.batchDistance(images, images, cv2.CV_32S, normType=cv2.NORM_L1, K=n)
        np.put_along_axis(full, idx.astype(np.int64), dist, axis=1)
    return full


def absdiff_chain(dist: np.ndarray, similar: bool) -> list[int]:
    """Greedy chain from image 0: next is the unused image nearest (similar) or farthest (dissimilar)."""
    n = len(dist)
    if n == 0:
        return []
    used = np.zeros(n, bool)
    order = [0]
    used[0] = True
    for _ in range(n - 1):
        row = dist[order[-1]].astype(np.float64)
        row = np.where(used, np.inf if similar else -np.inf, row)
        nxt = int(np.argmin(row) if similar else np.argmax(row))
        order.append(nxt)
        used[nxt] = True
    return order


def _sort_absdiff(paths: list[Path], opts: SortOptions, similar: bool) -> SortResult:
    images = _measure(_load_pixels, paths, "Loading", opts)
    good = [(p, im) for p, im in zip(paths, images) if im is not None]
    trash = [p for p, im in zip(paths, images) if im is None]
    if not good:
        return SortResult([], trash)
    shape = good[0][1].shape
    rows = []
    for p, im in good:
        if im.ndim != len(shape):
            im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) if len(shape) == 3 else to_gray(im)
        if im.shape[:2] != shape[:2]:
            im = cv2.resize(im, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        rows.append(im.reshape(-1))
    interact.log_info(f"Computing {len(rows)}x{len(rows)} absolute differences...")
    order = absdiff_chain(absdiff_matrix(np.stack(rows)), similar)
    return SortResult([good[i][0] for i in order], trash)


@_method("absdiff", "absolute pixel difference",
         "chains faces by pixel difference (asks: similar or dissimilar)")
def sort_absdiff(paths: list[Path], opts: SortOptions) -> SortResult:
    similar = opts.similar
    if similar is None:
        similar = interact.input_bool("Sort by similar?", True,
                                      help_message="y: each face is followed by the most similar one. "
                                                   "n: by the most different one.")
    return _sort_absdiff(paths, opts, similar)


@_method("absdiff-dissim", "absolute pixel difference, dissimilar first",
         "chains faces, each followed by the most different one")
def sort_absdiff_dissim(paths: list[Path], opts: SortOptions) -> SortResult:
    return _sort_absdiff(paths, opts, False)


# ---------------------------------------------------------------------------------------- best faces (final) ---

YAW_BINS = 128
YAW_RANGE = 1.2


def _quotas(counts: list[int], target: int) -> list[int]:
    """Split `target` over bins holding `counts` images as evenly as possible (water filling, exact total)."""
    quotas = [0] * len(counts)
    remaining = min(target, sum(counts))
    open_bins = [i for i, c in enumerate(counts) if c > 0]
    while remaining > 0 and open_bins:
        share = max(1, remaining // len(open_bins))
        for i in sorted(open_bins, key=lambda b: counts[b] - quotas[b], reverse=True):
            take = min(share, counts[i] - quotas[i], remaining)
            quotas[i] += take
            remaining -= take
            if remaining == 0:
                break
        open_bins = [i for i in open_bins if quotas[i] < counts[i]]
    return quotas


def _bin_index(values: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    """Equal-width bins over [low, high]; values outside land in the first or last bin."""
    if bins <= 1:
        return np.zeros(len(values), int)
    edges = np.linspace(low, high, bins + 1)[1:-1]
    return np.digitize(values, edges)


def select_best(records: list[tuple], target: int) -> tuple[list[int], list[int]]:
    """Indices (kept, trash) of `records` = [(sharpness, yaw, pitch, gray_hist)], keeping exactly min(target, n).

    As DFL: yaw bins over -1.2..1.2 share the target; in each, the 10x quota sharpest are candidates, split into
    pitch bins, ordered by histogram dissimilarity, and taken round-robin across pitch bins.
    """
    n = len(records)
    if n == 0:
        return [], []
    sharp = np.array([r[0] for r in records], np.float64)
    yaw_bin = _bin_index(-np.array([r[1] for r in records]), -YAW_RANGE, YAW_RANGE, YAW_BINS)
    pitch = np.array([r[2] for r in records], np.float64)
    members = [np.nonzero(yaw_bin == b)[0] for b in range(YAW_BINS)]
    quotas = _quotas([len(m) for m in members], target)
    kept: list[int] = []
    for idx, quota in zip(members, quotas):
        if quota == 0:
            continue
        candidates = idx[np.argsort(-sharp[idx], kind="stable")][:max(10 * quota, quota)]
        pitch_bins = quota  # DFL: as many pitch bins as faces wanted from this yaw bin
        pb = _bin_index(pitch[candidates], -math.pi / 2, math.pi / 2, pitch_bins)
        queues = []
        for b in range(pitch_bins):
            group = candidates[pb == b]
            if len(group) > 1:
                u = np.stack([records[i][3] for i in group])
                group = group[np.argsort(-dissimilarity_scores(u), kind="stable")]
            if len(group):
                queues.append(list(group))
        taken = 0
        while taken < quota:
            for q in queues:
                if q and taken < quota:
                    kept.append(int(q.pop(0)))
                    taken += 1
    kept_set = set(kept)
    return kept, [i for i in range(n) if i not in kept_set]


def _sort_best(paths: list[Path], opts: SortOptions, fast: bool) -> SortResult:
    target = opts.target_count
    if target is None:
        target = interact.input_int("Target number of faces?", 2000, valid_range=(1, None),
                                    help_message="How many faces to keep. The rest go to the trash folder.")
    measure = measure_best_fast if fast else measure_best
    records = _measure(measure, paths, "Measuring faces", opts)
    valid = [i for i, r in enumerate(records) if r is not None]
    kept, trash = select_best([records[i] for i in valid], target)
    failed = [p for p, r in zip(paths, records) if r is None]
    interact.log_info(f"Keeping {len(kept)} of {len(paths)} faces.")
    return SortResult([paths[valid[i]] for i in kept], [paths[valid[i]] for i in trash] + failed)


@_method("final", "best faces",
         "keeps --target-count sharp faces spread evenly over yaw and pitch; the rest to trash")
def sort_final(paths: list[Path], opts: SortOptions) -> SortResult:
    return _sort_best(paths, opts, fast=False)


@_method("final-fast", "best faces faster",
         "as final, with the face size in the frame instead of sharpness")
def sort_final_fast(paths: list[Path], opts: SortOptions) -> SortResult:
    return _sort_best(paths, opts, fast=True)


# ------------------------------------------------------------------------------------------------ identity ---

def _descriptors(paths: list[Path], opts: SortOptions) -> list[np.ndarray | None]:
    return _measure(measure_descriptor, paths, "Measuring identities", opts)


@_method("identity", "identity (distance to a reference person)",
         "nearest to the person in --ref first; faces farther than --identity-threshold go to trash")
def sort_identity(paths: list[Path], opts: SortOptions) -> SortResult:
    refs = opts.reference
    if not refs:
        asked = identity.ask_reference("Reference photo of the person to keep (its path)")
        if asked is None:
            raise UserError("sort --by identity: give the person to keep with --ref REF (a photo or an aligned face)")
        refs = [asked]
    reference = identity.load_reference(refs)
    threshold = identity.ask_threshold(opts.identity_threshold)
    descriptors = _descriptors(paths, opts)
    values = [None if d is None else float(identity.distances(d, reference.descriptors)[0]) for d in descriptors]
    result = order_by(paths, values, reverse=False)
    far = {p for p, v in zip(paths, values) if v is not None and v > threshold}
    interact.log_info(f"{len(far)} faces are farther than {threshold} from the reference person.")
    return SortResult([p for p in result.kept if p not in far], [p for p in result.kept if p in far] + result.trash)


@_method("identity-groups", "identity groups (one folder per person)",
         "each person's faces into a sub-folder person_1, person_2, ... (most faces first); faces like no one "
         "else's go to trash")
def sort_identity_groups(paths: list[Path], opts: SortOptions) -> SortResult:
    threshold = identity.ask_threshold(opts.identity_threshold)
    descriptors = _descriptors(paths, opts)
    good = [i for i, d in enumerate(descriptors) if d is not None]
    people, loose = identity.group_people(np.stack([descriptors[i] for i in good]) if good else np.zeros((0, 128)),
                                          threshold)
    groups = [[paths[good[i]] for i in sorted(person)] for person in people]
    interact.log_info(f"{len(groups)} people: " + ", ".join(f"{len(g)} faces" for g in groups) +
                      (f"; {len(loose)} faces like no one else's" if loose else ""))
    trash = [paths[good[i]] for i in loose] + [p for p, d in zip(paths, descriptors) if d is None]
    return SortResult([], trash, groups)


DEFAULT_METHOD = "hist"
