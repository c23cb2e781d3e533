"""Contract terms from a handful of controls (what the contract-sizing notebook exposes)."""

from __future__ import annotations

import math
from dataclasses import replace

from cobic.contract.terms import Band, ContractTerms, RiskShare

__all__ = ["sizing_terms", "sizing_defaults", "sizing_risk_share"]


def _profile(base: ContractTerms) -> tuple[int, tuple[float, ...]]:
    """The shipped incentive profile as (years with nothing at risk, shape after them scaled
    to a maximum of 1)."""
    shares = list(base.incentive_share)
    lead = next((i for i, v in enumerate(shares) if v > 0), len(shares))
    top = max(shares) if shares and max(shares) > 0 else 1.0
    return lead, tuple(v / top for v in shares[lead:]) or (1.0,)


def sizing_defaults(base: ContractTerms) -> dict:
    """The sizing controls that reproduce ``base`` exactly (symmetric three-band risk share
    with equal caps, as the shipped COBICs have); ``sizing_terms(base, **sizing_defaults(base))``
    prices as ``base`` does.

    Raises
    ------
    ValueError
        ``base``'s bands are not of the three-band symmetric shape the controls describe.
    """
    rs = base.risk_share
    bands = rs.loss_bands
    if len(bands) != 3 or rs.gain_bands != bands or rs.loss_cap != rs.gain_cap:
        raise ValueError(f"{base.name}: the sizing controls describe three symmetric bands "
                         "with equal caps")
    lead, _ = _profile(base)
    return {"length": base.length, "basis": base.basis, "point": base.point,
            "bedding_in": lead, "at_risk": max(base.incentive_share, default=0.0),
            "deadband": bands[0].upper, "middle_upper": bands[1].upper,
            "middle_share": bands[1].provider_share, "outer_share": bands[2].provider_share,
            "cap": rs.loss_cap, "quality_gate": base.quality_gate}


def sizing_terms(base: ContractTerms, *, length: int, basis: str, point: float,
                 bedding_in: int, at_risk: float, deadband: float, middle_upper: float,
                 middle_share: float, outer_share: float, cap: float | None,
                 quality_gate: float | None) -> ContractTerms:
    """``base`` with its length, basis, capitation point, incentive profile (``bedding_in``
    years at 0, then ``base``'s own profile scaled so its highest share is ``at_risk``) and
    symmetric bands (provider bears all of the first ``deadband``, ``middle_share`` up to
    ``middle_upper``, ``outer_share`` beyond) replaced.

    Raises ``ValueError`` naming the control when the combination is invalid.
    """
    if not 5 <= length <= 7:
        raise ValueError(f"length must be 5 to 7 years, got {length}")
    if not 0 < deadband < middle_upper:
        raise ValueError(f"the deadband ({deadband:.1%}) must be above 0 and below the middle "
                         f"band's upper edge ({middle_upper:.1%})")
    if not 0 <= bedding_in < length:
        raise ValueError(f"bedding_in must be 0..{length - 1}, got {bedding_in}")
    rs = sizing_risk_share(deadband=deadband, middle_upper=middle_upper,
                           middle_share=middle_share, outer_share=outer_share, cap=cap)
    _, shape = _profile(base)
    after = length - bedding_in
    shape = (shape + (shape[-1],) * after)[:after]
    shares = tuple([0.0] * bedding_in + [at_risk * v for v in shape])
    inds = tuple(replace(i, weights=(i.weights + (i.weights[-1],) * 7)[:length])
                 for i in base.indicators)
    return replace(base, length=length, basis=basis, point=point, incentive_share=shares,
                   quality_gate=quality_gate, indicators=inds, risk_share=rs)


def sizing_risk_share(*, deadband: float, middle_upper: float, middle_share: float,
                      outer_share: float, cap: float | None) -> RiskShare:
    """The symmetric three-band risk share of the sizing controls: the provider bears all of
    the first ``deadband``, ``middle_share`` up to ``middle_upper`` and ``outer_share`` beyond,
    on overspends and savings alike, each side capped at ``cap``."""
    bands = (Band(0.0, deadband, 1.0), Band(deadband, middle_upper, middle_share),
             Band(middle_upper, math.inf, outer_share))
    return RiskShare(bands, bands, cap, cap)
