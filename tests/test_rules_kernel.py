"""The one rules kernel (:mod:`cobic.contract.rules`): settlement's ledger equals pricing's
amounts for the same year on random terms and actuals, and hand-computed edge cases exactly at
the thresholds (quality gate, band edges, caps, first-dollar threshold, hybrid corridor)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cobic.contract import apply_terms, load_contract, parse_contract, settle
from cobic.contract.calculator import SimulatedCosts
from cobic.contract.rules import TOLERANCE, achievement, reaches, share_variance
from cobic.contract.settlement import Actuals
from cobic.costs import CostPaths
from cobic.paths import models_dir

CONTRACTS = models_dir() / "contracts"
MONEY = ("capitated payment", "at-risk pot", "actual cost", "variance",
         "provider share of variance", "commissioner share of variance", "incentive earned",
         "net to provider", "provider margin")


def _amounts(ledger) -> dict[str, float]:
    return dict(zip(ledger["item"], ledger["amount"], strict=True))


def _risk_rows(ledger) -> list[float]:
    return [v for k, v in _amounts(ledger).items() if k.startswith("risk share:")]


# ------------------------------------------------------------ random terms and actuals

def _bands(draw) -> list[dict]:
    n = draw(st.integers(1, 4))
    widths = draw(st.lists(st.floats(0.005, 0.2), min_size=n - 1, max_size=n - 1))
    shares = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    edges = np.cumsum(widths).tolist()
    return [{"upto": e, "provider_share": s} for e, s in zip(edges, shares, strict=False)] + \
        [{"provider_share": shares[-1]}]


def _first_dollar(draw):
    if not draw(st.booleans()):
        return None
    return {"threshold": draw(st.floats(0.0, 0.1)), "share": draw(st.floats(0.0, 1.0))}


def _indicator(draw, k: int) -> dict:
    direction = draw(st.sampled_from(["higher", "lower"]))
    floor, gap = draw(st.floats(0, 100)), draw(st.floats(0.5, 20))
    target = floor + gap if direction == "higher" else floor - gap
    scoring = draw(st.sampled_from(["linear", "binary", "stepped"]))
    ind = {"name": f"i{k}", "direction": direction, "floor": floor, "target": target,
           "scoring": scoring, "baseline": draw(st.floats(floor - 30, floor + 30)),
           "improvement": draw(st.floats(-2, 2)), "sd": draw(st.floats(0, 5))}
    if scoring == "stepped":
        ind["steps"] = [{"at": floor + (target - floor) * f, "payout": p}
                        for f, p in ((0.5, 0.5), (1.0, 1.0))]
    return ind


@st.composite
def contracts(draw):
    n_ind = draw(st.integers(1, 3))
    raw_w = draw(st.lists(st.floats(0.05, 1.0), min_size=n_ind, max_size=n_ind))
    inds = [_indicator(draw, k) for k in range(n_ind)]
    for ind, w in zip(inds, raw_w, strict=True):
        ind["weight"] = w / sum(raw_w)
    inds[-1]["weight"] = 1.0 - sum(i["weight"] for i in inds[:-1])
    symmetric = draw(st.booleans())
    rs = {"symmetric": symmetric, "loss_bands": _bands(draw)}
    if not symmetric:
        rs["gain_bands"] = _bands(draw)
    for k in ("loss_cap", "gain_cap"):
        cap = draw(st.one_of(st.none(), st.floats(0.0, 0.3)))
        if cap is not None and (k == "loss_cap" or not symmetric):
            rs[k] = cap
    for k in ("first_dollar_loss", "first_dollar_gain"):
        fd = _first_dollar(draw)
        if fd is not None:
            rs[k] = fd
    inc = {"share_by_year": draw(st.lists(st.floats(0, 0.3), min_size=5, max_size=5)),
           "mode": draw(st.sampled_from(["withhold", "bonus"]))}
    gate = draw(st.one_of(st.none(), st.floats(0.0, 1.0)))
    if gate is not None:
        inc["quality_gate"] = gate
    return parse_contract({
        "first_year": "2026-27", "length": 5,
        "basis": draw(st.sampled_from(["population", "child_day", "hybrid"])),
        "hybrid": {"corridor": draw(st.floats(0, 0.2)),
                   "marginal_rate": draw(st.floats(0, 1))},
        "capitation": draw(st.one_of(  # a point applies to a forecast capitation only
            st.builds(lambda p: {"method": "forecast", "point": p}, st.floats(0.1, 0.9)),
            st.just({"method": "zero_based"}))),
        "incentive": inc, "risk_share": rs, "indicators": inds})


@st.composite
def simulations(draw, terms):
    P, Y, K = draw(st.integers(1, 4)), terms.length, len(terms.indicators)

    def grid(lo, hi, zero=False):
        x = st.floats(lo, hi)
        x = st.one_of(st.just(0.0), x) if zero else x
        return np.array(draw(st.lists(x, min_size=P * Y, max_size=P * Y))).reshape(P, Y)

    days = grid(1.0, 1e6, zero=True)  # no child-days, or at least one
    z = np.zeros((P, Y))
    comp = CostPaths(terms.years, np.zeros((P, Y, 1)), z, z, np.zeros(Y), z)
    noise = np.array(draw(st.lists(st.floats(-3, 3), min_size=P * Y * K, max_size=P * Y * K))
                     ).reshape(P, Y, K)
    return SimulatedCosts(terms.years, grid(1e5, 1e8), grid(1e5, 1e8), days, comp, noise)


@pytest.mark.filterwarnings("error")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_settlement_ledger_equals_pricing_for_the_same_year(data):
    terms = data.draw(contracts())
    sim = data.draw(simulations(terms))
    priced = apply_terms(sim, terms)
    p = data.draw(st.integers(0, sim.cost.shape[0] - 1))
    j = data.draw(st.integers(0, terms.length - 1))
    values = {ind.name: float(priced.indicator_values[p, j, k])
              for k, ind in enumerate(terms.indicators)}
    act = Actuals(contract_year=j + 1, child_days={"fostering": float(sim.child_days[p, j])},
                  actual_cost=float(sim.cost[p, j]), indicators=values)
    a = _amounts(settle(terms, act, float(priced.capitation[j]),
                        float(priced.expected_days[j])))
    pricing = {"capitated payment": priced.target, "at-risk pot": priced.at_risk,
               "actual cost": priced.cost, "variance": priced.variance,
               "provider share of variance": priced.provider_share,
               "commissioner share of variance": priced.commissioner_share,
               "incentive earned": priced.incentive_earned,
               "net to provider": priced.net_to_provider,
               "provider margin": priced.provider_margin}
    for item in MONEY:
        v = pricing[item]
        v = v[j] if v.ndim == 1 else v[p, j]
        assert a[item] == round(float(v), 2), item  # the same kernel: the same pennies
    assert a.get("withheld", 0.0) == round(-float(priced.withheld[j]), 2)
    assert a["indicator composite"] == float(priced.composite[p, j])
    # the ledger adds up: risk-share rows to the provider share (each rounded to a penny),
    # the two shares to the variance, and the net to its parts
    rows = _risk_rows(settle(terms, act, float(priced.capitation[j]),
                             float(priced.expected_days[j])))
    assert sum(rows) == pytest.approx(a["provider share of variance"],
                                      abs=0.005 * (len(rows) + 1) + 1e-6)
    assert a["provider share of variance"] + a["commissioner share of variance"] == \
        pytest.approx(a["variance"], abs=0.011)


# ------------------------------------------------------------ the tolerance

def test_one_stated_tolerance():
    assert TOLERANCE == 1e-9
    assert reaches(0.05 + 0.35, 0.4)  # 0.39999999999999997
    assert not reaches(0.4 - 2e-9, 0.4)  # beyond the tolerance: below
    assert reaches(1e6 - 1e-4, 1e6)  # relative above 1: within 1e6 x 1e-9 = 1e-3
    assert not reaches(1e6 - 1e-2, 1e6)


def test_binary_lower_is_better_target_met_at_equality():
    ind = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                          "indicators": [{"name": "moves", "direction": "lower", "floor": 0.5,
                                          "target": 0.3, "weight": 1.0,
                                          "scoring": "binary"}]}).indicators[0]
    # a rate computed as 0.1 + 0.2 = 0.30000000000000004 meets a target of "at most 0.3"
    assert achievement(ind, np.array([0.1 + 0.2, 0.3 + 1e-6])).tolist() == [1.0, 0.0]


# ------------------------------------------------------------ edges, by hand

def test_quality_gate_exactly_at_its_value_keeps_the_gain():
    terms = load_contract(CONTRACTS / "cobic_5yr.toml")  # gate 0.25, weights 0.25 each
    names = [i.name for i in terms.indicators]
    values = {i.name: i.floor for i in terms.indicators}
    values[names[1]] = terms.indicators[1].target  # one indicator met: composite 0.25
    act = Actuals(contract_year=2, child_days={"fostering": 1.0}, actual_cost=9e6,
                  indicators=values)
    a = _amounts(settle(terms, act, 10e6, 1.0))
    assert a["indicator composite"] == 0.25
    # saving 1m of 10m (10%): 100% x 2% (0.2m) + 50% x 6% (0.3m) + 20% x 2% (0.04m) = 0.54m,
    # capped at 5% x 10m = 0.5m; the gate (0.25) is met, so the provider keeps 0.5m
    assert a["provider share of variance"] == -500_000.0
    assert "risk share: quality gate" not in a
    # one indicator at its floor more: the composite 0 is below the gate, the gain is blocked
    values[names[1]] = terms.indicators[1].floor
    led = settle(terms, Actuals(2, {"fostering": 1.0}, actual_cost=9e6, indicators=values),
                 10e6, 1.0)
    b = _amounts(led)
    assert b["risk share: quality gate"] == 500_000.0  # takes back the 0.5m kept
    assert b["provider share of variance"] == 0.0
    assert sum(_risk_rows(led)) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(("cost", "rows", "provider", "hit"), [
    # ACA-style bands of cobic_5yr: [0, 2%) 100%, [2%, 8%) 50%, 8%+ 20%, cap 5%, T = 10m
    (10.2e6, {"risk share: band 0% to 2%": 200_000.0}, 200_000.0, False),  # x = 2% exactly
    # x = 8% exactly: 0.2m + 50% x 0.6m = 0.5m, exactly the 5% cap: no cap row, cap hit
    (10.8e6, {"risk share: band 0% to 2%": 200_000.0, "risk share: band 2% to 8%": 300_000.0},
     500_000.0, True),
    (9.8e6, {"risk share: band 0% to 2%": -200_000.0}, -200_000.0, False),  # gain edge
])
def test_band_edges(cost, rows, provider, hit):
    terms = load_contract(CONTRACTS / "cobic_5yr.toml")
    at_target = {i.name: i.target for i in terms.indicators}
    a = _amounts(settle(terms, Actuals(1, {"fostering": 1.0}, actual_cost=cost,
                                       indicators=at_target), 10e6, 1.0))
    assert {k: v for k, v in a.items() if k.startswith("risk share:")} == rows
    assert a["provider share of variance"] == provider
    sh = share_variance(np.array([cost - 10e6]), np.array([10e6]), terms.risk_share)
    assert bool((sh.hit_loss_cap | sh.hit_gain_cap)[0]) is hit


def test_first_dollar_threshold_at_equality():
    # T = GBP 12,330,755.50; 2% of it is 246,615.11 exactly, so a cost of 12,577,370.61 is an
    # overspend of exactly 2%; in floating point x = 0.01999999999999995 (below 0.02)
    T, cost = 12_330_755.50, 12_577_370.61
    assert (cost - T) / T < 0.02
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "risk_share": {"symmetric": False,
                                           "loss_bands": [{"provider_share": 0.0}],
                                           "gain_bands": [{"provider_share": 0.0}],
                                           "loss_cap": 0.01,
                                           "first_dollar_loss": {"threshold": 0.02,
                                                                 "share": 0.3}}})
    a = _amounts(settle(terms, Actuals(1, {"fostering": 1.0}, actual_cost=cost), T, 1.0))
    # threshold reached: the provider bears 30% of all of it: 0.3 x 246,615.11 = 73,984.533,
    # below the cap of 1% x T = 123,307.56
    assert a["risk share: first dollar"] == 73_984.53
    assert a["provider share of variance"] == 73_984.53
    pi = share_variance(np.array([cost - T]), np.array([T]), terms.risk_share).provider
    assert pi[0] == pytest.approx(0.3 * (cost - T), rel=1e-12)


def test_hybrid_corridor_edges():
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "hybrid",
                            "hybrid": {"corridor": 0.03, "marginal_rate": 0.25}})
    cap, exp = 10e6, 1000.0  # rate GBP 10,000 a child-day

    def paid(days):
        led = settle(terms, Actuals(1, {"fostering": days}, actual_cost=cap), cap, exp)
        return _amounts(led)["capitated payment"]

    # at the corridor's edges (1,030 and 970 child-days) nothing is outside: the capitation
    assert paid(1030.0) == cap and paid(970.0) == cap
    # 70 child-days above the upper edge: 10m + 25% x 10,000 x 70 = 10,175,000
    assert paid(1100.0) == 10_175_000.0
    # 70 below the lower edge (900): 10m - 25% x 10,000 x 70 = 9,825,000
    assert paid(900.0) == 9_825_000.0


def test_zero_capitated_payment_shares_nothing_by_bands():
    rs = load_contract(CONTRACTS / "cobic_5yr.toml").risk_share
    sh = share_variance(np.array([5.0, -5.0]), np.zeros(2), rs)
    assert sh.provider.tolist() == [0.0, 0.0] and math.isfinite(sh.x.sum())
