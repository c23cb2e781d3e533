"""Cost sets and demand at their edges, against values worked out by hand (each test kills
mutants of cobic/costs.py that the suite let through)."""

from __future__ import annotations

import dataclasses
import re
import tomllib

import numpy as np
import pytest

from cobic.costs import (
    CostSpec,
    DemandPaths,
    default_growth_path,
    default_unit_costs_path,
    fy_end_year,
    growth_paths,
    load_cost_spec,
    load_growth,
    parse_cost_spec,
    with_growth,
)
from cobic.errors import SpecError, readable_key


def _raw():
    return tomllib.loads(default_unit_costs_path().read_text())


def test_a_cost_set_is_read_only_and_equal_to_itself_read_again():
    a = load_cost_spec(default_unit_costs_path())
    b = load_cost_spec(default_unit_costs_path())
    assert a == b  # the table (a DataFrame) and the growth model are not compared
    fitted = with_growth(a, *load_growth(default_growth_path()))
    assert fitted == with_growth(b, *load_growth(default_growth_path()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.efficiency = 0.5


def test_a_cost_set_built_in_code_has_no_high_cost_tail_unless_given_one():
    spec = CostSpec(name="plain", base_price_year=2025, weekly={"residential": 1000.0},
                    per_child_month=0.0, event_costs={}, overhead_rate=0.0,
                    indexation={"default": 0.0}, efficiency=0.0)
    assert (spec.high_cost_per_year, spec.high_cost_sd_weekly, spec.unit_cost_cv,
            spec.high_cost_weeks) == (0, 0, 0, 0)


def test_financial_years_up_to_2199_00_are_read():
    assert fy_end_year("2199-00") == 2200 and fy_end_year("1900-01") == 1901
    for bad in ("2200-01", "1899-00"):
        with pytest.raises(SpecError, match="financial year such as 2024-25"):
            fy_end_year(bad)


def test_an_overhead_rate_above_100_percent_is_refused():
    raw = _raw()
    raw["overheads"] = {"rate": 1.5}
    with pytest.raises(SpecError, match=r"overheads\.rate"):
        parse_cost_spec(raw, "edited")
    raw["overheads"] = {"rate": 1.0}  # the edge itself is allowed
    assert parse_cost_spec(raw, "edited").overhead_rate == 1.0


def test_a_repeated_placement_row_is_named_with_the_row_it_repeats():
    raw = _raw()
    raw["placement"].append(dict(raw["placement"][0]))
    n = len(raw["placement"]) - 1
    g, p = raw["placement"][0]["placement_group"], raw["placement"][0]["provider"]
    # positions in words count from 1 (the key keeps TOML's own 0-based index)
    with pytest.raises(SpecError, match=rf"placement\[{n}\]' \(entry {n + 1} of placement\)"
                                        rf".*repeats placement_group '{g}' with provider "
                                        rf"'{p}' of entry 1 \(placement\[0\]\)"):
        parse_cost_spec(raw, "edited")


@pytest.mark.parametrize("key, words", [
    ("placement[0].price_year", "entry 1 of placement, its price_year"),
    ("risk_share.loss_bands[2].provider_share",
     "risk_share, entry 3 of loss_bands, its provider_share"),
    ("indicators[10].steps[1].at", "entry 11 of indicators, entry 2 of steps, its at"),
    ("finance.reserve", "finance.reserve"),
])
def test_a_key_path_is_read_out_counting_from_one(key, words):
    assert readable_key(key) == words
    shown = str(SpecError("c.toml", key, "bad"))
    assert shown == (f"c.toml: key '{key}': bad" if words == key
                     else f"c.toml: key '{key}' ({words}): bad")


def test_fitted_growth_is_uncertain_unless_asked_for_its_median():
    spec = with_growth(load_cost_spec(default_unit_costs_path()),
                       *load_growth(default_growth_path()))
    g = growth_paths(spec, spec.base_price_year, 3, 200, seed=1)
    assert g[:, -1].std() > 0.01  # by default: a spread of paths
    m = growth_paths(spec, spec.base_price_year, 3, 200, seed=1, uncertain=False)
    assert m.std(axis=0).max() < 1e-12  # every path on the median


def test_half_a_high_cost_placement_a_year_has_half_the_expected_tail():
    """Expected tail = rate x weeks x (mean - threshold) with a fixed weekly cost: at 0.5 a
    year, 10 weeks, 3,000 against the residential 1,000: 0.5 x 10 x 2,000 = 10,000."""
    from cobic.costs import expected_high_cost

    spec = CostSpec(name="tail", base_price_year=2025, weekly={"residential": 1000.0},
                    per_child_month=0.0,
                    event_costs={"entry": 0.0, "placement_move": 0.0, "exit": 0.0},
                    overhead_rate=0.0, indexation={"default": 0.0}, efficiency=0.0,
                    high_cost_per_year=0.5, high_cost_mean_weekly=3000.0,
                    high_cost_sd_weekly=0.0, high_cost_weeks=10.0)
    z = np.zeros((2, 1))
    demand = DemandPaths((2026,), ("residential",), np.full((2, 1, 1), 36_500.0), z, z, z)
    assert expected_high_cost(demand, spec).ravel().tolist() == pytest.approx([10_000.0] * 2)


def test_a_lot_outside_the_groups_names_them_without_the_stock_only_hint():
    z = np.zeros((1, 1))
    by_group = DemandPaths((2026,), ("adoption", "fostering"), np.ones((1, 1, 2)), z, z, z)
    with pytest.raises(ValueError) as e:
        by_group.only_groups(("residential",))
    assert "must be among the forecast's ['adoption', 'fostering']" in str(e.value)
    assert "stock alone" not in str(e.value)
    stock_only = DemandPaths((2026,), ("all",), np.ones((1, 1, 1)), z, z, z)
    with pytest.raises(ValueError, match="a forecast of the stock alone has no groups"):
        stock_only.only_groups(("residential",))


@pytest.mark.parametrize("table, key, value", [
    ("case_management", "per_child_month", 4.4e8), ("case_management", "entry", 1e9),
    ("uncertainty", "high_cost_per_year", 1e9), ("uncertainty", "high_cost_mean_weekly", 1e12),
    ("uncertainty", "high_cost_weeks", 100.0), ("uncertainty", "high_cost_sd_weekly", 1e7)])
def test_absurd_costs_are_refused_naming_the_key(table, key, value):
    """Limits stated in cobic/costs.py: a child-month of case management at most a month of
    the dearest placement (100,000 x 52 / 12), an event at most a year of one, at most 1,000
    high-cost placements a year, each at most 52 weeks, at most 100,000 a week."""
    raw = _raw()
    raw[table] = {**raw.get(table, {}), key: value}
    if table == "uncertainty":
        raw[table].setdefault("high_cost_mean_weekly", 12_000.0)
    with pytest.raises(SpecError, match=rf"{table}\.{key}': must be between"):
        parse_cost_spec(raw, "edited")


def test_cost_limits_at_their_edges_are_read():
    raw = _raw()
    raw["case_management"] = {**raw["case_management"], "per_child_month": 100_000 * 52 / 12}
    raw["uncertainty"] = {**raw["uncertainty"], "high_cost_weeks": 52.0,
                          "high_cost_per_year": 1000.0}
    spec = parse_cost_spec(raw, "edited")
    assert spec.high_cost_weeks == 52.0 and spec.high_cost_per_year == 1000.0
    raw["startup"] = {"by_year": [1e9 + 1]}
    with pytest.raises(SpecError, match=r"startup\.by_year\[0\]"):
        parse_cost_spec(raw, "edited")


def test_a_provider_typo_is_named_with_its_row():
    raw = _raw()
    raw["placement"][2] = {**raw["placement"][2], "provider": "independant"}
    with pytest.raises(SpecError, match=r"placement\[2\]\.provider' \(entry 3 of placement, its "
                                        r"provider\): 'independant' is not one "
                                        r"of \('in_house', 'independent', 'all'\)"):
        parse_cost_spec(raw, "edited")


def test_a_cost_set_priced_after_the_contracts_year_0_is_refused():
    """Costs at 2028-29 prices for a contract whose year 0 is 2025-26: deflating them back
    at the fixed uplifts is not a price (as with fitted growth)."""
    from cobic.costs import simulate_costs

    raw = _raw()
    raw["base_price_year"] = "2028-29"
    for p in raw["placement"]:
        p["price_year"] = "2028-29"
    raw["case_management"]["price_year"] = "2028-29"
    spec = parse_cost_spec(raw, "edited")
    z = np.zeros((2, 1))
    demand = DemandPaths((2027,), ("fostering",), np.ones((2, 1, 1)), z, z, z)
    with pytest.raises(ValueError, match=r"2028-29 prices, after the contract's year 0 "
                                         r"\(2025-26\)"):
        simulate_costs(demand, spec)


def test_a_toml_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    from cobic.specs import read_toml

    p = tmp_path / "costs.toml"
    p.write_bytes("\ufeff".encode() + default_unit_costs_path().read_bytes())
    assert read_toml(p) == tomllib.loads(default_unit_costs_path().read_text())
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(SpecError, match="nested too deeply"):
        read_toml(deep)


def _plain_spec(**over) -> CostSpec:
    return CostSpec(**{"name": "plain", "base_price_year": 2025, "weekly": {"fostering": 700.0},
                       "per_child_month": 100.0,
                       "event_costs": {"entry": 50.0, "placement_move": 30.0, "exit": 20.0},
                       "overhead_rate": 0.0, "indexation": {"default": 0.0}, "efficiency": 0.0}
                    | over)


def test_case_management_and_the_total_by_hand():
    """One year (2026, year 0 = the base year 2025: no uplift), 2 paths of 730.5 child-days
    (24 months of 30.4375 days), 2 entries, 3 moves, 1 exit: case management 24 x 100 +
    2 x 50 + 3 x 30 + 1 x 20 = 2,610; placements 730.5 x 700 / 7 = 73,050."""
    from cobic.costs import simulate_costs

    e = np.full((2, 1), 2.0)
    demand = DemandPaths((2026,), ("fostering",), np.full((2, 1, 1), 730.5), e,
                         np.full((2, 1), 1.0), np.full((2, 1), 3.0))
    c = simulate_costs(demand, _plain_spec(), uncertain=False)
    assert c.case_management.ravel().tolist() == pytest.approx([2610.0, 2610.0])
    assert c.total.ravel().tolist() == pytest.approx([73_050.0 + 2610.0] * 2)
    for obj, name in ((c, "years"), (demand, "groups")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, ())


def test_a_share_with_independent_providers_for_a_group_named_after_source():
    """'supported' sorts after 'source' (the mix's note): its mix is applied all the same:
    half its days at the 'all' cost, half at 2,000 a week (priced in the base year)."""
    raw = _raw()
    plain = parse_cost_spec(raw, "edited").weekly["supported"]
    raw["placement"].append({"placement_group": "supported", "provider": "independent",
                             "weekly_cost": 2000.0, "price_year": "2024-25", "source": "hand"})
    raw["provider_mix"] = {"source": "by hand", "supported": 0.5}
    assert parse_cost_spec(raw, "edited").weekly["supported"] == pytest.approx(
        0.5 * plain + 0.5 * 2000.0)


def test_small_edges_of_years_and_rates():
    from cobic.costs import cost_per_year

    assert cost_per_year(100.0, 0.5) == 200.0
    with pytest.raises(ValueError, match="years must be positive"):
        cost_per_year(100.0, 0)
    with pytest.raises(SpecError, match="financial year such as 2024-25"):
        fy_end_year("1999-0")  # 2000 ends in 0, but a one-digit end is not a year name
    raw = _raw()
    raw["indexation"] = {"default": -0.1}  # prices may fall: down to -50% a year
    assert parse_cost_spec(raw, "edited").uplift("fostering") == -0.1
    z = np.zeros((1, 2))
    d = DemandPaths((2026, 2027), ("fostering",), np.ones((1, 2, 1)), z, z, z)
    with pytest.raises(ValueError, match=r"it covers 2026-2027"):
        d.window(2026, 3)


def test_the_total_holds_the_high_cost_tail():
    """The total of a path is the sum of its parts, the high-cost tail included (drawn here:
    2 placements a year of 3,000 a week against residential 1,000, for 10 weeks)."""
    from cobic.costs import simulate_costs

    spec = _plain_spec(weekly={"residential": 1000.0}, high_cost_per_year=2.0,
                       high_cost_mean_weekly=3000.0, high_cost_sd_weekly=0.0,
                       high_cost_weeks=10.0)
    z = np.zeros((500, 1))
    demand = DemandPaths((2026,), ("residential",), np.full((500, 1, 1), 3650.0), z, z, z)
    c = simulate_costs(demand, spec, seed=3)
    assert c.high_cost.sum() > 0
    parts = (c.placements.sum(axis=2) + c.case_management + c.overheads
             + c.startup[None, :] + c.high_cost)
    assert c.total == pytest.approx(parts)
    assert c.high_cost.mean() == pytest.approx(2 * 10 * 2000.0, rel=0.15)


def test_weekly_costs_of_the_placement_mix_groups():
    """Every group of the published placement mix at its own weekly cost; the suppressed
    cells at the all-children cost."""
    from cobic.costs import mix_weekly_costs
    from cobic.demand.mix import MIX_GROUPS, SUPPRESSED

    spec = load_cost_spec(default_unit_costs_path())
    w = mix_weekly_costs(spec)
    assert set(w) == set(MIX_GROUPS) | {SUPPRESSED}
    for g in MIX_GROUPS:
        assert w[g] == (spec.weekly["all"] if g == SUPPRESSED else spec.weekly[g]), g
    assert w["residential"] > 5 * w["fostering"]  # a home's week costs several foster weeks


def test_an_empty_paths_table_is_refused_as_empty():
    import polars as pl

    df = pl.DataFrame(schema={"area": pl.String, "path": pl.Int64, "period": pl.Int64,
                              "placement_group": pl.String, "value": pl.Float64})
    with pytest.raises(ValueError, match="no stock or child_days rows"):
        DemandPaths.from_table(df)


@pytest.mark.parametrize("area, hint", [("Atlantis", ""), ("Leads", " (did you mean 'Leeds'?)")])
def test_a_growth_area_the_growth_was_not_fitted_to_is_refused(tmp_path, area, hint):
    src = default_growth_path().read_text(encoding="utf-8")
    assert 'area = "England"' in src and '"Leeds"' in src
    f = tmp_path / "growth.toml"
    f.write_text(src.replace('area = "England"', f'area = "{area}"'), encoding="utf-8")
    with pytest.raises(SpecError, match=rf"growth.area': '{area}' is not one of the areas this "
                                        rf"growth was fitted to{re.escape(hint)}: Birmingham, "):
        load_growth(f)
    # an area it was fitted to is read, with that area's own deviation
    f.write_text(src.replace('area = "England"', 'area = "Leeds"'), encoding="utf-8")
    assert load_growth(f)[1] == "Leeds"


# ---- edges the mutation run of 3 December 2026 showed untested --------------------------

def test_a_price_year_with_a_five_digit_start_is_refused():
    assert fy_end_year("2024-25") == 2025
    with pytest.raises(SpecError, match="financial year such as 2024-25"):
        fy_end_year("12024-25")


@pytest.mark.parametrize("includes, key", [("placements", "includes"),
                                           (["placements", "bogus"], "includes[1]")])
def test_includes_must_be_a_list_of_known_lines(includes, key):
    raw = _raw()
    raw["includes"] = includes
    with pytest.raises(SpecError, match=rf"key '{re.escape(key)}'.*must be"):
        parse_cost_spec(raw, "edited")


@pytest.mark.parametrize("table, key, value", [
    ("case_management", "per_child_month", -0.5), ("case_management", "entry", -0.5),
    ("startup", "by_year", [-0.5]), ("overheads", "rate", -0.5)])
def test_negative_process_costs_are_refused(table, key, value):
    raw = _raw()
    raw[table] = {**raw.get(table, {}), key: value}
    with pytest.raises(SpecError, match=rf"{table}\.{key}"):
        parse_cost_spec(raw, "edited")


def test_small_start_up_costs_and_missing_rates_default_to_what_the_file_says():
    raw = _raw()
    raw["startup"] = {"by_year": [0.5, 0.0]}  # 50p then nothing: small, but allowed
    raw["overheads"] = {"source": "none given"}  # no rate: no overheads
    raw["case_management"] = {"per_child_month": 100.0, "price_year": raw["base_price_year"]}
    spec = parse_cost_spec(raw, "edited")
    assert spec.startup == (0.5, 0.0)
    assert spec.overhead_rate == 0.0
    assert spec.per_child_month == 100.0
    assert spec.event_costs == {"entry": 0.0, "placement_move": 0.0, "exit": 0.0}


def test_a_high_cost_tail_with_a_small_positive_mean_is_allowed():
    raw = _raw()
    raw["uncertainty"] = {**raw["uncertainty"], "high_cost_per_year": 1.0,
                          "high_cost_mean_weekly": 0.5}
    assert parse_cost_spec(raw, "edited").high_cost_mean_weekly == 0.5


# uplifts beyond 50% a year; a child-month dearer than the dearest weekly placement
# (GBP 100,000) for a whole month (433,333); an event dearer than a year of it (5.2m);
# start-up costs over GBP 1bn a year; a high-cost placement of more than a year; an
# efficiency of more than half the cost
_EDGES = {("indexation", "default"): 0.5,
          ("case_management", "per_child_month"): 100_000 * 52 / 12,
          ("case_management", "exit"): 5.2e6, ("efficiency", "rate"): 0.5,
          ("uncertainty", "high_cost_weeks"): 52.0}


@pytest.mark.parametrize("table, key, value", [("indexation", "default", 0.6),
                                               ("case_management", "per_child_month", 1e6),
                                               ("case_management", "exit", 6e6),
                                               ("efficiency", "rate", 0.6),
                                               ("uncertainty", "high_cost_weeks", 60.0)])
def test_values_past_their_limits_are_refused(table, key, value):
    raw = _raw()
    raw[table] = {**raw.get(table, {}), key: value}
    with pytest.raises(SpecError, match=rf"{table}\.{key}"):
        parse_cost_spec(raw, "edited")
    raw[table][key] = _EDGES[table, key]
    parse_cost_spec(raw, "edited")  # the edges themselves are allowed
    raw[table][key] *= 1.000001  # and just past them is not
    with pytest.raises(SpecError, match=rf"{table}\.{key}"):
        parse_cost_spec(raw, "edited")


def test_weekly_and_start_up_costs_at_and_past_their_limits():
    raw = _raw()
    raw["placement"][0] = {**raw["placement"][0], "weekly_cost": 100_000.0}
    raw["startup"] = {"by_year": [1e9]}
    parse_cost_spec(raw, "edited")  # the edges: GBP 100,000 a week, GBP 1bn a year
    for where, past in ((("placement", 0, "weekly_cost"), 100_000.01),
                        (("startup", "by_year", 0), 1e9 * 1.000001)):
        bad = _raw()
        bad["startup"] = {"by_year": [1e9]}
        a, b, c = where
        bad[a][b] = {**bad[a][b], c: past} if a == "placement" else [past]
        with pytest.raises(SpecError, match=rf"{a}"):
            parse_cost_spec(bad, "edited")


def test_a_high_cost_tail_needs_a_mean_whatever_its_rate():
    raw = _raw()
    raw["uncertainty"] = {**raw["uncertainty"], "high_cost_per_year": 0.5,
                          "high_cost_mean_weekly": 0.0}
    with pytest.raises(SpecError, match="high_cost_mean_weekly"):
        parse_cost_spec(raw, "edited")


def test_a_window_past_the_forecast_names_its_last_year():
    d = DemandPaths.from_stock((2026, 2027, 2028), np.full((2, 3), 100.0))
    with pytest.raises(ValueError, match=r"it covers 2026-2028\): the contract's financial "
                                         r"years 2028-29 are beyond it"):
        d.window(2027, 3)


def test_a_paths_table_with_an_unknown_measure_is_refused():
    import polars as pl

    df = pl.DataFrame({"path": [0, 0], "period": [2026, 2026],
                       "placement_group": ["all", "all"], "value": [10.0, 5.0],
                       "measure": ["stock", "admissions"]})
    with pytest.raises(ValueError, match=r"t\.csv: unknown measure\(s\) \['admissions'\]"):
        DemandPaths.from_table(df, "t.csv")


def test_mix_weekly_costs_default_to_the_shipped_cost_set():
    from cobic.costs import mix_weekly_costs

    shipped = load_cost_spec(default_unit_costs_path())
    assert mix_weekly_costs() == mix_weekly_costs(shipped)
    assert mix_weekly_costs()["residential"] == shipped.weekly["residential"]


def test_a_growth_fitted_to_no_areas_grows_at_its_level():
    # a hand-written growth with no area deviations: its median path is exp(level x k)
    spec = load_cost_spec(default_unit_costs_path())
    growth, _ = load_growth(default_growth_path())
    bare = dataclasses.replace(growth, deviation={}, deviation_se={}, last_innovation={})
    fitted = with_growth(spec, bare, "Anywhere")
    g = growth_paths(fitted, spec.base_price_year, 3, 5, uncertain=False)
    np.testing.assert_allclose(g[0], np.exp(growth.level * np.arange(1, 4)), rtol=1e-12)


def test_areas_priced_with_one_market_seed_share_the_market():
    # a lot's members buy in one market: with one market seed their cost growth moves
    # together path by path; with their own seeds it does not
    spec = load_cost_spec(default_unit_costs_path())
    growth, _ = load_growth(default_growth_path())
    leeds, kent = (with_growth(spec, growth, a) for a in ("Leeds", "Kent"))
    y0 = spec.base_price_year

    def corr(m1, m2):
        a = np.log(growth_paths(leeds, y0, 5, 2000, seed=1, market_seed=m1)[:, -1])
        b = np.log(growth_paths(kent, y0, 5, 2000, seed=2, market_seed=m2)[:, -1])
        return float(np.corrcoef(a, b)[0, 1])

    assert corr(7, 7) > 0.5
    assert abs(corr(7, 8)) < 0.1


def test_a_growth_moving_average_coefficient_past_its_limit_is_refused():
    src = default_growth_path().read_text(encoding="utf-8")
    theta = re.search(r"^theta = (\S+)", src, re.M).group(1)
    for bad in (-1.0, 0.96):
        raw = tomllib.loads(src.replace(f"theta = {theta}", f"theta = {bad}"))
        with pytest.raises(SpecError, match=r"growth\.theta"):
            parse_cost_spec({**_raw(), "growth": raw["growth"]}, "edited")


def test_a_cost_set_in_another_currency_is_refused():
    raw = _raw()
    parse_cost_spec({**raw, "currency": "GBP"}, "edited")
    with pytest.raises(SpecError, match=r"key 'currency': must be 'GBP'.*got 'EUR'"):
        parse_cost_spec({**raw, "currency": "EUR"}, "edited")


def test_weekly_costs_far_from_englands_are_warned_as_unit_slips():
    from cobic.costs import cost_warnings

    shipped = load_cost_spec(default_unit_costs_path())
    assert cost_warnings(shipped) == []
    w = dict(shipped.weekly)
    # a year's cost for a week (x52); thousands (/1000); nothing; 4.9x and 0.21x: no warning
    # 5x and 0.2x exactly: no warning; 6x "other", after groups England pays nothing for
    w |= {"fostering": w["fostering"] * 52, "secure": w["secure"] / 1000, "residential": 0.0,
          "supported": w["supported"] * 5.0, "residential_school": w["residential_school"] * 0.2,
          "other": w["other"] * 6}
    said = cost_warnings(dataclasses.replace(shipped, weekly=w))
    assert [x.split(" is ")[0].split(" of ")[-1] for x in said] == [
        "fostering", "residential", "secure", "other"]
    assert "52 times England's average (£765)" in said[0]
    assert "nothing is paid" in said[1] and "0.001 times" in said[2] and "6 times" in said[3]


def test_the_defaults_said_follow_the_tables_left_out():
    raw = _raw()
    growth = tomllib.loads(default_growth_path().read_text())["growth"]
    bare = {k: v for k, v in raw.items() if k not in ("indexation", "overheads")}
    heads = [a.split(":")[0] for a in parse_cost_spec(bare, "edited").assumed]
    assert heads == ["no indexation table", "no overheads table"]
    # with a fitted growth the uplifts are not used: no indexation line, the others kept
    heads = [a.split(":")[0] for a in parse_cost_spec({**bare, "growth": growth}, "e").assumed]
    assert heads == ["no overheads table"]
    fitted = with_growth(parse_cost_spec(bare, "edited"), *load_growth(default_growth_path()))
    assert [a.split(":")[0] for a in fitted.assumed] == ["no overheads table"]


@pytest.mark.parametrize("where, value", [(("placement", "weekly_cost"), -0.5),
                                          (("indexation", "default"), -0.6)])
def test_negative_weekly_costs_and_falls_past_half_are_refused(where, value):
    raw = _raw()
    table_, key = where
    if table_ == "placement":
        raw["placement"][0] = {**raw["placement"][0], key: value}
    else:
        raw[table_] = {**raw[table_], key: value}
    with pytest.raises(SpecError, match=re.escape(key)):
        parse_cost_spec(raw, "edited")


def test_a_high_cost_tail_of_up_to_1000_placements_a_year():
    raw = _raw()
    raw["uncertainty"] = {**raw["uncertainty"], "high_cost_per_year": 1000.0,
                          "high_cost_mean_weekly": 9000.0}
    parse_cost_spec(raw, "edited")
    raw["uncertainty"]["high_cost_per_year"] = 1000.5
    with pytest.raises(SpecError, match="high_cost_per_year"):
        parse_cost_spec(raw, "edited")


def test_financial_years_from_2200_on_are_refused():
    for bad in ("2201-02", "2250-51"):
        with pytest.raises(SpecError, match="financial year such as 2024-25"):
            fy_end_year(bad)
