"""Gain/risk-share bands: the provider's share of the variance ``D = actual cost - target``.

For ``x = |D| / T`` and bands ``[lower_i, upper_i)`` with provider shares ``s_i``::

    pi_raw = T * sum_i s_i * clip(x - lower_i, 0, upper_i - lower_i)
    pi     = sign(D) * min(pi_raw, cap * T)

with the loss bands and cap for overspends (D > 0) and the gain bands and cap for
underspends. A *first-dollar* rule (MSSP style) instead shares the whole variance at ``share``
once ``x`` reaches ``threshold`` and nothing below it. The provider's margin from the risk
share is ``-pi``; the commissioner bears ``D - pi``; the two always add up to ``D``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from cobic.contract.terms import Band, RiskShare

__all__ = ["provider_share", "band_share", "expected_band_payment"]


def band_share(x: np.ndarray, bands: tuple[Band, ...]) -> np.ndarray:
    """Provider share of a variance of size ``x`` (fraction of the target), before caps."""
    out = np.zeros_like(x, dtype=float)
    for b in bands:
        width = b.upper - b.lower
        out += b.provider_share * np.clip(x - b.lower, 0.0, width)
    return out


def provider_share(variance: np.ndarray, target: np.ndarray, rs: RiskShare,
                   block_gain: np.ndarray | bool = False) -> np.ndarray:
    """The provider's share ``pi`` of ``variance`` (same shape); ``block_gain`` marks where a
    quality gate stops the provider keeping any saving."""
    d = np.asarray(variance, dtype=float)
    t = np.asarray(target, dtype=float)
    x = np.abs(d) / np.where(t > 0, t, 1.0)
    loss = d > 0

    def side(bands, cap, fd):
        if fd is not None:
            thr, share = fd
            raw = np.where(x >= thr, share * x, 0.0)
        else:
            raw = band_share(x, bands)
        if cap is not None:
            raw = np.minimum(raw, cap)
        return raw * t

    pi = np.where(loss, side(rs.loss_bands, rs.loss_cap, rs.first_dollar_loss),
                  -side(rs.gain_bands, rs.gain_cap, rs.first_dollar_gain))
    pi = np.where(~loss & np.asarray(block_gain), 0.0, pi)
    return pi


def expected_band_payment(mu: float, sigma: float, lower: float, upper: float) -> float:
    """E[min((D - lower)+, upper - lower)] for D ~ Normal(mu, sigma^2) (amounts, not shares):
    ``G(lower) - G(upper)`` with ``G(k) = (mu - k) Phi((mu - k)/sigma) + sigma phi((mu - k)/sigma)``
    (research/capitation.md 2.4)."""
    def g(k: float) -> float:
        if np.isinf(k):
            return 0.0
        z = (mu - k) / sigma
        return (mu - k) * norm.cdf(z) + sigma * norm.pdf(z)

    return g(lower) - g(upper)
