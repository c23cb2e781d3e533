"""The capitation calculator against closed forms and hand calculations, property tests of its
invariants, invalid contracts, settlement and the CLI."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cobic.cli import app
from cobic.contract import apply_terms, compare_mechanisms, load_contract, parse_contract, settle
from cobic.contract.calculator import SimulatedCosts, discount_factors, simulate_contract_costs
from cobic.contract.incentives import achievement, composite
from cobic.contract.risk_share import expected_band_payment, provider_share
from cobic.contract.settlement import Actuals
from cobic.contract.terms import Band, RiskShare
from cobic.costs import CostPaths, CostSpec, DemandPaths, cost_per_year, load_cost_spec
from cobic.errors import SpecError
from cobic.paths import models_dir

CONTRACTS = models_dir() / "contracts"
runner = CliRunner()

ACA = RiskShare(loss_bands=(Band(0, 0.03, 1.0), Band(0.03, 0.08, 0.5), Band(0.08, math.inf, 0.2)),
                gain_bands=(Band(0, 0.03, 1.0), Band(0.03, 0.08, 0.5),
                            Band(0.08, math.inf, 0.2)),
                loss_cap=None, gain_cap=None)
DEFAULT = RiskShare(loss_bands=(Band(0, 0.02, 1.0), Band(0.02, 0.08, 0.5),
                                Band(0.08, math.inf, 0.2)),
                    gain_bands=(Band(0, 0.02, 1.0), Band(0.02, 0.08, 0.5),
                                Band(0.08, math.inf, 0.2)),
                    loss_cap=0.05, gain_cap=0.05)


# ------------------------------------------------------------ closed forms

@pytest.mark.parametrize(("actual", "provider", "commissioner"), [
    # research/capitation.md 2.1, target GBP 10m (statute 42 U.S.C. 18062)
    (11.2, 0.63, 0.57), (10.5, 0.40, 0.10), (10.2, 0.20, 0.0),
    (8.8, -0.63, -0.57), (9.5, -0.40, -0.10), (9.0, -0.59, -0.41),
])
def test_aca_corridor(actual, provider, commissioner):
    d = np.array([(actual - 10.0) * 1e6])
    pi = provider_share(d, np.array([10e6]), ACA)
    assert pi[0] == pytest.approx(provider * 1e6, abs=0.5)
    assert (d - pi)[0] == pytest.approx(commissioner * 1e6, abs=0.5)


@pytest.mark.parametrize(("actual", "provider"), [(10.5, 0.35), (11.5, 0.50), (9.5, -0.35)])
def test_recommended_bands_with_caps(actual, provider):
    # research/capitation.md 2.4: [0,2%) 100%, [2,8%) 50%, >=8% 20%, caps 5% of T
    pi = provider_share(np.array([(actual - 10.0) * 1e6]), np.array([10e6]), DEFAULT)
    assert pi[0] == pytest.approx(provider * 1e6, abs=0.5)


@pytest.mark.parametrize(("actual", "provider"), [(9.0, -0.50), (9.85, 0.0), (10.15, 0.0),
                                                  (10.4, 0.10)])
def test_first_dollar_sharing_mssp_example(actual, provider):
    # research/capitation.md 2.2 (BASIC level C as recalled): MSR/MLR 2%, savings shared 50%,
    # losses 30% capped at 1% of the benchmark
    rs = RiskShare(loss_bands=(Band(0, math.inf, 0.0),), gain_bands=(Band(0, math.inf, 0.0),),
                   loss_cap=0.01, gain_cap=None, first_dollar_loss=(0.02, 0.3),
                   first_dollar_gain=(0.02, 0.5))
    pi = provider_share(np.array([(actual - 10.0) * 1e6]), np.array([10e6]), rs)
    assert pi[0] == pytest.approx(provider * 1e6, abs=0.5)


def test_expected_band_payment_normal_closed_form_vs_monte_carlo():
    # D ~ N(0.2m, 0.6m^2), T = 10m: the 2-8% overspend band (0.2m to 0.8m) shared 50/50
    mu, sigma, T = 0.2e6, 0.6e6, 10e6
    closed = 0.5 * expected_band_payment(mu, sigma, 0.02 * T, 0.08 * T)
    rng = np.random.default_rng(7)
    d = rng.normal(mu, sigma, 400_000)
    band = RiskShare(loss_bands=(Band(0, 0.02, 0.0), Band(0.02, 0.08, 0.5),
                                 Band(0.08, math.inf, 0.0)),
                     gain_bands=(Band(0, math.inf, 0.0),), loss_cap=None, gain_cap=None)
    pi = provider_share(d, np.full_like(d, T), band)
    se = pi.std() / np.sqrt(d.size)
    assert abs(pi.mean() - closed) < 4 * se
    # and by hand at the band edges: mu at the band's middle, sigma -> 0 gives 0.5 x 0.3m
    assert 0.5 * expected_band_payment(0.5e6, 1.0, 0.2e6, 0.8e6) == pytest.approx(0.15e6)


def test_green_book_discount_factors():
    # research/capitation.md 6.1: 1/1.035^t, year 1 undiscounted
    expect = [1.0000, 0.9662, 0.9335, 0.9019, 0.8714, 0.8420, 0.8135]
    assert np.round(discount_factors(0.035, 7), 4).tolist() == expect
    expect15 = [1.0000, 0.9852, 0.9707, 0.9563, 0.9422, 0.9283, 0.9145]
    assert np.round(discount_factors(0.015, 7), 4).tolist() == expect15


def test_in_loco_parentis_per_year_costs():
    # S1 1837-1883: stable journey GBP 352,053 over 15 years; unstable GBP 393,579 over 7
    assert cost_per_year(352_053, 15) == 23_470.20
    assert cost_per_year(393_579, 7) == 56_225.57  # the source prints 56,335.57: a typo


def _spec(uplift=0.05, efficiency=0.02, overhead=0.10, weekly=1.0, per_month=1.0) -> CostSpec:
    return CostSpec(name="hand", base_price_year=2026, weekly={"fostering": weekly},
                    per_child_month=per_month,
                    event_costs={"entry": 0.0, "placement_move": 0.0, "exit": 0.0},
                    overhead_rate=overhead, indexation={"default": uplift, "fostering": uplift},
                    efficiency=efficiency)


def test_hand_computed_five_year_capitation():
    """research/capitation.md 3.5: placements GBP 55.59m and case management 4.22m in year 0,
    overheads 10% (B0 = 65.80m), demand +1.5%/yr, cost uplift 5%, efficiency 2%, deflator 2%,
    discount 3.5%: capitation 68.72, 71.77, 74.96, 78.29, 81.77 (total 375.53), NPV 329.75."""
    days0 = 100_000.0
    months0 = days0 / (365.25 / 12)
    spec = _spec(weekly=55.59e6 / days0 * 7, per_month=4.22e6 / months0)
    years = (2027, 2028, 2029, 2030, 2031)
    days = days0 * 1.015 ** np.arange(1, 6)
    demand = DemandPaths(years, ("fostering",), np.tile(days[None, :, None], (3, 1, 1)),
                         np.zeros((3, 5)), np.zeros((3, 5)), np.zeros((3, 5)))
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "capitation": {"method": "zero_based"},
                            "finance": {"inflation": 0.02, "discount_rate": 0.035}})
    priced = apply_terms(simulate_contract_costs(demand, spec, terms, seed=0), terms, spec)
    b0 = (55.59 + 4.22) * 1.10
    hand = [b0 * (1.015 * 1.05 * 0.98) ** y for y in range(1, 6)]
    # exactly the closed form of the inputs ...
    assert priced.capitation / 1e6 == pytest.approx(hand, rel=1e-12)
    # ... and the published table to its rounding (its inputs are printed rounded to 0.01m)
    table = [68.72, 71.77, 74.96, 78.29, 81.77]
    assert np.abs(priced.capitation / 1e6 - table).max() < 0.015
    assert abs(priced.capitation.sum() / 1e6 - 375.53) < 0.05
    sched = priced.schedule()
    assert abs(sched["capitation_pv"].sum() / 1e6 - 329.75) < 0.05
    real = [67.37, 68.99, 70.64, 72.33, 74.06]
    assert np.abs(sched["capitation_real"].to_numpy() / 1e6 - real).max() < 0.015
    pv_hand = sum(c / 1.02 ** y / 1.035 ** (y - 1) for y, c in enumerate(hand, start=1))
    assert sched["capitation_pv"].sum() / 1e6 == pytest.approx(pv_hand, rel=1e-12)


# ------------------------------------------------------------ incentives

def test_indicator_scoring_worked_example():
    """research/capitation.md 5.1: composite 0.510, earned GBP 3.66m of a 7.18m pot."""
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "incentive": {"share_by_year": [0, 0.1, 0.1, 0.15, 0.15]},
                            "indicators": [
        {"name": "3+", "direction": "lower", "floor": 12, "target": 8, "weight": 0.25},
        {"name": "stab", "direction": "higher", "floor": 66, "target": 75, "weight": 0.25},
        {"name": "eet", "direction": "higher", "floor": 55, "target": 65, "weight": 0.20},
        {"name": "acc", "direction": "higher", "floor": 85, "target": 92, "weight": 0.15},
        {"name": "20mi", "direction": "lower", "floor": 20, "target": 14, "weight": 0.15}]})
    x = np.array([[[9.5, 70, 58, 90, 17]]])
    comp = composite(terms.indicators, np.repeat(x, 5, axis=1))[0, 1]
    hand = 0.25 * 0.625 + 0.25 * 4 / 9 + 0.2 * 0.3 + 0.15 * 5 / 7 + 0.15 * 0.5
    assert comp == pytest.approx(hand)
    assert round(comp, 3) == 0.510
    assert round(7.18 * comp, 2) == 3.66


def test_stepped_and_binary_scoring():
    ind = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                          "indicators": [{"name": "a", "direction": "higher", "floor": 85,
                                          "target": 92, "weight": 1.0, "scoring": "stepped",
                                          "steps": [{"at": 88, "payout": 0.5},
                                                    {"at": 90, "payout": 0.75},
                                                    {"at": 92, "payout": 1.0}]}]}).indicators[0]
    assert achievement(ind, np.array([87.9, 88, 89, 91, 95])).tolist() == [0, .5, .5, .75, 1]
    b = dataclasses.replace(ind, scoring="binary")
    assert achievement(b, np.array([91.9, 92.0])).tolist() == [0.0, 1.0]


# ------------------------------------------------------------ property tests

bands_strategy = st.lists(st.tuples(st.floats(0.005, 0.2), st.floats(0, 1)), min_size=1,
                          max_size=4)


def _risk(bands, cap, symmetric_gain=None):
    edges = np.cumsum([b[0] for b in bands])
    out = [Band(lo, hi, s) for lo, hi, s in zip(np.r_[0, edges[:-1]], edges,
                                                  [b[1] for b in bands], strict=True)]
    out[-1] = Band(out[-1].lower, math.inf, out[-1].provider_share)
    return RiskShare(tuple(out), tuple(out), cap, cap)


@settings(max_examples=200, deadline=None)
@given(bands=bands_strategy, cap=st.one_of(st.none(), st.floats(0.0, 0.2)),
       d=st.lists(st.floats(-5e6, 5e6), min_size=1, max_size=20), t=st.floats(1e5, 1e8))
def test_risk_share_invariants(bands, cap, d, t):
    rs = _risk(bands, cap)
    d = np.array(d)
    T = np.full_like(d, t)
    pi = provider_share(d, T, rs)
    # shares add up: the commissioner bears exactly the rest
    assert np.array_equal(pi + (d - pi), d) or np.allclose(pi + (d - pi), d, rtol=0, atol=1e-6)
    # caps never exceeded; the provider never bears more than the variance, nor the other sign
    if cap is not None:
        assert (np.abs(pi) <= cap * T * (1 + 1e-12) + 1e-9).all()
    assert (np.abs(pi) <= np.abs(d) + 1e-6).all()
    assert (pi * d >= -1e-9).all()
    # symmetric bands give symmetric results
    assert np.allclose(provider_share(-d, T, rs), -pi, atol=1e-6)
    # zero variance, zero transfer
    assert provider_share(np.zeros(1), T[:1], rs)[0] == 0.0


@settings(max_examples=100, deadline=None)
@given(bands=bands_strategy, cap=st.one_of(st.none(), st.floats(0.0, 0.2)),
       t=st.floats(1e5, 1e8))
def test_provider_loss_is_non_decreasing_in_overspend(bands, cap, t):
    rs = _risk(bands, cap)
    d = np.linspace(-0.5 * t, 0.5 * t, 2001)
    pi = provider_share(d, np.full_like(d, t), rs)
    assert (np.diff(pi) >= -1e-6).all()


@pytest.fixture(scope="module")
def sim_and_terms():
    spec = load_cost_spec(models_dir() / "costs" / "england_2024_25.toml")
    terms = load_contract(CONTRACTS / "cobic_5yr.toml")
    rng = np.random.default_rng(3)
    P, Y = 400, 5
    groups = ("fostering", "residential", "supported", "other")
    # volume moves all groups together (with a little mix noise), as it does in care
    volume = rng.gamma(60, 1 / 60, size=(P, Y, 1))
    mix = rng.gamma(400, 1 / 400, size=(P, Y, len(groups)))
    days = 50 * volume * mix * np.array([3000, 300, 80, 60])
    demand = DemandPaths(terms.years, groups, days, rng.poisson(250, (P, Y)).astype(float),
                         rng.poisson(250, (P, Y)).astype(float),
                         rng.poisson(200, (P, Y)).astype(float),
                         days.sum(axis=2)[:, :, None] * np.array([0.2, 0.15, 0.65]))
    return simulate_contract_costs(demand, spec, terms, seed=5), terms, spec


def test_incentive_earned_within_zero_and_pot(sim_and_terms):
    sim, terms, spec = sim_and_terms
    p = apply_terms(sim, terms, spec)
    assert (p.incentive_earned >= 0).all()
    assert (p.incentive_earned <= p.at_risk[None, :] + 1e-6).all()
    # margin = earned - withheld - provider share (closed form of the ledger)
    assert np.allclose(p.provider_margin, p.incentive_earned - p.withheld[None, :]
                       - p.provider_share, atol=1e-4)


def test_reordering_paths_does_not_change_summaries(sim_and_terms):
    sim, terms, spec = sim_and_terms
    perm = np.random.default_rng(1).permutation(sim.cost.shape[0])
    shuffled = SimulatedCosts(sim.years, sim.cost[perm], sim.cost_expected_prices[perm],
                              sim.child_days[perm],
                              CostPaths(sim.years, sim.components.placements[perm],
                                        sim.components.case_management[perm],
                                        sim.components.overheads[perm], sim.components.startup,
                                        sim.components.high_cost[perm]),
                              sim.indicator_noise[perm], sim.days_by_duration[perm])
    a, b = apply_terms(sim, terms, spec), apply_terms(shuffled, terms, spec)
    for ta, tb in ((a.summary(), b.summary()), (a.schedule(), b.schedule()),
                   (a.risk(), b.risk())):
        for c in ta.columns:
            if ta[c].dtype.is_numeric():
                assert np.allclose(ta[c].to_numpy(), tb[c].to_numpy(), rtol=1e-9)


def test_basis_moves_volume_risk(sim_and_terms):
    sim, terms, spec = sim_and_terms
    pop = apply_terms(sim, terms, spec)
    day = apply_terms(sim, dataclasses.replace(terms, basis="child_day"), spec)
    hyb = apply_terms(sim, dataclasses.replace(terms, basis="hybrid"), spec)
    # paid per child-day, payment follows volume, so the variance to be shared is smaller;
    # the hybrid corridor sits in between
    sd = {k: v.variance.sum(axis=1).std() for k, v in (("pop", pop), ("day", day),
                                                        ("hyb", hyb))}
    assert sd["day"] < sd["hyb"] < sd["pop"]
    assert np.allclose(pop.target, pop.capitation[None, :])
    # child-day payments add up to the capitation on average
    assert day.target.mean(axis=0) == pytest.approx(day.capitation, rel=1e-9)


def test_capitation_point_p80_is_the_80th_percentile(sim_and_terms):
    sim, terms, spec = sim_and_terms
    p80 = apply_terms(sim, dataclasses.replace(terms, point=0.8), spec)
    for j in range(terms.length):
        assert (sim.cost[:, j] <= p80.capitation[j]).mean() == pytest.approx(0.8, abs=0.01)


def test_mechanisms_on_the_same_paths(sim_and_terms):
    sim, terms, spec = sim_and_terms
    p = apply_terms(sim, terms, spec)
    m = compare_mechanisms(sim, p)
    by = {r["mechanism"]: r for r in m.iter_rows(named=True)}
    assert set(by) == {"block", "tariff", "per_child_month", "case_rate", "cobic"}
    assert by["block"]["commissioner_sd"] == pytest.approx(0.0, abs=1e-3)
    # block, tariff, per child and case rate are calibrated to the same expected payment
    for k in ("tariff", "per_child_month", "case_rate"):
        assert by[k]["commissioner_mean"] == pytest.approx(by["block"]["commissioner_mean"])
    # paying per unit of activity at unit costs leaves the provider the least variance
    assert by["tariff"]["provider_margin_sd"] < by["block"]["provider_margin_sd"]
    assert by["cobic"]["commissioner_mean"] == pytest.approx(p.net_to_provider.sum(axis=1).mean())


# ------------------------------------------------------------ invalid contracts

GOOD = (CONTRACTS / "cobic_5yr.toml").read_text()


@pytest.mark.parametrize(("name", "edit", "key"), [
    ("length 4", lambda s: s.replace("length = 5", "length = 4"), "length"),
    ("length 8", lambda s: s.replace("length = 5", "length = 8"), "length"),
    ("unordered bands", lambda s: s.replace("{ upto = 0.08, provider_share = 0.5 }",
                                            "{ upto = 0.01, provider_share = 0.5 }"),
     "risk_share.loss_bands[1].upto"),
    ("overlapping bands", lambda s: s.replace("{ upto = 0.08, provider_share = 0.5 }",
                                              "{ upto = 0.02, provider_share = 0.5 }"),
     "risk_share.loss_bands[1].upto"),
    ("share above 1", lambda s: s.replace("{ upto = 0.02, provider_share = 1.0 }",
                                          "{ upto = 0.02, provider_share = 1.5 }"),
     "risk_share.loss_bands[0].provider_share"),
    ("negative share", lambda s: s.replace("provider_share = 0.2 }", "provider_share = -0.2 }"),
     "risk_share.loss_bands[2].provider_share"),
    ("weights not summing to 1", lambda s: s.replace("weight = 0.25\nbaseline = 10.5",
                                                     "weight = 0.35\nbaseline = 10.5"),
     "indicators.weight"),
    ("unknown direction", lambda s: s.replace('direction = "lower"', 'direction = "sideways"'),
     "indicators[0].direction"),
    ("unknown key", lambda s: "bogus = 1\n" + s, "bogus"),
    ("incentive shares of the wrong length", lambda s: s.replace(
        "share_by_year = [0.0, 0.10, 0.10, 0.15, 0.15]", "share_by_year = [0.0, 0.10]"),
     "incentive.share_by_year"),
    ("funders not summing to 1", lambda s: s.replace("share = 0.1\n", "share = 0.2\n"),
     "funders"),
    ("capitation point outside 0-1", lambda s: s.replace('point = "P50"', "point = 1.5"),
     "capitation.point"),
    ("unknown basis", lambda s: s.replace('basis = "population"', 'basis = "vibes"'), "basis"),
])
def test_invalid_contract_names_the_key(tmp_path, name, edit, key):
    p = tmp_path / "c.toml"
    p.write_text(edit(GOOD))
    with pytest.raises(SpecError) as info:
        load_contract(p)
    assert f"key '{key}'" in str(info.value), name


def test_negative_cost_names_the_key(tmp_path):
    text = (models_dir() / "costs" / "england_2024_25.toml").read_text()
    p = tmp_path / "costs.toml"
    p.write_text(text.replace("per_child_month = 440.0", "per_child_month = -440.0"))
    with pytest.raises(SpecError, match="case_management.per_child_month"):
        load_cost_spec(p)


def test_shipped_contracts_load():
    for f in ("cobic_5yr.toml", "cobic_7yr.toml", "aca_corridor.toml"):
        t = load_contract(CONTRACTS / f)
        assert t.length in (5, 7)
    assert load_contract(CONTRACTS / "cobic_7yr.toml").basis == "hybrid"


# ------------------------------------------------------------ settlement and CLI

def test_settlement_ledger_by_hand():
    terms = load_contract(CONTRACTS / "aca_corridor.toml")
    act = Actuals(contract_year=1, child_days={"fostering": 1000.0}, actual_cost=11.2e6)
    ledger = settle(terms, act, capitation=10e6, expected_days=1000.0)
    amount = dict(zip(ledger["item"], ledger["amount"], strict=True))
    assert amount["capitated payment"] == 10e6
    assert amount["variance"] == 1.2e6
    assert amount["risk share: band 0% to 3%"] == 0.3e6
    assert amount["risk share: band 3% to 8%"] == 0.25e6
    assert amount["risk share: band 8% and above"] == pytest.approx(0.08e6)
    assert amount["provider share of variance"] == 0.63e6
    assert amount["commissioner share of variance"] == 0.57e6
    assert amount["net to provider"] == 10.57e6
    assert amount["provider margin"] == -0.63e6


def test_settlement_with_withhold_and_gate():
    terms = load_contract(CONTRACTS / "cobic_5yr.toml")
    values = {i.name: i.floor for i in terms.indicators}  # every indicator at its floor
    act = Actuals(contract_year=2, child_days={"fostering": 1.0}, actual_cost=9.0e6,
                  indicators=values)
    ledger = settle(terms, act, 10e6, 1.0)
    amount = dict(zip(ledger["item"], ledger["amount"], strict=True))
    assert amount["withheld"] == -1e6  # 10% of 10m
    assert amount["incentive earned"] == 0.0
    # a 10% saving, but the composite 0 is below the 0.25 gate: the provider keeps none of it
    assert amount["provider share of variance"] == 0.0
    assert amount["net to provider"] == 10e6 - 1e6 + 0 + (-1e6)


def _demo_paths(tmp_path, horizon: int, n_paths: int):
    """``cobic forecast --paths-out`` of the demo LA, in ``tmp_path``."""
    from cobic.paths import fixtures_dir

    paths = tmp_path / "paths.parquet"
    res = runner.invoke(app, ["forecast", "--episodes", str(fixtures_dir() / "synthetic_la"),
                              "--horizon", str(horizon), "--paths", str(n_paths), "--out",
                              str(tmp_path / "f.csv"), "--paths-out", str(paths)])
    assert res.exit_code == 0, res.output
    return paths


def test_cli_price_and_settle(tmp_path):

    paths = _demo_paths(tmp_path, horizon=8, n_paths=200)
    out = tmp_path / "priced"
    res = runner.invoke(app, ["price", "--forecast", str(paths), "--contract",
                              str(CONTRACTS / "cobic_7yr.toml"), "--costs",
                              str(models_dir() / "costs" / "england_2024_25.toml"),
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    # the shipped 7-year COBIC loses the provider money on the demo LA: said, not hidden
    margin = pl.read_csv(out / "summary.csv").filter(pl.col("measure") == "provider_margin")
    assert margin["mean"][0] < 0 and "warning:" in res.output
    assert "loses money in expectation" in res.output or "expected to lose" in res.output
    assert {p.name for p in out.iterdir()} == {"schedule.csv", "summary.csv", "risk.csv",
                                               "mechanisms.csv", "by_path_year.csv",
                                               "contract.xlsx", "terms.toml",
                                               ".cobic-manifest.json"}
    assert pl.read_csv(out / "by_path_year.csv").height == 200 * 7
    actuals = tmp_path / "y1.toml"
    names = [i.name for i in load_contract(CONTRACTS / "cobic_7yr.toml").indicators]
    actuals.write_text("contract_year = 1\nentries = 250\nexits = 240\nmoves = 200\n"
                       "[child_days]\nfostering = 160000\nresidential = 20000\n"
                       "[indicators]\n" + "\n".join(f'"{n}" = 70.0' for n in names) + "\n")
    ledger = tmp_path / "ledger.csv"
    res = runner.invoke(app, ["settle", "--contract", str(CONTRACTS / "cobic_7yr.toml"),
                              "--priced", str(out), "--actuals", str(actuals), "--costs",
                              str(models_dir() / "costs" / "england_2024_25.toml"),
                              "--out", str(ledger)])
    assert res.exit_code == 0, res.output
    led = pl.read_csv(ledger)
    assert "net to provider" in led["item"].to_list()
    # a bad contract: status 2, nothing written
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("length = 5", "length = 9"))
    res = runner.invoke(app, ["price", "--forecast", str(paths), "--contract", str(bad),
                              "--costs", str(models_dir() / "costs" / "england_2024_25.toml"),
                              "--out", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "length" in res.output
    assert not (tmp_path / "nothing").exists()
    assert not any(p.name.startswith(".nothing") for p in Path(tmp_path).iterdir())


def test_provider_mix_blends_in_house_and_independent_costs(tmp_path):
    text = (models_dir() / "costs" / "england_2024_25.toml").read_text()
    base = load_cost_spec(models_dir() / "costs" / "england_2024_25.toml")
    p = tmp_path / "mix.toml"
    p.write_text(text + '\n[provider_mix]\nfostering = 0.4\n')
    mixed = load_cost_spec(p)
    # IFA GBP 820 (2020-21) uprated 3% a year to 2024-25; blended 60/40 with the s251 765
    ifa = 820 * 1.03 ** 4
    assert mixed.weekly["fostering"] == pytest.approx(0.6 * 765 + 0.4 * ifa)
    assert mixed.weekly["residential"] == base.weekly["residential"]
    p.write_text(text + '\n[provider_mix]\nsecure = 0.5\n')
    with pytest.raises(SpecError, match="provider_mix.secure"):
        load_cost_spec(p)


def test_historic_rebasing_by_hand():
    spec = _spec(uplift=0.03, efficiency=0.02)
    years = (2027, 2028, 2029, 2030, 2031)
    demand = DemandPaths(years, ("fostering",), np.ones((2, 5, 1)), np.zeros((2, 5)),
                         np.zeros((2, 5)), np.zeros((2, 5)))
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "capitation": {"method": "historic", "historic_outturn": 50e6,
                                           "historic_year": "2024-25"}})
    p = apply_terms(simulate_contract_costs(demand, spec, terms), terms, spec)
    # outturn 2024-25 indexed 3% a year to each contract year, efficiency 2% a year from year 1
    hand = [50e6 * 1.03 ** (2 + k) * 0.98 ** (k + 1) for k in range(5)]
    assert p.capitation == pytest.approx(hand, rel=1e-12)


def test_defaults_for_tables_left_out_are_said(tmp_path):
    """A contract of three lines and a cost set of placements only: what cobic assumes for
    each table left out is printed and kept in the workbook's notes, not taken silently."""
    from openpyxl import load_workbook

    from cobic.costs import load_cost_spec

    bare = tmp_path / "bare.toml"
    bare.write_text('first_year = "2026-27"\nlength = 5\nbasis = "population"\n')
    said = load_contract(bare).assumed
    assert [a.split(":")[0] for a in said] == [
        "no capitation method given", "no capitation point given",
        "no risk-share bands given", "no loss cap given", "no gain cap given",
        "no incentive shares given", "no provider reserve given", "no discount rate given",
        "no inflation given", "no funders given", "no indexation given"]
    assert "the provider bears all of any overspend and keeps all of any underspend" in said[2]
    # only what applies: a historic capitation has no point; incentives bring mode and gate
    hist = tmp_path / "hist.toml"
    hist.write_text(bare.read_text() + '[capitation]\nmethod = "historic"\n'
                    'historic_outturn = 6.0e7\nhistoric_year = "2024-25"\n'
                    '[incentive]\nshare_by_year = [0.0, 0.1, 0.1, 0.1, 0.1]\n'
                    '[[indicators]]\nname = "a"\ndirection = "higher"\nfloor = 0.0\n'
                    'target = 1.0\nweight = 1.0\n')
    said = [a.split(":")[0] for a in load_contract(hist).assumed]
    assert "no capitation point given" not in said and "no capitation method given" not in said
    assert {"no incentive mode given", "no quality gate given"} <= set(said)
    # a symmetric loss cap caps gains too; a reopener with weights; a basis without a corridor
    rich = tmp_path / "rich.toml"
    rich.write_text(bare.read_text().replace('basis = "population"', 'basis = "child_day"')
                    + '[risk_share]\nloss_cap = 0.05\n'
                    '[reopener]\nyear = 3\nweights = [0.5, 0.5]\n')
    said = [a.split(":")[0] for a in load_contract(rich).assumed]
    assert "no gain cap given" not in said and "no loss cap given" not in said
    assert "no reopener weights given" not in said and "no reopener factor given" in said
    assert "no [hybrid] table given" not in said
    hybrid = tmp_path / "hybrid.toml"
    hybrid.write_text(bare.read_text().replace('basis = "population"', 'basis = "hybrid"'))
    assert "no [hybrid] table given" in [a.split(":")[0] for a in load_contract(hybrid).assumed]
    shipped = models_dir() / "costs" / "england_2024_25.toml"
    text = shipped.read_text()
    placements_only = tmp_path / "placements.toml"
    placements_only.write_text(text[:text.index("[case_management]")])  # all tables after
    spec = load_cost_spec(placements_only)
    assert [a.split(":")[0] for a in spec.assumed] == [
        "no indexation table", "no case-management table", "no overheads table",
        "no uncertainty table", "no start-up table"]
    assert load_cost_spec(shipped).assumed == () and load_contract(
        CONTRACTS / "cobic_7yr.toml").assumed == ()

    paths = _demo_paths(tmp_path, horizon=6, n_paths=100)
    out = tmp_path / "priced"
    res = runner.invoke(app, ["price", "--forecast", str(paths), "--contract", str(bare),
                              "--costs", str(placements_only), "--out", str(out)])
    assert res.exit_code == 0, res.output
    printed = " ".join(res.output.split())  # the terminal wraps long lines
    assert printed.count("assumed: ") == 11 + len(spec.assumed)
    assert "assumed: bare.toml: no risk-share bands given: the provider bears all" in printed \
        or "the provider bears all of any overspend" in printed
    notes = load_workbook(out / "contract.xlsx")["About"]
    kept = [r[1] for r in notes.iter_rows(values_only=True) if r[0] == "Assumed"]
    assert len(kept) == 11 + len(spec.assumed) and any("no case-management" in k for k in kept)
