"""Tests written to kill mutants (issue 13; see mutation/REPORT.md): every expected value here is
computed independently of the code under test (by hand, a closed form or a second method), at
the thresholds where an off-by-one comparison would show."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from cobic.contract import apply_terms, parse_contract, settle
from cobic.contract.calculator import SimulatedCosts
from cobic.contract.mechanisms import KANSAS_WEIGHTS, payments
from cobic.contract.rules import apply_rules, capitated_payment, reaches, share_variance
from cobic.contract.settlement import Actuals
from cobic.costs import CostPaths
from cobic.data.dates import age_on, birthday, birthday_days, collection_year_of, day_number
from cobic.data.ssda903 import read_ssda903
from cobic.demand.api import accuracy_gate
from cobic.demand.base import QUANTILES, Paths
from cobic.demand.scenarios import Scenario, apply_to_series, parse_scenarios
from cobic.demand.stockflow import FittedStockFlow
from cobic.paths import fixtures_dir
from cobic.report.privacy import row_relations, suppress_linked, suppress_small

ROOT = Path(__file__).resolve().parents[1]


def _amounts(ledger) -> dict[str, float]:
    return dict(zip(ledger["item"], ledger["amount"], strict=True))


# ------------------------------------------------------------ contract: gate and thresholds

def _gated(gate: float = 0.5) -> object:
    """Population basis, one binary indicator (weight 1: composite 0 or 1), a flat 50% share
    of any variance and no caps, gate ``gate``."""
    return parse_contract({
        "first_year": "2026-27", "length": 5, "basis": "population",
        "incentive": {"share_by_year": [0.1] * 5, "mode": "bonus", "quality_gate": gate},
        "risk_share": {"symmetric": True, "loss_bands": [{"provider_share": 0.5}]},
        "indicators": [{"name": "q", "direction": "higher", "floor": 0.0, "target": 1.0,
                        "weight": 1.0, "scoring": "linear"}]})


@pytest.mark.parametrize(("q", "kept"), [(0.5, True), (0.5 + 1e-12, True), (0.75, True),
                                         (0.5 - 1e-6, False), (0.2, False)])
def test_pricing_quality_gate_blocks_gain_below_and_only_below(q, kept):
    """Saving 1m of 10m: 50% = 0.5m to the provider when the composite (= q) reaches the gate
    0.5 (at it too), none below it; a LOSS is shared whatever the composite."""
    terms = _gated()
    out = apply_rules(terms, np.array([10e6]), np.array([1.0]), np.array([[1.0]]),
                      np.array([[9e6]]), np.array([[[q]]]), np.array([0]))
    assert out.composite[0, 0] == pytest.approx(q)
    assert bool(out.blocked[0, 0]) is (not kept)
    assert out.sharing.provider[0, 0] == pytest.approx(-500_000.0 if kept else 0.0)
    loss = apply_rules(terms, np.array([10e6]), np.array([1.0]), np.array([[1.0]]),
                       np.array([[11e6]]), np.array([[[q]]]), np.array([0]))
    assert loss.sharing.provider[0, 0] == pytest.approx(500_000.0)


@pytest.mark.parametrize(("q", "kept"), [(0.5, True), (0.9, True), (0.5 - 1e-6, False)])
def test_settlement_quality_gate_at_and_around_its_value(q, kept):
    """The same through the settlement ledger: gain kept at the gate exactly, blocked below;
    net = T + earned + (D - pi) = 10m + q x 1m + (-1m + 0.5m or -1m)."""
    a = _amounts(settle(_gated(), Actuals(1, {"fostering": 1.0}, actual_cost=9e6,
                                          indicators={"q": q}), 10e6, 1.0))
    assert a["provider share of variance"] == pytest.approx(-500_000.0 if kept else 0.0)
    assert ("risk share: quality gate" in a) is (not kept)
    expected_net = 10e6 + q * 1e6 + (-1e6 - (-500_000.0 if kept else 0.0))
    assert a["net to provider"] == pytest.approx(expected_net, abs=0.01)


def test_reaches_is_at_least_with_tolerance():
    assert reaches(0.4, 0.4) and reaches(0.5, 0.4) and not reaches(0.3, 0.4)
    assert reaches(0.4 - 0.5e-9, 0.4) and not reaches(0.4 - 2e-9, 0.4)
    assert reaches(-0.3, -0.3) and not reaches(-0.31, -0.3)


def _first_dollar(threshold=0.02, share=0.3):
    return parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                           "risk_share": {"symmetric": False,
                                          "loss_bands": [{"provider_share": 0.0}],
                                          "gain_bands": [{"provider_share": 0.0}],
                                          "first_dollar_loss": {"threshold": threshold,
                                                                "share": share}}}).risk_share


@pytest.mark.parametrize(("over", "expected"), [
    (200_000.0, 60_000.0),   # x = 2% exactly (1.02e7 / 1e7 - 1 is exactly 0.02 here)
    (199_990.0, 0.0),        # just below: nothing
    (500_000.0, 150_000.0),  # above: 30% of ALL of it (first dollar), not of the excess
])
def test_first_dollar_threshold_is_at_least(over, expected):
    rs = _first_dollar()
    sh = share_variance(np.array([over]), np.array([10e6]), rs)
    assert sh.provider[0] == pytest.approx(expected)
    assert bool(sh.first_dollar_reached[0]) is (expected > 0)


def _hybrid(corridor=0.1, marginal=0.2):
    return parse_contract({"first_year": "2026-27", "length": 5, "basis": "hybrid",
                           "hybrid": {"corridor": corridor, "marginal_rate": marginal}})


def test_hybrid_pays_the_marginal_rate_outside_the_corridor():
    """C = 1m, E = 100 days (rate 10,000), corridor 10%, marginal 20%: 130 days is 20 outside
    -> 1m + 0.2 x 10,000 x 20 = 1.04m; 70 days -> 0.96m; 90..110 -> 1m exactly."""
    pay = capitated_payment(_hybrid(), np.array([1e6]), np.array([100.0]),
                            np.array([[130.0], [70.0], [110.0], [90.0], [100.0]]))
    assert pay.target[:, 0].tolist() == pytest.approx([1.04e6, 0.96e6, 1e6, 1e6, 1e6])
    assert pay.outside[:, 0].tolist() == pytest.approx([20.0, -20.0, 0.0, 0.0, 0.0])


def test_child_day_and_population_bases_by_hand():
    cap, exp = np.array([1e6]), np.array([100.0])
    days = np.array([[50.0], [150.0]])
    cd = parse_contract({"first_year": "2026-27", "length": 5, "basis": "child_day"})
    assert capitated_payment(cd, cap, exp, days).target[:, 0].tolist() == [5e5, 1.5e6]
    pop = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population"})
    assert capitated_payment(pop, cap, exp, days).target[:, 0].tolist() == [1e6, 1e6]


# ------------------------------------------------------------ risk share by hand

BANDS = {"symmetric": True, "loss_bands": [{"upto": 0.02, "provider_share": 1.0},
                                           {"upto": 0.08, "provider_share": 0.5},
                                           {"provider_share": 0.2}], "loss_cap": 0.05}


@pytest.mark.parametrize(("d", "expected"), [
    (0.0, 0.0), (100_000.0, 100_000.0), (200_000.0, 200_000.0),     # inside band 1: all
    (500_000.0, 350_000.0),                                         # 0.2m + 50% x 0.3m
    (800_000.0, 500_000.0),                                         # 0.2m + 0.3m = cap
    (2_000_000.0, 500_000.0),                                       # capped at 5% x 10m
    (-500_000.0, -350_000.0), (-2_000_000.0, -500_000.0)])
def test_band_shares_against_a_hand_table(d, expected):
    """Rewrite of tests/test_contract.py::test_risk_share_invariants against values worked out
    by hand on T = 10m (that test re-derives pi + (D - pi) = D, which holds for any pi)."""
    rs = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                         "risk_share": BANDS}).risk_share
    sh = share_variance(np.array([d]), np.array([10e6]), rs)
    assert sh.provider[0] == pytest.approx(expected)
    assert bool(sh.hit_loss_cap[0] | sh.hit_gain_cap[0]) is (abs(d) >= 800_000.0)


# ------------------------------------------------------------ mechanisms on two paths

YEARS = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population"}).years


def _two_path_sim() -> SimulatedCosts:
    """Path 0: 100 child-days all in a child's first 6 months; path 1: 300 child-days all
    after 12 months. One year."""
    years = YEARS
    cost = np.repeat([[1.2e6], [0.8e6]], 5, axis=1)
    expected = np.repeat([[1.0e6], [3.0e6]], 5, axis=1)
    days = np.repeat([[100.0], [300.0]], 5, axis=1)
    z = np.zeros((2, 5))
    comp = CostPaths(years, np.zeros((2, 5, 1)), z, z, np.zeros(5), z)
    dur = np.repeat(np.array([[[100.0, 0.0, 0.0]], [[0.0, 0.0, 300.0]]]), 5, axis=1)
    return SimulatedCosts(years, cost, expected, days, comp, np.zeros((2, 5, 0)),
                          days_by_duration=dur)


def test_every_mechanism_pays_the_hand_worked_amounts():
    sim = _two_path_sim()
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "capitation": {"method": "forecast", "point": 0.5}})
    priced = apply_terms(sim, terms)
    cap = 1.0e6  # the median of the two costs (0.8m, 1.2m)
    assert float(priced.capitation[0]) == pytest.approx(cap)
    pay = payments(sim, priced)
    assert pay["block"][:, 0].tolist() == pytest.approx([cap, cap])
    # tariff: cost at unit prices scaled to C in expectation: mean 2m -> 0.5 and 1.5 x C
    assert pay["tariff"][:, 0].tolist() == pytest.approx([0.5 * cap, 1.5 * cap])
    # per child-month: days 100 and 300, mean 200 -> 0.5 and 1.5 x C
    assert pay["per_child_month"][:, 0].tolist() == pytest.approx([0.5 * cap, 1.5 * cap])
    # Kansas: 100% x 100 = 100 and 29% x 300 = 87; mean 93.5
    assert KANSAS_WEIGHTS == (1.0, 0.66, 0.29)
    assert pay["case_rate"][:, 0].tolist() == pytest.approx([cap * 100 / 93.5, cap * 87 / 93.5])
    # cobic with the default terms: its own net to provider (priced by the rules kernel)
    assert pay["cobic"][:, 0].tolist() == priced.net_to_provider[:, 0].tolist()


def test_case_rate_weights_decline_with_time_in_care():
    """A day in the first 6 months is paid more than one in 6-12, more than one after 12."""
    sim = _two_path_sim()
    sim = replace(sim, days_by_duration=np.repeat(
        np.array([[[0.0, 100.0, 0.0]], [[0.0, 0.0, 100.0]]]), 5, axis=1),
        child_days=np.full((2, 5), 100.0))
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population"})
    pay = payments(sim, apply_terms(sim, terms))["case_rate"][:, 0]
    cap = float(apply_terms(sim, terms).capitation[0])
    assert pay.tolist() == pytest.approx([cap * 0.66 / 0.475, cap * 0.29 / 0.475])
    assert pay[0] > pay[1]


# ------------------------------------------------------------ forecast table quantiles

def _paths(n_paths=1000, seed=0) -> Paths:
    rng = np.random.default_rng(seed)
    v = rng.gamma(4.0, 25.0, size=(1, n_paths, 3, 1))
    return Paths("toy", ("A",), 2024, (2025, 2026, 2027), ("all",), v)


def test_forecast_table_quantiles_are_ordered_and_match_a_second_method():
    p = _paths()
    t = p.forecast_table()
    arr = p.values[0, :, :, 0]
    for j, period in enumerate(p.periods):
        row = t.filter(pl.col("period") == period).row(0, named=True)
        qs = [row[q] for q in QUANTILES]
        assert qs == sorted(qs) and row["q05"] < row["q95"]
        assert row["mean"] == pytest.approx(float(arr[:, j].mean()))
        x = np.sort(arr[:, j])
        for q, level in QUANTILES.items():
            # second method: linear interpolation between order statistics
            h = (len(x) - 1) * level
            lo = int(np.floor(h))
            assert row[q] == pytest.approx(x[lo] + (h - lo) * (x[lo + 1] - x[lo]))
            # empirical share of paths at or below it is about the level
            assert abs(float((arr[:, j] <= row[q]).mean()) - level) <= 0.002


def test_money_table_quantiles_of_simulated_margins():
    """Quantiles over paths of the money (cost, net) behave the same: sorted, right shares."""
    rng = np.random.default_rng(2)
    P = 2000
    cost = rng.normal(10e6, 1e6, size=(P, 5))
    z = np.zeros((P, 5))
    sim = SimulatedCosts(YEARS, cost, cost, np.full((P, 5), 100.0),
                         CostPaths(YEARS, np.zeros((P, 5, 1)), z, z, np.zeros(5), z),
                         np.zeros((P, 5, 0)))
    terms = parse_contract({"first_year": "2026-27", "length": 5, "basis": "population",
                            "capitation": {"method": "forecast", "point": 0.9}})
    priced = apply_terms(sim, terms)
    # the capitation at the 90th percentile of cost: 90% of paths cost no more than it
    for j in range(5):
        assert float((cost[:, j] <= priced.capitation[j]).mean()) == pytest.approx(0.9, abs=0.001)
        qs = np.quantile(priced.net_to_provider[:, j], [0.05, 0.1, 0.5, 0.9, 0.95])
        assert (np.diff(qs) >= 0).all()


# ------------------------------------------------------------ scenario levers by hand

def test_scenario_levers_direction_and_size():
    sc = parse_scenarios(["entry_step=+20%@2027", "entry_trend=+3%", "prevention=10%@2028"])
    # year 2026, origin 2024: trend only, 1.03^2
    assert sc.entry_multiplier(2026, 2024) == pytest.approx(1.03 ** 2)
    assert sc.entry_multiplier(2027, 2024) == pytest.approx(1.03 ** 3 * 1.2)  # step from 2027
    assert sc.entry_multiplier(2028, 2024) == pytest.approx(1.03 ** 4 * 1.2 * 0.9)
    assert sc.entry_multiplier(2024, 2024) == 1.0 and sc.entry_multiplier(2020, 2024) == 1.0
    assert parse_scenarios(["stay=+10%"]).exit_multiplier == pytest.approx(1 / 1.1)
    assert parse_scenarios(["stay=+50%"]).exit_multiplier == pytest.approx(1 / 1.5)
    assert parse_scenarios(["stay=-20%"]).exit_multiplier == pytest.approx(1 / 0.8)
    assert Scenario().exit_multiplier == 1.0
    probs = np.array([[0.6, 0.4]])  # residential, fostering
    moved = parse_scenarios(["mix=residential>fostering:25%"]).shift_mix(
        probs, ("residential", "fostering"))
    assert moved[0].tolist() == pytest.approx([0.45, 0.55])
    assert parse_scenarios(["uasc=30"]).extra_uasc == 30.0


def test_stay_lever_lengthens_mean_stay_by_its_size():
    """A constant daily exit hazard h gives a mean stay of 1/h; the lever divides h by 1.1:
    the mean stay is 10% longer (closed form, not the simulation)."""
    h = 1 / 400
    h2 = h * parse_scenarios(["stay=+10%"]).exit_multiplier
    assert (1 / h2) / (1 / h) == pytest.approx(1.10)


def test_series_flow_adjustment_by_hand():
    """starts 100 a year, exit rate 0.5, entry step +20% from origin + 1 and uasc 10: extra
    entrants 30 a year; by the first 31 March 30 x 0.5^0.5, by the second 30 x (0.5^1.5 +
    0.5^0.5)."""
    sc = parse_scenarios(["entry_step=+20%@2025", "uasc=10"])
    out = apply_to_series(np.zeros((1, 1, 2)), sc, np.array([100.0]), np.array([0.5]), 2024)
    assert out[0, 0].tolist() == pytest.approx([30 * 0.5 ** 0.5,
                                                30 * (0.5 ** 1.5 + 0.5 ** 0.5)])


def test_stockflow_entry_trend_projects_forward():
    """Expected entries = rate x exp(drift x (year - origin)) x population."""
    n = 2
    fake = SimpleNamespace(age_bands=("a", "b"), trend=True, origin=2024,
                           future_population={2027: 1000.0}, population=np.array([900.0]))
    ent = np.array([[0.01, 0.02, 0.05]])  # two band rates, then the drift +5% a year (log)
    lam = FittedStockFlow._entry_lambda(fake, ent, 2027)
    assert lam[0].tolist() == pytest.approx([0.01 * np.exp(0.15) * 1000,
                                             0.02 * np.exp(0.15) * 1000])
    assert lam.shape == (1, n)
    # a year without a stated population uses the last observed one; no trend: the rate
    fake.trend = False
    assert FittedStockFlow._entry_lambda(fake, ent, 2030)[0].tolist() == pytest.approx(
        [9.0, 18.0])


# ------------------------------------------------------------ dates

def _age(dob: date, on: date) -> int:
    return pl.DataFrame({"dob": [dob], "on": [on]}).select(
        age_on(pl.col("dob"), pl.col("on")))[0, 0]


def test_age_counts_the_birthday_itself():
    dob = date(2008, 6, 15)
    assert _age(dob, date(2026, 6, 14)) == 17
    assert _age(dob, date(2026, 6, 15)) == 18  # the 18th birthday
    assert _age(dob, date(2026, 6, 16)) == 18
    assert _age(dob, date(2026, 5, 31)) == 17 and _age(dob, date(2026, 7, 1)) == 18
    # 29 February: birthday on 1 March in common years
    leap = date(2008, 2, 29)
    assert _age(leap, date(2026, 2, 28)) == 17 and _age(leap, date(2026, 3, 1)) == 18
    assert _age(leap, date(2028, 2, 29)) == 20


def test_birthday_and_collection_year_by_hand():
    df = pl.DataFrame({"dob": [date(2008, 2, 29), date(2008, 6, 15)]})
    got = df.select(b=birthday(pl.col("dob"), 18))["b"].to_list()
    assert got == [date(2026, 3, 1), date(2026, 6, 15)]
    d = pl.DataFrame({"d": [date(2025, 3, 31), date(2025, 4, 1)]})
    assert d.select(y=collection_year_of(pl.col("d")))["y"].to_list() == [2025, 2026]


@pytest.mark.parametrize(("dob", "years", "expected"), [
    (date(2008, 2, 29), 4, date(2012, 2, 29)),    # leap year: on the day
    (date(2008, 2, 29), 1, date(2009, 3, 1)),     # common year: 1 March
    (date(1980, 2, 29), 20, date(2000, 2, 29)),   # 2000 is a leap year (divisible by 400)
    (date(2080, 2, 29), 20, date(2100, 3, 1)),    # 2100 is not (divisible by 100)
    (date(2009, 1, 29), 18, date(2027, 1, 29)),   # the 29th of another month: unchanged
    (date(2008, 3, 30), 18, date(2026, 3, 30)),
    (date(2008, 12, 31), 18, date(2026, 12, 31)),
])
def test_birthdays_by_hand(dob, years, expected):
    got = pl.DataFrame({"dob": [dob]}).select(b=birthday(pl.col("dob"), years))["b"][0]
    assert got == expected
    # the day-number version used by the simulations agrees, counted from 1970-01-01
    assert day_number(date(1970, 1, 1)) == 0 and day_number(date(1970, 2, 1)) == 31
    assert birthday_days(np.array([day_number(dob)]), years).tolist() == [
        (expected - date(1970, 1, 1)).days]


# ------------------------------------------------------------ accuracy gate

def _metrics(mape_model: float, mape_base: float, is_model=10.0, is_base=10.0, cov=0.8):
    return pl.DataFrame({"model": ["m", "b"], "horizon": [1, 1],
                         "mape": [mape_model, mape_base],
                         "interval_score_80": [is_model, is_base],
                         "coverage_80": [cov, 0.8]})


@pytest.mark.parametrize(("mape", "fails"), [(5.0, 0), (5.01, 1), (7.5, 1), (9.9, 1),
                                             (4.0, 0)])
def test_accuracy_gate_fails_any_mape_worse_than_the_baseline(mape, fails):
    assert len(accuracy_gate(_metrics(mape, 5.0), "m", "b")) == fails


def test_accuracy_gate_interval_score_and_coverage_edges():
    assert accuracy_gate(_metrics(5, 5, is_model=10.0), "m", "b") == []
    assert len(accuracy_gate(_metrics(5, 5, is_model=10.1), "m", "b")) == 1
    assert accuracy_gate(_metrics(5, 5, cov=0.75), "m", "b") == []
    assert accuracy_gate(_metrics(5, 5, cov=0.85), "m", "b") == []
    assert len(accuracy_gate(_metrics(5, 5, cov=0.74), "m", "b")) == 1
    assert len(accuracy_gate(_metrics(5, 5, cov=0.86), "m", "b")) == 1


# ------------------------------------------------------------ data-quality summary

def test_quality_summary_counts_changed_rows_only():
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    f = data.files["file"][0]
    q = pl.DataFrame({"table": ["episodes"] * 5, "file": [f] * 5, "line": [2, 3, 4, 5, 6],
                      "CHILD": ["1", "1", "2", "3", "4"],
                      "outcome": ["kept", "kept", "merged", "dropped", "kept"],
                      "change": [None, "code trimmed", None, None, "date fixed"],
                      "detail": [None] * 5})
    s = replace(data, quality=q).quality_summary().row(0, named=True)
    assert (s["read"], s["kept"], s["merged"], s["dropped"], s["changed"]) == (5, 3, 1, 1, 2)


# ------------------------------------------------------------ suppression edges

def test_suppression_hides_1_to_4_only_and_protects_the_total():
    """DfE convention: 1-4 hidden, 0 and 5 shown. In a row a + b + c = total with one cell of
    3, the smallest other non-zero cell (5) is hidden too, so 3 cannot be recovered."""
    df = pl.DataFrame({"a": [0, 3, 5], "b": [4, 5, 6], "c": [5, 9, 0]})
    assert suppress_small(df, ["a", "b", "c"]).rows() == [("0", "c", "5"), ("c", "5", "9"),
                                                          ("5", "6", "0")]
    t = pl.DataFrame({"a": [3, 5], "b": [5, 6], "c": [9, 7], "total": [17, 18]})
    out = suppress_linked(t, ["a", "b", "c", "total"], row_relations(t, ["a", "b", "c",
                                                                          "total"]))
    assert out.rows() == [("c", "c", "9", "17"), ("5", "6", "7", "18")]


# ------------------------------------------------------------ determinism across processes

_FORECAST = textwrap.dedent("""
    import sys
    from cobic.data.ssda903 import read_ssda903
    from cobic.demand.api import forecast_episodes
    from cobic.paths import fixtures_dir
    p = forecast_episodes(read_ssda903(fixtures_dir() / "synthetic_la"), n_paths=200, seed=3)
    p.forecast_table().sort("period", "placement_group", "age_band").write_csv(sys.stdout)
""")


def test_stockflow_forecast_identical_in_two_fresh_processes():
    """Same inputs and seed, two fresh interpreters (different hash seeds): identical tables
    (``fresh_processes`` in the name: deselected by the mutation runs, it is slow)."""
    outs = []
    for hashseed in ("1", "2"):
        env = {"PYTHONHASHSEED": hashseed, "PATH": "/usr/bin:/bin"}
        res = subprocess.run([sys.executable, "-c", _FORECAST], capture_output=True, text=True,
                             cwd=ROOT, env=env | {"PYTHONPATH": str(ROOT)}, timeout=300)
        assert res.returncode == 0, res.stderr
        outs.append(res.stdout)
    assert outs[0] == outs[1]
    assert outs[0].count("\n") > 5
