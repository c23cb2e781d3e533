"""Costs calibrated to each LA's own s251 outturn, the pooled cost-growth model and the
real-spend backtest, checked against hand calculations from the raw CSV rows."""

from __future__ import annotations

import csv
import dataclasses
import math
import tomllib

import numpy as np
import polars as pl
import pytest

from cobic.calibration import (
    DAYS_PER_YEAR,
    calibrate,
    cost_set_toml,
    fit_cost_growth,
    spend_history,
)
from cobic.codes import default_codes
from cobic.costs import (
    DemandPaths,
    growth_paths,
    load_cost_spec,
    parse_cost_spec,
    simulate_costs,
)
from cobic.data.dfe import read_finance, read_panel
from cobic.demand.backtest import EvaluationScheme
from cobic.errors import DataError, SpecError
from cobic.spend import backtest_spend


@pytest.fixture(scope="module")
def files(shared_data):
    d = shared_data / "dfe"
    return d / "la_cla_panel_2015_2025.csv", d / "finance_s251_lait_england_and_selected_las.csv"


@pytest.fixture(scope="module")
def history(files):
    panel, s251 = files
    return spend_history(read_finance(s251), read_panel(panel))


def _raw(path, area: str, measure: str, fy: str) -> float:
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["area"] == area and r["measure"] == measure and r["year"].startswith(fy):
                return float(r["Values"])
    raise KeyError((area, measure, fy))


def _raw_cla(path, area: str, year: int) -> float:
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["area"] == area and r["year"] == str(year):
                return float(r["cla_31mar"])
    raise KeyError((area, year))


def test_birmingham_by_hand_from_the_raw_rows(files, history):
    panel, s251 = files
    spend = _raw(s251, "Birmingham", "TotalLACFinance", "2024-25")
    children = _raw_cla(panel, "Birmingham", 2025)
    cal = calibrate(history, "Birmingham", 2025)
    assert cal.spend == spend == 184480853.0
    assert cal.spend_per_day == pytest.approx(spend / (children * 365.25), rel=1e-12)
    # DfE's own approximate unit cost (spend / children x 7 / 365, rounded to GBP 5) agrees
    published = _raw(s251, "Birmingham", "LACFinance", "2024-25")
    assert abs(cal.weekly_all_in - published) <= 5


def _cost_through_the_cost_model(cal, days: float) -> float:
    """The cost of ``days`` child-days in the calibration year through the package's own cost
    model (written cost set, loaded back, no growth: year 1 = the calibration year)."""
    spec = parse_cost_spec(tomllib.loads(cost_set_toml(cal, None, default_codes().group_names)))
    demand = DemandPaths((cal.year,), ("fostering",), np.array([[[days]]]), np.zeros((1, 1)),
                         np.zeros((1, 1)), np.zeros((1, 1)), None, None)
    spec = dataclasses.replace(spec, base_price_year=cal.year - 1)  # year 0 = the year before
    return float(simulate_costs(demand, spec, uncertain=False).total[0, 0])


def test_calibration_reproduces_every_areas_s251_spend_within_1pct(files, history):
    panel, s251 = files
    areas = sorted(history["area"].unique().to_list())
    assert len(areas) == 16
    for area in areas:
        cal = calibrate(history, area)
        days = _raw_cla(panel, area, cal.year) * 365.25
        cost = _cost_through_the_cost_model(cal, days)
        spend = _raw(s251, area, "TotalLACFinance", f"{cal.year - 1}-{cal.year % 100:02d}")
        assert abs(cost / spend - 1) < 0.01, area


def test_an_all_in_cost_set_refuses_to_add_case_management_or_overheads(history, tmp_path):
    text = cost_set_toml(calibrate(history, "Leeds", 2025), None, default_codes().group_names)
    p = tmp_path / "c.toml"
    p.write_text(text.replace("[efficiency]", "[case_management]\nper_child_month = 100.0\n\n"
                              "[efficiency]"))
    with pytest.raises(SpecError, match="case_management"):
        load_cost_spec(p)
    p.write_text(text.replace("[efficiency]", "[overheads]\nrate = 0.12\n\n[efficiency]"))
    with pytest.raises(SpecError, match="overheads"):
        load_cost_spec(p)
    p.write_text(text.replace('includes = ["placements", "case_management", "overheads"]',
                              'includes = ["placements"]')
                 .replace("[efficiency]", "[overheads]\nrate = 0.12\n\n[efficiency]"))
    assert load_cost_spec(p).overhead_rate == 0.12  # placements-only figures may take them


