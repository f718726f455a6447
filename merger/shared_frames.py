"""Decoded frames handed to the merge workers through shared memory instead of their task pipe.

A 1080p frame sent through a pipe costs ~45 ms of CPU between the two processes (pickle, kernel copies,
unpickle); copying it into a shared slot costs ~1 ms and the worker reads it in place. The ring holds one slot
per frame that can be in flight; a frame larger than a slot (a folder of mixed sizes) goes through the pipe.
"""
from __future__ import annotations

import numpy as np


def slot_view(raw, slot: int, slot_bytes: int, shape: tuple[int, ...]) -> np.ndarray:
    """The uint8 array of `shape` stored in `slot` of the shared block `raw`."""
    return np.frombuffer(raw, np.uint8, count=int(np.prod(shape)), offset=slot * slot_bytes).reshape(shape)


class FrameRing:
    """Main-process side: `slots` shared slots of `slot_bytes` each; `put` copies a frame into a free one."""

    def __init__(self, ctx, slots: int, slot_bytes: int):
        self.slot_bytes = int(slot_bytes)
        self.raw = ctx.RawArray("B", max(1, slots * self.slot_bytes))
        self.free = list(range(slots))

    def put(self, image: np.ndarray) -> int | None:
        """The slot now holding `image`, or None when it does not fit or every slot is taken."""
        if image.dtype != np.uint8 or image.nbytes > self.slot_bytes or not self.free:
            return None
        slot = self.free.pop()
        slot_view(self.raw, slot, self.slot_bytes, image.shape)[...] = image
        return slot

    def release(self, slot: int) -> None:
        self.free.append(slot)
