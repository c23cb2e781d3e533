"""Costs against independent values: closed forms and hand-built examples.

Written to close the gaps the mutation run of ``cobic/costs.py`` found (``make mutate
GROUPS=costs``): the high-cost tail's lognormal, the lead of fitted cost growth from the price
base to the contract, the demand of a lot over some placement groups, and the events read
from simulated paths.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cobic.costs import (
    CostSpec,
    DemandPaths,
    default_growth_path,
    default_unit_costs_path,
    growth_paths,
    load_cost_spec,
    load_growth,
    simulate_costs,
    with_growth,
)
from cobic.demand.base import Paths


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _tail_spec(mean: float, sd: float, rate: float = 2.0) -> CostSpec:
    return CostSpec(name="tail", base_price_year=2025, weekly={"residential": 1000.0},
                    per_child_month=0.0,
                    event_costs={"entry": 0.0, "placement_move": 0.0, "exit": 0.0},
                    overhead_rate=0.0, indexation={"default": 0.0}, efficiency=0.0,
                    high_cost_per_year=rate, high_cost_mean_weekly=mean,
                    high_cost_sd_weekly=sd, high_cost_weeks=10.0)


def _residential(years: tuple[int, ...], paths: int) -> DemandPaths:
    z = np.zeros((paths, len(years)))
    return DemandPaths(years, ("residential",), np.full((paths, len(years), 1), 36_500.0),
                       z, z, z)


@pytest.mark.parametrize("mean, sd", [(3000.0, 1500.0), (1500.0, 3000.0)])
def test_simulated_high_cost_tail_has_the_lognormal_mean_and_spread_given(mean, sd):
    """A high-cost placement's weekly cost W is lognormal with the mean m and sd s given, so
    the tail per year is rate x 10 weeks x E[(W - k)+], with k = 1,000 (the residential
    weekly cost it is netted against) and, for a lognormal,
    E[(W - k)+] = m Phi(d1) - k Phi(d1 - v), v^2 = log(1 + s^2/m^2),
    d1 = (log(m/k) + v^2/2) / v (the Black-Scholes call). m = 3,000, s = 1,500: v^2 = 0.2231,
    E = 2,002.7, tail 40,054 a year; m = 1,500, s = 3,000: v^2 = 1.609, E = 868.4, 17,368.
    A draw with the wrong log-mean (log m + v^2/2) makes the mean m e^{v^2}: 25% or 400% more.
    """
    spec = _tail_spec(mean, sd)
    c = simulate_costs(_residential((2026,), 60_000), spec, seed=5)
    k = 1000.0
    v = math.sqrt(math.log(1 + (sd / mean) ** 2))
    d1 = (math.log(mean / k) + v * v / 2) / v
    expect = 2.0 * 10.0 * (mean * _phi(d1) - k * _phi(d1 - v))
    got = c.high_cost[:, 0]
    se = got.std() / math.sqrt(got.size)
    assert abs(got.mean() - expect) < 4 * se, (got.mean(), expect, se)
    # and the share of paths with no excess at all: no placement (e^-2) or every placement's
    # W below k; P(W < k) = Phi((log k - mu) / v), mu = log m - v^2/2; Poisson thinning gives
    # P(no excess) = exp(-2 P(W > k))
    mu = math.log(mean) - v * v / 2
    p_above = 1 - _phi((math.log(k) - mu) / v)
    assert (got == 0).mean() == pytest.approx(math.exp(-2.0 * p_above), abs=0.01)


def _fitted_spec():
    return with_growth(load_cost_spec(default_unit_costs_path()),
                       *load_growth(default_growth_path()))


@pytest.mark.parametrize("lead", [0, 1, 3])
def test_fitted_growth_runs_from_the_price_base_to_each_contract_year(lead):
    """Contract year y is ``lead + y`` years after the cost set's price base (year 0 is
    ``lead`` years after it), so its median growth factor is g^(lead + y), with g the fitted
    growth a year for the area (level plus the area's deviation): each year g times the one
    before, the first g^(lead + 1)."""
    spec = _fitted_spec()
    gm = spec.growth
    g = math.exp(gm.level + gm.deviation.get(spec.growth_area, 0.0))
    year0 = spec.base_price_year + lead
    exact = growth_paths(spec, year0, 4, 3, uncertain=False)
    assert exact.shape == (3, 4)
    assert exact[0] == pytest.approx([g ** (lead + y) for y in range(1, 5)], rel=1e-12)
    drawn = growth_paths(spec, year0, 4, 20_000, seed=2)
    assert drawn.shape == (20_000, 4)
    # the paths' median follows the same exponent (their noise is symmetric in log)
    assert np.median(np.log(drawn), axis=0) == pytest.approx(
        [(lead + y) * math.log(g) for y in range(1, 5)], abs=0.02 + 0.01 * lead)


def test_fitted_growth_refuses_a_contract_that_starts_before_its_price_base():
    spec = _fitted_spec()
    with pytest.raises(ValueError, match="calibrate to an earlier year"):
        growth_paths(spec, spec.base_price_year - 1, 3, 10)
    assert growth_paths(spec, spec.base_price_year, 3, 10).shape == (10, 3)


def test_with_growth_refuses_a_model_fitted_to_another_price_year():
    from dataclasses import replace

    costs = load_cost_spec(default_unit_costs_path())
    growth, area = load_growth(default_growth_path())
    assert growth.origin == 2025  # fitted to 2024-25
    for year, shown in ((2024, "2023-24"), (2026, "2025-26")):
        with pytest.raises(ValueError, match=f"cost growth fitted to 2024-25 cannot uprate "
                                             f".*whose prices are {shown}"):
            with_growth(replace(costs, base_price_year=year), growth, area)


def test_a_lot_over_some_groups_prorates_events_by_its_share_of_days():
    """Two groups, one path, two years. Year 1: fostering 300 days, residential 100 (lot =
    residential: share 1/4); year 2: 0 and 200 (share 1). Entries 8 and 4, exits 4 and 2, moves
    12 and 6: the lot's are 2, 4; 1, 2; 3, 6."""
    cd = np.array([[[300.0, 100.0], [0.0, 200.0]]])
    d = DemandPaths((2027, 2028), ("fostering", "residential"), cd,
                    np.array([[8.0, 4.0]]), np.array([[4.0, 2.0]]), np.array([[12.0, 6.0]]))
    lot = d.only_groups(("residential",))
    assert lot.groups == ("residential",)
    assert lot.child_days[0, :, 0].tolist() == [100.0, 200.0]
    assert lot.entries[0].tolist() == [2.0, 4.0]
    assert lot.exits[0].tolist() == [1.0, 2.0]
    assert lot.moves[0].tolist() == [3.0, 6.0]
    # a year with no days at all: nothing to pro-rate, the lot's events are zero
    empty = DemandPaths((2027,), ("fostering", "residential"), np.zeros((1, 1, 2)),
                        np.array([[5.0]]), np.array([[5.0]]), np.array([[5.0]]))
    assert empty.only_groups(("residential",)).moves.tolist() == [[0.0]]
    with pytest.raises(ValueError, match="must be among"):
        d.only_groups(("secure",))


def test_events_from_simulated_paths_are_summed_over_groups():
    """A stockflow-like Paths of one area, 2 paths, 3 years, 2 groups, with events by group:
    the demand's entries, exits and moves per path and year are the sums over the groups."""
    rng = np.random.default_rng(0)
    shape = (1, 2, 3, 2)
    ent, exi, mov = (rng.integers(0, 9, shape).astype(float) for _ in range(3))
    cd = rng.uniform(1000, 2000, shape)
    p = Paths(model="stockflow", areas=("LA",), origin=2026, periods=(2027, 2028, 2029),
              groups=("fostering", "residential"), values=rng.uniform(5, 9, shape),
              extra={"child_days": cd, "entries": ent, "exits": exi, "moves": mov})
    d = DemandPaths.from_paths(p)
    for path in range(2):
        for y in range(3):
            assert d.entries[path, y] == ent[0, path, y, 0] + ent[0, path, y, 1]
            assert d.exits[path, y] == exi[0, path, y, 0] + exi[0, path, y, 1]
            assert d.moves[path, y] == mov[0, path, y, 0] + mov[0, path, y, 1]
    assert d.child_days.shape == (2, 3, 2)
    two = Paths(model="naive", areas=("A", "B"), origin=2026, periods=(2027,),
                groups=("all",), values=np.ones((2, 1, 1, 1)))
    with pytest.raises(ValueError, match="one area at a time"):
        DemandPaths.from_paths(two)


# ------------------------------------------------------------ the cost set's rules at their edges

def _raw():
    import tomllib

    return tomllib.loads(default_unit_costs_path().read_text())


def _parse(raw):
    from cobic.costs import parse_cost_spec

    return parse_cost_spec(raw, "edited cost set")


def test_case_management_counted_once_when_the_weekly_costs_include_it():
    """With ``includes`` naming case management, [case_management] may hold only zeros: any
    cost above zero (GBP 10 a child-month, or 50p an entry) would count it twice."""
    from cobic.errors import SpecError

    raw = _raw()
    raw["includes"] = ["placements", "case_management"]
    zeros = {"per_child_month": 0.0, "entry": 0.0, "placement_move": 0.0, "exit": 0.0}
    raw["case_management"] = dict(zeros)
    assert _parse(raw).per_child_month == 0.0
    for key, value in (("per_child_month", 10.0), ("entry", 0.5), ("exit", 2.0)):
        raw["case_management"] = zeros | {key: value}
        with pytest.raises(SpecError, match="count it twice"):
            _parse(raw)


def test_case_management_defaults_and_bounds():
    """A [case_management] table may leave out its per child-month cost (0) and its index
    (the default uplift); an index above 50% a year is refused."""
    from cobic.errors import SpecError

    raw = _raw()
    raw["case_management"] = {"entry": 100.0, "price_year": raw["base_price_year"]}
    spec = _parse(raw)
    assert spec.per_child_month == 0.0 and spec.event_costs["entry"] == 100.0
    assert spec.case_management_index is None
    for index, ok in ((0.5, True), (0.6, False), (-0.5, True), (-0.6, False)):
        raw["case_management"] = {"per_child_month": 10.0, "index": index}
        if ok:
            assert _parse(raw).case_management_index == index
        else:
            with pytest.raises(SpecError, match="case_management.index"):
                _parse(raw)


def test_provider_mix_share_is_a_fraction():
    from cobic.errors import SpecError

    raw = _raw()
    groups = {r["placement_group"] for r in raw["placement"] if r["provider"] == "independent"}
    g = sorted(groups)[0]
    for share, ok in ((1.0, True), (1.5, False), (-0.1, False)):
        raw["provider_mix"] = {g: share}
        if ok:
            _parse(raw)
        else:
            with pytest.raises(SpecError, match=f"provider_mix.{g}"):
                _parse(raw)


def _growth_file(tmp_path, drop=(), **change):
    """The shipped growth file with ``change`` applied and the keys ``drop`` left out."""
    import tomllib

    raw = tomllib.loads(default_growth_path().read_text())
    g = {k: v for k, v in (raw["growth"] | change).items() if k not in drop}
    lines = ["[growth]"]
    for k, v in g.items():
        if isinstance(v, dict):
            v = "{ " + ", ".join(f'"{a}" = {x}' for a, x in v.items()) + " }"
        elif isinstance(v, str):
            v = f'"{v}"'
        lines.append(f"{k} = {v}")
    path = tmp_path / "growth.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("origin, ok", [(1989, False), (1990, True), (2200, True),
                                        (2201, False)])
