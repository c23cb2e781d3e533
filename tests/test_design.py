"""Contract design (goal-seek), targets, contract TOML writing and sustainability warnings.

Every check is made independently of :mod:`cobic.contract.design`'s own measures: designed
terms are re-priced with :func:`apply_terms` and the targets recomputed from the priced arrays;
a two-path example has its answer known by construction.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace

import numpy as np
import pytest

from cobic.contract import apply_terms, load_contract, parse_contract
from cobic.contract.calculator import SimulatedCosts, simulate_contract_costs
from cobic.contract.design import (
    MEASURES,
    Space,
    Target,
    candidate_terms,
    design,
    measures,
    parse_target,
    sustainability_warnings,
    terms_toml,
)
from cobic.contract.terms import Band, RiskShare
from cobic.costs import CostPaths, DemandPaths, default_unit_costs_path, load_cost_spec
from cobic.data.ssda903 import read_ssda903
from cobic.demand.api import forecast_episodes
from cobic.paths import fixtures_dir, models_dir

CONTRACTS = models_dir() / "contracts"


# ----------------------------------------------------------------------------- helpers
def outlay(priced) -> np.ndarray:
    """Whole-contract commissioner outlay per path, straight from the priced arrays."""
    return priced.net_to_provider.sum(axis=1)


def loss_prob(priced) -> float:
    return float(((priced.net_to_provider - priced.cost).sum(axis=1) < 0).mean())


def check_by_hand(priced, target: Target) -> bool:
    """A target recomputed from the priced arrays (not through ``measures``)."""
    value = {"provider_loss_prob": loss_prob(priced),
             "commissioner_p90": float(np.quantile(outlay(priced), 0.9)),
             "commissioner_mean": float(outlay(priced).mean()),
             "provider_margin_mean": float((priced.net_to_provider - priced.cost)
                                           .sum(axis=1).mean())}[target.measure]
    return value <= target.value if target.upper else value >= target.value


# ------------------------------------------------------------------ two paths by hand
def two_path_sim(n_years: int = 5) -> SimulatedCosts:
    """Path 0 costs 100 a year and path 1 costs 120: the capitation at point q is 100 + 20q."""
    years = tuple(range(2027, 2027 + n_years))
    cost = np.array([[100.0] * n_years, [120.0] * n_years])
    zeros = np.zeros_like(cost)
    comp = CostPaths(years, cost, zeros, zeros, np.zeros(n_years), zeros)
    return SimulatedCosts(years, cost, cost.copy(), np.full_like(cost, 1000.0), comp,
                          np.zeros((2, n_years, 1)))


def two_path_terms(**risk):
    raw = {"name": "two paths", "first_year": "2026-27", "length": 5, "basis": "population",
           "capitation": {"method": "forecast", "point": 0.5},
           "risk_share": {"loss_bands": [{"provider_share": 1.0}], **risk},
           "finance": {"discount_rate": 0.0, "inflation": 0.0}}
    return parse_contract(raw, "two paths")


def test_two_paths_break_even_point_is_the_median():
    # full risk: margin = 5 (C - A); mean margin >= 0 needs C >= 110, i.e. point >= 0.5, and
    # the commissioner pays 5 C on every path, so the cheapest feasible point is exactly 0.5
    space = Space(point=(0.2, 0.3, 0.4, 0.5, 0.6, 0.8), at_risk=(0.0,), band_scale=(1.0,),
                  cap=(None,))
    r = design(two_path_sim(), two_path_terms(), None, ["provider_margin_mean>=0"], space=space)
    assert r.feasible and r.terms.point == 0.5
    assert r.measures["commissioner_mean"] == pytest.approx(550.0)
    assert r.measures["provider_margin_mean"] == pytest.approx(0.0, abs=1e-9)
    assert r.measures["provider_loss_prob"] == 0.5  # path 1 loses 50
    assert {0.45, 0.55}.issubset(set(r.frontier["point"].to_list()))  # refined around 0.5
    p = apply_terms(two_path_sim(), r.terms)
    np.testing.assert_allclose(outlay(p), [550.0, 550.0])


def test_two_paths_only_a_zero_cap_removes_the_loss():
    # at C = 110 path 1 overspends by 10 a year; any positive cap leaves the provider part of
    # it, a cap of 0 passes all of it to the commissioner (outlay = cost on each path)
    space = Space(point=(0.5,), at_risk=(0.0,), band_scale=(1.0,), cap=(0.0, 0.05, None))
    r = design(two_path_sim(), two_path_terms(), None, ["provider_loss_prob<=0"], space=space)
    assert r.feasible and r.terms.risk_share.loss_cap == 0.0
    assert r.terms.risk_share.gain_cap == 0.0
    assert r.measures["commissioner_mean"] == pytest.approx(550.0)
    assert r.measures["commissioner_p90"] == pytest.approx(500 + 0.9 * 100)
    assert loss_prob(apply_terms(two_path_sim(), r.terms)) == 0.0


def test_two_paths_infeasible_reports_nearest_values():
    space = Space(point=(0.2, 0.5, 0.9), at_risk=(0.0,), band_scale=(1.0,), cap=(None,),
                  rounds=0)
    r = design(two_path_sim(), two_path_terms(), None,
               ["provider_loss_prob<=0", "commissioner_p90<=500"], space=space)
    assert not r.feasible
    assert {str(t) for t in r.unreachable} == {str(t) for t in r.targets}
    assert r.nearest["provider_loss_prob"] == 0.5  # C <= 119.8 < 120: path 1 always loses
    assert r.nearest["commissioner_p90"] == pytest.approx(5 * (100 + 20 * 0.2))
    assert any("Cannot be met at all: provider_loss_prob" in line for line in r.explain())


def test_two_paths_reserve_taken_from_the_loss_cap():
    # no provider_reserve: the reserve is the loss cap (5%) x the mean capitation (110) = 5.5;
    # path 1 loses 5.5 a year (capped), so its cumulative loss passes 5.5 in year 2
    terms = two_path_terms(loss_cap=0.05)
    p = apply_terms(two_path_sim(), terms)
    assert measures(p)["reserve_breach_prob"] == 0.5
    warnings = sustainability_warnings(p)
    assert any("taken as the loss cap" in w and "50%" in w for w in warnings)
    assert not any("expected to lose" in w for w in warnings)  # mean margin is 0


def test_no_warnings_when_paid_the_cost():
    sim = two_path_sim()
    flat = replace(sim, cost=np.full_like(sim.cost, 110.0))
    assert sustainability_warnings(apply_terms(flat, two_path_terms(loss_cap=0.05))) == []


def test_unbounded_losses_warned_without_reserve_or_cap():
    warnings = sustainability_warnings(apply_terms(two_path_sim(), two_path_terms()))
    assert any("not bounded" in w for w in warnings)


@pytest.mark.parametrize(("cap", "fires", "binds_at"), [(0.06, False, None),
                                                         (0.05, True, "8.0%"),
                                                         (0.04, True, "6.0%")])
def test_cap_binding_before_the_last_band(cap, fires, binds_at):
    # bands: 100% to 2%, 50% to 8%, 20% beyond: the provider has borne 5% at 8%
    bands = (Band(0, 0.02, 1.0), Band(0.02, 0.08, 0.5), Band(0.08, math.inf, 0.2))
    terms = replace(two_path_terms(), risk_share=RiskShare(bands, bands, cap, None))
    warnings = [w for w in sustainability_warnings(apply_terms(two_path_sim(), terms), terms)
                if "band is dead" in w]
    assert bool(warnings) == fires
    if fires:
        assert len(warnings) == 1 and "loss cap" in warnings[0] and binds_at in warnings[0]


# ------------------------------------------------------------------------------ targets
@pytest.mark.parametrize(("text", "measure", "op", "value"), [
    ("provider_loss_prob<=0.3", "provider_loss_prob", "<=", 0.3),
    ("commissioner_p90<=520e6", "commissioner_p90", "<=", 520e6),
    ("provider_margin_mean>=0", "provider_margin_mean", ">=", 0.0),
    ("reserve_breach_prob<=0.1", "reserve_breach_prob", "<=", 0.1),
    (" provider_loss_prob <= 30% ", "provider_loss_prob", "<=", 0.3),
    ("commissioner_p90<=GBP 520m", "commissioner_p90", "<=", 520e6),
    ("commissioner_mean<1.2bn", "commissioner_mean", "<", 1.2e9),
    ("provider_margin_p10>-5,000,000", "provider_margin_p10", ">", -5e6),
])
def test_parse_target(text, measure, op, value):
    t = parse_target(text)
    assert (t.measure, t.op) == (measure, op) and t.value == pytest.approx(value)
    assert Target.parse(text) == t


@pytest.mark.parametrize(("text", "message"), [
    ("provider_loss<=0.3", "did you mean provider_loss_prob"),
    ("nonsense<=1", "unknown measure 'nonsense'"),
    ("provider_loss_prob==0.3", "unknown operator '=='"),
    ("provider_loss_prob=0.3", "unknown operator '='"),
    ("provider_loss_prob=<0.3", "unknown operator '=<'"),
    ("provider_loss_prob<=nan", "finite"),
    ("commissioner_p90<=inf", "finite"),
    ("commissioner_p90<=1e999", "finite"),
    ("commissioner_p90<=lots", "not a number"),
    ("provider_loss_prob<=", "no bound"),
    ("provider_loss_prob<=30", "between 0 and 1"),
    ("provider_loss_prob", "cannot read target"),
    ("<=0.3", "cannot read target"),
])
def test_parse_target_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_target(text)


def test_target_constructor_checks():
    with pytest.raises(ValueError, match="finite"):
        Target("commissioner_p90", "<=", math.nan)
    with pytest.raises(ValueError, match="unknown operator"):
        Target("commissioner_p90", "=", 1.0)
    with pytest.raises(ValueError, match="unknown measure"):
        Target("p90", "<=", 1.0)
    with pytest.raises(ValueError, match="at least one target"):
        design(two_path_sim(), two_path_terms(), None, [])


def test_space_checked():
    for space in (Space(point=(1.5,)), Space(band_scale=(0.0,)), Space(at_risk=()),
                  Space(cap=(-0.1,)), Space(basis=("block",))):
        with pytest.raises(ValueError, match="Space"):
            design(two_path_sim(), two_path_terms(), None, ["provider_loss_prob<=0.5"],
                   space=space)


# ------------------------------------------------------------------------------- TOML
@pytest.mark.parametrize("name", ["cobic_7yr.toml", "cobic_5yr.toml", "aca_corridor.toml"])
def test_terms_toml_round_trip(name, tmp_path):
    terms = load_contract(CONTRACTS / name)
    out = tmp_path / "written.toml"
    out.write_text(terms_toml(terms, comment="written by a test\nsecond line"))
    again = load_contract(out)
    assert replace(again, source=terms.source) == terms


def test_terms_toml_round_trip_unusual_terms(tmp_path):
    raw = {"name": 'The "odd" one\\ \t\u00e9\u007f', "first_year": "2027-28", "length": 6,
           "basis": "child_day",
           "capitation": {"method": "historic", "historic_outturn": 61234567.89,
                          "historic_year": "2024-25"},
           "incentive": {"share_by_year": [0, 0.05, 0.1, 0.1, 0.1, 0.1], "mode": "bonus"},
           "risk_share": {"symmetric": False,
                          "loss_bands": [{"upto": 0.015, "provider_share": 0.9},
                                         {"provider_share": 0.3}],
                          "gain_bands": [{"upto": 0.5, "provider_share": 0.4},
                                         {"upto": 1.0, "provider_share": 0.1}],
                          "loss_cap": 0.07, "first_dollar_gain": {"threshold": 0.02,
                                                                  "share": 0.5}},
           "indicators": [{"name": "a", "direction": "higher", "floor": 1, "target": 2,
                           "weights": [1, 1, 0.5, 0.5, 0.5, 1], "scoring": "binary"},
                          {"name": "b", "direction": "lower", "floor": 9, "target": 3,
                           "weights": [0, 0, 0.5, 0.5, 0.5, 0]}],
           "funders": [{"name": "LA", "share": 0.7}, {"name": "ICB", "share": 0.3}]}
    terms = parse_contract(raw, "unusual")
    out = tmp_path / "u.toml"
    out.write_text(terms_toml(terms))
    assert replace(load_contract(out), source="unusual") == terms


# ------------------------------------------------------------------- the demo LA (slow)
@pytest.fixture(scope="module")
def demo():
    """The demo LA as cobic/report/demo.py builds it, with 300 paths."""
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    paths = forecast_episodes(data, "stockflow", horizon=8, n_paths=300, seed=1)
    terms = load_contract(CONTRACTS / "cobic_7yr.toml")
    terms = replace(terms, first_year=paths.periods[0] + 1)
    spec = load_cost_spec(default_unit_costs_path())
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), spec, terms, seed=1)
    return sim, terms, spec, apply_terms(sim, terms, spec)


def test_measures_agree_with_summary_and_risk(demo):
    *_, priced = demo
    m = measures(priced)
    assert set(m) == set(MEASURES)
    s = {r["measure"]: r for r in priced.summary().iter_rows(named=True)}
    risk = dict(priced.risk().iter_rows())
    assert m["commissioner_mean"] == pytest.approx(s["commissioner_outlay"]["mean"])
    assert m["commissioner_p90"] == pytest.approx(s["commissioner_outlay"]["p90"])
    assert m["commissioner_pv_p90"] == pytest.approx(s["commissioner_outlay_pv"]["p90"])
    assert m["provider_margin_mean"] == pytest.approx(s["provider_margin"]["mean"])
    assert m["provider_margin_p10"] == pytest.approx(s["provider_margin"]["p10"])
    assert m["provider_loss_prob"] == risk["P(provider makes a loss over the contract)"]
    assert m["loss_cap_prob"] == risk["P(provider hits the loss cap in some year)"]
    reserve_row = next(k for k in risk if k.startswith("P(provider's cumulative loss"))
    assert m["reserve_breach_prob"] == risk[reserve_row]
    withheld = float(priced.withheld.sum())
    assert m["unearned_withhold_mean"] == pytest.approx(
        withheld - s["incentive_earned"]["mean"])


def test_warnings_fire_on_the_shipped_7_year_contract(demo):
    *_, priced = demo
    w = sustainability_warnings(priced)
    assert any("expected to lose money" in x for x in w)
    assert any("exceeds its reserve of £1.5m" in x for x in w)
    assert any("withheld incentive is expected not to be earned back" in x for x in w)
    assert any("loss cap (5.0%" in x and "band is dead" in x for x in w)
    assert any("gain cap (5.0%" in x for x in w)


def test_design_meets_targets_when_repriced(demo, tmp_path):
    sim, terms, spec, _ = demo
    targets = [parse_target("provider_loss_prob<=0.3"), parse_target("commissioner_p90<=500m")]
    r = design(sim, terms, spec, targets)
    assert r.feasible and not r.unmet
    again = apply_terms(sim, r.terms, spec)
    assert all(check_by_hand(again, t) for t in targets)
    # the chosen one is the cheapest feasible candidate tried
    feasible = r.frontier.filter("feasible")
    assert r.measures["commissioner_mean"] == pytest.approx(feasible["commissioner_mean"].min())
    # and it is what the frontier recorded for its knobs
    assert candidate_terms(terms, r.knobs) == r.terms
    # written out and read back it prices the same
    out = tmp_path / "designed.toml"
    out.write_text(terms_toml(r.terms))
    reread = apply_terms(sim, replace(load_contract(out), source=r.terms.source), spec)
    np.testing.assert_allclose(outlay(reread), outlay(again))


def test_design_infeasible_reports_nearest(demo):
    sim, terms, spec, _ = demo
    r = design(sim, terms, spec, ["provider_loss_prob<=0", "commissioner_p90<=1"])
    assert not r.feasible
    assert "commissioner_p90 <= £1" in {str(t) for t in r.unreachable}
    f = r.frontier
    assert r.nearest["commissioner_p90"] == pytest.approx(f["commissioner_p90"].min())
    assert r.nearest["provider_loss_prob"] == pytest.approx(f["provider_loss_prob"].min())
    assert r.nearest["commissioner_p90"] > 1e8
    text = "\n".join(r.explain())
    assert "No candidate meets every target" in text and "commissioner_p90" in text


def test_demo_goal_seek_loss_30pc_within_shipped_p90(demo):
    """P(loss) <= 0.3 and P90 outlay <= the shipped contract's cannot be met on the demo LA.

    Independent reason: if the provider makes no loss on a path, the commissioner pays at
    least its cost there, so P(no loss and outlay > B) <= P(outlay > B) <= 10% (+1 path), and
    P(loss) >= P(cost > B) - 10% for *any* contract with P90 outlay <= B.
    """
    sim, terms, spec, priced = demo
    budget = float(np.quantile(outlay(priced), 0.9))
    r = design(sim, terms, spec, ["provider_loss_prob<=0.3", f"commissioner_p90<={budget}"])
    cost = sim.cost.sum(axis=1)
    bound = float((cost > budget).mean()) - 0.1 - 1 / len(cost)
    within = r.frontier.filter(r.frontier["commissioner_p90"] <= budget)
    assert within.height > 0
    assert within["provider_loss_prob"].min() >= bound
    assert r.best_given_others[r.targets[0]] == within["provider_loss_prob"].min()
    assert not r.feasible and len(r.conflicts) == 1
    # the closest candidate re-prices to the measures reported
    again = apply_terms(sim, r.terms, spec)
    assert loss_prob(again) == r.measures["provider_loss_prob"]


def test_pareto_flags_by_brute_force(demo):
    sim, terms, spec, _ = demo
    space = Space(point=(0.4, 0.6, 0.8), at_risk=(0.0, 0.1), band_scale=(1.0,),
                  cap=(0.05, None), rounds=0)
    f = design(sim, terms, spec, ["provider_loss_prob<=0.5"], space=space).frontier
    pts = list(zip(f["commissioner_mean"], f["provider_loss_prob"], strict=True))
    for (c, p), flag in zip(pts, f["pareto"], strict=True):
        dominated = any(c2 <= c and p2 <= p and (c2 < c or p2 < p) for c2, p2 in pts)
        assert flag == (not dominated)
    assert f.height == 3 * 2 * 2 and f["pareto"].any()


def test_designed_terms_keep_the_profile_shape(demo):
    _, terms, _, _ = demo
    t = candidate_terms(terms, {"at_risk": 0.3, "band_scale": 2.0, "cap": None})
    assert t.incentive_share == (0.0, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3)
    assert t.risk_share.loss_bands[0].upper == pytest.approx(0.04)
    assert t.risk_share.loss_cap is None and t.risk_share.gain_cap is None
    assert parse_contract(tomllib.loads(terms_toml(t)), "x").incentive_share == \
        t.incentive_share


def test_two_paths_a_higher_is_better_objective_is_maximised():
    # margin = 5 (C - 110) with C = 100 + 20 q: the largest point tried gives the largest
    # margin (0.8: C = 116, margin 30); every point meets the outlay target (5 C <= 600)
    space = Space(point=(0.2, 0.5, 0.8), at_risk=(0.0,), band_scale=(1.0,), cap=(None,))
    r = design(two_path_sim(), two_path_terms(), None, ["commissioner_mean<=600"],
               objective="provider_margin_mean", space=space)
    assert r.feasible and r.terms.point == 0.8
    assert r.measures["provider_margin_mean"] == pytest.approx(30.0)
    # and a lower-is-better objective picks the other end
    r = design(two_path_sim(), two_path_terms(), None, ["commissioner_mean<=600"],
               objective="commissioner_mean", space=space)
    assert r.terms.point == 0.2


def test_unbounded_losses_warned_only_above_the_limit():
    # path 1 of 2 loses: P(loss) = 50%, warned above a 10% limit, not under a 60% one
    p = apply_terms(two_path_sim(), two_path_terms())
    assert any("not bounded" in w for w in sustainability_warnings(p, breach_limit=0.1))
    assert not any("not bounded" in w for w in sustainability_warnings(p, breach_limit=0.6))


@pytest.mark.parametrize("mode", ["withhold", "bonus"])
def test_two_paths_unearned_withhold_by_hand(mode):
    # C = 110; 10% at risk in years 2-5 (GBP 11 a year, 44 in all); one indicator scored 0.5
    # every year (baseline 5 between floor 0 and target 10, no noise): half is earned back
    raw = {"name": "two paths", "first_year": "2026-27", "length": 5, "basis": "population",
           "capitation": {"method": "forecast", "point": 0.5},
           "incentive": {"share_by_year": [0.0, 0.1, 0.1, 0.1, 0.1], "mode": mode},
           "indicators": [{"name": "a", "direction": "higher", "floor": 0.0, "target": 10.0,
                           "baseline": 5.0, "weight": 1.0}],
           "finance": {"discount_rate": 0.0, "inflation": 0.0}}
    m = measures(apply_terms(two_path_sim(), parse_contract(raw, "two paths")))
    if mode == "withhold":
        assert m["unearned_withhold_mean"] == pytest.approx(22.0)
        assert m["unearned_withhold_share"] == pytest.approx(0.5)
    else:  # a bonus withholds nothing
        assert (m["unearned_withhold_mean"], m["unearned_withhold_share"]) == (0.0, 0.0)


@pytest.mark.parametrize(("outturn", "share"), [(50.0, "45%"), (56.0, None), (215.0, None),
                                                (230.0, "209%"), (1.0, "under 1%")])
def test_a_capitation_far_from_the_cost_is_warned_as_a_units_slip(outturn, share):
    # two paths costing 100 and 120 a year: expected cost 5 x 110 = 550; a historic outturn
    # with no indexation or efficiency pays it every year, 5 x outturn: the ratio is
    # outturn / 110, warned below 50% and above 200%
    raw = {"name": "two paths", "first_year": "2026-27", "length": 5, "basis": "population",
           "capitation": {"method": "historic", "historic_outturn": outturn,
                          "historic_year": "2025-26"},
           "risk_share": {"loss_bands": [{"provider_share": 1.0}], "loss_cap": 0.05},
           "finance": {"discount_rate": 0.0, "inflation": 0.0}}
    terms = parse_contract(raw, "two paths")
    priced = apply_terms(two_path_sim(), terms)
    assert np.sum(priced.capitation) == pytest.approx(5 * outturn)
    warned = [w for w in sustainability_warnings(priced) if "of the expected cost" in w]
    if share is None:
        assert warned == []
    else:
        assert len(warned) == 1 and f"is {share} of the expected cost (£550)" in warned[0]
        # too low: perhaps millions for pounds; too high: perhaps an extra zero
        hint = "in pounds" if outturn < 110 else "an extra zero"
        assert hint in warned[0] and ("extra zero" in warned[0]) == (outturn > 110)


def test_losses_unbounded_are_warned_only_above_the_limit():
    # no reserve and no cap; path 1 loses (cost 120 > 110): P(loss) = 0.5 exactly
    p = apply_terms(two_path_sim(), two_path_terms())
    assert measures(p)["provider_loss_prob"] == 0.5
    assert not any("not bounded" in w for w in sustainability_warnings(p, breach_limit=0.5))
    assert any("not bounded" in w for w in sustainability_warnings(p, breach_limit=0.4999))


def test_a_cap_reached_at_a_band_edge_binds_there_before_a_band_of_no_share():
    # the provider bears all of the first 25%, nothing from 25% to 75%, 20% beyond: a 25%
    # cap is reached exactly at 25% (all numbers exact in binary)
    bands = (Band(0, 0.25, 1.0), Band(0.25, 0.75, 0.0), Band(0.75, math.inf, 0.2))
    terms = replace(two_path_terms(), risk_share=RiskShare(bands, bands, 0.25, None))
    dead = [w for w in sustainability_warnings(apply_terms(two_path_sim(), terms), terms)
            if "band is dead" in w]
    assert len(dead) == 1 and "binds at a variance of 25.0%" in dead[0]


def test_shortfalls_are_measured_in_shares_and_in_the_mean_cost():
    # probabilities in their own unit; money in the mean whole-contract cost (5 x 110 = 550)
    from cobic.contract.design import _scales

    scales = _scales(two_path_sim())
    for name, m in MEASURES.items():
        assert scales[name] == (1.0 if m.kind == "share" else pytest.approx(550.0)), name
    assert {m.kind for m in MEASURES.values()} >= {"share"} and 550.0 in scales.values()


def test_refinement_halves_the_steps_of_every_knob_but_the_basis():
    from cobic.contract.design import _neighbours

    seed = {"point": 0.5, "at_risk": 0.10, "band_scale": 1.0, "cap": 0.05, "basis": "population"}
    tried = {"point": {0.4, 0.5, 0.6}, "at_risk": {0.05, 0.10, 0.15},
             "band_scale": {0.5, 1.0, 2.0}, "cap": {0.03, 0.05, 0.10},
             "basis": {"population", "placement"}}
    got = _neighbours(seed, tried)
    for knob, mids in (("point", {0.45, 0.55}), ("at_risk", {0.075, 0.125}),
                       ("band_scale", {0.75, 1.5}), ("cap", {0.04, 0.075})):
        assert mids <= {round(g[knob], 6) for g in got}, knob
    assert {g["basis"] for g in got} == {"population"}


def test_caps_and_band_edges_above_the_whole_payment_are_warned_as_percent_slips():
    bands = (Band(0, 0.02, 1.0), Band(0.02, 8.0, 0.5), Band(8.0, math.inf, 0.2))
    fine = (Band(0, 0.02, 1.0), Band(0.02, 1.0, 0.5), Band(1.0, math.inf, 0.2))
    for rs, said in ((RiskShare(bands, fine, 5.0, 1.0), ["The loss cap is 500%",
                                                        "A loss band ends at 800%"]),
                     (RiskShare(fine, fine, 1.0, 1.5), ["The gain cap is 150%"]),
                     (RiskShare(fine, fine, 1.0, 1.0), [])):
        terms = replace(two_path_terms(), risk_share=rs)
        w = [x for x in sustainability_warnings(apply_terms(two_path_sim(), terms), terms)
             if "fractions" in x]
        assert [x.split(" of the")[0] for x in w] == said


def test_percent_slips_start_just_above_the_whole_payment_and_no_cost_warns_nothing():
    one = (Band(0, 1.0, 1.0), Band(1.0, math.inf, 0.5))
    above = (Band(0, 1.5, 1.0), Band(1.5, math.inf, 0.5))
    for bands, n in ((one, 0), (above, 1)):
        terms = replace(two_path_terms(), risk_share=RiskShare(bands, bands, None, None))
        w = [x for x in sustainability_warnings(apply_terms(two_path_sim(), terms), terms)
             if "band ends at" in x]
        assert len(w) == 2 * n  # the loss and the gain side
    # a simulation that costs nothing: no units warning (and no division by zero)
    sim = two_path_sim()
    free = replace(sim, cost=np.zeros_like(sim.cost), cost_expected_prices=np.zeros_like(sim.cost))
    priced = apply_terms(free, two_path_terms())
    assert not any("of the expected cost" in x for x in sustainability_warnings(priced))
