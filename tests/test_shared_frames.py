"""merger.shared_frames: frames reach a spawned worker through shared memory, exactly; what does not fit falls
back to the task pipe."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np

from merger.shared_frames import FrameRing, slot_view


def _checksum(raw, slot_bytes, slot, shape, results):
    results.put(int(slot_view(raw, slot, slot_bytes, shape).astype(np.int64).sum()))


def test_a_spawned_process_reads_the_frame_in_place():
    ctx = mp.get_context("spawn")
    frame = np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    ring = FrameRing(ctx, slots=3, slot_bytes=frame.nbytes)
    slot = ring.put(frame)
    results = ctx.Queue()
    child = ctx.Process(target=_checksum, args=(ring.raw, ring.slot_bytes, slot, frame.shape, results))
    child.start()
    assert results.get(timeout=60) == int(frame.astype(np.int64).sum())
    child.join(30)
    np.testing.assert_array_equal(slot_view(ring.raw, slot, ring.slot_bytes, frame.shape), frame)


def test_slots_are_reused_and_oversized_or_extra_frames_are_refused():
    ring = FrameRing(mp.get_context("spawn"), slots=2, slot_bytes=100 * 100 * 3)
    small = np.full((100, 100, 3), 7, np.uint8)
    assert ring.put(np.zeros((101, 100, 3), np.uint8)) is None         # larger than a slot
    assert ring.put(small.astype(np.float32)) is None                   # not 8-bit
    a, b = ring.put(small), ring.put(small + 1)
    assert {a, b} == {0, 1} and ring.put(small) is None                 # every slot taken
    ring.release(a)
    assert ring.put(small + 2) == a
    np.testing.assert_array_equal(slot_view(ring.raw, a, ring.slot_bytes, small.shape), small + 2)
    np.testing.assert_array_equal(slot_view(ring.raw, b, ring.slot_bytes, small.shape), small + 1)