def test_year_effects_are_the_yearly_means_of_growth_on_a_balanced_panel():
    """Second method: with sum-to-zero area deviations and every area in every year, OLS year
    effects are the plain means over areas of each year's growth."""
    rng = np.random.default_rng(3)
    rows = []
    for a in range(6):
        c = 100.0
        for y in range(2015, 2023):
            if y > 2015:
                c *= math.exp(0.05 + 0.01 * a + rng.normal(0, 0.03))
            rows.append({"area": f"A{a}", "year": y, "spend_per_day": c})
    hist = pl.DataFrame(rows)
    g = fit_cost_growth(hist, 2022)
    logs = hist.sort("area", "year").with_columns(
        gr=pl.col("spend_per_day").log().diff().over("area")).drop_nulls("gr")
    means = logs.group_by("year").agg(pl.col("gr").mean()).sort("year")["gr"].to_numpy()
    assert np.allclose(g.year_effects["estimate"].to_numpy(), means, atol=1e-10)
    assert g.level == pytest.approx(means[-2:].mean(), abs=1e-10)


def test_growth_refuses_fewer_than_three_years(history):
    with pytest.raises(ValueError, match="at least 3"):
        fit_cost_growth(history, 2017)  # 2015-16 and 2016-17 only
    fit_cost_growth(history, 2018)


def test_median_growth_path_is_the_level_compounded(history, tmp_path):
    cal = calibrate(history, "Kent", 2020)
    gm = fit_cost_growth(history, 2020)
    p = tmp_path / "k.toml"
    p.write_text(cost_set_toml(cal, gm, default_codes().group_names))
    spec = load_cost_spec(p)
    assert spec.includes == ("placements", "case_management", "overheads")
    g = growth_paths(spec, 2020, 3, 5, uncertain=False)
    step = gm.level + gm.deviation["Kent"]
    assert np.allclose(g[0], np.exp(step * np.array([1, 2, 3])), rtol=1e-5)
    # uncertain paths: the log growth's mean is close to the level compounded
    sim = growth_paths(spec, 2020, 3, 20_000, seed=1)
    assert np.log(sim[:, 0]).mean() == pytest.approx(step + gm.theta *
                                                     gm.last_innovation["Kent"], abs=0.004)


def test_unknown_area_names_it_and_lists_those_with_spend(history):
    with pytest.raises(DataError) as e:
        calibrate(history, "Camden")
    msg = str(e.value)
    assert "Camden" in msg and "Birmingham" in msg and "Surrey" in msg


def test_suppressed_spend_is_reported_not_interpolated(history):
    h = history.with_columns(
        spend=pl.when((pl.col("area") == "Leeds") & (pl.col("year") == 2022)).then(None)
        .otherwise(pl.col("spend")),
        suppressed=pl.when((pl.col("area") == "Leeds") & (pl.col("year") == 2022))
        .then(pl.lit("c")).otherwise(pl.col("suppressed")))
    h = h.with_columns(spend_per_day=pl.when(pl.col("spend").is_not_null())
                       .then(pl.col("spend_per_day")))
    with pytest.raises(DataError, match=r"Leeds 2021-22: spend c"):
        calibrate(h, "Leeds", 2022)
    # the growth model skips the gap: no growth observation spans a missing year
    g = fit_cost_growth(h, 2024)
    assert g.n_obs == fit_cost_growth(history, 2024).n_obs - 2


