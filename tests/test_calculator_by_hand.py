"""The calculator's tables and helpers (``cobic.contract.calculator``) on arrays built by hand.

A priced contract of three paths and two years is written out in full, so that every figure of
``schedule``, ``summary``, ``risk`` and ``by_path_year`` can be worked out on paper (the working
is in the comments). The money rules themselves are tested in ``test_rules_by_hand.py``; here it
is the reporting of their result that is checked.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from cobic.contract.calculator import (
    Priced,
    SimulatedCosts,
    apply_terms,
    cost_scores,
    discount_factors,
    indicator_cost_note,
    simulate_contract_costs,
)
from cobic.contract.terms import Funder, load_contract, parse_contract
from cobic.costs import (
    CostPaths,
    DemandPaths,
    default_growth_path,
    default_unit_costs_path,
    load_cost_spec,
    load_growth,
    with_growth,
)

SEVEN = Path(__file__).resolve().parents[1] / "models" / "contracts" / "cobic_7yr.toml"

# paths x years (2 contract years, financial years 2026-27 and 2027-28)
COST = np.array([[90.0, 130.0], [120.0, 100.0], [80.0, 85.0]])
TARGET = np.array([[100.0, 110.0]] * 3)
PSHARE = np.array([[-5.0, 10.0], [10.0, -5.0], [-10.0, -12.0]])
# provider margin (net - cost): path 0 -20, +5 (cumulative -20, -15); path 1 +3, -8 (3, -5);
# path 2 +2, +4 (2, 6): totals -15, -5, 6
MARGIN = np.array([[-20.0, 5.0], [3.0, -8.0], [2.0, 4.0]])
NET = COST + MARGIN
EARNED = np.array([[4.0, 5.0], [6.0, 7.0], [1.0, 0.0]])
LOSS_CAP = np.array([[False, True], [False, False], [False, False]])
GAIN_CAP = np.array([[False, False], [True, True], [False, False]])
DEFLATOR = np.array([1.02, 1.02**2])
DISCOUNT = np.array([1.0, 1 / 1.035])


@pytest.fixture(scope="module")
def terms():
    t = load_contract(SEVEN)
    return replace(
        t,
        first_year=2027,
        length=2,
        incentive_share=(0.1, 0.1),
        provider_reserve=10.0,
        funders=(Funder("Local authority", 0.7), Funder("ICB", 0.3)),
        indicators=tuple(replace(i, weights=i.weights[:2]) for i in t.indicators),
    )


@pytest.fixture(scope="module")
def priced(terms):
    return Priced(
        terms=terms,
        years=(2027, 2028),
        capitation=np.array([100.0, 110.0]),
        expected_days=np.array([10.0, 12.0]),
        target=TARGET,
        cost=COST,
        variance=COST - TARGET,
        provider_share=PSHARE,
        at_risk=np.array([10.0, 11.0]),
        composite=np.full((3, 2), 0.5),
        incentive_earned=EARNED,
        withheld=np.array([10.0, 11.0]),
        net_to_provider=NET,
        hit_loss_cap=LOSS_CAP,
        hit_gain_cap=GAIN_CAP,
        deflator=DEFLATOR,
        discount=DISCOUNT,
    )


def _risk(priced):
    return dict(priced.risk().iter_rows())


def test_risk_table_by_hand(priced):
    r = _risk(priced)
    assert r["P(provider hits the loss cap in some year)"] == pytest.approx(1 / 3)
    assert r["P(provider hits the gain cap in some year)"] == pytest.approx(1 / 3)
    # provider shares by path: 5, 5, -22 -> mean -4
    assert r["expected risk-share cost to the provider (GBP)"] == pytest.approx(-4.0)
    # variance - provider share: (-5, 10), (10, -5), (-10, -13) -> 5, 5, -23
    assert r["expected risk-share cost to the commissioner (GBP)"] == pytest.approx(-13 / 3)
    # total cost by path 220, 220, 165: P80 (linear) 220, mean 605/3
    assert r["risk margin to reach P80 cost: P80 - mean (GBP)"] == pytest.approx(220 - 605 / 3)
    # margins -15, -5, 6
    assert r["P(provider makes a loss over the contract)"] == pytest.approx(2 / 3)
    # lowest cumulative margins -20, -5, 2 against a reserve of 10: only path 0 exceeds it
    assert r["P(provider's cumulative loss exceeds its reserve of GBP 10)"] == pytest.approx(1 / 3)
    assert not any("cumulative loss cap" in k for k in r)  # no end-of-contract terms


def test_no_reserve_no_reserve_row(priced, terms):
    p = replace(priced, terms=replace(terms, provider_reserve=None))
    assert not any("reserve" in k for k in _risk(p))


def test_a_reserve_exactly_reached_is_not_exceeded(priced, terms):
    # path 1's lowest cumulative margin is exactly -5
    p = replace(priced, terms=replace(terms, provider_reserve=5.0))
    assert _risk(p)["P(provider's cumulative loss exceeds its reserve of GBP 5)"] == pytest.approx(
        1 / 3
    )


def test_summary_by_hand(priced):
    s = {r["measure"]: r for r in priced.summary().iter_rows(named=True)}
    outlay = NET.sum(axis=1)  # 205, 215, 171
    assert list(outlay) == [205.0, 215.0, 171.0]
    assert s["commissioner_outlay"]["mean"] == pytest.approx(591 / 3)
    assert s["commissioner_outlay"]["p50"] == pytest.approx(205.0)
    # linear quantiles of 171, 205, 215: p10 = 171 + 0.2 x 34, p90 = 205 + 0.8 x 10
    assert s["commissioner_outlay"]["p10"] == pytest.approx(177.8)
    assert s["commissioner_outlay"]["p90"] == pytest.approx(213.0)
    real = [70 / 1.02 + 135 / 1.0404, 123 / 1.02 + 92 / 1.0404, 82 / 1.02 + 89 / 1.0404]
    assert s["commissioner_outlay_real"]["mean"] == pytest.approx(sum(real) / 3)
    pv = [
        70 / 1.02 + 135 / 1.0404 / 1.035,
        123 / 1.02 + 92 / 1.0404 / 1.035,
        82 / 1.02 + 89 / 1.0404 / 1.035,
    ]
    assert s["commissioner_outlay_pv"]["mean"] == pytest.approx(sum(pv) / 3)
    assert s["provider_margin"]["mean"] == pytest.approx(-14 / 3)
    assert s["actual_cost"]["mean"] == pytest.approx(605 / 3)
    assert s["incentive_earned"]["mean"] == pytest.approx(23 / 3)
    assert s["outlay_Local authority"]["mean"] == pytest.approx(0.7 * 591 / 3)
    assert s["outlay_ICB"]["mean"] == pytest.approx(0.3 * 591 / 3)


def test_schedule_by_hand(priced):
    rows = priced.schedule().to_dicts()
    assert [r["financial_year"] for r in rows] == ["2026-27", "2027-28"]
    assert [r["contract_year"] for r in rows] == [1, 2]
    y2 = rows[1]
    assert y2["fixed"] == pytest.approx(110 - 11)
    assert y2["capitation_real"] == pytest.approx(110 / 1.0404)
    assert y2["capitation_pv"] == pytest.approx(110 / 1.0404 / 1.035)
    assert y2["expected_net_to_provider"] == pytest.approx((135 + 92 + 89) / 3)
    assert y2["expected_net_to_provider_pv"] == pytest.approx((135 + 92 + 89) / 3 / 1.0404 / 1.035)
    assert y2["expected_commissioner_share"] == pytest.approx((10 - 5 - 13) / 3)
    assert (y2["p_hit_loss_cap"], y2["p_hit_gain_cap"]) == pytest.approx((1 / 3, 1 / 3))
    assert rows[0]["p_hit_gain_cap"] == pytest.approx(1 / 3)


def test_by_path_year_by_hand(priced):
    t = priced.by_path_year()
    assert t.height == 6
    r = t.filter((t["path"] == 1) & (t["contract_year"] == 2)).to_dicts()[0]
    assert r["financial_year"] == "2027-28"
    assert (r["actual_cost"], r["capitated_payment"], r["variance"]) == (100.0, 110.0, -10.0)
    assert r["commissioner_share"] == pytest.approx(-5.0)
    assert r["provider_margin"] == pytest.approx(-8.0)
    assert r["net_to_provider_pv"] == pytest.approx(92 / 1.0404 / 1.035)
    assert t.filter(t["contract_year"] == 1)["financial_year"].unique().to_list() == ["2026-27"]


def test_a_priced_contract_is_read_only(priced):
    with pytest.raises(dataclasses.FrozenInstanceError):
        priced.cost = COST * 2


def test_discount_factors_green_book():
    assert discount_factors(0.035, 3) == pytest.approx([1.0, 1 / 1.035, 1 / 1.035**2])


# ------------------------------------------------------------- simulated costs
def _sim(P=11, Y=3, k=1, seed=0, days_by_duration=True):
    rng = np.random.default_rng(seed)
    years = tuple(range(2027, 2027 + Y))
    cost = np.arange(P, dtype=float)[:, None] * np.ones((1, Y)) + 100.0
    comp = CostPaths(
        years, np.ones((P, Y, 2)), np.ones((P, Y)), np.ones((P, Y)), np.ones(Y), np.zeros((P, Y))
    )
    dur = rng.uniform(size=(P, Y, 3)) if days_by_duration else None
    return SimulatedCosts(
        years,
        cost,
        cost.copy(),
        np.full((P, Y), 365.0),
        comp,
        rng.standard_normal((P, Y, k)),
        dur,
        np.zeros((P, Y)),
        np.ones((P, Y)),
        ("fostering", "residential"),
    )


def test_cost_band_quantiles_by_hand():
    # costs 100..110 in every year: deciles are exact
    band = _sim().cost_band()
    assert band.columns == ["financial_year", "p10", "p50", "p90"]
    assert band["financial_year"].to_list() == ["2026-27", "2027-28", "2028-29"]
    assert band["p10"].to_list() == pytest.approx([101.0] * 3)
    assert band["p50"].to_list() == pytest.approx([105.0] * 3)
    assert band["p90"].to_list() == pytest.approx([109.0] * 3)
    assert _sim().cost_band((0.2, 0.8)).columns == ["financial_year", "p20", "p80"]


@pytest.mark.parametrize("n, ok", [(0, False), (1, True), (3, True), (4, False)])
def test_first_years_edges(n, ok):
    sim = _sim()
    if not ok:
        with pytest.raises(ValueError, match=r"n must be 1\.\.3"):
            sim.first_years(n)
        return
    s = sim.first_years(n)
    assert s.years == sim.years[:n]
    assert s.cost.shape == (11, n) and s.components.placements.shape == (11, n, 2)
    assert np.array_equal(s.days_by_duration, sim.days_by_duration[:, :n])
    assert _sim(days_by_duration=False).first_years(n).days_by_duration is None
    # the expected high-cost tail is cut to the same years, and stays absent when absent
    tail = np.arange(33.0).reshape(11, 3)
    assert np.array_equal(replace(sim, expected_tail=tail).first_years(n).expected_tail,
                          tail[:, :n])
    assert replace(sim, expected_tail=None).first_years(n).expected_tail is None


def test_simulated_costs_are_read_only():
    # re-pricing many terms on one simulation relies on nobody changing it in between
    with pytest.raises(dataclasses.FrozenInstanceError):
        _sim().cost = np.zeros((11, 3))


def test_cost_scores_are_normal_scores_of_the_rank():
    cost = np.array([[5.0, 1.0], [1.0, 2.0], [3.0, 3.0], [9.0, 0.0]])
    # year 1 ranks 2, 0, 1, 3; year 2 ranks 1, 2, 3, 0; score Phi^-1((rank + 1/2) / 4)
    want = norm.ppf((np.array([[2, 1], [0, 2], [1, 3], [3, 0]]) + 0.5) / 4)
    assert cost_scores(cost) == pytest.approx(want)


def _indicator_terms(terms, r=0.0):
    i = replace(
        terms.indicators[0],
        baseline=50.0,
        improvement=2.0,
        sd=3.0,
        cost_correlation=r,
        weights=(1.0, 1.0, 1.0),
    )
    return replace(
        terms, first_year=2027, length=3, incentive_share=(0.0, 0.1, 0.1), indicators=(i,)
    )


def test_indicator_values_baseline_trend_and_noise_by_hand(terms):
    sim = _sim(k=1)
    t = _indicator_terms(terms)
    v = apply_terms(sim, t).indicator_values
    # year y (1..3): 50 + 2 y + 3 e
    want = 50 + 2 * np.arange(1, 4)[None, :] + 3 * sim.indicator_noise[:, :, 0]
    assert v[:, :, 0] == pytest.approx(want)


def test_indicator_values_move_with_cost_when_correlated(terms):
    sim = _sim(k=1)
    r = 0.6
    v = apply_terms(sim, _indicator_terms(terms, r)).indicator_values
    z = cost_scores(sim.cost)
    noise = r * z + math.sqrt(1 - r * r) * sim.indicator_noise[:, :, 0]
    want = 50 + 2 * np.arange(1, 4)[None, :] + 3 * noise
    assert v[:, :, 0] == pytest.approx(want)


def test_no_indicators_no_values(terms):
    t = replace(_indicator_terms(terms), indicators=(), quality_gate=None)
    assert apply_terms(_sim(), t).indicator_values.shape == (11, 3, 0)


def test_costs_for_other_years_are_refused(terms):
    t = _indicator_terms(terms)
    for years in (2, 4):  # three years simulated
        with pytest.raises(ValueError, match="costs were simulated for"):
            apply_terms(
                _sim(),
                replace(
                    t, length=years, incentive_share=(0.0,) + (0.1,) * (years - 1), indicators=()
                ),
            )
    with pytest.raises(ValueError, match="costs were simulated for"):
        apply_terms(_sim(), replace(t, first_year=2028))


def test_indicator_cost_note_names_the_correlated_only(terms):
    t = _indicator_terms(terms)
    assert indicator_cost_note(replace(t, indicators=())) == "no outcome indicators"
    assert indicator_cost_note(t).startswith("indicator outcomes are simulated independently")
    a = replace(t.indicators[0], name="A", cost_correlation=-0.5)
    b = replace(t.indicators[0], name="B", cost_correlation=0.0)
    c = replace(t.indicators[0], name="C", cost_correlation=1.0)
    note = indicator_cost_note(replace(t, indicators=(a, b, c)))
    assert note == (
        "indicator outcomes move with cost on each path: A correlation -0.50; "
        "C correlation +1.00 (the others independent of cost)"
    )


def test_historic_capitation_indexed_from_its_year(terms):
    # outturn 1,000 in 2025; no cost set: no uplift and no efficiency
    t = replace(
        _indicator_terms(terms), method="historic", historic_outturn=1000.0, historic_year=2025
    )
    assert apply_terms(_sim(), t).capitation == pytest.approx([1000.0] * 3)


def test_zero_based_capitation_is_the_mean_at_unit_costs_plus_the_tail(terms):
    sim = _sim()
    tail = np.full((11, 3), 7.0)
    sim = replace(sim, cost_expected_prices=sim.cost * 0.5, expected_tail=tail)
    t = replace(_indicator_terms(terms), method="zero_based")
    # mean of 100..110 is 105; half of it plus 7
    assert apply_terms(sim, t).capitation == pytest.approx([59.5] * 3)


def test_cost_index_tracks_the_costs_own_growth_path():
    """With fitted cost growth as the only cost risk, each path's cost over its cost at the
    median growth is that path's growth over the median: the cost index must be that ratio,
    year by year (drawn from the contract's year 0, as the costs are)."""
    spec = with_growth(
        load_cost_spec(default_unit_costs_path()), *load_growth(default_growth_path())
    )
    spec = replace(spec, unit_cost_cv=0.0, high_cost_per_year=0.0, startup=())
    t = parse_contract(
        {
            "first_year": "2027-28",
            "length": 5,
            "basis": "population",
            "indexation": {"method": "cost_index"},
        }
    )
    years = t.years
    z = np.zeros((40, len(years)))
    demand = DemandPaths(years, ("residential",), np.full((40, len(years), 1), 3650.0), z, z, z)
    sim = simulate_contract_costs(demand, spec, t, seed=3)
    assert sim.cost_growth.std() > 0.01  # the paths' growth differs
    assert sim.cost_growth == pytest.approx(sim.cost / sim.cost_expected_prices, rel=1e-9)


def test_any_shortfall_is_a_loss_and_break_even_is_not(priced):
    # totals -0.5 (a loss, however small), 0 (break-even: no loss) and +0.5
    margin = np.array([[-0.25, -0.25], [1.0, -1.0], [0.25, 0.25]])
    p = replace(priced, net_to_provider=COST + margin)
    assert _risk(p)["P(provider makes a loss over the contract)"] == pytest.approx(1 / 3)


def test_indicator_values_follow_cost_exactly_at_correlation_one(terms):
    sim = _sim(k=1)
    v = apply_terms(sim, _indicator_terms(terms, 1.0)).indicator_values
    want = 50 + 2 * np.arange(1, 4)[None, :] + 3 * cost_scores(sim.cost)
    assert v[:, :, 0] == pytest.approx(want)