def test_growth_origin_is_a_plausible_year(tmp_path, origin, ok):
    from cobic.errors import SpecError

    path = _growth_file(tmp_path, origin=origin)
    if ok:
        assert load_growth(path)[0].origin == origin
    else:
        with pytest.raises(SpecError, match="growth.origin"):
            load_growth(path)


@pytest.mark.parametrize("value, ok", [(-1.0, True), (-1.5, False), (1.0, True), (1.5, False)])
def test_growth_deviations_are_within_100_log_points(tmp_path, value, ok):
    from cobic.errors import SpecError

    path = _growth_file(tmp_path, deviation={"England": value})
    if ok:
        assert load_growth(path)[0].deviation["England"] == value
    else:
        with pytest.raises(SpecError, match="growth.deviation.England"):
            load_growth(path)


def test_efficiency_on_fitted_growth_compounds_from_contract_year_1():
    """Fitted growth with 2% efficiency a year: contract year y costs 0.98^y of the same
    growth without it (0.98, 0.9604, 0.941192)."""
    from dataclasses import replace

    from cobic.costs import simulate_costs

    spec = _fitted_spec()
    years = (spec.base_price_year + 1, spec.base_price_year + 2, spec.base_price_year + 3)
    demand = _residential(years, 4)
    plain = simulate_costs(demand, spec, seed=1, uncertain=False).placements
    lean = simulate_costs(demand, replace(spec, efficiency=0.02), seed=1,
                          uncertain=False).placements
    np.testing.assert_allclose(lean[0, :, 0] / plain[0, :, 0], [0.98, 0.9604, 0.941192],
                               rtol=1e-12)


