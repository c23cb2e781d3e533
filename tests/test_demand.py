"""Demand models: invariants on every path, scenario effects against hand calculations,
determinism, the real-data accuracy bar, and the CLI."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cobic.cli import app
from cobic.data.dfe import read_panel
from cobic.data.ssda903 import read_ssda903
from cobic.data.synth import SynthSpec, generate, write_ssda903
from cobic.demand.api import accuracy_gate, backtest_panel, forecast_episodes
from cobic.demand.backtest import EvaluationScheme
from cobic.demand.base import SeriesHistory, get_model, model_names
from cobic.demand.scenarios import Scenario, apply_to_series, parse_scenarios
from cobic.demand.stockflow import truncate
from cobic.paths import fixtures_dir

runner = CliRunner()


@pytest.fixture(scope="module")
def fixture_la():
    return read_ssda903(fixtures_dir() / "synthetic_la")


@pytest.fixture(scope="module")
def fitted(fixture_la):
    return get_model("stockflow").fit(fixture_la)


def test_registry_has_every_model():
    assert set(model_names()) >= {"naive", "drift", "flowbalance", "ets", "rate", "panel",
                                  "stockflow"}
    with pytest.raises(KeyError, match="unknown model"):
        get_model("crystal_ball")


def test_stock_is_conserved_on_every_path(fitted, fixture_la):
    p = fitted.simulate(5, 300, seed=3)
    stock = p.total()[0]  # [path, h]
    entries, exits = p.total("entries")[0], p.total("exits")[0]
    start = fitted.stock["group"].size
    prev = np.concatenate([np.full((300, 1), start), stock[:, :-1]], axis=1)
    assert np.array_equal(stock, prev + entries - exits)
    # the stock at the origin is the data's stock on 31 March of the last year
    from cobic.data import derive

    assert start == derive.stock(fixture_la, on=fixture_la.extract_end)["children"].sum()
    # age bands add up to the total
    bands = sum(p.age_bands.values())[0]
    assert np.array_equal(bands, stock)


def test_children_aged_17_have_all_left_a_year_later(tmp_path):
    # every child is 17 on 31 March 2024 and nobody enters: by 31 March 2025 all are 18+
    cols = "CHILD,SEX,DOB,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC"
    dob = [date(2006 if m >= 4 else 2007, m, (i % 28) + 1)
           for i, m in enumerate([4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3] * 5)]
    rows = [f"C{i},1,{d:%d/%m/%Y},01/05/2021,S,C2,N1,U4,PR1,," for i, d in enumerate(dob)]
    # one more child who left in March 2024 makes 2023-24 the last collection year
    rows.append("X,2,01/01/2015,01/01/2024,S,V2,N1,U4,PR1,20/03/2024,E4A")
    p = tmp_path / "old.csv"
    p.write_text(cols + "\n" + "\n".join(rows) + "\n")
    data = read_ssda903(p)
    assert data.extract_end == date(2024, 3, 31)
    f = get_model("stockflow", trend=False).fit(data)
    f = dataclasses.replace(f, entry_beta=np.full_like(f.entry_beta, -50.0))  # no entries
    paths = f.simulate(2, 200, seed=1)
    assert paths.total()[0, :, 0].max() == 0
    # and their child-days stop at the 18th birthday: at most the days to each birthday
    cap = sum((date(d.year + 18, d.month, d.day) - date(2024, 4, 1)).days for d in dob)
    assert paths.total("child_days")[0, :, 0].max() <= cap


def test_same_seed_same_paths_other_seed_other_paths(fitted):
    a = fitted.simulate(3, 100, seed=7).paths_table()
    b = fitted.simulate(3, 100, seed=7).paths_table()
    c = fitted.simulate(3, 100, seed=8).paths_table()
    assert a.equals(b)
    assert not a.equals(c)


def test_entry_step_raises_entries_by_20_percent(fitted):
    origin = fitted.origin
    base = fitted.simulate(4, 2000, seed=11).total("entries")[0]
    sc = parse_scenarios([f"entry_step=+20%@{origin + 3}"])
    shocked = fitted.with_scenario(sc).simulate(4, 2000, seed=12).total("entries")[0]
    # years before the step are unchanged, years from it are up 20% (+- sampling error)
    for h in (0, 1):
        assert shocked[:, h].mean() == pytest.approx(base[:, h].mean(), rel=0.03)
    for h in (2, 3):
        ratio = shocked[:, h].mean() / base[:, h].mean()
        se = np.sqrt(shocked[:, h].var() / 2000 / shocked[:, h].mean() ** 2
                     + base[:, h].var() / 2000 / base[:, h].mean() ** 2) * ratio
        assert abs(ratio - 1.2) < 4 * se + 0.01


def test_longer_stays_and_prevention_move_the_stock_the_right_way(fitted):
    base = fitted.simulate(5, 500, seed=5).total()[0].mean(axis=0)
    longer = fitted.with_scenario(parse_scenarios(["stay=+20%"])).simulate(5, 500, seed=5)
    prevent = fitted.with_scenario(parse_scenarios([f"prevention=30%@{fitted.origin + 1}"]))
    assert (longer.total()[0].mean(axis=0)[1:] > base[1:]).all()
    assert (prevent.simulate(5, 500, seed=5).total()[0].mean(axis=0) < base).all()


def test_mix_shift_moves_new_placements():
    sc = parse_scenarios(["mix=residential>fostering:25%"], ("fostering", "residential"))
    probs = np.array([[0.6, 0.4]])
    assert np.allclose(sc.shift_mix(probs, ("fostering", "residential")), [[0.7, 0.3]])


def test_scenario_errors_name_the_piece():
    for bad, msg in [("entry_step=+20%", "year"), ("stay=long", "percentage"),
                     ("mix=residential>spaceship:10%", "spaceship"), ("bogus=1", "unknown"),
                     ("uasc=-3", "negative")]:
        with pytest.raises(ValueError, match=msg):
            parse_scenarios([bad], ("fostering", "residential"))


def test_series_scenario_adds_surviving_extra_entrants_by_hand():
    # 100 starts a year, exit rate 0.4: a +10% step from year 1 adds 10 entrants a year;
    # on 31 March of year 1: 10 x 0.6^0.5; year 2: 10 x 0.6^1.5 + 10 x 0.6^0.5
    sc = Scenario(entry_steps=((2026, 0.10),), pieces=("x",))
    out = apply_to_series(np.zeros((1, 1, 2)), sc, np.array([100.0]), np.array([0.4]), 2025)
    assert out[0, 0, 0] == pytest.approx(10 * 0.6**0.5)
    assert out[0, 0, 1] == pytest.approx(10 * 0.6**1.5 + 10 * 0.6**0.5)
    with pytest.raises(ValueError, match="stockflow"):
        apply_to_series(np.zeros((1, 1, 2)), Scenario(stay_change=0.1), np.ones(1),
                        np.ones(1) * 0.4, 2025)


def test_entry_rate_recovered_within_10_percent(tmp_path):
    spec = dataclasses.replace(SynthSpec(seed=31), reentry_probability=0.0, n_years=8,
                               population_0_17=90_000)
    la = generate(spec)
    write_ssda903(la, tmp_path)
    pop = la.population.group_by("year").agg(pl.col("population").sum())
    f = get_model("stockflow", population=pop, trend=False).fit(read_ssda903(tmp_path))
    true_rate = sum(spec.entry_rate_per_10k) / 18  # per 10,000 children aged 0-17
    assert f.entry_rate() == pytest.approx(true_rate, rel=0.10)


def test_public_sample_runs_end_to_end(shared_data):
    data = read_ssda903(shared_data / "ssda903_sample")
    p = forecast_episodes(data, horizon=5, n_paths=200, seed=1)
    t = p.forecast_table()
    assert t.height > 0 and t["mean"].is_finite().all()
    assert set(t["period"].to_list()) == set(range(2023, 2028))


def test_truncate_hides_the_future(fixture_la):
    past = truncate(fixture_la, 2020)
    assert past.extract_end == date(2020, 3, 31)
    assert past.episodes["DECOM"].max() <= date(2020, 3, 31)
    assert (past.episodes["DEC"].drop_nulls() <= date(2020, 3, 31)).all()


def test_real_data_default_model_no_worse_than_naive(shared_data):
    """The bar from issue 3 on the DfE panel: every LA with a complete series, origins
    2018-2022, horizons 1-3."""
    panel = read_panel(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    scheme = EvaluationScheme(tuple(range(2018, 2023)), (1, 2, 3))
    m = backtest_panel(panel, ["naive", "panel"], scheme, n_paths=1000, seed=0).metrics()
    assert m.filter(pl.col("model") == "panel")["n"].to_list() == [725, 725, 725]
    assert accuracy_gate(m, "panel", "naive") == []
    cov95 = m.filter(pl.col("model") == "panel")["coverage_95"]
    assert cov95.is_between(0.92, 0.97).all()


def test_series_models_on_hand_made_history():
    # a series that doubles every year: drift's median goes on doubling, naive stays
    hist = SeriesHistory(("A", "B"), (2020, 2021, 2022, 2023),
                         np.array([[100.0, 200, 400, 800], [50, 50, 50, 50]]),
                         np.full((2, 4), 10.0), np.full((2, 4), 10.0), np.full((2, 4), 1e4))
    d = get_model("drift").fit(hist).simulate(2, 2000, 1).forecast_table()
    a = d.filter(pl.col("area") == "A").sort("period")["q50"].to_list()
    assert a[0] == pytest.approx(1600, rel=0.05) and a[1] == pytest.approx(3200, rel=0.08)
    # a flat series has no error to draw from: naive repeats its last value exactly
    n = get_model("naive").fit(hist.select(["B"])).simulate(2, 2000, 1).forecast_table()
    assert n["q05"].to_list() == pytest.approx([50, 50]) and n["q95"].to_list() == pytest.approx(
        [50, 50])


def test_cli_forecast_and_backtest(tmp_path, shared_data):
    out = tmp_path / "f.csv"
    res = runner.invoke(app, ["forecast", "--episodes", str(fixtures_dir() / "synthetic_la"),
                              "--out", str(out), "--paths", "100", "--horizon", "3",
                              "--scenario", "uasc=20"])
    assert res.exit_code == 0, res.output
    t = pl.read_csv(out)
    assert list(t.columns) == ["area", "model", "origin", "period", "placement_group",
                               "age_band", "mean", "q05", "q10", "q50", "q90", "q95", "scenario"]
    panel = str(shared_data / "dfe" / "la_cla_panel_2015_2025.csv")
    res = runner.invoke(app, ["forecast", "--panel", panel, "--area", "Nowhere", "--out",
                              str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and not (tmp_path / "x.csv").exists()
    bt = tmp_path / "bt.csv"
    res = runner.invoke(app, ["backtest", "--panel", panel, "--models", "naive,flowbalance",
                              "--origins", "2020-2021", "--horizons", "1-2", "--paths", "200",
                              "--out", str(bt), "--gate", "flowbalance:naive"])
    assert res.exit_code == 1  # flowbalance's intervals under-cover: the gate must fail
    assert "coverage" in res.output
    assert list(pl.read_csv(bt).columns) == ["model", "horizon", "n", "mae", "mape", "mase",
                                             "coverage_80", "coverage_95", "interval_score_80",
                                             "bias", "coverage_50"]
