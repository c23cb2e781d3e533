"""The demand layer's checks, messages and tables at their edges, with expected values worked
out by hand (each test kills mutants of cobic/demand that the suite let through)."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from cobic.demand.backtest import CASE_SCHEMA, EvaluationScheme, backtest_series, metrics_table
from cobic.demand.base import Paths, SeriesHistory
from cobic.demand.scenarios import Scenario, apply_to_series, entry_trend, parse_scenarios, stay


def _history(stock, years=(2018, 2019, 2020, 2021, 2022)):
    stock = np.atleast_2d(np.asarray(stock, dtype=float))
    flows = np.full_like(stock, 20.0)
    areas = tuple("ABCDEFGH"[: stock.shape[0]])
    return SeriesHistory(areas, years, stock, flows, flows, np.full_like(stock, 1e4))


def test_results_and_inputs_are_read_only():
    """The demand layer's inputs and results are frozen: a caller cannot change a history,
    a scheme, a scenario or a forecast after the fact (the notebooks cache them)."""
    h = _history([[100, 101, 102, 103, 104]])
    paths = Paths(model="m", areas=("A",), origin=2022, periods=(2023,), groups=("all",),
                  values=np.ones((1, 2, 1, 1)))
    for obj, name, value in ((h, "years", (2020,)), (EvaluationScheme((2020,), (1,)),
                                                     "horizons", (2,)),
                             (Scenario(), "entry_trend", 0.1), (paths, "origin", 2030)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, value)


def test_history_shapes_and_last_stock_checked():
    ok = np.ones((2, 3))
    years = (2018, 2019, 2020)
    # one year too many: (2, 4) is not (2, 3), though it compares above it
    with pytest.raises(ValueError, match=r"stock has shape \(2, 4\), expected \(2, 3\)"):
        SeriesHistory(("A", "B"), years, np.ones((2, 4)), ok, ok, ok)
    # a missing (NaN) last-year stock is not a positive stock; the year before is fine
    stock = np.array([[5.0, 6.0, 7.0], [5.0, 6.0, np.nan]])
    with pytest.raises(ValueError, match=r"positive for every area: \['B'\]"):
        SeriesHistory(("A", "B"), years, stock, ok, ok, ok)
    # a NaN earlier in the series is allowed (the panel has gaps)
    early = np.array([[5.0, np.nan, 7.0], [5.0, 6.0, 8.0]])
    assert SeriesHistory(("A", "B"), years, early, ok, ok, ok).origin == 2020


def test_missing_areas_named_five_at_most(shared_data):
    from cobic.data.dfe import read_panel

    panel = read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    missing = [f"Nowhere {i}" for i in range(1, 8)]
    with pytest.raises(KeyError) as e:
        SeriesHistory.from_panel(panel, areas=["Barnet", *missing])
    text = str(e.value)
    assert all(m in text for m in missing[:5]) and "Nowhere 6" not in text


def test_models_with_partitions_the_models_by_each_capability():
    """For every capability, the models with it and the models without it are disjoint
    and together are every model (False must not match a model that has it)."""
    from dataclasses import fields

    from cobic.demand.base import Capabilities, capabilities, model_names, models_with

    names = set(model_names())
    for f in fields(Capabilities):
        yes, no = set(models_with(**{f.name: True})), set(models_with(**{f.name: False}))
        assert not yes & no and yes | no == names, f.name
        assert all(getattr(capabilities(n), f.name) is False for n in no), f.name
    # the known case: pooled models are among the series models, naive is not pooled
    assert "naive" in models_with(pooled=False) and "naive" not in models_with(pooled=True)


def test_measures_table_carries_every_simulated_measure():
    v = np.array([[[[3.0], [4.0]]]])  # [area 1, path 1, period 2, group all]
    p = Paths(model="m", areas=("A",), origin=2025, periods=(2026, 2027), groups=("all",),
              values=v, extra={"entries": v * 0 + np.array([2.0, 5.0])[None, None, :, None]})
    t = p.measures_table()
    assert sorted(t["measure"].unique().to_list()) == ["entries", "stock"]
    e = t.filter(pl.col("measure") == "entries").sort("period")
    assert e["value"].to_list() == [2.0, 5.0]


def test_horizons_from_one_and_above_are_accepted():
    assert EvaluationScheme((2020,), (2, 3)).horizons == (2, 3)  # no need to start at 1
    for bad in ((0, 1), (-1,)):
        with pytest.raises(ValueError, match="horizons must be >= 1"):
            EvaluationScheme((2020,), bad)


def test_an_outcome_on_either_edge_of_an_interval_is_inside():
    def case(actual):
        q = {"q025": 80.0, "q05": 80.0, "q10": 90.0, "q25": 95.0, "q50": 100.0, "q75": 105.0,
             "q90": 110.0, "q95": 120.0, "q975": 120.0}
        return {"model": "m", "area": "A", "origin": 2020, "horizon": 1, "year": 2021,
                "actual": actual, **q, "scale": 1.0}

    cases = pl.DataFrame([case(110.0), case(90.0), case(110.5)], schema=CASE_SCHEMA)
    m = metrics_table(cases, ["model"]).row(0, named=True)
    assert m["coverage_80"] == pytest.approx(2 / 3)  # 110 and 90 inside, 110.5 not


def test_a_flat_history_has_no_mase_scale():
    """No change at all before the origin: the naive scale is 0, so MASE is undefined
    (NaN), never a division by zero."""
    h = _history([[100.0, 100.0, 100.0, 100.0, 104.0]])
    res = backtest_series(h, ["naive"], EvaluationScheme((2021,), (1,)), n_paths=20)
    assert np.isnan(res.cases["scale"][0])


def test_short_history_message_names_its_first_year():
    h = _history([[100.0, 101.0, 102.0, 103.0, 104.0]])
    with pytest.raises(ValueError, match=r"\(it starts in 2018\)"):
        backtest_series(h, ["naive"], EvaluationScheme((2019,), (1,)))


def test_stay_and_trend_limits_by_hand():
    with pytest.raises(ValueError, match="must be above -100%"):
        stay(Scenario(), -1.0)
    assert entry_trend(Scenario(), -0.2).entry_trend == -0.2  # falling entries are allowed
    assert entry_trend(Scenario(), -0.5).entry_trend == -0.5  # to the stated limit
    for bad in (0.6, -0.6):
        with pytest.raises(ValueError, match="must be within -50% to \\+50%"):
            entry_trend(Scenario(), bad)


def test_a_missing_start_year_names_the_lever():
    with pytest.raises(ValueError, match=r"e\.g\. entry_step=\.\.\.@2027"):
        parse_scenarios(["entry_step=+10%"])


def test_extra_entrants_for_several_areas_and_paths_by_hand():
    """Two areas, five paths, three years: area A (starts 100, exit rate 0.5) and B (starts
    40, exit 0.2) with +10% entries from 2026 (the first year after the 2025 origin)."""
    sc = parse_scenarios(["entry_step=+10%@2026"])
    values = np.full((2, 5, 3), 50.0)
    got = apply_to_series(values, sc, np.array([100.0, 40.0]), np.array([0.5, 0.2]), 2025)
    for a, (d, keep) in enumerate(((10.0, 0.5), (4.0, 0.8))):
        want = [50 + d * sum(keep ** (y - k + 0.5) for k in range(y + 1)) for y in range(3)]
        assert got[a] == pytest.approx(np.tile(want, (5, 1)))


def test_entry_multipliers_by_year_by_hand():
    """Origin 2025. A step of -100% from 2027 stops new entries from then on (a step below
    -100% is refused); prevention of 20% from 2027 holds in every later year too; a trend of
    +10% compounds from the first forecast year."""
    from cobic.demand.scenarios import entry_step, prevention

    stop = entry_step(Scenario(), -1.0, 2027)
    assert [stop.entry_multiplier(y, 2025) for y in (2026, 2027, 2030)] == [1.0, 0.0, 0.0]
    assert parse_scenarios(["entry_step=-100%@2027"]).entry_multiplier(2028, 2025) == 0.0
    with pytest.raises(ValueError, match="a step below -100% is impossible"):
        entry_step(Scenario(), -1.5, 2027)
    cut = prevention(Scenario(), 0.2, 2027)
    assert [cut.entry_multiplier(y, 2025) for y in (2026, 2027, 2029)] == \
        pytest.approx([1.0, 0.8, 0.8])
    grow = entry_trend(Scenario(), 0.1)
    assert [grow.entry_multiplier(y, 2025) for y in (2026, 2028)] == pytest.approx([1.1, 1.331])
    with pytest.raises(ValueError, match="must be above -100%"):
        stay(Scenario(), -2.0)


def test_totals_of_each_measure_are_that_measure():
    v = np.ones((1, 2, 2, 1))
    p = Paths(model="m", areas=("A",), origin=2025, periods=(2026, 2027), groups=("all",),
              values=v, extra={"entries": v * 7.0})
    assert p.total("entries").tolist() == [[[7.0, 7.0], [7.0, 7.0]]]
    assert p.total().tolist() == [[[1.0, 1.0], [1.0, 1.0]]]


def test_a_mix_shift_either_way_between_two_groups():
    from cobic.demand.scenarios import mix

    for a, b in (("fostering", "residential"), ("residential", "fostering")):
        assert mix(Scenario(), a, b, 0.1).mix_shift == ((a, b, 0.1),)
    with pytest.raises(ValueError, match="changes nothing"):
        mix(Scenario(), "fostering", "fostering", 0.1)


def test_scenario_messages_say_what_each_lever_expects():
    from cobic.demand.scenarios import uasc

    with pytest.raises(ValueError, match="expected a percentage and a year, e.g. \\+20%@2027"):
        parse_scenarios(["prevention=lots"])
    with pytest.raises(ValueError, match="expected a percentage such as \\+3%"):
        parse_scenarios(["stay=lots"])
    # a value holding another "=" is that lever's value, shown whole in the message
    with pytest.raises(ValueError, match=r"'entry_step=\+10%@2026=x': expected a percentage "
                                         r"and a year"):
        parse_scenarios(["entry_step=+10%@2026=x"])
    for bad in (30.2, 30.7):  # below and above the nearest whole number
        with pytest.raises(ValueError, match="whole number of children"):
            uasc(Scenario(), bad)
    assert uasc(Scenario(), 30.0).extra_uasc == 30.0


def test_forecast_tables_of_groups_that_sort_before_all():
    """'adoption' sorts before 'all': its rows are in the tables all the same."""
    v = np.ones((1, 2, 1, 2))
    p = Paths(model="m", areas=("A",), origin=2025, periods=(2026,),
              groups=("adoption", "fostering"), values=v)
    assert set(p.forecast_table()["placement_group"].to_list()) == \
        {"adoption", "fostering", "all"}


def test_capabilities_are_read_only():
    from cobic.demand.base import capabilities

    with pytest.raises(dataclasses.FrozenInstanceError):
        capabilities("naive").pooled = True


def test_more_scenario_and_history_edges_by_hand():
    from cobic.demand.scenarios import uasc

    with pytest.raises(ValueError, match="unknown name 'zeta'"):
        parse_scenarios(["zeta=1"])  # a name after 'uasc' is not uasc
    for bad in (-0.5, -1.0):
        with pytest.raises(ValueError, match="not negative"):
            uasc(Scenario(), bad)
    ok = np.ones((1, 2))
    with pytest.raises(ValueError, match=r"positive for every area: \['A'\]"):
        SeriesHistory(("A",), (2020, 2021), np.array([[5.0, -1.0]]), ok, ok, ok)
    one = np.ones((1, 1))
    with pytest.raises(ValueError, match="at least 2 years"):
        SeriesHistory(("A",), (2021,), one, one, one, one)


def test_paths_table_numbers_each_path():
    """Three paths, two periods: each path's rows carry its own number."""
    v = np.arange(6, dtype=float).reshape(1, 3, 2, 1)  # [area, path, period, group]
    p = Paths(model="m", areas=("A",), origin=2025, periods=(2026, 2027), groups=("all",),
              values=v)
    t = p.paths_table().sort("path", "period")
    assert t["path"].to_list() == [0, 0, 1, 1, 2, 2]
    assert t["value"].to_list() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