def test_expected_tail_uprated_to_year_0_like_its_threshold():
    """Fixed uplift 6% a year, contract from two years after the price base (lead 1): both
    the high-cost weekly cost (mean 3,000, sd 1,500) and the residential cost it is netted
    against (1,000) are uprated by 1.06 to year 0, so the excess is 1.06 E[(W - k)+] =
    1.06 x 2,002.7 and year y's expected tail 2 x 10 weeks x that x 1.06^y. With fitted growth
    the uprating is on the paths instead: year y's tail is 2 x 10 x 2,002.7 x g_y."""
    from dataclasses import replace

    from cobic.costs import expected_high_cost

    k, m, sd = 1000.0, 3000.0, 1500.0
    v = math.sqrt(math.log(1 + (sd / m) ** 2))
    d1 = (math.log(m / k) + v * v / 2) / v
    excess = m * _phi(d1) - k * _phi(d1 - v)
    spec = replace(_tail_spec(m, sd), indexation={"default": 0.06})
    years = (2027, 2028)  # year 0 = 2026, one year after the 2025 price base
    got = expected_high_cost(_residential(years, 2), spec)
    np.testing.assert_allclose(got[0], [20.0 * excess * 1.06 * 1.06 ** y for y in (1, 2)],
                               rtol=1e-9)
    grown = _fitted_spec()
    tail = replace(grown, weekly={"residential": k}, high_cost_per_year=2.0,
                   high_cost_mean_weekly=m, high_cost_sd_weekly=sd, high_cost_weeks=10.0)
    years = (tail.base_price_year + 2, tail.base_price_year + 3)
    g = growth_paths(tail, years[0] - 1, 2, 1, uncertain=False)[0]
    np.testing.assert_allclose(expected_high_cost(_residential(years, 2), tail)[0],
                               20.0 * excess * g, rtol=1e-9)


