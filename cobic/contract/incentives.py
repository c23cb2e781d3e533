"""Outcome indicators: simulated values, achievement scores and the incentive earned.

Achievement of indicator ``k`` with floor ``L`` and target ``U``:

* ``linear``: ``a = clip((x - L) / (U - L), 0, 1)`` (works for lower-is-better, where L > U);
* ``binary``: 1 when the target is met, else 0;
* ``stepped``: the payout of the furthest step reached (steps listed as (at, payout)).

The composite is ``sum_k weight_k,y x a_k`` and the incentive earned is ``pot x composite``.
"""

from __future__ import annotations

import numpy as np

from cobic.contract.terms import Indicator

__all__ = ["achievement", "simulate_indicators", "composite"]


def achievement(ind: Indicator, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if ind.scoring == "linear":
        return np.clip((x - ind.floor) / (ind.target - ind.floor), 0.0, 1.0)
    better = (lambda v, t: v >= t) if ind.direction == "higher" else (lambda v, t: v <= t)
    if ind.scoring == "binary":
        return better(x, ind.target).astype(float)
    out = np.zeros_like(x)
    for at, payout in ind.steps:
        out = np.where(better(x, at), np.maximum(out, payout), out)
    return out


def simulate_indicators(indicators: tuple[Indicator, ...], n_paths: int, n_years: int,
                        rng: np.random.Generator) -> np.ndarray:
    """``[path, year, indicator]``: baseline + improvement x year + noise (sd)."""
    out = np.empty((n_paths, n_years, len(indicators)))
    years = np.arange(1, n_years + 1)
    for k, ind in enumerate(indicators):
        out[:, :, k] = (ind.baseline + ind.improvement * years[None, :]
                        + ind.sd * rng.standard_normal((n_paths, n_years)))
    return out


def composite(indicators: tuple[Indicator, ...], values: np.ndarray) -> np.ndarray:
    """``[path, year]`` weighted achievement in [0, 1] from ``values[path, year, k]``."""
    if not indicators:
        return np.zeros(values.shape[:2])
    w = np.array([ind.weights for ind in indicators]).T  # [year, k]
    a = np.stack([achievement(ind, values[:, :, k]) for k, ind in enumerate(indicators)],
                 axis=2)
    return (a * w[None, :, :]).sum(axis=2)
