"""Outcome indicators: achievement scores and the composite (their simulated values are
:func:`cobic.contract.calculator.apply_terms`'s, from the contract's baseline, improvement,
noise and correlation with cost).

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

__all__ = ["achievement", "composite"]


def composite(indicators: tuple[Indicator, ...], values: np.ndarray) -> np.ndarray:
    """``[path, year]`` weighted achievement in [0, 1] from ``values[path, year, k]`` (the
    weights of contract years 1, 2, ... for the columns; see :mod:`cobic.contract.rules`)."""
    if not indicators:
        return np.zeros(values.shape[:2])
    return composite_of(indicator_scores(indicators, values, np.arange(values.shape[1])))