def test_expected_tail_with_a_fixed_weekly_cost_at_the_threshold_is_zero():
    """sd 0 and a high-cost weekly cost equal to the residential one: no excess, exactly 0."""
    from cobic.costs import expected_high_cost

    got = expected_high_cost(_residential((2026, 2027), 2), _tail_spec(1000.0, 0.0))
    assert got.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_a_paths_table_of_two_areas_is_refused():
    import polars as pl

    df = pl.DataFrame({"area": ["A", "B"], "path": [0, 0], "period": [2027, 2027],
                       "placement_group": ["all", "all"], "value": [10.0, 12.0]})
    with pytest.raises(ValueError, match="holds 2 areas"):
        DemandPaths.from_table(df, "two.csv")
    one = DemandPaths.from_table(df.filter(pl.col("area") == "A"), "one.csv")
    assert one.n_paths == 1


# ------------------------------------------------------------ second pass of the mutation run

def test_unit_cost_uncertainty_is_a_mean_one_lognormal_with_the_cv_given():
    """Unit-cost uncertainty multiplies each path's weekly costs by M, lognormal with mean 1
    and coefficient of variation 0.2 (s^2 = log 1.04, mu = -s^2 / 2): the placements' mean
    over 40,000 paths is the certain cost, their CV 0.2. A multiplier used as a divisor would
    raise the mean by e^{s^2} - 1 = 4%; a CV of 0 draws nothing."""
    from dataclasses import replace

    spec = replace(_tail_spec(3000.0, 0.0, rate=0.0), unit_cost_cv=0.2)
    d = _residential((2026,), 40_000)
    sure = simulate_costs(d, spec, uncertain=False).placements[:, 0, 0]
    drawn = simulate_costs(d, spec, seed=4).placements[:, 0, 0]
    assert np.all(sure == sure[0])
    se = drawn.std() / math.sqrt(drawn.size)
    assert abs(drawn.mean() - sure[0]) < 4 * se
    assert drawn.std() / drawn.mean() == pytest.approx(0.2, rel=0.03)
    flat = simulate_costs(d, replace(spec, unit_cost_cv=0.0), seed=4).placements[:, 0, 0]
    assert np.all(flat == sure)


