"""Multi-year contract terms (issue 11 part 3): cumulative caps, an end-of-contract
reconciliation, a reopener and indexation (fixed / CPI / cost index), each checked on a
hand-computed example to the penny; absent terms change nothing; settlement refuses the years
that depend on other years; the terms round-trip through ``terms_toml``."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import numpy as np
import pytest

from cobic.contract import apply_terms, compare_mechanisms, load_contract, parse_contract, settle
from cobic.contract.calculator import SimulatedCosts, simulate_contract_costs
from cobic.contract.design import terms_toml
from cobic.contract.mechanisms import multi_year_net
from cobic.contract.rules import apply_contract, apply_rules, end_of_contract
from cobic.contract.settlement import Actuals
from cobic.contract.terms import Indexation
from cobic.costs import DemandPaths, default_growth_path, load_cost_spec, load_growth, with_growth
from cobic.errors import SpecError
from cobic.paths import models_dir

CONTRACTS = models_dir() / "contracts"
MULTI = CONTRACTS / "cobic_5yr_multiyear.toml"
ACA_BANDS = [{"upto": 0.03, "provider_share": 1.0}, {"upto": 0.08, "provider_share": 0.5},
             {"provider_share": 0.2}]
M = 1_000_000.0


def _terms(**extra):
    """5 years, basis population, ACA bands (100% to 3%, 50% to 8%, 20% beyond), no caps,
    no incentive: each year's provider share is the ACA corridor's."""
    raw = {"name": "hand", "first_year": "2026-27", "length": 5, "basis": "population",
           "risk_share": {"loss_bands": ACA_BANDS},
           "finance": {"discount_rate": 0.0, "inflation": 0.0}, **extra}
    return parse_contract(raw, "hand")


def _yearly(terms, cost, capitation):
    """The yearly rules on ``cost`` [path, year] with a flat capitation (no indicators)."""
    cost = np.asarray(cost, dtype=float)
    P, Y = cost.shape
    return apply_rules(terms, np.full(Y, capitation), np.ones(Y), np.ones((P, Y)), cost,
                       np.zeros((P, Y, 0)), np.arange(Y))


def _contract(terms, cost, schedule, growth=None):
    cost = np.asarray(cost, dtype=float)
    P, Y = cost.shape
    return apply_contract(terms, np.asarray(schedule, dtype=float), np.ones(Y), np.ones((P, Y)),
                          cost, np.zeros((P, Y, 0)), growth)


def _pennies(a) -> list:
    return np.round(np.asarray(a, dtype=float), 2).tolist()


# ------------------------------------------------------------ 1. cumulative cap, by hand

def test_three_year_corridor_with_a_cumulative_cap():
    # capitation GBP 10m a year (basis population: the capitated payment T = 10m); ACA bands.
    # year 1: cost 11,200,000.00, D = 1,200,000.00 (12% of T):
    #   300,000 (0-3% x 100%) + 250,000 (3-8% = 500,000 x 50%) + 80,000 (400,000 x 20%)
    #   = 630,000.00
    # year 2: cost 10,500,000.00, D = 500,000.00 (5%): 300,000 + 200,000 x 50% = 400,000.00
    # year 3: cost 10,812,345.67, D = 812,345.67 (8.12%):
    #   300,000 + 250,000 + 12,345.67 x 20% = 552,469.134
    # yearly shares sum to 1,582,469.134; the cumulative loss cap is 5% of the total
    # capitation 30,000,000 = 1,500,000.00: it binds, and the end-of-contract adjustment in
    # year 3 is 1,500,000 - 1,582,469.134 = -82,469.134, so year 3's share is 470,000.00.
    terms = _terms(cumulative={"loss_cap": 0.05})
    cost = [[11_200_000.00, 10_500_000.00, 10_812_345.67]]
    y = _yearly(terms, cost, 10 * M)
    assert _pennies(y.sharing.provider[0]) == [630_000.00, 400_000.00, 552_469.13]
    end = end_of_contract(terms, np.full((1, 3), 10 * M), y.target, y.variance,
                          y.sharing.provider, y.composite)
    assert _pennies(end.yearly) == [1_582_469.13]
    assert _pennies(end.capitation) == [30_000_000.00]
    assert _pennies(end.provider) == [1_500_000.00]
    assert _pennies(end.adjustment) == [-82_469.13]
    assert end.hit_loss_cap.tolist() == [True] and end.hit_gain_cap.tolist() == [False]
    # year 3 after the adjustment, and the contract's totals
    assert round(float(y.sharing.provider[0, 2] + end.adjustment[0]), 2) == 470_000.00
    net = float(y.net[0].sum() - end.adjustment[0])  # commissioner outlay
    assert round(net, 2) == 31_012_345.67  # 30m + D 2,512,345.67 - provider 1,500,000
    assert round(net - sum(cost[0]), 2) == -1_500_000.00  # provider margin = -the cap


def test_cumulative_cap_through_the_whole_contract():
    # the same three years in a 5-year contract whose years 4 and 5 cost exactly the
    # capitation, the loss cap 3% of the total capitation 50m = 1.5m: the same adjustment,
    # booked in year 5; a gain cap works the same way
    terms = _terms(cumulative={"loss_cap": 0.03, "gain_cap": 0.01})
    cost = [[11_200_000.00, 10_500_000.00, 10_812_345.67, 10 * M, 10 * M],
            [9 * M, 9.5 * M, 10 * M, 10 * M, 10 * M]]
    c = _contract(terms, cost, [10 * M] * 5)
    assert _pennies(c.provider[0]) == [630_000.00, 400_000.00, 552_469.13, 0.0, -82_469.13]
    # path 2: gains 590,000 (D -1m, the ACA example) + 400,000 = 990,000 kept, capped at 1%
    # of 50m = 500,000: the provider hands back 490,000 in year 5
    assert _pennies(c.provider[1]) == [-590_000.00, -400_000.00, 0.0, 0.0, 490_000.00]
    assert c.end.hit_gain_cap.tolist() == [False, True]
    assert np.allclose(c.net, c.yearly.net - (c.provider - c.yearly.sharing.provider))


# ------------------------------------------------------------ 2. reconciliation, by hand

def test_end_of_contract_reconciliation():
    # Rule (research/capitation.md 2.2, MSSP first-dollar sharing; caps as in 2.4): at the end,
    # the cumulative variance sum_y D over the cumulative payment sum_y T is shared ONCE by the
    # reconciliation's terms, here first-dollar: once |sum D| / sum T reaches 2%, the provider
    # bears 50% of ALL of it (nothing below 2%), capped at 5% of sum T. That total REPLACES the
    # yearly risk-share payments: the true-up (booked in the last year) is
    # reconciled - sum of the yearly shares.
    terms = _terms(reconciliation={"loss_bands": [{"provider_share": 0.5}],
                                   "first_dollar_loss": {"threshold": 0.02, "share": 0.5},
                                   "first_dollar_gain": {"threshold": 0.02, "share": 0.5},
                                   "loss_cap": 0.05})
    # capitation 10m a year; path 1 costs 10.25m, 9.70m, 10.85m: D = +250,000, -300,000,
    # +850,000. Yearly ACA shares: 250,000 (2.5%, first band); -300,000 (a 3% gain, kept
    # whole); 300,000 + 250,000 + 50,000 x 20% = 560,000. Sum 510,000.
    # Cumulative D = 800,000 over 30m = 2.67% >= 2%: reconciled 50% x 800,000 = 400,000
    # (cap 1.5m not reached); true-up 400,000 - 510,000 = -110,000 (refunded to the provider).
    # Path 2 costs 10.25m, 9.70m, 10.60m: D = +250,000, -300,000, +600,000; yearly 250,000,
    # -300,000, 300,000 + 150,000 = 450,000, sum 400,000. Cumulative D 550,000 = 1.83% < 2%:
    # reconciled 0 (the commissioner bears it all); true-up -400,000.
    cost = [[10.25 * M, 9.70 * M, 10.85 * M], [10.25 * M, 9.70 * M, 10.60 * M]]
    y = _yearly(terms, cost, 10 * M)
    assert _pennies(y.sharing.provider) == [[250_000.0, -300_000.0, 560_000.0],
                                            [250_000.0, -300_000.0, 450_000.0]]
    end = end_of_contract(terms, np.full((2, 3), 10 * M), y.target, y.variance,
                          y.sharing.provider, y.composite)
    assert _pennies(end.variance) == [800_000.0, 550_000.0]
    assert _pennies(end.yearly) == [510_000.0, 400_000.0]
    assert _pennies(end.reconciled) == [400_000.0, 0.0]
    assert _pennies(end.true_up) == [-110_000.0, -400_000.0]
    assert _pennies(end.adjustment) == [-110_000.0, -400_000.0]
    assert end.sharing.first_dollar_reached.tolist() == [True, False]


def test_reconciliation_gain_blocked_by_the_quality_gate_on_the_average_composite():
    terms = replace(_terms(reconciliation={"loss_bands": [{"provider_share": 0.5}]}),
                    quality_gate=0.5)
    v = np.array([[-1 * M, -1 * M]])
    t = np.full((1, 2), 10 * M)
    low = end_of_contract(terms, t, t, v, np.zeros((1, 2)), np.array([[0.2, 0.6]]))
    ok = end_of_contract(terms, t, t, v, np.zeros((1, 2)), np.array([[0.4, 0.6]]))
    assert _pennies(low.reconciled) == [0.0]  # average 0.4 < 0.5: no gain share
    assert _pennies(ok.reconciled) == [-1_000_000.0]  # average 0.5: keeps 50% of 2m


# ------------------------------------------------------------ 3. reopener, by hand

def test_reopener_rebases_the_capitation():
    # schedule 10m a year; from year 4 the capitation is re-based: x 0.98 x (0.4 A_2 + 0.6 A_3)
    # / (0.4 C_2 + 0.6 C_3).
    # Path 1 costs 10.0, 10.5, 11.0, 11.2, 11.5m: ratio 0.98 x (4.2 + 6.6) / 10 = 1.0584, so
    # C_4 = C_5 = 10,584,000.00. Year 4: D = 616,000 (3% of T = 317,520 at 100%, then 298,480
    # x 50% = 149,240): 466,760.00. Year 5: D = 916,000: 317,520 + 529,200 x 50% (3-8%) =
    # 264,600 + (916,000 - 846,720) x 20% = 13,856: 595,976.00. (Without the reopener: 630,000
    # and 690,000.)
    # Path 2 costs 10m every year: ratio 0.98, C_4 = C_5 = 9,800,000.00, D = 200,000 (2.04%):
    # provider 200,000.00 each year.
    terms = _terms(reopener={"year": 4, "factor": 0.98, "weights": [0.4, 0.6]})
    cost = [[10.0 * M, 10.5 * M, 11.0 * M, 11.2 * M, 11.5 * M], [10 * M] * 5]
    c = _contract(terms, cost, [10 * M] * 5)
    assert _pennies(c.capitation) == [[10 * M] * 3 + [10_584_000.0] * 2,
                                      [10 * M] * 3 + [9_800_000.0] * 2]
    assert _pennies(c.provider[0]) == [0.0, 400_000.0, 590_000.0, 466_760.0, 595_976.0]
    assert _pennies(c.provider[1]) == [0.0, 0.0, 0.0, 200_000.0, 200_000.0]
    plain = _contract(_terms(), cost, [10 * M] * 5)
    assert _pennies(plain.provider[0, 3:]) == [630_000.0, 690_000.0]


# ------------------------------------------------------------ 4. indexation, by hand

COST_GROWTH = np.array([[1.00, 1.01, 1.02, 1.03, 1.04],   # path 1: costs grow faster
                        [1.00, 0.99, 0.98, 0.97, 0.96]])  # path 2: slower than assumed


def _indexed(method: dict):
    # schedule 10m a year (already with the assumed uplift); path 1's costs are 10m x its
    # realised over assumed cost growth x 1.02 (a 2% overspend besides), path 2's exactly 10m
    # x its growth.
    terms = _terms(indexation=method)
    cost = 10 * M * COST_GROWTH * np.array([[1.02], [1.0]])
    return _contract(terms, cost, [10 * M] * 5, COST_GROWTH)


def test_fixed_indexation_is_the_schedule():
    # path 1 year 5: cost 10,608,000, D 608,000 = 300,000 + 308,000 x 50% = 454,000.00;
    # path 2 year 5: cost 9,600,000, a 4% gain: 300,000 + 100,000 x 50% = 350,000.00 kept
    c = _indexed({"method": "fixed"})
    assert _pennies(c.capitation) == [[10 * M] * 5]
    assert _pennies(c.provider[:, 4]) == [454_000.0, -350_000.0]
    assert c.yearly.pot.shape == (5,)  # the capitation does not depend on the path


def test_cpi_indexation():
    # CPI 3%, 2.5%, 2%, 2%, 2% against the 2% the schedule assumed: factors 1.03/1.02 =
    # 1.00980392..., (1.03 x 1.025)/1.02^2 = 1.01475394..., then unchanged. Year 1 capitation
    # 10,098,039.22, years 2-5 10,147,539.41 on both paths. Path 2 year 1: cost 10m, a gain of
    # 98,039.22 (0.97%) kept whole.
    c = _indexed({"method": "cpi", "cpi": [0.03, 0.025, 0.02, 0.02, 0.02],
                  "assumed_cpi": 0.02})
    assert _pennies(c.capitation) == [[10_098_039.22] + [10_147_539.41] * 4]
    assert _pennies(c.provider[1, 0]) == -98_039.22


def test_cost_index_indexation_moves_cost_growth_risk_to_the_commissioner():
    # capitation paid = 10m x the path's realised over assumed growth: path 1 year 5
    # 10,400,000.00; cost 10,608,000 = 2% over: provider bears all 208,000.00 (first band).
    # Path 2: capitation = cost every year, nothing to share.
    c = _indexed({"method": "cost_index"})
    assert _pennies(c.capitation[:, 4]) == [10_400_000.0, 9_600_000.0]
    assert _pennies(c.provider[0]) == [200_000.0, 202_000.0, 204_000.0, 206_000.0, 208_000.0]
    assert _pennies(c.provider[1]) == [0.0] * 5
    assert c.yearly.pot.shape == (2, 5)
    with pytest.raises(ValueError, match="cost_index"):
        _contract(_terms(indexation={"method": "cost_index"}), [[10 * M] * 5], [10 * M] * 5)


# ------------------------------------------------------------ absent = today's behaviour

def test_without_multi_year_terms_the_yearly_rules_exactly():
    terms = _terms()
    rng = np.random.default_rng(1)
    cost = rng.uniform(8 * M, 12 * M, size=(50, 5))
    c = _contract(terms, cost, [10 * M] * 5)
    y = _yearly(terms, cost, 10 * M)
    assert c.end is None
    assert np.array_equal(c.provider, y.sharing.provider) and np.array_equal(c.net, y.net)


# ------------------------------------------------------------ terms: parsing and round trip

def test_shipped_multi_year_contract_round_trips(tmp_path):
    terms = load_contract(MULTI)
    assert terms.multi_year_end and terms.path_capitation
    out = tmp_path / "t.toml"
    out.write_text(terms_toml(terms))
    assert replace(load_contract(out), source="") == replace(terms, source="")
    # the other shipped contracts have none of the new terms
    for f in ("cobic_5yr.toml", "cobic_7yr.toml", "aca_corridor.toml"):
        t = load_contract(CONTRACTS / f)
        assert not t.multi_year_end and not t.path_capitation
        assert t.indexation.method == "fixed"
        assert "[cumulative]" not in terms_toml(t) and "[indexation]" not in terms_toml(t)


def test_cost_index_round_trips():
    t = _terms(indexation={"method": "cost_index"}, cumulative={"gain_cap": 0.02})
    back = parse_contract(tomllib.loads(terms_toml(t)), "hand")
    assert back.indexation == t.indexation and back.cumulative_gain_cap == 0.02
    assert back.cumulative_loss_cap is None


@pytest.mark.parametrize("extra, key", [
    ({"reopener": {"year": 1}}, "reopener.year"),
    ({"reopener": {"factor": 1.0}}, "reopener.year"),
    ({"reopener": {"year": 3, "weights": [0.2, 0.3, 0.5]}}, "reopener.weights"),
    ({"reopener": {"year": 3, "weights": [0.5, 0.6]}}, "reopener.weights"),
    ({"indexation": {"method": "rpi"}}, "indexation.method"),
    ({"indexation": {"method": "cpi"}}, "indexation.cpi"),
    ({"indexation": {"method": "cpi", "cpi": [0.02, 0.02]}}, "indexation.cpi"),
    ({"indexation": {"method": "fixed", "cpi": 0.02}}, "indexation.cpi"),
    ({"cumulative": {"loss_cap": -0.1}}, "cumulative.loss_cap"),
    ({"cumulative": {"cap": 0.1}}, "cumulative"),
    ({"reconciliation": {"loss_bands": []}}, "reconciliation.loss_bands"),
])
def test_bad_multi_year_terms_name_the_key(extra, key):
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        _terms(**extra)


def test_cpi_defaults_to_the_contracts_inflation():
    t = _terms(indexation={"method": "cpi", "cpi": 0.03},
               finance={"discount_rate": 0.0, "inflation": 0.025})
    assert t.indexation.cpi == (0.03,) * 5 and t.indexation.assumed_cpi == 0.025


# ------------------------------------------------------------ settlement

def _actual(year: int, cost: float) -> Actuals:
    return Actuals(year, {"fostering": 1000.0}, actual_cost=cost)


def test_settle_refuses_years_that_need_other_years():
    cases = [(_terms(cumulative={"loss_cap": 0.05}), 5, "end-of-contract adjustment"),
             (_terms(reconciliation={"loss_bands": [{"provider_share": 0.5}]}), 5,
              "reconciliation"),
             (_terms(reopener={"year": 3}), 3, "reopener"),
             (_terms(indexation={"method": "cost_index"}), 1, "cost_index")]
    for terms, year, why in cases:
        with pytest.raises(ValueError, match=why):
            settle(terms, _actual(year, 11.2 * M), 10 * M, 1000.0)


def test_settle_the_years_that_stand_alone():
    # before the last year the cumulative terms change nothing; years before the reopener
    # neither; CPI indexation settles on the (CPI-indexed) capitation of the schedule
    for terms, year in ((_terms(cumulative={"loss_cap": 0.05}), 4),
                        (_terms(reopener={"year": 3}), 2),
                        (_terms(indexation={"method": "cpi", "cpi": 0.03}), 5)):
        ledger = settle(terms, _actual(year, 11.2 * M), 10 * M, 1000.0)
        amounts = dict(zip(ledger["item"], ledger["amount"], strict=True))
        assert amounts["provider share of variance"] == 630_000.00


# ------------------------------------------------------------ pricing and mechanisms

def _demand(terms, P: int = 300) -> DemandPaths:
    rng = np.random.default_rng(7)
    Y = terms.length
    groups = ("fostering", "residential", "supported", "other")
    days = 50 * rng.gamma(60, 1 / 60, size=(P, Y, 1)) * np.array([3000, 300, 80, 60])
    ev = rng.poisson(250, (P, Y)).astype(float)
    return DemandPaths(terms.years, groups, days, ev, ev.copy(), ev.copy(),
                       days.sum(axis=2)[:, :, None] * np.array([0.2, 0.15, 0.65]))


@pytest.fixture(scope="module")
def grown():
    spec = load_cost_spec(models_dir() / "costs" / "england_2024_25.toml")
    model, area = load_growth(default_growth_path())
    spec = with_growth(spec, model, area)
    terms = load_contract(MULTI)
    return simulate_contract_costs(_demand(terms), spec, terms, seed=2), terms, spec


def test_pricing_the_shipped_multi_year_contract(grown):
    sim, terms, spec = grown
    p = apply_terms(sim, terms, spec)
    plain = apply_terms(sim, replace(terms, reopener=None, cumulative_loss_cap=None,
                                     cumulative_gain_cap=None, reconciliation=None), spec)
    # the schedule is CPI-indexed: plain capitation x prod(1 + cpi) / 1.02^y
    cpi = np.cumprod([1.03, 1.025, 1.02, 1.02, 1.02]) / 1.02 ** np.arange(1, 6)
    assert p.capitation == pytest.approx(plain.capitation, rel=1e-12)
    assert p.paid_capitation[:, :3] == pytest.approx(
        np.broadcast_to(plain.capitation[:3], (sim.cost.shape[0], 3)), rel=1e-12)
    assert plain.capitation / cpi == pytest.approx(
        apply_terms(sim, load_contract(CONTRACTS / "cobic_5yr.toml"), spec).capitation)
    # the provider's total share is within the cumulative caps on every path
    total = p.provider_share.sum(axis=1)
    limit = 0.04 * p.capitation_by_path.sum(axis=1)
    assert (np.abs(total) <= limit * (1 + 1e-12)).all()
    # the ledger still adds up: margin = earned - withheld - provider share
    assert np.allclose(p.provider_margin, p.incentive_earned - p.withheld - p.provider_share,
                       atol=1e-4)
    sched = p.schedule()
    assert "expected_capitation_paid" in sched.columns
    risk = dict(p.risk().iter_rows())
    assert "P(provider hits the cumulative loss cap)" in risk


def test_cost_index_follows_the_fitted_growth(grown):
    sim, terms, spec = grown
    # realised over assumed growth: spread around 1 across paths, 1 with fixed uplifts
    assert sim.cost_growth.shape == sim.cost.shape
    assert sim.cost_growth.std(axis=0).min() > 0
    fixed = load_cost_spec(models_dir() / "costs" / "england_2024_25.toml")
    base = load_contract(CONTRACTS / "cobic_5yr.toml")
    plain_sim = simulate_contract_costs(_demand(base, 20), fixed, base, seed=2)
    assert (plain_sim.cost_growth == 1.0).all()
    ix = apply_terms(sim, replace(base, indexation=Indexation("cost_index")), spec)
    fx = apply_terms(sim, base, spec)
    assert ix.paid_capitation == pytest.approx(fx.capitation[None, :] * sim.cost_growth)
    # the provider's cost-growth risk moves to the commissioner: less spread in its margin
    assert ix.provider_margin.sum(axis=1).std() < fx.provider_margin.sum(axis=1).std()
    # a priced variant is one more row of the comparison
    m = compare_mechanisms(sim, fx, variants={"cobic_cost_index": ix}, multi_year=True)
    assert set(m["mechanism"]) == {"block", "tariff", "per_child_month", "case_rate", "cobic",
                                   "cobic_multi_year", "cobic_cost_index"}


def test_multi_year_mechanism(grown):
    sim, terms, spec = grown
    base = load_contract(CONTRACTS / "cobic_5yr.toml")
    fx = apply_terms(sim, base, spec)
    assert "cobic_multi_year" not in set(compare_mechanisms(sim, fx)["mechanism"])
    # pooled: the yearly risk share reconciled once over the contract
    pooled = apply_terms(sim, replace(base, reconciliation=base.risk_share), spec)
    assert multi_year_net(fx) == pytest.approx(pooled.net_to_provider, rel=1e-12)
    # a contract with its own end terms: the row is the contract itself
    p = apply_terms(sim, terms, spec)
    assert multi_year_net(p) == pytest.approx(p.net_to_provider, rel=1e-12)


def test_first_years_keeps_the_cost_growth(grown):
    sim, _, _ = grown
    assert isinstance(sim.first_years(3), SimulatedCosts)
    assert sim.first_years(3).cost_growth.shape == (sim.cost.shape[0], 3)
