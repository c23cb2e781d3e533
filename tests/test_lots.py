"""Lots and pooled budgets (issue 11, part 4) and indicator outcomes that move with cost (part 5).

Every figure is checked against a second route: two single-LA runs added by hand, the members'
shares recomputed from their own costs, a partition of the placement groups summing to the
whole, normal scores recomputed from ranks, and the default-independence formula written out.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.special import ndtri
from typer.testing import CliRunner

from cobic.cli import app
from cobic.contract import apply_terms, load_contract, parse_contract
from cobic.contract.calculator import (
    SimulatedCosts,
    cost_scores,
    indicator_cost_note,
    simulate_contract_costs,
)
from cobic.contract.design import terms_toml
from cobic.contract.lots import (
    LotMember,
    load_lot,
    member_seed,
    parse_lot,
    simulate_lot_costs,
)
from cobic.costs import DemandPaths, load_cost_spec, load_growth, simulate_costs, with_growth
from cobic.errors import SpecError
from cobic.paths import models_dir

CONTRACTS = models_dir() / "contracts"
GROUPS = ("fostering", "residential", "supported", "other")


def _demand(terms, seed: int, scale: float, P: int = 300) -> DemandPaths:
    """Synthetic demand paths of one LA over the contract years (``scale``: its size)."""
    rng = np.random.default_rng(seed)
    Y = terms.length
    volume = rng.gamma(50, 1 / 50, size=(P, Y, 1))
    mix = rng.gamma(300, 1 / 300, size=(P, Y, len(GROUPS)))
    days = scale * volume * mix * np.array([3000.0, 300.0, 80.0, 60.0])
    ev = scale / 50
    return DemandPaths(terms.years, GROUPS, days, rng.poisson(250 * ev, (P, Y)).astype(float),
                       rng.poisson(240 * ev, (P, Y)).astype(float),
                       rng.poisson(200 * ev, (P, Y)).astype(float),
                       days.sum(axis=2)[:, :, None] * np.array([0.2, 0.15, 0.65]))


@pytest.fixture(scope="module")
def two_las():
    terms = load_contract(CONTRACTS / "cobic_5yr.toml")
    base = load_cost_spec(models_dir() / "costs" / "england_2024_25.toml")
    # LA B is dearer (residential +30%) and grows as the fitted growth model says
    dear = dataclasses.replace(base, weekly={**base.weekly,
                                             "residential": base.weekly["residential"] * 1.3})
    growth, area = load_growth(models_dir() / "costs" / "growth_england_2024_25.toml")
    members = [LotMember("A", _demand(terms, 1, 50), base),
               LotMember("B", _demand(terms, 2, 80), with_growth(dear, growth, area))]
    return terms, members


def _by_hand(members, terms, seed):
    """Two single-LA runs with the seeds the lot documents (member i: member_seed(seed, i),
    market-wide growth: seed)."""
    return [simulate_contract_costs(m.demand, m.costs, terms, member_seed(seed, i),
                                    market_seed=seed) for i, m in enumerate(members)]


def test_two_la_lot_is_the_per_path_sum_of_two_single_la_runs(two_las):
    terms, members = two_las
    lot = simulate_lot_costs(members, terms, seed=4)
    a, b = _by_hand(members, terms, 4)
    c = lot.combined
    np.testing.assert_allclose(c.cost, a.cost + b.cost, rtol=1e-12)
    np.testing.assert_allclose(c.cost_expected_prices, a.cost_expected_prices
                               + b.cost_expected_prices, rtol=1e-12)
    np.testing.assert_allclose(c.child_days, a.child_days + b.child_days, rtol=1e-12)
    np.testing.assert_allclose(c.components.placements, a.components.placements
                               + b.components.placements, rtol=1e-12)
    np.testing.assert_allclose(c.components.startup, a.components.startup
                               + b.components.startup)
    # realised over assumed growth: A has none (1), B its own, weighted by cost at assumed prices
    w_a, w_b = a.cost_expected_prices, b.cost_expected_prices
    np.testing.assert_allclose(c.cost_growth, (w_a * 1.0 + w_b * b.cost_growth) / (w_a + w_b),
                               rtol=1e-12)
    # the lot alone is not one of its members: B's growth risk reaches the lot's cost
    assert not np.allclose(a.cost_growth, 1.0) or np.ptp(b.cost_growth) > 0


def test_lot_prices_as_the_contract_on_the_summed_costs(two_las):
    terms, members = two_las
    terms = dataclasses.replace(terms, point=0.8)
    lot = simulate_lot_costs(members, terms, seed=4)
    priced = apply_terms(lot.combined, terms)
    a, b = _by_hand(members, terms, 4)
    total = a.cost + b.cost
    # the capitation is the lot's P80, not the sum of the members' P80s (pooling)
    np.testing.assert_allclose(priced.capitation, np.quantile(total, 0.8, axis=0), rtol=1e-12)
    summed_points = (np.quantile(a.cost, terms.point, axis=0)
                     + np.quantile(b.cost, terms.point, axis=0))
    assert (np.quantile(total, terms.point, axis=0) < summed_points).all()
    # the whole ledger equals the contract priced on a hand-built sum of the two runs
    noise = np.random.default_rng(4 + 1).standard_normal(
        (total.shape[0], terms.length, max(len(terms.indicators), 1)))
    by_hand = SimulatedCosts(a.years, total, a.cost_expected_prices + b.cost_expected_prices,
                             a.child_days + b.child_days, lot.combined.components, noise,
                             None, a.expected_tail + b.expected_tail, lot.combined.cost_growth)
    ref = apply_terms(by_hand, terms)
    np.testing.assert_allclose(priced.net_to_provider, ref.net_to_provider, rtol=1e-12)
    np.testing.assert_allclose(priced.provider_share, ref.provider_share, rtol=1e-12)


def test_funding_shares_default_to_each_members_expected_cost(two_las):
    terms, members = two_las
    lot = simulate_lot_costs(members, terms, seed=4)
    a, b = _by_hand(members, terms, 4)
    ea, eb = a.cost.sum(axis=1).mean(), b.cost.sum(axis=1).mean()
    assert lot.shares == pytest.approx((ea / (ea + eb), eb / (ea + eb)), rel=1e-12)
    assert not lot.shares_stated
    priced = apply_terms(lot.combined, terms)
    fund = lot.funding(priced)
    assert fund.height == 2 * len(terms.funders)
    # every row's outlay is its member share x funder share of the lot's outlay
    outlay = priced.net_to_provider.sum(axis=1).mean()
    assert fund["expected_outlay"].sum() == pytest.approx(outlay, rel=1e-12)
    la = next(f for f in terms.funders if "authority" in f.name.lower())
    row = fund.filter((pl.col("member") == "B") & (pl.col("funder") == la.name)).row(0, named=True)
    assert row["expected_outlay"] == pytest.approx(outlay * lot.shares[1] * la.share, rel=1e-12)
    assert row["expected_own_cost"] == pytest.approx(eb * la.share, rel=1e-12)
    # stated shares are used as stated
    stated = [dataclasses.replace(m, share=s) for m, s in zip(members, (0.7, 0.3), strict=True)]
    assert simulate_lot_costs(stated, terms, seed=4).shares == (0.7, 0.3)


def test_pooling_row_is_the_sum_of_the_members_margins_less_the_lots(two_las):
    terms, members = two_las
    lot = simulate_lot_costs(members, terms, seed=4)
    pool = lot.pooling()
    a, b = _by_hand(members, terms, 4)

    def margin(cost):
        t = cost.sum(axis=1)
        return np.quantile(t, 0.9) - t.mean()

    want = margin(a.cost) + margin(b.cost) - margin(a.cost + b.cost)
    assert pool["p90_minus_mean"][-1] == pytest.approx(want, rel=1e-9)
    assert want > 0  # independent demand: pooling narrows the lot's distribution


def test_members_share_the_market_wide_cost_growth(two_las):
    terms, members = two_las
    growth, area = load_growth(models_dir() / "costs" / "growth_england_2024_25.toml")
    both = [dataclasses.replace(m, costs=with_growth(m.costs, growth, area)) for m in members]
    lot = simulate_lot_costs(both, terms, seed=9)
    ga, gb = (s.cost_growth[:, -1] for s in lot.members)
    assert np.corrcoef(np.log(ga), np.log(gb))[0, 1] > 0.5
    # priced alone (no shared market) the two are independent
    alone = [simulate_contract_costs(m.demand, m.costs, terms, member_seed(9, i))
             for i, m in enumerate(both)]
    r = np.corrcoef(np.log(alone[0].cost_growth[:, -1]), np.log(alone[1].cost_growth[:, -1]))
    assert abs(r[0, 1]) < 0.2


def test_placement_group_lots_partition_the_whole(two_las):
    """Lots over a partition of the placement groups add up to the whole LA at assumed prices
    (less the start-up cost each lot carries)."""
    terms, members = two_las
    m = members[0]
    window = m.demand.window(terms.first_year, terms.length)
    whole = simulate_costs(window, m.costs, uncertain=False)
    parts = [simulate_costs(window.only_groups((g,)), m.costs, uncertain=False) for g in GROUPS]
    extra = (len(GROUPS) - 1) * whole.startup
    np.testing.assert_allclose(sum(p.total for p in parts) - extra[None, :], whole.total,
                               rtol=1e-10)
    # events pro-rated by the group's share of child-days (one path and year by hand)
    res = window.only_groups(("residential",))
    share = window.child_days[7, 2, 1] / window.child_days[7, 2].sum()
    assert res.entries[7, 2] == pytest.approx(window.entries[7, 2] * share, rel=1e-12)
    assert res.child_days.shape[2] == 1


def test_high_cost_tail_only_in_a_lot_holding_residential(two_las):
    terms, members = two_las
    one = members[:1]
    fost = simulate_lot_costs(one, terms, seed=2, groups=("fostering",))
    res = simulate_lot_costs(one, terms, seed=2, groups=("residential",))
    assert (fost.combined.components.high_cost == 0).all()
    assert fost.combined.expected_tail.sum() == 0
    assert res.combined.components.high_cost.sum() > 0
    with pytest.raises(ValueError, match="must be among"):
        simulate_lot_costs(one, terms, groups=("secure_unit",))


def test_a_member_short_of_the_contract_years_is_named(two_las):
    terms, members = two_las
    late = dataclasses.replace(terms, first_year=terms.first_year + 1)
    with pytest.raises(ValueError, match="member 'A'.*no years"):
        simulate_lot_costs(members, late)


def test_members_with_different_path_counts_are_refused(two_las):
    terms, members = two_las
    short = dataclasses.replace(members[1], demand=_demand(terms, 5, 80, P=100))
    with pytest.raises(ValueError, match="same --paths"):
        simulate_lot_costs([members[0], short], terms)


@pytest.mark.parametrize("edit, key", [
    (lambda r: r.pop("member"), "member"),
    (lambda r: r["member"][0].pop("costs"), "member[0].costs"),
    (lambda r: r["member"][1].update(name="A"), "member.name"),
    (lambda r: r["member"][0].update(share=0.6), "member.share"),
    (lambda r: [m.update(share=0.6) for m in r["member"]], "member.share"),
    (lambda r: r.update(colour="red"), "colour"),
    (lambda r: r.update(groups=[]), "groups"),
    (lambda r: r["member"][0].update(area="Leeds"), "member[0]"),
    (lambda r: r["member"].append({"area": "Leeds"}), "panel"),
    (lambda r: r["member"][1].update(forecast="a.csv"), "member.forecast"),
    (lambda r: r["member"][0].update(name=" "), "member[0].name"),
])
def test_bad_lot_files_name_the_key(edit, key):
    raw = {"name": "lot", "member": [{"name": "A", "forecast": "a.csv", "costs": "a.toml"},
                                     {"name": "B", "forecast": "b.csv", "costs": "b.toml"}]}
    edit(raw)
    with pytest.raises(SpecError) as e:
        parse_lot(raw, "lot.toml", Path("/x"))
    assert e.value.key == key


def test_lot_file_paths_are_relative_to_the_lot_file(tmp_path):
    (tmp_path / "lot.toml").write_text(
        'name = "n"\ngroups = ["residential"]\n[[member]]\nname = "A"\nforecast = "p.csv"\n'
        'costs = "/abs/c.toml"\nshare = 1.0\n', encoding="utf-8")
    lot = load_lot(tmp_path / "lot.toml")
    assert lot.members[0].forecast == tmp_path / "p.csv"
    assert lot.members[0].costs == Path("/abs/c.toml")
    assert lot.groups == ("residential",)


# ------------------------------------------------------------------ the CLI


def _paths_file(path: Path, demand: DemandPaths) -> None:
    P, Y, G = demand.child_days.shape
    rows = []
    for p in range(P):
        for j, y in enumerate(demand.years):
            rows += [(p, y, g, "child_days", float(demand.child_days[p, j, k]))
                     for k, g in enumerate(demand.groups)]
            rows += [(p, y, "all", m, float(getattr(demand, m)[p, j]))
                     for m in ("entries", "exits", "moves")]
    pl.DataFrame(rows, orient="row", schema=["path", "period", "placement_group", "measure",
                                              "value"]).write_csv(path)


def _lot_files(tmp_path: Path, members) -> Path:
    for m in members:
        _paths_file(tmp_path / f"{m.name}.csv", dataclasses.replace(
            m.demand, days_by_duration=None))
    costs = models_dir() / "costs" / "england_2024_25.toml"
    (tmp_path / "lot.toml").write_text(
        f'name = "Consortium"\n[[member]]\nname = "A"\nforecast = "A.csv"\ncosts = "{costs}"\n'
        f'[[member]]\nname = "B"\nforecast = "B.csv"\ncosts = "{costs}"\n', encoding="utf-8")
    return costs


def test_cli_designs_terms_for_a_lot_that_reprice_within_target(tmp_path, two_las):
    terms, members = two_las
    _lot_files(tmp_path, members)
    contract = CONTRACTS / "cobic_5yr.toml"
    r = CliRunner().invoke(app, ["design", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(contract), "--target", "provider_loss_prob<=0.3", "--out",
                                 str(tmp_path / "designed.toml")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["price", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(tmp_path / "designed.toml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    risk = pl.read_csv(tmp_path / "o" / "risk.csv")
    p_loss = risk.filter(pl.col("measure").str.contains("makes a loss"))["value"][0]
    assert p_loss <= 0.3
    by_path = pl.read_csv(tmp_path / "o" / "by_path_year.csv")
    margin = by_path.group_by("path").agg(pl.col("provider_margin").sum())["provider_margin"]
    assert (margin < 0).mean() == pytest.approx(p_loss, abs=1e-12)


def test_cli_prices_a_lot_and_writes_who_pays_what(tmp_path, two_las):
    terms, members = two_las
    costs = _lot_files(tmp_path, members)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    r = CliRunner().invoke(app, ["price", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(CONTRACTS / "cobic_5yr.toml"), "--out",
                                 str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    fund = pl.read_csv(tmp_path / "out" / "lot.csv")
    summary = pl.read_csv(tmp_path / "out" / "summary.csv")
    outlay = summary.filter(pl.col("measure") == "commissioner_outlay")["mean"][0]
    assert fund["expected_outlay"].sum() == pytest.approx(outlay, rel=1e-6)
    assert set(fund["member"]) == {"A", "B"}
    listed = pl.read_csv(tmp_path / "out" / "lot_members.csv")
    assert listed["member"].to_list() == ["A", "B"]
    assert listed["cost_set"].str.contains("england_2024_25").all()
    assert "Who pays what" in r.output or "who pays what" in r.output
    # the lot's cost is the two LAs' cost: each priced alone with the same seeds and added
    single = []
    for i, m in enumerate(members):
        d = DemandPaths.from_table(pl.read_csv(tmp_path / f"{m.name}.csv"))
        single.append(simulate_contract_costs(d, load_cost_spec(costs), terms,
                                              member_seed(0, i), market_seed=0))
    by_path = pl.read_csv(tmp_path / "out" / "by_path_year.csv").sort("path", "contract_year")
    want = (single[0].cost + single[1].cost).reshape(-1)
    np.testing.assert_allclose(by_path["actual_cost"].to_numpy(), want, rtol=1e-9)


def test_cli_refuses_a_lot_mixed_with_single_la_options(tmp_path):
    (tmp_path / "lot.toml").write_text('[[member]]\nforecast = "a.csv"\ncosts = "c.toml"\n',
                                       encoding="utf-8")
    r = CliRunner().invoke(app, ["price", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(CONTRACTS / "cobic_5yr.toml"), "--costs", "x.toml",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "without --forecast" in r.output
    r = CliRunner().invoke(app, ["price", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(CONTRACTS / "cobic_5yr.toml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "a.csv" in r.output
    assert not (tmp_path / "o").exists()


# ------------------------------------------------- indicators that move with cost


def test_cost_scores_are_normal_scores_of_the_ranks():
    cost = np.array([[3.0, 10.0], [1.0, 30.0], [2.0, 20.0]])
    want = ndtri((np.array([[2, 0], [0, 2], [1, 1]]) + 0.5) / 3)
    np.testing.assert_allclose(cost_scores(cost), want)


def _with_correlation(terms, r: float, k: int = 0):
    inds = list(terms.indicators)
    inds[k] = dataclasses.replace(inds[k], cost_correlation=r)
    return dataclasses.replace(terms, indicators=tuple(inds))


def test_default_indicators_are_independent_of_cost(two_las):
    terms, members = two_las
    sim = simulate_contract_costs(members[0].demand, members[0].costs, terms, seed=1)
    p = apply_terms(sim, terms)
    for k, ind in enumerate(terms.indicators):
        for y in range(terms.length):
            want = ind.baseline + ind.improvement * (y + 1) + ind.sd * sim.indicator_noise[:, y, k]
            np.testing.assert_allclose(p.indicator_values[:, y, k], want, rtol=1e-12)
    assert "independently of cost" in indicator_cost_note(terms)


def test_an_indicator_correlated_with_cost_moves_with_it(two_las):
    terms, members = two_las
    sim = simulate_contract_costs(members[0].demand, members[0].costs, terms, seed=1)
    ind = terms.indicators[0]
    assert ind.direction == "lower"  # placement instability: worse when higher
    moved = _with_correlation(terms, 0.8)
    p0, p1 = apply_terms(sim, terms), apply_terms(sim, moved)
    z = cost_scores(sim.cost)
    for y in range(terms.length):
        e = (p1.indicator_values[:, y, 0] - ind.baseline - ind.improvement * (y + 1)) / ind.sd
        # r z + sqrt(1 - r^2) e with r = 0.8, by hand
        np.testing.assert_allclose(e, 0.8 * z[:, y] + 0.6 * sim.indicator_noise[:, y, 0],
                                   rtol=1e-10, atol=1e-12)
        assert np.corrcoef(e, z[:, y])[0, 1] == pytest.approx(0.8, abs=0.08)
        assert np.std(e) == pytest.approx(1.0, abs=0.1)
    # the other indicators are untouched
    np.testing.assert_array_equal(p1.indicator_values[:, :, 1:], p0.indicator_values[:, :, 1:])
    # worse outcomes on dear paths: less incentive earned where cost is high, so the provider's
    # bad years are worse
    hi = sim.cost.sum(axis=1) > np.median(sim.cost.sum(axis=1))
    e0, e1 = p0.incentive_earned.sum(axis=1), p1.incentive_earned.sum(axis=1)
    assert e1[hi].mean() < e0[hi].mean() and e1[~hi].mean() > e0[~hi].mean()
    m0, m1 = p0.provider_margin.sum(axis=1), p1.provider_margin.sum(axis=1)
    assert np.quantile(m1, 0.1) < np.quantile(m0, 0.1)
    assert "correlation +0.80" in indicator_cost_note(moved)


def test_cost_correlation_is_validated_and_round_trips():
    terms = load_contract(CONTRACTS / "cobic_5yr.toml")
    moved = _with_correlation(terms, -0.35, 1)
    back = parse_contract(__import__("tomllib").loads(terms_toml(moved)), "t")
    assert back.indicators[1].cost_correlation == -0.35
    raw = __import__("tomllib").loads(terms_toml(terms))
    raw["indicators"][0]["cost_correlation"] = 1.5
    with pytest.raises(SpecError) as e:
        parse_contract(raw, "t")
    assert e.value.key == "indicators[0].cost_correlation"
    assert math.isclose(terms.indicators[0].cost_correlation, 0.0)


# ------------------------------------------- targets no payment rule can meet together


def _sim_with_totals(totals) -> SimulatedCosts:
    from tests.test_design import two_path_sim

    base = two_path_sim(1)
    cost = np.asarray(totals, dtype=float)[:, None]
    return dataclasses.replace(base, cost=cost, cost_expected_prices=cost,
                               child_days=np.full_like(cost, 1000.0),
                               indicator_noise=np.zeros((cost.shape[0], 1, 1)))


def test_payment_rule_bound_counts_paths_by_hand():
    from cobic.contract.design import payment_rule_bounds

    # ten paths costing 1..10: P(loss) <= 0.3 and P90 outlay <= 6 need cost <= 6 on at least
    # (floor(0.9 x 9) + 1) + ceil(10 x 0.7) - 10 = 9 + 7 - 10 = 6 paths: exactly 6 have it
    sim = _sim_with_totals(range(1, 11))
    assert payment_rule_bounds(sim, ["provider_loss_prob<=0.3", "commissioner_p90<=6"]) == []
    # at most 5.5 only 5 paths qualify: ruled out for every payment rule
    lines = payment_rule_bounds(sim, ["provider_loss_prob<=0.3", "commissioner_p90<=5.5"])
    assert len(lines) == 1 and "60.0%" in lines[0] and "50.0%" in lines[0]
    # one target alone is never ruled out by the bound
    assert payment_rule_bounds(sim, ["commissioner_p90<=1"]) == []



def test_outputs_of_an_earlier_lot_run_are_named_not_deleted(tmp_path, two_las):
    terms, members = two_las
    costs = _lot_files(tmp_path, members)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["price", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(CONTRACTS / "cobic_5yr.toml"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    lot_csv = (out / "lot.csv").read_bytes()
    r = CliRunner().invoke(app, ["price", "--forecast", str(tmp_path / "A.csv"), "--costs",
                                 str(costs), "--contract", str(CONTRACTS / "cobic_5yr.toml"),
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    note = text[text.index("note:"):text.index("from an earlier run")]
    assert note.startswith("note: lot.csv, lot_members.csv, pooling.csv in ")
    assert "summary.csv" not in note  # written again by this run
    assert (out / "lot.csv").read_bytes() == lot_csv  # kept, untouched


def test_members_forecast_from_different_years_are_noted(tmp_path, two_las):
    terms, members = two_las
    older = dataclasses.replace(terms, first_year=terms.first_year - 1, length=terms.length + 1)
    b = dataclasses.replace(members[1], demand=_demand(older, 2, 80, P=300))
    costs = _lot_files(tmp_path, [members[0], b])
    r = CliRunner().invoke(app, ["price", "--lot", str(tmp_path / "lot.toml"), "--contract",
                                 str(CONTRACTS / "cobic_5yr.toml"), "--out", str(tmp_path / "o"),
                                 "--paths", "500"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    first = terms.first_year
    assert (f"start in different years (A: {first - 1}-{first % 100:02d}, "
            f"B: {first - 2}-{(first - 1) % 100:02d})") in text
    assert "--paths 500 applies only to members given by area" in text
    assert costs.exists()


def test_two_members_with_copies_of_one_paths_file_are_refused(tmp_path):
    """A copy of a paths file under another name holds the same children: refused like
    one file named twice, naming both members; files that differ by one byte are read."""
    (tmp_path / "a.csv").write_text("path,period,value\n0,2026,10\n")
    (tmp_path / "b.csv").write_bytes((tmp_path / "a.csv").read_bytes())
    (tmp_path / "lot.toml").write_text(
        'name = "n"\n[[member]]\nname = "A"\nforecast = "a.csv"\ncosts = "c.toml"\n'
        '[[member]]\nname = "B"\nforecast = "b.csv"\ncosts = "c.toml"\n', encoding="utf-8")
    with pytest.raises(SpecError, match="members 'A' and 'B' have paths files with identical"):
        load_lot(tmp_path / "lot.toml")
    (tmp_path / "b.csv").write_text("path,period,value\n0,2026,11\n")
    assert [m.name for m in load_lot(tmp_path / "lot.toml").members] == ["A", "B"]
