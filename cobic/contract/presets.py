"""Contract terms from a handful of controls (what the contract-sizing notebook exposes)."""

from __future__ import annotations

import math
from dataclasses import replace

from cobic.contract.terms import Band, ContractTerms, RiskShare

__all__ = ["sizing_terms"]


def sizing_terms(base: ContractTerms, *, length: int, basis: str, point: float,
                 bedding_in: int, at_risk: float, deadband: float, middle_upper: float,
                 middle_share: float, outer_share: float, cap: float | None,
                 quality_gate: float | None) -> ContractTerms:
    """``base`` with its length, basis, capitation point, incentive profile (``bedding_in``
    years at 0, then ``at_risk``) and symmetric bands (provider bears all of the first
    ``deadband``, ``middle_share`` up to ``middle_upper``, ``outer_share`` beyond) replaced.

    Raises ``ValueError`` naming the control when the combination is invalid.
    """
    if not 5 <= length <= 7:
        raise ValueError(f"length must be 5 to 7 years, got {length}")
    if not 0 < deadband < middle_upper:
        raise ValueError(f"the deadband ({deadband:.1%}) must be above 0 and below the middle "
                         f"band's upper edge ({middle_upper:.1%})")
    if not 0 <= bedding_in < length:
        raise ValueError(f"bedding_in must be 0..{length - 1}, got {bedding_in}")
    bands = (Band(0.0, deadband, 1.0), Band(deadband, middle_upper, middle_share),
             Band(middle_upper, math.inf, outer_share))
    shares = tuple([0.0] * bedding_in + [at_risk] * (length - bedding_in))
    inds = tuple(replace(i, weights=(i.weights + (i.weights[-1],) * 7)[:length])
                 for i in base.indicators)
    return replace(base, length=length, basis=basis, point=point, incentive_share=shares,
                   quality_gate=quality_gate, indicators=inds,
                   risk_share=RiskShare(bands, bands, cap, cap))