def test_spend_forecast_at_an_origin_never_sees_later_outturns(files):
    panel_path, s251 = files
    panel, fin = read_panel(panel_path), read_finance(s251)
    scheme = EvaluationScheme((2019,), (1, 2))
    base = backtest_spend(panel, fin, scheme, ["Leeds", "Kent"], models=("cobic",),
                          n_paths=200, seed=4)
    later_fin = fin.with_columns(value=pl.when(pl.col("year") > 2019).then(pl.col("value") * 1.5)
                                 .otherwise(pl.col("value")))
    t = panel.table.with_columns(cla_31mar=pl.when(pl.col("year") > 2019)
                                 .then((pl.col("cla_31mar") * 1.2).round(0).cast(pl.Int64))
                                 .otherwise(pl.col("cla_31mar")))
    later_panel = dataclasses.replace(panel, table=t)
    moved = backtest_spend(later_panel, later_fin, scheme, ["Leeds", "Kent"], models=("cobic",),
                           n_paths=200, seed=4)
    q = ["q05", "q10", "q50", "q90", "q95"]
    assert moved.cases.select(q).equals(base.cases.select(q))  # the forecasts are unchanged
    assert not moved.cases["actual"].equals(base.cases["actual"])  # the outturns did change


def test_spend_backtest_cases_and_metrics(files):
    panel_path, s251 = files
    res = backtest_spend(read_panel(panel_path), read_finance(s251),
                         EvaluationScheme((2019, 2020), (1, 5)), n_paths=300, seed=0)
    c = res.cases
    assert set(c["model"].unique()) == {"cobic", "default", "cpi2", "trend3", "demand_only",
                                        "cost_only"}
    assert (c["q05"] <= c["q10"]).all() and (c["q10"] <= c["q50"]).all()
    assert (c["q50"] <= c["q90"]).all() and (c["q90"] <= c["q95"]).all()
    # cpi2 by hand: Leeds' outturn at the origin grown 2% a year
    leeds = c.filter((pl.col("model") == "cpi2") & (pl.col("area") == "Leeds")
                     & (pl.col("origin") == 2019) & (pl.col("horizon") == 5))
    assert leeds["q50"][0] == pytest.approx(
        _raw(s251, "Leeds", "TotalLACFinance", "2018-19") * 1.02 ** 5)
    assert leeds["actual"][0] == _raw(s251, "Leeds", "TotalLACFinance", "2023-24")
    m = res.metrics().filter(pl.col("model") == "cobic")
    assert m["n"].to_list() == [32, 32]
    # DAYS_PER_YEAR is the convention DfE's unit costs follow
    assert DAYS_PER_YEAR == 365.25


def test_price_an_area_from_published_tables_in_one_command(files, tmp_path, history):
    from typer.testing import CliRunner

    from cobic.cli import app
    from cobic.paths import models_dir

    panel, s251 = files
    out = tmp_path / "leeds"
    res = CliRunner().invoke(app, ["price", "--area", "Leeds", "--panel", str(panel), "--s251",
                                   str(s251), "--contract",
                                   str(models_dir() / "contracts" / "cobic_5yr.toml"),
                                   "--paths", "300", "--out", str(out)])
    assert res.exit_code == 0, res.output
    sched = pl.read_csv(out / "schedule.csv")
    assert sched["financial_year"].to_list()[0] == "2026-27"
    # by hand: 2024-25 outturn grown two years at the fitted level, times the change in
    # children (the panel forecast stays within a few % of the last count)
    spend = _raw(s251, "Leeds", "TotalLACFinance", "2024-25")
    gm = fit_cost_growth(history, 2025)
    rough = spend * math.exp(2 * (gm.level + gm.deviation["Leeds"]))
    assert 0.85 < sched["expected_cost"][0] / rough < 1.2
    res = CliRunner().invoke(app, ["price", "--area", "Camden", "--panel", str(panel),
                                   "--s251", str(s251), "--contract",
                                   str(models_dir() / "contracts" / "cobic_5yr.toml"),
                                   "--out", str(tmp_path / "camden")])
    assert res.exit_code == 2 and "Camden" in res.output and "Leeds" in res.output
    assert not (tmp_path / "camden").exists()


def _zero_noise_growth(rate: float, origin: int):
    from cobic.calibration import CostGrowth

    return CostGrowth(origin=origin, level=math.log(1 + rate), level_se=0.0, step_sd=0.0,
                      noise_sd=0.0, deviation={}, deviation_se={},
                      year_effects=pl.DataFrame(), theta=0.0)


