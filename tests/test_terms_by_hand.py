"""Contract terms as parsed, checked against the rules written out by hand: every default, every
inclusive bound valid and the value just past it refused, naming the key.

Each case states the TOML a user would write (as a dict) and the value the contract must then
hold, so a changed default, a bound made strict or a mirrored cap lost fails here.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest

from cobic.contract.terms import Band, Funder, Indexation, Indicator, Reopener, parse_contract
from cobic.errors import SpecError


def _raw(**over) -> dict:
    """The smallest valid contract: five years, no incentive, no risk table."""
    return {"first_year": "2026-27", "length": 5, "basis": "population"} | over


def _ind(**over) -> dict:
    return {
        "name": "stable (%)",
        "direction": "higher",
        "floor": 60.0,
        "target": 80.0,
        "weight": 1.0,
    } | over


def _refused(raw: dict, key: str, text: str = "") -> None:
    with pytest.raises(SpecError) as e:
        parse_contract(raw, "c.toml")
    assert e.value.key == key, str(e.value)
    assert text in str(e.value)
    assert str(e.value).startswith("c.toml: key ")


def test_defaults_of_the_smallest_contract():
    t = parse_contract(_raw(), "c.toml")
    assert (t.first_year, t.length, t.years) == (2027, 5, (2027, 2028, 2029, 2030, 2031))
    assert (t.corridor, t.marginal_rate, t.method, t.point) == (0.03, 0.25, "forecast", 0.5)
    assert t.incentive_share == (0.0,) * 5 and t.incentive_mode == "withhold"
    assert t.quality_gate is None and t.indicators == ()
    # no risk table: the provider bears the whole variance, both ways, uncapped
    whole = (Band(0.0, math.inf, 1.0),)
    assert (t.risk_share.loss_bands, t.risk_share.gain_bands) == (whole, whole)
    assert (t.risk_share.loss_cap, t.risk_share.gain_cap) == (None, None)
    assert t.risk_share.first_dollar_loss is None and t.risk_share.first_dollar_gain is None
    assert t.funders == (Funder("Local authority", 1.0),)
    assert (t.discount_rate, t.inflation, t.provider_reserve) == (0.035, 0.02, None)
    assert (t.cumulative_loss_cap, t.cumulative_gain_cap, t.reconciliation) == (None,) * 3
    assert t.reopener is None and t.indexation == Indexation("fixed", (), 0.0)
    assert t.name == "c.toml" and t.source == "c.toml"
    assert not t.multi_year_end and not t.path_capitation


def test_terms_are_frozen():
    t = parse_contract(_raw(), "c.toml")
    for obj, field in (
        (t, "length"),
        (t.risk_share, "loss_cap"),
        (t.funders[0], "share"),
        (t.risk_share.loss_bands[0], "upper"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, 1)


@pytest.mark.parametrize("length, ok", [(4, False), (5, True), (7, True), (8, False)])
def test_length_five_to_seven(length, ok):
    raw = _raw(length=length)
    if ok:
        assert parse_contract(raw).length == length
    else:
        _refused(raw, "length", f"5 to 7 years, got {length}")


def test_required_keys_and_basis():
    for req in ("first_year", "length", "basis"):
        raw = _raw()
        del raw[req]
        _refused(raw, req, "is required")
    _refused(_raw(basis="per_child"), "basis", "must be one of")


@pytest.mark.parametrize("key", ["corridor", "marginal_rate"])
@pytest.mark.parametrize("v, ok", [(0.0, True), (1.0, True), (-0.01, False), (1.01, False)])
def test_hybrid_fractions_0_to_1(key, v, ok):
    raw = _raw(hybrid={key: v})
    if ok:
        assert getattr(parse_contract(raw), key) == v
    else:
        _refused(raw, f"hybrid.{key}")


@pytest.mark.parametrize(
    "point, want", [("P80", 0.8), ("p50", 0.5), ("P1", 0.01), (0.99, 0.99), (0.01, 0.01)]
)
def test_capitation_point_as_percentile_or_fraction(point, want):
    assert parse_contract(_raw(capitation={"point": point})).point == pytest.approx(want)


@pytest.mark.parametrize("point", ["Pxx", "P100", 0.0, 1.0, "P0"])
def test_capitation_point_out_of_range(point):
    _refused(_raw(capitation={"point": point}), "capitation.point")


def test_historic_needs_outturn_and_year():
    both = {"method": "historic", "historic_outturn": 0.0, "historic_year": "2024-25"}
    t = parse_contract(_raw(capitation=both))
    assert (t.method, t.historic_outturn, t.historic_year) == ("historic", 0.0, 2025)
    for drop in ("historic_outturn", "historic_year"):
        cap = {k: v for k, v in both.items() if k != drop}
        _refused(_raw(capitation=cap), "capitation.historic_outturn", "needs historic_outturn")
    _refused(_raw(capitation=both | {"historic_outturn": -1.0}), "capitation.historic_outturn")
    # outside method historic the two would be ignored: refused, as is a point with it
    _refused(_raw(capitation={"historic_outturn": 5.0, "historic_year": "2024-25"}),
             "capitation.historic_outturn", "applies to method 'historic' only")
    _refused(_raw(capitation=both | {"point": "P80"}), "capitation.point",
             "applies to method 'forecast' only, and the method is 'historic'")
    # an outturn is of a year before the contract's first (2026-27)
    assert parse_contract(_raw(capitation=both | {"historic_year": "2025-26"})).historic_year \
        == 2026
    for late in ("2026-27", "2027-28"):
        _refused(_raw(capitation=both | {"historic_year": late}), "capitation.historic_year",
                 "must be a year before the contract's first year (2026-27)")


@pytest.mark.parametrize("point, ok", [("P1", 0.01), ("P99", 0.99), ("P500", None),
                                       ("P0", None), ("p80", 0.8)])
def test_capitation_points_are_p1_to_p99(point, ok):
    raw = _raw(capitation={"method": "forecast", "point": point})
    if ok is None:
        _refused(raw, "capitation.point", f"must be P1 to P99 (or 0.01 to 0.99), got '{point}'")
    else:
        assert parse_contract(raw).point == pytest.approx(ok)


@pytest.mark.parametrize("s, ok", [(0.0, True), (1.0, True), (-0.01, False), (1.01, False)])
def test_incentive_share_by_year_0_to_1(s, ok):
    raw = _raw(incentive={"share_by_year": [0.0, 0.0, 0.0, 0.0, s]}, indicators=[_ind()])
    if ok:
        assert parse_contract(raw).incentive_share[-1] == s
    else:
        _refused(raw, "incentive.share_by_year[4]")


def test_incentive_share_needs_one_per_year_and_an_indicator():
    _refused(
        _raw(incentive={"share_by_year": [0.1] * 4}),
        "incentive.share_by_year",
        "one share per contract year (5)",
    )
    _refused(
        _raw(incentive={"share_by_year": [0.0, 0.1, 0.1, 0.1, 0.1]}),
        "indicators",
        "needs at least one indicator",
    )
    # all-zero shares need no indicator
    assert parse_contract(_raw(incentive={"share_by_year": [0.0] * 5})).indicators == ()
    _refused(_raw(incentive={"mode": "penalty"}), "incentive.mode")
    assert parse_contract(_raw(incentive={"mode": "bonus"})).incentive_mode == "bonus"


@pytest.mark.parametrize("g, ok", [(0.0, True), (1.0, True), (-0.01, False), (1.01, False)])
def test_quality_gate_0_to_1(g, ok):
    raw = _raw(incentive={"quality_gate": g})
    if ok:
        assert parse_contract(raw).quality_gate == g
    else:
        _refused(raw, "incentive.quality_gate")


def test_bands_by_hand():
    rs = {
        "loss_bands": [
            {"upto": 0.02, "provider_share": 1.0},
            {"upto": 0.1, "provider_share": 0.5},
            {"provider_share": 0.0},
        ]
    }
    t = parse_contract(_raw(risk_share=rs))
    want = (Band(0.0, 0.02, 1.0), Band(0.02, 0.1, 0.5), Band(0.1, math.inf, 0.0))
    # symmetric by default: the gain bands are the loss bands
    assert t.risk_share.loss_bands == want and t.risk_share.gain_bands == want
    # a closed last band stays closed
    t = parse_contract(_raw(risk_share={"loss_bands": [{"upto": 10.0, "provider_share": 1.0}]}))
    assert t.risk_share.loss_bands == (Band(0.0, 10.0, 1.0),)


@pytest.mark.parametrize(
    "bands, key, text",
    [
        ([{"upto": 0.0, "provider_share": 1.0}], "risk_share.loss_bands[0].upto", "not above"),
        (
            [{"upto": 0.1, "provider_share": 1.0}, {"upto": 0.1, "provider_share": 0.5}],
            "risk_share.loss_bands[1].upto",
            "0.1 is not above the previous band's 0.1",
        ),
        (
            [{"upto": 0.2, "provider_share": 1.0}, {"upto": 0.1, "provider_share": 0.5}],
            "risk_share.loss_bands[1].upto",
            "increasing order",
        ),
        (
            [{"provider_share": 1.0}, {"upto": 0.1, "provider_share": 0.5}],
            "risk_share.loss_bands[0].upto",
            "only the last band may be open-ended",
        ),
        ([{"upto": 10.01, "provider_share": 1.0}], "risk_share.loss_bands[0].upto", ""),
        ([{"upto": 0.1}], "risk_share.loss_bands[0].provider_share", "is required"),
        ([{"upto": 0.1, "provider_share": 1.01}], "risk_share.loss_bands[0].provider_share", ""),
        ([{"upto": 0.1, "provider_share": -0.01}], "risk_share.loss_bands[0].provider_share", ""),
        ([], "risk_share.loss_bands", "non-empty list"),
    ],
)
def test_bad_bands_refused(bands, key, text):
    _refused(_raw(risk_share={"loss_bands": bands}), key, text)


def test_band_share_bounds_are_valid():
    t = parse_contract(
        _raw(
            risk_share={
                "loss_bands": [{"upto": 0.1, "provider_share": 0.0}, {"provider_share": 1.0}]
            }
        )
    )
    assert [b.provider_share for b in t.risk_share.loss_bands] == [0.0, 1.0]


def test_gain_cap_mirrors_the_loss_cap_only_when_symmetric():
    assert parse_contract(_raw(risk_share={"loss_cap": 0.05})).risk_share.gain_cap == 0.05
    # an explicit gain cap wins
    rs = parse_contract(_raw(risk_share={"loss_cap": 0.05, "gain_cap": 0.02})).risk_share
    assert (rs.loss_cap, rs.gain_cap) == (0.05, 0.02)
    # a gain cap alone does not make a loss cap
    rs = parse_contract(_raw(risk_share={"gain_cap": 0.02})).risk_share
    assert (rs.loss_cap, rs.gain_cap) == (None, 0.02)
    # not symmetric: no mirror
    gain = [{"provider_share": 0.5}]
    rs = parse_contract(
        _raw(risk_share={"symmetric": False, "gain_bands": gain, "loss_cap": 0.05})
    ).risk_share
    assert (rs.loss_cap, rs.gain_cap) == (0.05, None)
    assert rs.gain_bands == (Band(0.0, math.inf, 0.5),)
    assert rs.loss_bands == (Band(0.0, math.inf, 1.0),)


def test_symmetric_rules():
    _refused(
        _raw(risk_share={"gain_bands": [{"provider_share": 0.5}]}),
        "risk_share.gain_bands",
        "only with symmetric = false",
    )
    _refused(_raw(risk_share={"symmetric": "yes"}), "risk_share.symmetric", "true or false")
    _refused(_raw(risk_share={"symmetric": False}), "risk_share.gain_bands",
             "symmetric = false needs gain_bands")


@pytest.mark.parametrize("cap", ["loss_cap", "gain_cap"])
@pytest.mark.parametrize("v, ok", [(0.0, True), (10.0, True), (-0.01, False), (10.01, False)])
def test_caps_0_to_10(cap, v, ok):
    raw = _raw(risk_share={cap: v})
    if ok:
        assert getattr(parse_contract(raw).risk_share, cap) == v
    else:
        _refused(raw, f"risk_share.{cap}")


@pytest.mark.parametrize("side", ["first_dollar_loss", "first_dollar_gain"])
def test_first_dollar_defaults_and_bounds(side):
    rs = parse_contract(_raw(risk_share={side: {}})).risk_share
    assert getattr(rs, side) == (0.0, 0.0)
    rs = parse_contract(_raw(risk_share={side: {"threshold": 1.0, "share": 1.0}})).risk_share
    assert getattr(rs, side) == (1.0, 1.0)
    rs = parse_contract(_raw(risk_share={side: {"threshold": 0.05}})).risk_share
    assert getattr(rs, side) == (0.05, 0.0)
    for k in ("threshold", "share"):
        for v in (-0.01, 1.01):
            _refused(_raw(risk_share={side: {k: v}}), f"risk_share.{side}.{k}")
    _refused(_raw(risk_share={side: {"limit": 0.1}}), f"risk_share.{side}.limit")


def test_indicator_defaults():
    (i,) = parse_contract(_raw(indicators=[_ind()])).indicators
    assert (i.direction, i.floor, i.target, i.weights) == ("higher", 60.0, 80.0, (1.0,) * 5)
    assert (i.scoring, i.steps, i.baseline, i.improvement, i.sd, i.cost_correlation) == (
        "linear",
        (),
        60.0,
        0.0,
        0.0,
        0.0,
    )  # the baseline defaults to the floor


def test_an_indicator_without_a_weight_weighs_nothing():
    unweighted = {k: v for k, v in _ind(name="b").items() if k != "weight"}
    a, b = parse_contract(_raw(indicators=[_ind(), unweighted])).indicators
    assert a.weights == (1.0,) * 5 and b.weights == (0.0,) * 5


@pytest.mark.parametrize(
    "direction, floor, target, ok, word",
    [
        ("higher", 60.0, 80.0, True, ""),
        ("higher", 60.0, 60.0, False, "above"),
        ("higher", 60.0, 50.0, False, "above"),
        ("lower", 20.0, 10.0, True, ""),
        ("lower", 20.0, 20.0, False, "below"),
        ("lower", 20.0, 30.0, False, "below"),
    ],
)
def test_target_on_the_right_side_of_the_floor(direction, floor, target, ok, word):
    raw = _raw(indicators=[_ind(direction=direction, floor=floor, target=target)])
    if ok:
        assert parse_contract(raw).indicators[0].target == target
    else:
        _refused(
            raw,
            "indicators[0].target",
            f"with direction '{direction}' the target ({target}) must be {word} the floor "
            f"({floor})",
        )


def test_indicator_required_keys_and_direction():
    for req in ("name", "direction", "floor", "target"):
        ind = {k: v for k, v in _ind().items() if k != req}
        _refused(_raw(indicators=[ind]), f"indicators[0].{req}", "is required")
    _refused(_raw(indicators=[_ind(direction="up")]), "indicators[0].direction")
    _refused(_raw(indicators=[_ind(scoring="graded")]), "indicators[0].scoring")


def test_weights_by_year():
    w = [0.0, 0.25, 0.5, 0.75, 1.0]
    a, b = parse_contract(
        _raw(
            indicators=[
                {k: v for k, v in _ind(weights=w).items() if k != "weight"},
                {
                    k: v
                    for k, v in _ind(name="b", weights=[1 - x for x in w]).items()
                    if k != "weight"
                },
            ]
        )
    ).indicators
    assert a.weights == tuple(w) and b.weights == (1.0, 0.75, 0.5, 0.25, 0.0)
    _refused(
        _raw(indicators=[_ind(weights=[1.0] * 4)]),
        "indicators[0].weights",
        "one weight per contract year (5)",
    )
    _refused(
        _raw(indicators=[_ind(weights=[1.0, 1.0, 1.0, 1.0, 1.01])]), "indicators[0].weights[4]"
    )
    _refused(_raw(indicators=[_ind(weight=1.01)]), "indicators[0].weight")
    _refused(
        _raw(indicators=[_ind(weight=-0.5), _ind(name="b", weight=1.0)]), "indicators[0].weight"
    )


def test_weights_must_sum_to_1_in_each_year_naming_it():
    a = _ind(weights=[0.5, 0.5, 0.4, 0.5, 0.5])
    b = _ind(name="b", weights=[0.5, 0.5, 0.5, 0.5, 0.5])
    _refused(_raw(indicators=[a, b]), "indicators.weight", "contract year 3 sums to 0.9")
    _refused(_raw(indicators=[_ind(weight=0.5)]), "indicators.weight", "contract year 1 sums")


def test_stepped_scoring_needs_steps():
    steps = [{"at": 70.0, "payout": 0.0}, {"at": 75.0, "payout": 1.0}]
    (i,) = parse_contract(_raw(indicators=[_ind(scoring="stepped", steps=steps)])).indicators
    assert i.steps == ((70.0, 0.0), (75.0, 1.0))
    for bad in (None, [], "70"):
        raw = _ind(scoring="stepped") | ({} if bad is None else {"steps": bad})
        _refused(_raw(indicators=[raw]), "indicators[0].steps", "stepped scoring needs steps")
    _refused(
        _raw(indicators=[_ind(scoring="stepped", steps=[{"at": 70, "payout": 1.01}])]),
        "indicators[0].steps[0].payout",
    )
    _refused(
        _raw(indicators=[_ind(scoring="stepped", steps=[{"payout": 1.0}])]),
        "indicators[0].steps[0].at",
    )
    # steps given with linear scoring would be ignored: refused, saying so
    _refused(_raw(indicators=[_ind(steps=steps)]), "indicators[0].steps",
             "only stepped scoring has steps")


@pytest.mark.parametrize(
    "key, v, ok",
    [
        ("sd", 0.0, True),
        ("sd", -0.01, False),
        ("sd", 5.0, True),
        ("cost_correlation", -1.0, True),
        ("cost_correlation", 1.0, True),
        ("cost_correlation", -1.01, False),
        ("cost_correlation", 1.01, False),
        ("baseline", -5.0, False),  # a percentage: 0-100
        ("baseline", 5.0, True),
        ("improvement", -2.0, True),
    ],
)
def test_indicator_noise_bounds(key, v, ok):
    raw = _raw(indicators=[_ind(**{key: v})])
    if ok:
        assert getattr(parse_contract(raw).indicators[0], key) == v
    else:
        _refused(raw, f"indicators[0].{key}")


def test_funders():
    t = parse_contract(_raw(funders=[{"share": 0.6}, {"name": "ICB", "share": 0.4}]))
    assert t.funders == (Funder("funder 1", 0.6), Funder("ICB", 0.4))
    _refused(
        _raw(funders=[{"name": "LA", "share": 0.6}, {"name": "ICB", "share": 0.3}]),
        "funders",
        "shares must sum to 1, got 0.9",
    )
    _refused(_raw(funders=[{"name": "LA", "share": 1.01}]), "funders[0].share")
    _refused(
        _raw(funders=[{"name": "LA", "share": -0.1}, {"name": "B", "share": 1.1}]),
        "funders[0].share",
    )
    _refused(_raw(funders=[{"name": "LA"}]), "funders[0].share", "must be a number")
    assert (
        parse_contract(_raw(funders=[{"name": "LA", "share": 1.0}, {"name": "B", "share": 0.0}]))
        .funders[1]
        .share
        == 0.0
    )


@pytest.mark.parametrize("key, lo, hi", [("inflation", -0.1, 0.3), ("discount_rate", 0.0, 0.2)])
def test_finance_rates_bounds(key, lo, hi):
    for v, ok in ((lo, True), (hi, True), (lo - 0.01, False), (hi + 0.01, False)):
        raw = _raw(finance={key: v})
        if ok:
            assert getattr(parse_contract(raw), key) == v
        else:
            _refused(raw, f"finance.{key}")


def test_provider_reserve_at_least_0():
    assert parse_contract(_raw(finance={"provider_reserve": 0.0})).provider_reserve == 0.0
    assert parse_contract(_raw(finance={"provider_reserve": 2e6})).provider_reserve == 2e6
    _refused(_raw(finance={"provider_reserve": -1.0}), "finance.provider_reserve")


@pytest.mark.parametrize("cap", ["loss_cap", "gain_cap"])
def test_cumulative_caps_0_to_10(cap):
    for v, ok in ((0.0, True), (10.0, True), (-0.01, False), (10.01, False)):
        raw = _raw(cumulative={cap: v})
        if ok:
            t = parse_contract(raw)
            assert getattr(t, f"cumulative_{cap}") == v and t.multi_year_end
            other = "gain_cap" if cap == "loss_cap" else "loss_cap"
            assert getattr(t, f"cumulative_{other}") is None  # no mirror across
        else:
            _refused(raw, f"cumulative.{cap}")


def test_reconciliation_is_a_risk_table_of_its_own():
    t = parse_contract(
        _raw(
            reconciliation={
                "loss_bands": [{"upto": 0.05, "provider_share": 0.5}, {"provider_share": 0.1}],
                "loss_cap": 0.04,
            }
        )
    )
    want = (Band(0.0, 0.05, 0.5), Band(0.05, math.inf, 0.1))
    assert t.reconciliation.loss_bands == want and t.reconciliation.gain_bands == want
    assert (t.reconciliation.loss_cap, t.reconciliation.gain_cap) == (0.04, 0.04)
    assert t.multi_year_end
    _refused(_raw(reconciliation={"loss_cap": 11.0}), "reconciliation.loss_cap")


@pytest.mark.parametrize("year, ok", [(1, False), (2, True), (5, True), (6, False)])
def test_reopener_year_2_to_length(year, ok):
    raw = _raw(reopener={"year": year})
    if ok:
        t = parse_contract(raw)
        assert t.reopener == Reopener(year, 1.0, (1.0,)) and t.path_capitation
    else:
        _refused(raw, "reopener.year")


def test_reopener_weights_and_factor():
    r = parse_contract(
        _raw(reopener={"year": 4, "weights": [0.2, 0.3, 0.5], "factor": 0.5})
    ).reopener
    assert r == Reopener(4, 0.5, (0.2, 0.3, 0.5))
    assert parse_contract(_raw(reopener={"year": 4, "factor": 2.0})).reopener.factor == 2.0
    # a factor of 0 re-based the capitation to nothing: refused, as is one past doubling
    for bad in (0.0, 0.4999, 2.0001, -0.01):
        _refused(_raw(reopener={"year": 4, "factor": bad}), "reopener.factor")
    _refused(
        _raw(reopener={"year": 3, "weights": [0.2, 0.3, 0.5]}),
        "reopener.weights",
        "needs 1 to 2 weights (the years before year 3",
    )
    _refused(
        _raw(reopener={"year": 2, "weights": [0.5, 0.5]}),
        "reopener.weights",
        "needs 1 weight (the year before year 2, oldest first)",
    )
    _refused(_raw(reopener={"year": 3, "weights": []}), "reopener.weights", "needs 1 to 2")
    _refused(
        _raw(reopener={"year": 3, "weights": [0.5, 0.4]}),
        "reopener.weights",
        "must sum to 1, got 0.9",
    )
    _refused(_raw(reopener={"year": 3, "weights": [1.5, -0.5]}), "reopener.weights[0]")
    _refused(_raw(reopener={"factor": 1.0}), "reopener.year", "is required")


def test_indexation():
    t = parse_contract(_raw(indexation={"method": "cpi", "cpi": 0.03}, finance={"inflation": 0.01}))
    assert t.indexation == Indexation("cpi", (0.03,) * 5, 0.01)  # assumed CPI: the inflation
    assert not t.path_capitation
    t = parse_contract(
        _raw(indexation={"method": "cpi", "cpi": [0.0, 0.01, 0.02, 0.03, 0.3], "assumed_cpi": -0.1})
    )
    assert t.indexation == Indexation("cpi", (0.0, 0.01, 0.02, 0.03, 0.3), -0.1)
    t = parse_contract(_raw(indexation={"method": "cost_index"}))
    assert t.indexation == Indexation("cost_index") and t.path_capitation
    _refused(_raw(indexation={"method": "cpi"}), "indexation.cpi", "needs cpi")
    _refused(
        _raw(indexation={"method": "cpi", "cpi": [0.02] * 4}),
        "indexation.cpi",
        "one rate per contract year (5)",
    )
    _refused(
        _raw(indexation={"method": "cpi", "cpi": [0.02, 0.02, 0.02, 0.02, 0.31]}),
        "indexation.cpi[4]",
    )
    _refused(_raw(indexation={"method": "cpi", "cpi": -0.11}), "indexation.cpi[0]")
    _refused(
        _raw(indexation={"method": "cpi", "cpi": 0.02, "assumed_cpi": 0.31}),
        "indexation.assumed_cpi",
    )
    for method in ("fixed", "cost_index"):
        for k in ("cpi", "assumed_cpi"):
            _refused(
                _raw(indexation={"method": method, k: 0.02}),
                f"indexation.{k}",
                "only with method = 'cpi'",
            )
    _refused(_raw(indexation={"method": "rpi"}), "indexation.method")


def test_unknown_keys_are_named():
    _refused(_raw(extra=1), "extra")
    _refused(_raw(hybrid={"corridoor": 0.1}), "hybrid.corridoor")
    _refused(_raw(finance={"reserve": 1.0}), "finance.reserve")


def test_an_indicator_made_in_code_is_independent_of_cost_by_default():
    i = Indicator(
        name="a",
        direction="higher",
        floor=0.0,
        target=1.0,
        weights=(1.0,) * 5,
        scoring="linear",
        steps=(),
        baseline=0.0,
        improvement=0.0,
        sd=1.0,
    )
    assert i.cost_correlation == 0.0


def test_more_values_than_years_are_refused():
    _refused(
        _raw(incentive={"share_by_year": [0.0] * 6}),
        "incentive.share_by_year",
        "one share per contract year (5)",
    )
    _refused(
        _raw(indicators=[_ind(weights=[1.0] * 6)]),
        "indicators[0].weights",
        "one weight per contract year (5)",
    )


def test_a_negative_weight_by_year_is_refused():
    a = {k: v for k, v in _ind(weights=[1.0, 1.0, 1.0, 1.0, -0.5]).items() if k != "weight"}
    b = {
        k: v for k, v in _ind(name="b", weights=[0.0, 0.0, 0.0, 0.0, 1.5]).items() if k != "weight"
    }
    _refused(_raw(indicators=[a, b]), "indicators[0].weights[4]")


def test_the_reopener_year_is_whole():
    _refused(_raw(reopener={"year": 2.5}), "reopener.year", "whole number")
    assert parse_contract(_raw(reopener={"year": 3.0})).reopener.year == 3


def test_cpi_at_its_lower_bound_is_valid():
    t = parse_contract(_raw(indexation={"method": "cpi", "cpi": [-0.1, -0.05, 0.0, 0.1, 0.3]}))
    assert t.indexation.cpi == (-0.1, -0.05, 0.0, 0.1, 0.3)


def test_every_terms_dataclass_is_frozen():
    t = parse_contract(_raw(reopener={"year": 3}, indicators=[_ind()]), "c.toml")
    for obj, field in ((t.reopener, "year"), (t.indexation, "method"), (t.indicators[0], "floor")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, 1)


def test_a_negative_band_edge_is_out_of_range_not_out_of_order():
    _refused(
        _raw(risk_share={"loss_bands": [{"upto": -0.5, "provider_share": 1.0}]}),
        "risk_share.loss_bands[0].upto",
        "must be between 0.0 and 10.0, got -0.5",
    )


def test_the_length_is_whole():
    _refused(_raw(length=5.5), "length", "must be a whole number")


def test_assumed_cpi_below_its_lower_bound_is_refused():
    _refused(
        _raw(indexation={"method": "cpi", "cpi": 0.02, "assumed_cpi": -0.11}),
        "indexation.assumed_cpi",
    )


def test_a_percentage_indicator_lies_in_0_to_100():
    """An indicator named "... (%)" (as settlement reads its outturns): its floor, target,
    baseline and step thresholds in 0-100, its noise at most 100 points."""
    for over, key in (({"target": 750.0}, "target"), ({"floor": -5.0}, "floor"),
                      ({"baseline": 101.0}, "baseline"), ({"sd": 1e12}, "sd"),
                      ({"improvement": 1000.0}, "improvement"),
                      ({"scoring": "stepped", "steps": [{"at": 70.0, "payout": 0.5},
                                                        {"at": 500.0, "payout": 1.0}]},
                       "steps[1].at")):
        _refused(_raw(indicators=[_ind(**over)]), f"indicators[0].{key}", "between")
    # the same numbers on an indicator that is not a percentage are read
    (i,) = parse_contract(_raw(indicators=[_ind(name="placements a child", floor=1.0,
                                                target=750.0)])).indicators
    assert i.target == 750.0
    (i,) = parse_contract(_raw(indicators=[_ind(floor=0.0, target=100.0)])).indicators
    assert (i.floor, i.target) == (0.0, 100.0)  # the edges themselves


def test_steps_go_from_worse_to_better_with_payouts_that_never_fall():
    up = [{"at": 60.0, "payout": 0.2}, {"at": 70.0, "payout": 0.6}, {"at": 75.0, "payout": 0.6}]
    (i,) = parse_contract(_raw(indicators=[_ind(scoring="stepped", steps=up)])).indicators
    assert i.steps == ((60.0, 0.2), (70.0, 0.6), (75.0, 0.6))
    for bad, j in (([up[1], up[0]], 1),  # thresholds falling on a 'higher' indicator
                   # ... with payouts rising: the thresholds alone break the rule
                   ([{"at": 70.0, "payout": 0.2}, {"at": 60.0, "payout": 0.6}], 1),
                   ([up[0], {"at": 70.0, "payout": 0.1}], 1),  # a payout falling
                   ([up[0], {"at": 60.0, "payout": 0.9}], 1)):  # the same threshold twice
        _refused(_raw(indicators=[_ind(scoring="stepped", steps=bad)]),
                 f"indicators[0].steps[{j}]", "steps must go from worse to better")
    down = [{"at": 30.0, "payout": 0.3}, {"at": 20.0, "payout": 1.0}]  # 'lower' is better
    (i,) = parse_contract(_raw(indicators=[_ind(direction="lower", floor=40.0, target=20.0,
                                                scoring="stepped", steps=down)])).indicators
    assert i.steps == ((30.0, 0.3), (20.0, 1.0))
    _refused(_raw(indicators=[_ind(direction="lower", floor=40.0, target=20.0,
                                   scoring="stepped", steps=down[::-1])]),
             "indicators[0].steps[1]", "falling 'at'")
    # a 'lower' indicator whose thresholds rise, payouts rising too
    _refused(_raw(indicators=[_ind(direction="lower", floor=40.0, target=20.0,
                                   scoring="stepped", steps=[{"at": 20.0, "payout": 0.3},
                                                             {"at": 30.0, "payout": 1.0}])]),
             "indicators[0].steps[1]", "falling 'at'")


def test_two_indicators_may_not_share_a_name():
    a = _ind(weight=0.5)
    _refused(_raw(indicators=[a, dict(a)]), "indicators[1].name", "also indicators[0]")


def test_asymmetric_sharing_needs_its_gain_bands():
    rs = {"symmetric": False, "loss_bands": [{"provider_share": 1.0}]}
    _refused(_raw(risk_share=rs), "risk_share.gain_bands",
             "symmetric = false needs gain_bands")
    ok = parse_contract(_raw(risk_share=rs | {"gain_bands": [{"provider_share": 0.5}]}))
    assert ok.risk_share.gain_bands[0].provider_share == 0.5


def test_a_cost_set_given_as_a_contract_and_back_is_named_for_what_it_is():
    from cobic.costs import default_unit_costs_path, load_cost_spec

    costs = tomllib.loads(default_unit_costs_path().read_text())
    with pytest.raises(SpecError, match="this looks like a cost set.*give it with --costs"):
        parse_contract(costs, "c.toml")
    contract = Path(__file__).resolve().parents[1] / "models" / "contracts" / "cobic_5yr.toml"
    with pytest.raises(SpecError, match="this looks like a contract.*give it with --contract"):
        load_cost_spec(contract)