# ---- from the mutation run of 3 December 2026 (later session) ----------------------------

def _two_group_paths():
    """One area, two paths, one year, two groups: stock 3 and 5, child-days 1,000 and 2,000."""
    stock = np.array([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # [area, path, period, group]
    return Paths(model="hand", areas=("A",), origin=2025, periods=(2026,),
                 groups=("fostering", "residential"), values=stock,
                 extra={"child_days": stock * 1000.0})


def test_the_measures_table_holds_each_measure_as_simulated():
    t = _two_group_paths().measures_table()
    for measure, scale in (("stock", 1.0), ("child_days", 1000.0)):
        got = t.filter(pl.col("measure") == measure).sort("path", "placement_group")
        # path by path: the total "all", fostering, residential
        assert got["value"].to_list() == [scale * v for v in (3.0, 1.0, 2.0, 7.0, 3.0, 4.0)]


def test_the_forecast_table_of_a_measure_summarises_that_measure():
    p = _two_group_paths()
    for measure, scale in (("stock", 1.0), ("child_days", 1000.0)):
        t = p.forecast_table(measure).filter(pl.col("age_band") == "all").sort("placement_group")
        # means over the two paths: all (3 + 7) / 2, fostering (1 + 3) / 2, residential 3
        assert t["mean"].to_list() == [scale * 5.0, scale * 2.0, scale * 3.0]
        assert p.total(measure)[0, :, 0].tolist() == [scale * 3.0, scale * 7.0]


def test_a_measure_no_reader_knows_is_refused_when_written():
    p = dataclasses.replace(_two_group_paths(), extra={"admissions": np.ones((1, 2, 1, 2))})
    with pytest.raises(ValueError, match=r"measures \['admissions'\] are not in PATH_MEASURES"):
        p.measures_table()


@pytest.mark.parametrize("year", [2027.0, 2027.5, "2027", True])
def test_a_scenario_year_must_be_a_whole_number(year):
    from cobic.demand.scenarios import entry_step

    with pytest.raises(ValueError, match="the year must be a whole number"):
        entry_step(Scenario(), 0.1, year)
    assert entry_step(Scenario(), 0.1, np.int64(2027)).entry_steps == ((2027, 0.1),)


def test_only_the_microsimulation_forecasts_placement_groups():
    from cobic.demand.base import Capabilities, capabilities

    assert Capabilities().placement_groups is False  # a model must claim it
    assert capabilities("stockflow").placement_groups is True
    for series_model in ("naive", "drift", "ets"):
        assert capabilities(series_model).placement_groups is False, series_model


def test_a_backtest_result_is_read_only(tmp_path):
    from cobic.demand.backtest import BacktestResult

    r = BacktestResult(pl.DataFrame(schema=CASE_SCHEMA))
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.cases = pl.DataFrame()


def test_a_mix_shift_of_nothing_is_allowed_and_of_everything_too():
    from cobic.demand.scenarios import mix

    for share in (0.0, 1.0):
        assert mix(Scenario(), "residential", "fostering", share).mix_shift == (
            ("residential", "fostering", share),)
    with pytest.raises(ValueError, match="between 0% and 100%"):
        mix(Scenario(), "residential", "fostering", -0.01)


def test_only_the_microsimulation_follows_children():
    from cobic.demand.base import Capabilities, capabilities

    assert Capabilities().child_level is False  # a model must claim it
    assert capabilities("stockflow").child_level is True
    for series_model in ("naive", "drift", "ets"):
        assert capabilities(series_model).child_level is False, series_model
