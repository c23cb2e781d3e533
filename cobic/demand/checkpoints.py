"""Checkpoints of a stock-flow simulation, so a scenario that changes only later years
re-simulates only those years.

A what-if lever such as "entries 10% higher from 2027-28" leaves every year before 2027-28
as it was: the same children, the same random numbers. :class:`Checkpoints` keeps the
simulation's state (children in care, totals so far, the random stream's position) at the
start of each forecast year of one *reference* run (the first run given the object, the
baseline in the what-if notebook). A later run resumes from the latest year whose inputs up
to then are the same as the reference run's: each chunk of paths' parameter tables and
random stream, the fitted model's stock at the origin, the scenario's extra UASC, and each
earlier year's expected entrants. Everything a year's simulation uses is among those, so a
resumed run gives the same paths as a fresh one, bit for bit
(``tests/test_checkpoints.py``).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["Checkpoints"]


@dataclass(frozen=True)
class _Snapshot:
    state: dict[str, np.ndarray]
    totals: dict[str, np.ndarray]
    followed: float
    rng_state: dict


def _copy(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in arrays.items()}


class Checkpoints:
    """The state at the start of each year of one reference simulation, by its inputs.

    Give the same object to every ``FittedStockFlow.simulate`` call of one fitted model
    (and its scenarios). The first run records; later runs only read, so memory stays that
    of one run's states (about a run's peak memory once per forecast year).
    """

    def __init__(self) -> None:
        self._saved: dict[bytes, _Snapshot] = {}
        self._claimed = False
        self._lock = threading.Lock()
        self.resumed: list[int] = []  # the year index each chunk of a run resumed from

    def __len__(self) -> int:
        """The number of states kept (forecast years x chunks of paths of one run)."""
        return len(self._saved)

    def claim(self) -> bool:
        """True for the first run (it records), False after."""
        with self._lock:
            first, self._claimed = not self._claimed, True
        return first

    @staticmethod
    def keys(prefix: tuple, tables: dict[str, np.ndarray], rng: np.random.Generator,
             year_entries: list[np.ndarray]) -> list[bytes]:
        """``keys[y]``: a digest of every input the simulation's years before ``y`` use
        (``prefix``: plain values such as the origin and the extra UASC)."""
        h = hashlib.blake2b(digest_size=20)
        h.update(repr((prefix, rng.bit_generator.state)).encode())
        for name in sorted(tables):
            a = np.ascontiguousarray(tables[name])
            h.update(f"{name}{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
        out = []
        for lam in year_entries:
            out.append(h.digest())
            h.update(np.ascontiguousarray(lam, dtype=np.float64).tobytes())
        return out

    def latest(self, keys: list[bytes]) -> tuple[int, _Snapshot | None]:
        """The latest year with a saved state for these inputs (0 and None if none)."""
        for y in range(len(keys) - 1, -1, -1):
            snap = self._saved.get(keys[y])
            if snap is not None:
                return y, snap
        return 0, None

    def save(self, key: bytes, state: dict[str, np.ndarray], totals: dict[str, np.ndarray],
             followed: float, rng: np.random.Generator) -> None:
        self._saved[key] = _Snapshot(_copy(state), _copy(totals), followed,
                                     rng.bit_generator.state)

    def restore(self, snap: _Snapshot, rng: np.random.Generator, year: int
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
        """Copies of a saved state and totals, with ``rng`` put back where it was."""
        rng.bit_generator.state = snap.rng_state
        with self._lock:
            self.resumed.append(year)
        return _copy(snap.state), _copy(snap.totals), snap.followed