def test_child_days_from_a_stock_series_by_hand():
    """A series model's paths have the stock on 31 March only: a year's child-days are the
    mean of the stock at its two ends x 365, the first year using its own stock at both:
    stock 100, 120, 90 gives 36,500, 40,150 and 38,325 child-days."""
    d = DemandPaths.from_stock((2027, 2028, 2029), np.array([[100.0, 120.0, 90.0]]))
    np.testing.assert_allclose(d.child_days[0, :, 0], [36_500.0, 40_150.0, 38_325.0])
    p = Paths(model="naive", areas=("LA",), origin=2026, periods=(2027, 2028, 2029),
              groups=("all",), values=np.array([[[[100.0], [120.0], [90.0]]]]))
    np.testing.assert_allclose(DemandPaths.from_paths(p).child_days[0, :, 0],
                               [36_500.0, 40_150.0, 38_325.0])
    import polars as pl

    table = pl.DataFrame({"path": [0, 0, 0], "period": [2027, 2028, 2029],
                          "placement_group": ["all"] * 3, "value": [100.0, 120.0, 90.0]})
    np.testing.assert_allclose(DemandPaths.from_table(table).child_days[0, :, 0],
                               [36_500.0, 40_150.0, 38_325.0])
    with pytest.raises(ValueError, match="forecast from SSDA903 episodes"):
        DemandPaths.from_table(table).only_groups(("residential",))


def test_a_lot_share_on_small_day_counts():
    """Half a child-day in each of two groups: the residential lot's share is 1/2, so it
    takes half of the 4 entries."""
    d = DemandPaths((2027,), ("fostering", "residential"), np.array([[[0.5, 0.5]]]),
                    np.array([[4.0]]), np.array([[0.0]]), np.array([[0.0]]))
    assert d.only_groups(("residential",)).entries.tolist() == [[2.0]]


def test_fitted_growth_adds_the_areas_own_deviation():
    """An area 2 log points a year above the market: its median growth factor over one year
    is exp(level + 0.02)."""
    from dataclasses import replace

    spec = _fitted_spec()
    gm = replace(spec.growth, deviation={spec.growth_area: 0.02})
    got = growth_paths(replace(spec, growth=gm), spec.base_price_year, 1, 2, uncertain=False)
    assert got[0, 0] == pytest.approx(math.exp(gm.level + 0.02), rel=1e-12)


