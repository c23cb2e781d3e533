"""The contract-sizing controls (``cobic.contract.presets``) against values worked by hand.

The notebook builds its contract from these controls; until now only the (slow) notebook and
browser tests reached them. Every expected value here is read from the contract file with
``tomllib`` or worked out by hand, not taken from the functions under test.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from cobic.contract.presets import sizing_defaults, sizing_risk_share, sizing_terms
from cobic.contract.terms import Band, load_contract

SEVEN = Path(__file__).resolve().parents[1] / "models" / "contracts" / "cobic_7yr.toml"


@pytest.fixture(scope="module")
def base():
    return load_contract(SEVEN)


def _controls(**over):
    c = {
        "length": 6,
        "basis": "population",
        "point": 0.6,
        "bedding_in": 1,
        "at_risk": 0.2,
        "deadband": 0.01,
        "middle_upper": 0.1,
        "middle_share": 0.4,
        "outer_share": 0.1,
        "cap": 0.07,
        "quality_gate": 0.3,
    }
    return c | over


def test_defaults_are_the_shipped_contract_read_from_its_file(base):
    raw = tomllib.loads(SEVEN.read_text())
    bands = raw["risk_share"]["loss_bands"]
    d = sizing_defaults(base)
    assert d == {
        "length": 7,
        "basis": "hybrid",
        "point": 0.5,
        "bedding_in": 1,  # one leading 0.0 in share_by_year
        "at_risk": 0.15,  # the highest share
        "deadband": bands[0]["upto"],
        "middle_upper": bands[1]["upto"],
        "middle_share": bands[1]["provider_share"],
        "outer_share": bands[2]["provider_share"],
        "cap": raw["risk_share"]["loss_cap"],
        "quality_gate": raw["incentive"]["quality_gate"],
    }


def test_defaults_round_trip_to_the_same_terms(base):
    assert sizing_terms(base, **sizing_defaults(base)) == base


def test_bedding_in_counts_leading_zero_years_only(base):
    # 0, 0, 0.1, 0, 0.2: two years bedding in (a later zero is part of the shape)
    b = replace(base, length=5, incentive_share=(0.0, 0.0, 0.1, 0.0, 0.2))
    d = sizing_defaults(b)
    assert d["bedding_in"] == 2
    assert d["at_risk"] == pytest.approx(0.2)


def test_nothing_at_risk_means_every_year_bedding_in_and_a_flat_shape(base):
    b = replace(base, length=5, incentive_share=(0.0,) * 5)
    assert sizing_defaults(b)["bedding_in"] == 5
    assert sizing_defaults(b)["at_risk"] == 0.0
    # no profile to scale: the shape is flat at 1, so at_risk 0.1 after one year is 0.1 each year
    t = sizing_terms(b, **_controls(length=5, bedding_in=1, at_risk=0.1))
    assert t.incentive_share == pytest.approx((0.0, 0.1, 0.1, 0.1, 0.1))


@pytest.mark.parametrize("change", ["count", "four", "asymmetric", "caps"])
def test_defaults_refuse_terms_the_controls_cannot_describe(base, change):
    rs = base.risk_share
    if change == "count":
        rs = replace(rs, loss_bands=rs.loss_bands[:2], gain_bands=rs.gain_bands[:2])
    elif change == "four":  # one band more than the controls describe
        extra = rs.loss_bands + (rs.loss_bands[-1],)
        rs = replace(rs, loss_bands=extra, gain_bands=extra)
    elif change == "asymmetric":
        gb = (rs.gain_bands[0], replace(rs.gain_bands[1], provider_share=0.3), rs.gain_bands[2])
        rs = replace(rs, gain_bands=gb)
    else:
        rs = replace(rs, gain_cap=0.06)
    with pytest.raises(ValueError, match="three symmetric bands"):
        sizing_defaults(replace(base, risk_share=rs))


def test_incentive_profile_is_the_shipped_shape_scaled_and_shifted(base):
    # shipped shape after bedding in: 0.10, 0.10, 0.15, 0.15, 0.15, 0.15 -> 2/3, 2/3, 1, 1, 1, 1
    t = sizing_terms(base, **_controls(length=6, bedding_in=2, at_risk=0.3))
    assert t.incentive_share == pytest.approx((0.0, 0.0, 0.2, 0.2, 0.3, 0.3))
    # a longer tail than the shape repeats its last value
    b = replace(
        base,
        length=5,
        incentive_share=(0.0, 0.05, 0.1, 0.1, 0.1),
        indicators=tuple(replace(i, weights=i.weights[:5]) for i in base.indicators),
    )
    t = sizing_terms(b, **_controls(length=7, bedding_in=0, at_risk=0.2))
    assert t.incentive_share == pytest.approx((0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2))


def test_indicator_weights_follow_the_length(base):
    w = (0.1, 0.2, 0.3, 0.4, 0.5)
    b = replace(
        base,
        length=5,
        incentive_share=(0.0, 0.1, 0.1, 0.1, 0.1),
        indicators=(replace(base.indicators[0], weights=w),),
    )
    t7 = sizing_terms(b, **_controls(length=7, bedding_in=1))
    assert t7.indicators[0].weights == (0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5)
    t5 = sizing_terms(
        replace(
            b,
            length=7,
            incentive_share=(0.0,) + (0.1,) * 6,
            indicators=(replace(b.indicators[0], weights=w + (0.6, 0.7)),),
        ),
        **_controls(length=5, bedding_in=1),
    )
    assert t5.indicators[0].weights == w
    # the other indicator fields are untouched
    assert replace(t7.indicators[0], weights=w) == b.indicators[0]


def test_controls_replace_what_they_name_and_nothing_else(base):
    t = sizing_terms(base, **_controls())
    assert (t.length, t.basis, t.point, t.quality_gate) == (6, "population", 0.6, 0.3)
    assert t.years == tuple(range(base.first_year, base.first_year + 6))
    keep = (
        "name",
        "first_year",
        "corridor",
        "marginal_rate",
        "method",
        "incentive_mode",
        "discount_rate",
        "inflation",
        "provider_reserve",
        "funders",
    )
    assert all(getattr(t, k) == getattr(base, k) for k in keep)
    assert sizing_terms(base, **_controls(quality_gate=None)).quality_gate is None


def test_risk_share_bands_by_hand():
    rs = sizing_risk_share(
        deadband=0.02, middle_upper=0.08, middle_share=0.5, outer_share=0.2, cap=0.05
    )
    want = (Band(0.0, 0.02, 1.0), Band(0.02, 0.08, 0.5), Band(0.08, math.inf, 0.2))
    assert rs.loss_bands == want and rs.gain_bands == want
    assert (rs.loss_cap, rs.gain_cap) == (0.05, 0.05)
    assert rs.first_dollar_loss is None and rs.first_dollar_gain is None
    uncapped = sizing_risk_share(
        deadband=0.02, middle_upper=0.08, middle_share=0.5, outer_share=0.2, cap=None
    )
    assert (uncapped.loss_cap, uncapped.gain_cap) == (None, None)


def test_sized_risk_share_is_what_the_terms_carry(base):
    t = sizing_terms(base, **_controls())
    assert t.risk_share == sizing_risk_share(
        deadband=0.01, middle_upper=0.1, middle_share=0.4, outer_share=0.1, cap=0.07
    )


@pytest.mark.parametrize("length, ok", [(4, False), (5, True), (7, True), (8, False)])
def test_length_edges(base, length, ok):
    if ok:
        assert sizing_terms(base, **_controls(length=length)).length == length
    else:
        with pytest.raises(ValueError, match=f"length must be 5 to 7 years, got {length}"):
            sizing_terms(base, **_controls(length=length))


@pytest.mark.parametrize(
    "deadband, upper, ok",
    [
        (0.0, 0.1, False),
        (0.001, 0.1, True),
        (0.1, 0.1, False),
        (0.099, 0.1, True),
        (0.2, 0.1, False),
        (-0.01, 0.1, False),
    ],
)
def test_deadband_edges(base, deadband, upper, ok):
    c = _controls(deadband=deadband, middle_upper=upper)
    if ok:
        assert sizing_terms(base, **c).risk_share.loss_bands[0].upper == deadband
    else:
        with pytest.raises(ValueError, match="deadband"):
            sizing_terms(base, **c)


@pytest.mark.parametrize("bedding_in, ok", [(-1, False), (0, True), (5, True), (6, False)])
def test_bedding_in_edges(base, bedding_in, ok):
    c = _controls(length=6, bedding_in=bedding_in)
    if ok:
        shares = sizing_terms(base, **c).incentive_share
        assert shares[:bedding_in] == (0.0,) * bedding_in and shares[bedding_in] > 0
    else:
        with pytest.raises(ValueError, match=r"bedding_in must be 0\.\.5, got"):
            sizing_terms(base, **c)
