"""Whether a question is the only one being answered, so that its encode may use every core.

A short question encoded on two threads takes about a quarter less time than on one, but two
questions encoded at once on two threads each oversubscribe two cores and slow everything down
(measured in BENCHMARKS.md). So a server encodes on one thread per worker while other questions
are being answered, and on all cores when none is.

`Occupancy` counts the questions in one process. `SharedOccupancy` counts those of every gunicorn
worker: a small array in memory the workers share (made by the master before it forks), one slot
per worker. Each process writes only its own slot, and the master clears the slot of a worker
that dies, so a worker killed in the middle of a question cannot leave a count behind.

The array cannot grow once the workers have it, and a server may run more workers than it started
with: a reload (SIGHUP) starts every new worker before the old ones leave, and SIGTTIN adds one. So
it has SLOTS slots, more than a machine holds workers (each holds the model, ~200 MB). Should a
worker still find none free, it counts its own questions and sees everyone else's, but the others do
not see its: a question there may be taken for alone and use every core, never a wrong count.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

SLOTS = 256  # workers a server can have at once, old and new (see the module docstring)


class Occupancy:
    """Questions being answered in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def _add(self, delta: int) -> None:
        self._count += delta

    def running(self) -> int:
        return self._count

    @contextmanager
    def busy(self) -> Iterator[bool]:
        """Counts one question while the block runs; yields True when it is the only one."""
        with self._lock:
            self._add(1)
            alone = self.running() == 1
        try:
            yield alone
        finally:
            with self._lock:
                self._add(-1)


class SharedOccupancy(Occupancy):
    """Questions being answered in all the workers of one server (see the module docstring)."""

    def __init__(self, slots: int = SLOTS) -> None:
        super().__init__()
        self._counts = multiprocessing.RawArray("i", slots)
        self._all = np.frombuffer(self._counts, dtype=np.intc)  # the same memory: summed in C, not slot by slot
        self._free = list(range(slots))
        self.slot: int | None = None  # this worker's slot, set in the worker after the fork

    def assign(self) -> int | None:
        """In the master, before a fork: a free slot for the new worker, or None when every slot is taken."""
        return self._free.pop(0) if self._free else None

    def release(self, slot: int | None) -> None:
        """In the master, when a worker has exited: its count is cleared and its slot reused."""
        if slot is not None:
            self._counts[slot] = 0
            self._free.append(slot)

    def _add(self, delta: int) -> None:
        if self.slot is None:
            super()._add(delta)
        else:
            self._counts[self.slot] += delta

    def running(self) -> int:
        """Every worker's questions: this process's are in its slot, or counted here when it has none."""
        return int(self._all.sum()) + super().running()