def test_a_cost_set_without_a_residential_cost_nets_the_tail_against_nothing():
    """No residential weekly cost to net against: a high-cost placement's whole weekly cost
    (a fixed 3,000) is the excess: 2 a year x 3,000 x 10 weeks = 60,000; and a fixed weekly
    cost below the residential one (500 < 1,000) has no excess at all."""
    from dataclasses import replace

    from cobic.costs import expected_high_cost

    spec = replace(_tail_spec(3000.0, 0.0), weekly={"fostering": 800.0})
    z = np.zeros((1, 1))
    d = DemandPaths((2026,), ("fostering",), np.full((1, 1, 1), 100.0), z, z, z)
    assert expected_high_cost(d, spec).tolist() == [[60_000.0]]
    assert expected_high_cost(_residential((2026,), 1), _tail_spec(500.0, 0.0)).tolist() == \
        [[0.0]]


def test_with_growth_keeps_no_efficiency_by_default():
    costs = load_cost_spec(default_unit_costs_path())
    assert costs.efficiency == 0.02  # the cost set's own, which fitted growth replaces
    assert with_growth(costs, *load_growth(default_growth_path())).efficiency == 0.0


@pytest.mark.parametrize("change, key", [
    ({"level_se": -0.1}, "growth.level_se"), ({"noise_sd": -0.1}, "growth.noise_sd"),
    ({"step_sd": -0.1}, "growth.step_sd"), ({"level": 1.5}, "growth.level"),
    ({"level": -0.6}, "growth.level"), ({"theta": 0.96}, "growth.theta")])
def test_growth_parameters_out_of_range_are_refused(tmp_path, change, key):
    from cobic.errors import SpecError

    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        load_growth(_growth_file(tmp_path, **change))


def test_growth_parameters_at_their_edges_are_read(tmp_path):
    for change in ({"level": -0.5}, {"theta": 0.5}, {"theta": 0.95}, {"level_se": 0.0}):
        model, _ = load_growth(_growth_file(tmp_path, **change))
        (k, v), = change.items()
        assert getattr(model, k) == v


def test_a_cost_sets_growth_must_start_in_its_base_year():
    import tomllib

    from cobic.errors import SpecError

    raw = _raw()
    g = tomllib.loads(default_growth_path().read_text())["growth"]
    base = _parse(raw).base_price_year
    raw["growth"] = dict(g, origin=base)
    assert _parse(raw).growth.origin == base
    for origin in (base - 1, base + 1):
        raw["growth"] = dict(g, origin=origin)
        with pytest.raises(SpecError, match="growth.origin"):
            _parse(raw)


def test_overheads_counted_once_when_the_weekly_costs_include_them():
    from cobic.errors import SpecError

    raw = _raw()
    raw["includes"] = ["placements", "overheads"]
    raw["overheads"] = dict(raw.get("overheads", {}), rate=0.0)
    assert _parse(raw).overhead_rate == 0.0
    raw["overheads"]["rate"] = 0.1
    with pytest.raises(SpecError, match="overheads.rate"):
        _parse(raw)


def test_every_group_named_in_indexation_keeps_its_rate():
    """Indexation of a group that sorts after 'source' (supported, 4%) is kept, and the
    source line is not a rate."""
    raw = _raw()
    raw["indexation"] = {"default": 0.03, "supported": 0.04, "residential": 0.06,
                         "source": "by hand"}
    spec = _parse(raw)
    assert spec.uplift("supported") == 0.04 and spec.uplift("residential") == 0.06
    assert "source" not in spec.indexation


def test_every_group_needs_a_cost_from_all_providers():
    from cobic.errors import SpecError

    raw = _raw()
    raw["placement"] = [r for r in raw["placement"]
                        if not (r["placement_group"] == "fostering" and r["provider"] == "all")]
    assert any(r["placement_group"] == "fostering" for r in raw["placement"])
    with pytest.raises(SpecError, match="no provider = 'all' cost for \\['fostering'\\]"):
        _parse(raw)


def test_provider_mix_source_line_does_not_stop_the_mix():
    """A provider mix whose first key is its source line still blends the groups after it:
    fostering at 100% independent costs the independent weekly cost uprated to the base."""
    raw = _raw()
    plain = _parse(raw).weekly["fostering"]
    raw["provider_mix"] = {"source": "by hand", "fostering": 1.0}
    mixed = _parse(raw).weekly["fostering"]
    ind = next(r for r in raw["placement"]
               if r["placement_group"] == "fostering" and r["provider"] == "independent")
    base = _parse(raw).base_price_year
    from cobic.costs import fy_end_year

    rate = raw["indexation"].get("fostering", raw["indexation"]["default"])
    expect = ind["weekly_cost"] * (1 + rate) ** (base - fy_end_year(ind["price_year"]))
    assert mixed == pytest.approx(expect) and mixed != plain


