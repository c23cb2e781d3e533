"""Stated limits on the size of a simulation, and a memory estimate checked before it runs.

A simulation's memory grows with the number of paths times the children it follows, so a
large ``--paths`` or a scenario that adds many entrants can exhaust the machine. Every command
checks its request against these limits and against an estimate of its peak memory *before*
simulating, and refuses with a message naming the estimate and the option to change.

The estimates are linear models measured on this package (peak resident memory, fit and
simulation, two threads): ``stockflow`` needs about 200 bytes per path for every child it
follows (the children in care at the origin plus about two years' entrants, the live state at
any time), and the series models about 30 bytes per area, path and year; both start from about
250-350 MB for the interpreter and libraries. The coefficients below round those up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Limits", "LIMITS", "ResourceLimitError", "check_request", "estimate_bytes",
           "check_memory", "format_bytes"]

_GiB = 1024 ** 3


class ResourceLimitError(ValueError):
    """A request is larger than a stated limit or the memory budget; says what to change."""


@dataclass(frozen=True)
class Limits:
    """The largest request cobic takes (each stated in ``--help`` and in the README)."""

    max_paths: int = 100_000
    max_horizon: int = 10
    max_areas: int = 1_000
    max_origins: int = 30
    max_uasc_per_year: float = 5_000.0
    memory_budget_bytes: int = 4 * _GiB
    base_bytes: int = 400 * 1024 ** 2
    stockflow_bytes_per_child_path: float = 260.0
    # children x paths simulated at once per thread (stockflow runs paths in chunks of this
    # size, two at a time, so its memory stays flat however many paths are asked for)
    stockflow_chunk_child_paths: int = 400_000
    series_bytes_per_value: float = 48.0


LIMITS = Limits()


def format_bytes(n: float) -> str:
    """``n`` bytes as GiB (or MiB below 1 GiB), one decimal."""
    return f"{n / _GiB:,.1f} GiB" if n >= _GiB else f"{n / 1024 ** 2:,.0f} MiB"


def check_request(n_paths: int, horizon: int, limits: Limits = LIMITS) -> None:
    """Paths and horizon must be whole numbers within the stated limits.

    Raises
    ------
    ResourceLimitError
        Naming the option, the value received and the allowed range.
    """
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or not (
            1 <= n_paths <= limits.max_paths):
        raise ResourceLimitError(f"--paths must be a whole number from 1 to "
                                 f"{limits.max_paths:,}; got {n_paths!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not (
            1 <= horizon <= limits.max_horizon):
        raise ResourceLimitError(f"--horizon must be a whole number of years from 1 to "
                                 f"{limits.max_horizon}; got {horizon!r}")


def estimate_bytes(model: str, n_paths: int, horizon: int, *, n_children: float = 0.0,
                   annual_entries: float = 0.0, n_areas: int = 1,
                   limits: Limits = LIMITS) -> float:
    """Estimated peak memory of fitting ``model`` and simulating ``n_paths`` paths.

    Parameters
    ----------
    model
        A model name; child-level models (``stockflow``) are estimated per child followed.
    n_children, annual_entries
        For ``stockflow``: children in care at the origin and expected entries a year
        (scenario additions included).
    n_areas
        For series models: areas simulated at once (pooled models simulate every area).
    """
    from cobic.demand.base import capabilities

    if capabilities(model).child_level:
        followed = n_children + 2.0 * annual_entries
        # two chunks of paths at a time (at least one path each), and the paths' outputs
        at_once = min(n_paths * followed,
                      2 * max(limits.stockflow_chunk_child_paths, followed))
        return (limits.base_bytes + at_once * limits.stockflow_bytes_per_child_path
                + n_paths * horizon * limits.series_bytes_per_value * 45)
    return limits.base_bytes + n_areas * n_paths * horizon * limits.series_bytes_per_value


def check_memory(estimate: float, budget_bytes: float | None = None,
                 what: str = "this run") -> None:
    """Refuse before simulating when ``estimate`` exceeds the budget (default 4 GiB).

    Raises
    ------
    ResourceLimitError
        Naming the estimate, the budget and the options that change them.
    """
    budget = LIMITS.memory_budget_bytes if budget_bytes is None else budget_bytes
    if not math.isfinite(estimate) or estimate > budget:
        raise ResourceLimitError(
            f"{what} would need about {format_bytes(estimate)} of memory, over the budget of "
            f"{format_bytes(budget)}: lower --paths (or the scenario's extra entrants), or "
            "raise --memory-budget (in GiB) if this machine has the memory")