def test_fitted_growth_without_noise_prices_as_a_fixed_uplift_at_that_rate():
    """Second method: a growth model with no uncertainty at 7% a year must cost every line
    exactly as the fixed-uplift route with every group (and case management) uprated at 7%
    and no efficiency, from the base price year through year 0 into the contract years."""
    from cobic.costs import default_unit_costs_path, with_growth

    base = load_cost_spec(default_unit_costs_path())
    fixed = dataclasses.replace(
        base, efficiency=0.0, indexation={g: 0.07 for g in base.indexation},
        case_management_index=0.07, unit_cost_cv=0.0, high_cost_per_year=0.0)
    grown = with_growth(dataclasses.replace(fixed, indexation={"default": 0.0}),
                        _zero_noise_growth(0.07, base.base_price_year), "X")
    rng = np.random.default_rng(3)
    groups = ("fostering", "residential", "other")
    years = (2028, 2029, 2030)  # year 0 is 2027: three years after the 2025 base
    days = rng.uniform(1e3, 5e4, (4, 3, 3))
    ev = rng.uniform(0, 50, (4, 3))
    demand = DemandPaths(years=years, groups=groups, child_days=days, entries=ev,
                         exits=ev * 0.9, moves=ev * 0.4, population=None)
    a = simulate_costs(demand, fixed, seed=1, uncertain=True)
    b = simulate_costs(demand, grown, seed=1, uncertain=True)
    assert np.allclose(a.placements, b.placements, rtol=1e-12)
    assert np.allclose(a.case_management, b.case_management, rtol=1e-12)
    assert np.allclose(a.total, b.total, rtol=1e-12)
    # and by hand for one cell: fostering, path 0, first year = 2025 price x 1.07^3
    assert b.placements[0, 0, 0] == pytest.approx(days[0, 0, 0] * 765.0 / 7 * 1.07 ** 3)


def test_the_shipped_growth_model_is_the_fit_of_the_shared_s251_history(history):
    """models/costs/growth_england_2024_25.toml is not typed in: refitting the pooled model on
    the shared s251 table to 2024-25 gives its figures (to the 6 significant figures written)."""
    from cobic.costs import default_growth_path, load_growth

    shipped, area = load_growth(default_growth_path())
    refit = fit_cost_growth(history, 2025)
    assert area == "England" and shipped.origin == 2025
    for k in ("level", "level_se", "step_sd", "noise_sd", "theta"):
        assert getattr(shipped, k) == pytest.approx(getattr(refit, k), rel=1e-5, abs=1e-9), k
    assert shipped.last_innovation["England"] == pytest.approx(
        refit.last_innovation["England"], rel=1e-5, abs=1e-9)
    # the level is the mean of the last two years' market-wide growth, by hand from the fit
    last2 = refit.year_effects.filter(pl.col("year") >= 2024)["estimate"].to_numpy()
    assert shipped.level == pytest.approx(last2.mean(), rel=1e-5)


def test_growth_files_and_mismatched_years_are_refused(tmp_path):
    from cobic.costs import default_unit_costs_path, load_growth, with_growth

    with pytest.raises(SpecError, match="growth.*no fitted cost growth"):
        load_growth(default_unit_costs_path())
    base = load_cost_spec(default_unit_costs_path())
    with pytest.raises(ValueError, match="cannot uprate"):
        with_growth(base, _zero_noise_growth(0.05, base.base_price_year - 1), "X")


def test_growth_out_writes_a_file_price_accepts(files, tmp_path):
    from typer.testing import CliRunner

    from cobic.cli import app
    from cobic.costs import load_growth

    panel, s251 = files
    out = tmp_path / "g.toml"
    r = CliRunner().invoke(app, ["costs", "--area", "Leeds", "--panel", str(panel), "--s251",
                                 str(s251), "--growth-out", str(out)])
    assert r.exit_code == 0, r.output
    g, area = load_growth(out)
    assert area == "Leeds" and g.origin == 2025