@pytest.mark.parametrize("text, ok", [("2024-25", True), ("1999-00", True), ("202-25", False),
                                      ("20245-26", False), ("2024-5", False), ("2024-26", False),
                                      ("2200-01", False)])
def test_financial_year_names(text, ok):
    from cobic.costs import fy_end_year
    from cobic.errors import SpecError

    if ok:
        assert fy_end_year(text) == int(text[:4]) + 1
    else:
        with pytest.raises(SpecError, match="financial year such as 2024-25"):
            fy_end_year(text)


# ------------------------------------------------------------ third pass

def test_a_paths_table_by_group_with_its_total_and_events():
    """A paths table with child-days by group and their 'all' total, and entries (on 'all'):
    the groups are the groups (the total is not one), and each measure is read as itself."""
    import polars as pl

    rows = []
    for g, v in (("fostering", 300.0), ("residential", 65.0), ("all", 365.0)):
        rows.append({"path": 0, "period": 2027, "placement_group": g, "measure": "child_days",
                     "value": v})
    rows.append({"path": 0, "period": 2027, "placement_group": "all", "measure": "entries",
                 "value": 7.0})
    d = DemandPaths.from_table(pl.DataFrame(rows))
    assert d.groups == ("fostering", "residential")
    assert d.child_days[0, 0].tolist() == [300.0, 65.0]
    assert d.entries.tolist() == [[7.0]] and d.exits.tolist() == [[0.0]]


def test_a_lot_prorates_days_by_duration_too():
    cd = np.array([[[300.0, 100.0]]])
    z = np.zeros((1, 1))
    d = DemandPaths((2027,), ("fostering", "residential"), cd, z, z, z,
                    np.array([[[40.0, 80.0, 280.0]]]))
    lot = d.only_groups(("residential",))
    np.testing.assert_allclose(lot.days_by_duration, [[[10.0, 20.0, 70.0]]])


def test_a_rare_high_cost_placement_is_still_drawn():
    """Half a high-cost placement a year (fixed weekly cost 3,000 against 1,000): the mean
    tail is 0.5 x 2,000 x 10 weeks = 10,000 a year."""
    spec = _tail_spec(3000.0, 0.0, rate=0.5)
    got = simulate_costs(_residential((2026,), 40_000), spec, seed=6).high_cost[:, 0]
    se = got.std() / math.sqrt(got.size)
    assert abs(got.mean() - 10_000.0) < 4 * se


@pytest.mark.parametrize("table, ok", [
    ({"unit_cost_cv": 0.1}, True), ({"high_cost_per_year": 0.0, "high_cost_mean_weekly": 0.0}, True),
    ({"unit_cost_cv": 1.0}, True), ({"unit_cost_cv": 1.5}, False), ({"high_cost_weeks": -1.0}, False),
    ({"high_cost_per_year": 2.0, "high_cost_mean_weekly": 0.0}, False)])
def test_the_uncertainty_table_defaults_and_bounds(table, ok):
    from cobic.errors import SpecError

    raw = _raw()
    raw["uncertainty"] = table
    if ok:
        spec = _parse(raw)
        for k in ("unit_cost_cv", "high_cost_per_year", "high_cost_mean_weekly",
                  "high_cost_sd_weekly", "high_cost_weeks"):
            assert getattr(spec, k) == table.get(k, 0.0)
    else:
        with pytest.raises(SpecError, match="uncertainty"):
            _parse(raw)


