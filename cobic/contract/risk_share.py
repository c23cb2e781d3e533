"""Gain/risk-share bands: the provider's share of the variance ``D = actual cost - target``.

For ``x = |D| / T`` and bands ``[lower_i, upper_i)`` with provider shares ``s_i``::

    pi_raw = T * sum_i s_i * clip(x - lower_i, 0, upper_i - lower_i)
    pi     = sign(D) * min(pi_raw, cap * T)

with the loss bands and cap for overspends (D > 0) and the gain bands and cap for
underspends. A *first-dollar* rule (MSSP style) instead shares the whole variance at ``share``
once ``x`` reaches ``threshold`` (within :data:`cobic.contract.rules.TOLERANCE`) and nothing
below it. The provider's margin from the risk share is ``-pi``; the commissioner bears
``D - pi``; the two always add up to ``D``. The rules are in :mod:`cobic.contract.rules`,
shared by pricing and settlement.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from cobic.contract.rules import band_share, share_variance
from cobic.contract.terms import RiskShare

__all__ = ["provider_share", "band_share", "expected_band_payment"]


def provider_share(variance: np.ndarray, target: np.ndarray, rs: RiskShare,
                   block_gain: np.ndarray | bool = False) -> np.ndarray:
    """The provider's share ``pi`` of ``variance`` (same shape); ``block_gain`` marks where a
    quality gate stops the provider keeping any saving (the steps:
    :func:`cobic.contract.rules.share_variance`)."""
    return share_variance(variance, target, rs, block_gain).provider


def expected_band_payment(mu: float, sigma: float, lower: float, upper: float) -> float:
    """E[min((D - lower)+, upper - lower)] for D ~ Normal(mu, sigma^2) (amounts, not shares):
    ``G(lower) - G(upper)`` with ``G(k) = (mu - k) Phi((mu - k)/sigma) + sigma phi((mu - k)/sigma)``
    (research/capitation.md 2.4)."""
    def g(k: float) -> float:
        if np.isinf(k):
            return 0.0
        z = (mu - k) / sigma
        return (mu - k) * float(ndtr(z)) + sigma * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    return g(lower) - g(upper)
