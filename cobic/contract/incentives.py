"""Outcome indicators: simulated values, achievement scores and the incentive earned.

Achievement of indicator ``k`` with floor ``L`` and target ``U``:

* ``linear``: ``a = clip((x - L) / (U - L), 0, 1)`` (works for lower-is-better, where L > U);
* ``binary``: 1 when the target is met, else 0;
* ``stepped``: the payout of the furthest step reached (steps listed as (at, payout)).

Targets and steps are "reached" within :data:`cobic.contract.rules.TOLERANCE`; the rules
themselves live in :mod:`cobic.contract.rules`, shared by pricing and settlement.

The composite is ``sum_k weight_k,y x a_k`` and the incentive earned is ``pot x composite``.
"""

from __future__ import annotations

import numpy as np

from cobic.contract.rules import achievement, composite_of, indicator_scores
from cobic.contract.terms import Indicator

__all__ = ["achievement", "simulate_indicators", "composite"]


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
    """``[path, year]`` weighted achievement in [0, 1] from ``values[path, year, k]`` (the
    weights of contract years 1, 2, ... for the columns; see :mod:`cobic.contract.rules`)."""
    if not indicators:
        return np.zeros(values.shape[:2])
    return composite_of(indicator_scores(indicators, values, np.arange(values.shape[1])))