def test_indexation_and_efficiency_defaults_and_bounds():
    from cobic.errors import SpecError

    raw = _raw()
    del raw["indexation"]
    spec = _parse(raw)
    assert spec.indexation == {"default": 0.0} and spec.uplift("residential") == 0.0
    raw = _raw()
    raw["indexation"] = {"residential": 0.06}
    assert _parse(raw).uplift("fostering") == 0.0  # no default given: 0
    raw = _raw()
    raw["efficiency"] = {"rate": -0.01}
    with pytest.raises(SpecError, match="efficiency.rate"):
        _parse(raw)


def test_an_unknown_or_missing_placement_key_is_named_first_in_order():
    from cobic.errors import SpecError

    raw = _raw()
    raw["placement"][0] = dict(raw["placement"][0], zeta=1, alpha=2)
    with pytest.raises(SpecError, match=r"placement\[0\]\.alpha"):
        _parse(raw)
    raw = _raw()
    row = {k: v for k, v in raw["placement"][0].items() if k not in ("source", "price_year")}
    raw["placement"][0] = row
    with pytest.raises(SpecError, match=r"placement\[0\]\.price_year"):
        _parse(raw)


def test_a_financial_year_with_a_three_digit_end_is_refused():
    from cobic.costs import fy_end_year
    from cobic.errors import SpecError

    with pytest.raises(SpecError, match="financial year such as 2024-25"):
        fy_end_year("2024-025")


def test_simulated_tail_without_a_residential_cost_is_the_whole_weekly_cost():
    """No residential cost to net against and a fixed weekly cost of 3,000: each high-cost
    placement adds 3,000 x 10 weeks = 30,000, so every path's tail is a multiple of it."""
    from dataclasses import replace

    spec = replace(_tail_spec(3000.0, 0.0), weekly={"fostering": 800.0})
    z = np.zeros((400, 1))
    d = DemandPaths((2026,), ("fostering",), np.full((400, 1, 1), 100.0), z, z, z)
    n = simulate_costs(d, spec, seed=2).high_cost[:, 0] / 30_000.0
    assert np.allclose(n, np.round(n)) and n.mean() == pytest.approx(2.0, abs=0.25)


def test_events_and_days_by_duration_from_paths_of_one_area():
    rng = np.random.default_rng(1)
    shape = (1, 2, 2, 2)
    dur = rng.uniform(0, 100, (1, 2, 2, 3))
    p = Paths(model="stockflow", areas=("LA",), origin=2026, periods=(2027, 2028),
              groups=("fostering", "residential"), values=np.ones(shape),
              extra={"child_days": np.ones(shape), "entries": np.ones(shape),
                     "exits": np.full(shape, 2.0), "moves": np.zeros(shape),
                     "days_by_duration": dur})
    d = DemandPaths.from_paths(p)
    assert d.exits.tolist() == [[4.0, 4.0], [4.0, 4.0]]
    np.testing.assert_array_equal(d.days_by_duration, dur[0])


def test_an_efficiency_table_without_a_rate_means_none():
    raw = _raw()
    raw["efficiency"] = {"source": "none given"}
    assert _parse(raw).efficiency == 0.0


def test_growth_without_theta_has_none(tmp_path):
    path = _growth_file(tmp_path, drop=("theta",))
    assert load_growth(path)[0].theta == 0.0


def test_a_price_year_after_the_base_is_refused_naming_the_key():
    """A cost quoted at 2025-26 prices in a 2024-25 set is a forecast, not a price (uprating
    it 'back' deflated it silently); the base year itself and earlier years are prices."""
    from cobic.errors import SpecError

    raw = _raw()
    assert raw["base_price_year"] == "2024-25"
    for year, ok in (("2024-25", True), ("2019-20", True), ("2025-26", False),
                     ("2031-32", False)):
        edited = _raw()
        edited["placement"][1]["price_year"] = year
        if ok:
            _parse(edited)
        else:
            with pytest.raises(SpecError, match=r"placement\[1\]\.price_year.*after the cost "
                                                 "set's base price year 2024-25"):
                _parse(edited)
    edited = _raw()
    edited["case_management"] = {**edited.get("case_management", {}), "price_year": "2025-26"}
    with pytest.raises(SpecError, match=r"case_management\.price_year"):
        _parse(edited)
