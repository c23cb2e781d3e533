"""The backtest engine's scores, its loop and the scenario levers' bounds, against numbers
worked out by hand (mutation testing of cobic/demand found them unchecked)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cobic.demand.backtest import (
    CASE_SCHEMA,
    QUANTILES,
    EvaluationScheme,
    metrics_table,
    run_backtest,
)
from cobic.demand.scenarios import Scenario, entry_step, mix, prevention, stay, uasc


def _case(actual, q, scale=2.0, horizon=1):
    """One scored case with quantiles ``q`` (q025, q10, q25, q50, q75, q90, q975)."""
    q025, q10, q25, q50, q75, q90, q975 = q
    row = {"model": "m", "area": "A", "origin": 2020, "horizon": horizon,
           "year": 2020 + horizon, "actual": float(actual), "q025": q025, "q05": q025,
           "q10": q10, "q25": q25, "q50": q50, "q75": q75, "q90": q90, "q95": q975,
           "q975": q975, "scale": scale}
    return row


def test_scores_of_three_cases_by_hand():
    cases = pl.DataFrame([
        # on the lower edge of the 80% interval (inside), median 10 above: error +10
        _case(100, (80, 100, 105, 110, 115, 120, 130)),
        # below the 80% interval by 5 (q10 = 105), inside the 95%; median 10 above: +10
        _case(100, (90, 105, 108, 110, 112, 115, 140)),
        # above every interval (q90 = 190 < 200 = actual, q975 = 195); median 20 below: -20
        _case(200, (150, 160, 170, 180, 185, 190, 195), scale=4.0),
    ], schema=CASE_SCHEMA)
    m = metrics_table(cases, ["model", "horizon"]).row(0, named=True)
    assert m["n"] == 3
    assert m["mae"] == pytest.approx((10 + 10 + 20) / 3)
    assert m["mape"] == pytest.approx((10 / 100 + 10 / 100 + 20 / 200) / 3 * 100)  # 10%
    assert m["mase"] == pytest.approx((10 / 2 + 10 / 2 + 20 / 4) / 3)
    assert m["bias"] == pytest.approx((0.1 + 0.1 - 0.1) / 3 * 100)
    assert m["coverage_80"] == pytest.approx(1 / 3)  # only the first: its edge counts
    assert m["coverage_95"] == pytest.approx(2 / 3)
    assert m["coverage_50"] == pytest.approx(0.0)  # 100 < 105 and 108; 200 > 185
    # 80% interval score: width + (2 / 0.2) x how far outside
    widths = (120 - 100) + (115 - 105) + (190 - 160)
    outside = 0 + 5 + (200 - 190)
    assert m["interval_score_80"] == pytest.approx((widths + 10 * outside) / 3)


def test_the_loop_scores_every_origin_and_horizon_with_an_outcome():
    """Paths 0..100 at every horizon (so q10 = 10, q50 = 50, q90 = 90 exactly); outcomes
    exist for 2021 and 2023 only (2022: none; 2024: not a number): those are left out."""
    paths = np.tile(np.arange(101, dtype=float)[:, None], (1, 2))
    seen = []

    def forecast(origin, horizon):
        seen.append((origin, horizon))
        return {"A": paths, "B": paths + 1000}

    outcomes = {2021: 40.0, 2023: 95.0, 2024: float("nan")}
    cases = run_backtest("m", EvaluationScheme(origins=(2020, 2021, 2022), horizons=(1, 2)),
                         forecast, lambda area, year: outcomes.get(year))
    assert seen == [(2020, 2), (2021, 2), (2022, 2)]  # every origin, to the longest horizon
    got = sorted(cases.select("area", "origin", "horizon", "year").rows())
    assert got == [(area, o, h, o + h) for area in ("A", "B")
                   for o, h in ((2020, 1), (2021, 2), (2022, 1))]
    a = cases.filter(pl.col("area") == "A").row(0, named=True)
    assert (a["q10"], a["q50"], a["q90"], a["q025"], a["q975"]) == pytest.approx(
        (10, 50, 90, 2.5, 97.5))
    assert set(QUANTILES) <= set(cases.columns) and cases["scale"].to_list() == [1.0] * 6


def test_scenario_labels_say_what_was_asked():
    assert prevention(Scenario(), 0.2, 2027).name == "prevention=20%@2027"
    assert mix(Scenario(), "residential", "fostering", 0.1).name == \
        "mix=residential>fostering:10%"
    both = prevention(mix(Scenario(), "residential", "fostering", 0.25), 0.05, 2030)
    assert both.name == "mix=residential>fostering:25% + prevention=5%@2030"


def test_scenario_bounds_are_inclusive_at_their_edges():
    """The stated ranges include their ends: a stay of -90%, a year of 2000 or 2100, no extra
    UASC, a fall in entries (down to, not including, -100%)."""
    assert stay(Scenario(), -0.9).stay_change == -0.9
    assert stay(Scenario(), 3.0).stay_change == 3.0
    assert entry_step(Scenario(), -0.2, 2000).entry_steps == ((2000, -0.2),)
    assert entry_step(Scenario(), 0.1, 2100).entry_steps == ((2100, 0.1),)
    assert uasc(Scenario(), 0).extra_uasc == 0.0
    with pytest.raises(ValueError, match="below -100% is impossible"):
        entry_step(Scenario(), -1.5, 2027)
    with pytest.raises(ValueError, match="the year must be 2000-2100"):
        entry_step(Scenario(), 0.1, 1999)
    with pytest.raises(ValueError, match="must be within -90% to \\+300%"):
        stay(Scenario(), -0.95)


def _history():
    from cobic.demand.base import SeriesHistory

    years = (2018, 2019, 2020, 2021, 2022)
    stock = np.array([[100.0, 104.0, 101.0, 107.0, 110.0], [50.0, 52.0, 55.0, 53.0, 58.0]])
    flows = np.full_like(stock, 20.0)
    return SeriesHistory(("A", "B"), years, stock, flows, flows, np.full_like(stock, 1e4))


def test_series_backtest_scores_each_model_with_the_naive_scale():
    """Every model asked for is scored; MASE's scale is the mean absolute year-on-year change
    up to the origin (area A, origin 2020: (4 + 3) / 2 = 3.5)."""
    from cobic.demand.backtest import backtest_series

    res = backtest_series(_history(), ["naive", "drift"], EvaluationScheme((2020, 2021), (1,)),
                          n_paths=50, seed=1)
    assert sorted(res.cases["model"].unique().to_list()) == ["drift", "naive"]
    a = res.cases.filter((pl.col("model") == "naive") & (pl.col("area") == "A")
                         & (pl.col("origin") == 2020)).row(0, named=True)
    assert a["scale"] == pytest.approx(3.5) and a["actual"] == 107.0


def test_series_backtest_refuses_origins_without_two_changes_before_them():
    from cobic.demand.backtest import backtest_series

    with pytest.raises(ValueError, match=r"origins \[2019\]: the history has fewer than 3"):
        backtest_series(_history(), ["naive"], EvaluationScheme((2019, 2021), (1,)))
    with pytest.raises(ValueError, match="not inside the history years"):
        backtest_series(_history(), ["naive"], EvaluationScheme((2018,), (1,)))
    backtest_series(_history(), ["naive"], EvaluationScheme((2020,), (1,)), n_paths=20)


def _paths():
    """2 paths x 2 periods, two placement groups; child-days and days by time in care."""
    from cobic.demand.base import DURATION_CLASSES, Paths

    v = np.array([[[[3.0, 1.0], [4.0, 2.0]], [[5.0, 1.0], [6.0, 0.0]]]])  # [1, path, t, g]
    days = np.arange(1, 1 + 2 * 2 * 3, dtype=float).reshape(1, 2, 2, 3)
    return Paths(model="m", areas=("A",), origin=2025, periods=(2026, 2027),
                 groups=("fostering", "residential"), values=v,
                 extra={"child_days": v * 365.0, "days_by_duration": days},
                 age_bands={"under 1": v[..., 0] * 0 + 1.0}), DURATION_CLASSES


def test_paths_tables_add_the_total_only_to_placement_groups():
    p, classes = _paths()
    st = p.paths_table("stock")
    total = st.filter((pl.col("placement_group") == "all") & (pl.col("path") == 1))
    assert total.sort("period")["value"].to_list() == [6.0, 6.0]  # 5 + 1, 6 + 0
    cd = p.paths_table("child_days")
    assert sorted(cd["placement_group"].unique().to_list()) == ["all", "fostering", "residential"]
    dd = p.paths_table("days_by_duration")  # classes of time in care: no "all" added
    assert sorted(dd["placement_group"].unique().to_list()) == sorted(classes)
    assert dd["value"].sum() == pytest.approx(sum(range(1, 13)))
    ft = p.forecast_table("child_days")
    assert "under 1" not in ft["age_band"].to_list()  # age bands are a stock measure
    assert "under 1" in p.forecast_table("stock")["age_band"].to_list()


def test_a_history_whose_last_stock_is_not_positive_names_the_area():
    from cobic.demand.base import SeriesHistory

    stock = np.array([[100.0, 110.0], [50.0, 0.0]])
    flows = np.ones_like(stock)
    with pytest.raises(ValueError, match=r"positive for every area: \['B'\]"):
        SeriesHistory(("A", "B"), (2020, 2021), stock, flows, flows, flows)


def test_history_from_the_dfe_panel_by_hand(shared_data):
    from cobic.data.dfe import read_panel
    from cobic.demand.base import SeriesHistory

    panel = read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    t = panel.table.filter(pl.col("area") == "Barnet").sort("year")
    h = SeriesHistory.from_panel(panel, areas=["Barnet"])
    assert list(h.years) == sorted(panel.table["year"].unique().to_list())
    assert h.stock[0].tolist() == t.filter(pl.col("year").is_in(h.years))["cla_31mar"].to_list()
    with pytest.raises(KeyError, match="Nowhere"):
        SeriesHistory.from_panel(panel, areas=["Barnet", "Nowhere"])


def test_what_each_model_needs_is_stated():
    from cobic.demand.base import get_model

    assert get_model("naive").capabilities.needs_population is False
    assert get_model("rate").capabilities.needs_population is True


def test_scenario_limits_are_the_stated_ones():
    from cobic.demand.scenarios import MAX_ENTRY_STEP, MAX_UASC, entry_trend

    assert (MAX_ENTRY_STEP, MAX_UASC) == (5.0, 5000.0)  # +500% and 5,000 children a year
    assert entry_step(Scenario(), 5.0, 2027).entry_steps == ((2027, 5.0),)
    with pytest.raises(ValueError, match=r"within -100% to \+500%"):
        entry_step(Scenario(), 5.01, 2027)
    assert uasc(Scenario(), 5000).extra_uasc == 5000.0
    with pytest.raises(ValueError, match="within 0 to 5,000 children a year"):
        uasc(Scenario(), 5001)
    assert entry_step(Scenario(), 0.2, 2027).name == "entry_step=+20%@2027"
    assert prevention(Scenario(), 1.0, 2027).prevention == ((2027, 1.0),)  # all: allowed
    for over in (1.01, 1.5):
        with pytest.raises(ValueError, match="cannot remove over 100%"):
            prevention(Scenario(), over, 2027)
    for low in (-1.0, -1.5):
        with pytest.raises(ValueError, match="must be above -100%"):
            entry_trend(Scenario(), low)
    with pytest.raises(ValueError, match="below -100% is impossible"):
        entry_step(Scenario(), -1.5, 2027)
    assert mix(Scenario(), "residential", "fostering", 1.0).mix_shift == (
        ("residential", "fostering", 1.0),)
    for bad in (1.5, float("nan"), -0.1):
        with pytest.raises(ValueError, match="between 0% and 100%"):
            mix(Scenario(), "residential", "fostering", bad)


def test_extra_entrants_added_to_series_paths_by_hand():
    """+50% entries from the second year after the origin (2027), 100 starts a year, a 40%
    exit rate: 50 extra entrants in each of 2027 and 2028, of whom 0.6^0.5 are in care on the
    31 March of their year and 0.6^1.5 a year later."""
    from cobic.demand.scenarios import apply_to_series

    sc = entry_step(Scenario(), 0.5, 2027)
    values = np.zeros((1, 1, 3))
    got = apply_to_series(values, sc, np.array([100.0]), np.array([0.4]), 2025)[0, 0]
    want = [0.0, 50 * 0.6 ** 0.5, 50 * 0.6 ** 1.5 + 50 * 0.6 ** 0.5]
    assert got == pytest.approx(want)
    cut = entry_step(Scenario(), -0.9, 2026)  # fewer entries can take a stock to 0, not below
    assert apply_to_series(np.full((1, 1, 3), 10.0), cut, np.array([100.0]),
                           np.array([0.4]), 2025).min() == 0.0


def test_evaluation_scheme_and_history_checks_by_hand():
    from cobic.demand.base import SeriesHistory

    for o, h in (((), (1,)), ((2020,), ())):
        with pytest.raises(ValueError, match="must not be empty"):
            EvaluationScheme(o, h)
    years = (2018, 2019, 2020)
    ok = np.ones((2, 3))
    assert SeriesHistory(("A", "B"), years, ok, ok, ok, ok).origin == 2020
    with pytest.raises(ValueError, match="starts has shape"):
        SeriesHistory(("A", "B"), years, ok, np.ones((2, 2)), ok, ok)
    # the last year: A 1, B 0.5 (both positive), C-H 0 (six areas): the first five named
    stock = np.c_[np.ones((8, 2)), np.r_[1, 0.5, 0, 0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"\['C', 'D', 'E', 'F', 'G'\]$"):
        SeriesHistory(tuple("ABCDEFGH"), years, stock, stock, stock, stock)


def test_series_backtest_scale_and_origin_message_by_hand():
    """A history moving by 0.5 a year has MASE scale 0.5 (not 'no scale'); an origin outside
    the years is named with the history's span."""
    from cobic.demand.backtest import backtest_series
    from cobic.demand.base import SeriesHistory

    years = (2018, 2019, 2020, 2021, 2022)
    stock = np.array([[100.0, 100.5, 101.0, 101.5, 102.0]])
    flows = np.full_like(stock, 20.0)
    h = SeriesHistory(("A",), years, stock, flows, flows, np.full_like(stock, 1e4))
    res = backtest_series(h, ["naive"], EvaluationScheme((2020,), (1,)), n_paths=20)
    assert res.cases["scale"].to_list() == pytest.approx([0.5])
    with pytest.raises(ValueError, match="not inside the history years 2018-2022"):
        backtest_series(h, ["naive"], EvaluationScheme((2030,), (1,)))


def test_forecast_tables_carry_each_group_and_every_path():
    p, _ = _paths()
    ft = p.forecast_table("stock")
    assert {"fostering", "residential", "all"} <= set(ft["placement_group"].to_list())
    st = p.paths_table("stock")
    assert sorted(st["path"].unique().to_list()) == [0, 1]
    assert sorted(st["period"].unique().to_list()) == [2026, 2027]


def test_history_from_the_panel_for_all_complete_areas_and_missing_years(shared_data):
    from cobic.data.dfe import read_panel
    from cobic.demand.base import SeriesHistory

    panel = read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    h = SeriesHistory.from_panel(panel, years=[2023, 2024, 2025])
    assert len(h.areas) > 100  # every LA with a complete series, by default
    g = SeriesHistory.from_panel(panel, areas=["Barnet"], years=[2013, 2024, 2025])
    assert np.isnan(g.stock[0, 0]) and g.stock[0, 2] > 0  # 2013 is not in the panel
