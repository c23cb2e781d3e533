"""Defects in the contract money found by hand calculation (issue 11): each test computes the
right figure by hand, with the arithmetic written out, and failed before its fix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cobic.contract import apply_terms, parse_contract, settle, simulate_contract_costs
from cobic.contract.calculator import SimulatedCosts
from cobic.contract.settlement import Actuals
from cobic.costs import (
    DAYS_PER_MONTH,
    CostPaths,
    CostSpec,
    DemandPaths,
    load_cost_spec,
    parse_cost_spec,
    simulate_costs,
)
from cobic.paths import models_dir

COSTS = models_dir() / "costs" / "england_2024_25.toml"
CONTRACTS = models_dir() / "contracts"


def _amounts(ledger) -> dict[str, float]:
    return dict(zip(ledger["item"], ledger["amount"], strict=True))


def _sim(terms, cost: float, capitation: float, days: float = 1.0) -> SimulatedCosts:
    """One path whose cost is ``cost`` every year; zero_based capitation = ``capitation``."""
    Y = terms.length
    z = np.zeros((1, Y))
    comp = CostPaths(terms.years, np.zeros((1, Y, 1)), z, z, np.zeros(Y), z)
    return SimulatedCosts(terms.years, np.full((1, Y), cost), np.full((1, Y), capitation),
                          np.full((1, Y), days), comp,
                          np.zeros((1, Y, max(len(terms.indicators), 1))))


# ------------------------------------------------------------ the quality gate
# three binary indicators with weights 0.05, 0.35 and 0.6; the first two met, the third not:
# composite = 0.05 x 1 + 0.35 x 1 + 0.6 x 0 = 0.40, which in floating point is
# 0.39999999999999997, and the gate is 0.40

def _gated_terms(mode: str = "withhold"):
    inds = [{"name": n, "direction": "higher", "floor": 0.0, "target": 1.0, "weight": w,
             "scoring": "binary", "baseline": b}
            for n, w, b in (("a", 0.05, 1.0), ("b", 0.35, 1.0), ("c", 0.6, 0.0))]
    return parse_contract({
        "first_year": "2026-27", "length": 5, "basis": "population",
        "capitation": {"method": "zero_based"},
        "incentive": {"share_by_year": [0.1] * 5, "mode": mode, "quality_gate": 0.4},
        "risk_share": {"loss_bands": [{"provider_share": 0.5}]}, "indicators": inds})


def test_float_fact_behind_the_gate_defect():
    assert 0.05 + 0.35 != 0.4 and 0.05 + 0.35 < 0.4  # why a tolerance is needed


def test_quality_gate_met_at_its_value_in_the_ledger():
    terms = _gated_terms()
    act = Actuals(contract_year=2, child_days={"fostering": 1.0}, actual_cost=9.3e6,
                  indicators={"a": 1.0, "b": 1.0, "c": 0.0})
    a = _amounts(settle(terms, act, capitation=10e6, expected_days=1.0))
    # variance 9.3m - 10m = -0.7m; one band, provider keeps 50%: 0.35m; the gate (0.40) is met
    assert a["variance"] == -700_000.0
    assert a["provider share of variance"] == -350_000.0  # was 0.0: the gain wrongly blocked
    assert a["commissioner share of variance"] == -350_000.0  # -0.7m - (-0.35m)
    # pot 10% x 10m = 1m, withheld; earned 1m x 0.40 = 0.4m
    assert a["incentive earned"] == 400_000.0
    # net 10m - 1m + 0.4m + (-0.35m) = 9.05m (was 8.70m: GBP 350k short)
    assert a["net to provider"] == 9_050_000.0
    assert a["provider margin"] == -250_000.0  # 9.05m - 9.3m


def test_quality_gate_met_at_its_value_in_pricing():
    terms = _gated_terms()
    p = apply_terms(_sim(terms, cost=9.3e6, capitation=10e6), terms)
    assert p.capitation == pytest.approx([10e6] * 5, rel=0, abs=0)
    # as in the ledger: the provider keeps 50% of the 0.7m saving in every year
    assert p.provider_share[0] == pytest.approx([-350_000.0] * 5, abs=1e-6)  # was 0
    assert p.net_to_provider[0] == pytest.approx([9_050_000.0] * 5, abs=1e-6)


# ------------------------------------------------------------ bonus mode's fixed payment

def test_schedule_fixed_is_the_capitation_in_bonus_mode():
    terms = _gated_terms("bonus")
    sched = apply_terms(_sim(terms, cost=9.3e6, capitation=10e6), terms).schedule()
    # bonus: the 10% pot (1m) is paid on top, nothing is withheld: fixed = 10m - 0 = 10m
    assert sched["fixed"].to_list() == [10e6] * 5  # was 9m: a pot subtracted that is not held
    assert sched["at_risk"].to_list() == [1e6] * 5
    withhold = apply_terms(_sim(_gated_terms(), 9.3e6, 10e6), _gated_terms()).schedule()
    assert withhold["fixed"].to_list() == [9e6] * 5  # withhold: 10m - 1m


# ------------------------------------------------------------ zero-based capitation's tail

def _tail_spec(uplift: float, sd: float) -> CostSpec:
    return CostSpec(name="tail", base_price_year=2025, weekly={"residential": 1000.0},
                    per_child_month=0.0,
                    event_costs={"entry": 0.0, "placement_move": 0.0, "exit": 0.0},
                    overhead_rate=0.0, indexation={"default": 0.0, "residential": uplift},
                    efficiency=0.0, high_cost_per_year=2.0, high_cost_mean_weekly=3000.0,
                    high_cost_sd_weekly=sd, high_cost_weeks=10.0)


def _residential_demand(years, days=36_500.0, paths=3) -> DemandPaths:
    Y = len(years)
    z = np.zeros((paths, Y))
    return DemandPaths(tuple(years), ("residential",), np.full((paths, Y, 1), days), z, z, z)


@pytest.mark.parametrize("sd", [0.0, 1500.0])
def test_zero_based_capitation_includes_the_expected_high_cost_tail(sd):
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "capitation": {"method": "zero_based"}})
    spec = _tail_spec(uplift=0.0, sd=sd)
    sim = simulate_contract_costs(_residential_demand(terms.years), spec, terms, seed=0)
    p = apply_terms(sim, terms, spec)
    placements = 36_500.0 * 1000.0 / 7  # child-days x weekly / 7 = 5,214,285.71
    # expected excess of a high-cost placement over the residential weekly cost k = 1000:
    # W lognormal with mean m = 3000 and sd s; E[(W - k)+] = m Phi(d1) - k Phi(d2) with
    # v^2 = log(1 + s^2/m^2), d1 = (log(m/k) + v^2/2) / v, d2 = d1 - v (= m - k when s = 0)
    m, k = 3000.0, 1000.0
    if sd == 0:
        excess = m - k  # 2000
    else:
        v = math.sqrt(math.log(1 + (sd / m) ** 2))
        d1 = (math.log(m / k) + v * v / 2) / v
        phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
        excess = m * phi(d1) - k * phi(d1 - v)
    tail = 2.0 * excess * 10.0  # 2 a year x excess x 10 weeks (= 40,000 when s = 0)
    # was 5,214,285.71 a year: the tail (0.8% of it here) left out
    assert p.capitation == pytest.approx([placements + tail] * 5, rel=1e-12)


# ------------------------------------------------------------ the tail's weekly cost uprated

def test_high_cost_tail_weekly_cost_is_uprated_like_the_cost_it_is_netted_against():
    spec = _tail_spec(uplift=0.06, sd=0.0)  # every high-cost placement costs exactly 3000
    years = (2027, 2028, 2029)  # year 0 = 2026, one year after the 2025 price base
    c = simulate_costs(_residential_demand(years, paths=400), spec, seed=3)
    # both weekly costs uprated 6% from 2025 to year 0 (2026), then (1.06)^y in year y:
    # excess per placement = (3000 x 1.06 - 1000 x 1.06) x 10 weeks x 1.06^y
    #                      = 21,200 x 1.06^y (was (3000 - 1060) x 10 x 1.06^y = 19,400 x 1.06^y)
    per = 21_200.0 * 1.06 ** np.arange(1, 4)
    n = c.high_cost / per[None, :]  # so the number of high-cost placements in the cell
    assert np.allclose(n, np.round(n), rtol=0, atol=1e-6)
    assert n.mean() == pytest.approx(2.0, abs=0.2)  # Poisson(2)


# ------------------------------------------------------------ case management's own index

def _cm_spec():
    text = COSTS.read_text()
    assert "index = 0.03\n" in text and "default = 0.03\n" in text
    import tomllib

    raw = tomllib.loads(text.replace("index = 0.03\n", "index = 0.05\n"))
    return parse_cost_spec(raw, "case management at 5%")


def test_case_management_is_indexed_at_its_own_rate_after_the_base_year():
    spec = _cm_spec()  # case management GBP 440 a child-month at 2013-14 prices, index 5%;
    # placements and the default at 3%, efficiency 2%
    years = (2027, 2028)  # contract from 2026-27: year 0 = 2025-26 (FY ending 2026)
    z = np.zeros((1, 2))
    demand = DemandPaths(years, ("fostering",), np.full((1, 2, 1), 100 * DAYS_PER_MONTH),
                         z, z, z)  # 100 child-months a year, no events
    c = simulate_costs(demand, spec, uncertain=False)
    # 440 x 1.05^11 (2014 -> 2025) x 1.05^1 (2025 -> 2026) x (1.05 x 0.98)^y x 100 months
    hand = [440 * 1.05 ** 12 * (1.05 * 0.98) ** y * 100 for y in (1, 2)]
    # was 440 x 1.05^11 x 1.03^(1 + y) x 0.98^y x 100: the default 3% after 2025
    assert c.case_management[0] == pytest.approx(hand, rel=1e-12)


def test_settlement_costs_case_management_at_its_own_index():
    spec = _cm_spec()
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population"})
    act = Actuals(contract_year=2, child_days={"fostering": 100 * DAYS_PER_MONTH})
    a = _amounts(settle(terms, act, 10e6, 1.0, spec))
    hand = 440 * 1.05 ** 12 * (1.05 * 0.98) ** 2 * 100  # as above, year 2: 85,219.43
    assert a["cost: case management"] == round(hand, 2)


# ------------------------------------------------------------ indicator values in the ledger

def test_ledger_does_not_round_indicator_scores_like_money():
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "indicators": [
        {"name": "x", "direction": "higher", "floor": 0.0, "target": 10.0, "weight": 0.25},
        {"name": "y", "direction": "higher", "floor": 0.0, "target": 10.0, "weight": 0.75}]})
    act = Actuals(contract_year=1, child_days={"fostering": 1.0}, actual_cost=1e6,
                  indicators={"x": 3.0, "y": 10.0})
    a = _amounts(settle(terms, act, 1e6, 1.0))
    # x: achievement (3 - 0) / (10 - 0) = 0.3, x weight 0.25 = 0.075 (was rounded to 0.07)
    assert a["indicator: x"] == pytest.approx(0.075, rel=1e-12)
    assert a["indicator: y"] == 0.75  # 1.0 x 0.75


# ------------------------------------------------------------ gain-side band rows' sign

def _risk_rows(ledger) -> float:
    return sum(v for k, v in _amounts(ledger).items() if k.startswith("risk share:"))


def test_gain_band_rows_carry_the_sign_of_the_provider_share():
    from cobic.contract import load_contract

    terms = load_contract(CONTRACTS / "aca_corridor.toml")
    act = Actuals(contract_year=1, child_days={"fostering": 1.0}, actual_cost=8.8e6)
    led = settle(terms, act, 10e6, 1.0)
    a = _amounts(led)
    # saving 1.2m of 10m (12%): the provider keeps 100% of the first 3% (0.3m), 50% of
    # 3-8% (0.25m) and 20% of the 4% beyond (0.08m): 0.63m kept, shown as -0.63m
    assert a["risk share: band 0% to 3%"] == -300_000.0  # was +300,000
    assert a["risk share: band 3% to 8%"] == -250_000.0
    assert a["risk share: band 8% and above"] == -80_000.0
    assert a["provider share of variance"] == -630_000.0
    assert _risk_rows(led) == pytest.approx(a["provider share of variance"], abs=0.01)


def test_capped_gain_rows_add_up():
    from cobic.contract import load_contract

    terms = load_contract(CONTRACTS / "cobic_5yr.toml")
    at_target = {i.name: i.target for i in terms.indicators}  # composite 1: gate met
    act = Actuals(contract_year=1, child_days={"fostering": 1.0}, actual_cost=8e6,
                  indicators=at_target)
    led = settle(terms, act, 10e6, 1.0)
    a = _amounts(led)
    # saving 2m of 10m (20%): bands 100% x 2% (0.2m) + 50% x 6% (0.3m) + 20% x 12% (0.24m)
    # = 0.74m kept, capped at 5% x 10m = 0.5m: the cap takes back 0.24m
    assert a["risk share: band 0% to 2%"] == -200_000.0
    assert a["risk share: band 2% to 8%"] == -300_000.0
    assert a["risk share: band 8% and above"] == -240_000.0
    assert a["risk share: cap"] == 240_000.0  # was -240,000
    assert a["provider share of variance"] == -500_000.0
    assert _risk_rows(led) == pytest.approx(-500_000.0, abs=0.01)  # was +500,000


def test_first_dollar_gain_row_carries_the_sign():
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "risk_share": {"symmetric": False,
                                           "loss_bands": [{"provider_share": 0.0}],
                                           "gain_bands": [{"provider_share": 0.0}],
                                           "first_dollar_gain": {"threshold": 0.02,
                                                                 "share": 0.5}}})
    act = Actuals(contract_year=1, child_days={"fostering": 1.0}, actual_cost=9e6)
    led = settle(terms, act, 10e6, 1.0)
    a = _amounts(led)
    # saving 1m (10% >= 2%): the provider keeps 50% of all of it: 0.5m, shown as -0.5m
    assert a["risk share: first dollar"] == -500_000.0  # was +500,000
    assert a["provider share of variance"] == -500_000.0
    assert _risk_rows(led) == pytest.approx(-500_000.0, abs=0.01)


def test_shipped_cost_set_loads():
    assert load_cost_spec(COSTS).weekly["residential"] > 0
