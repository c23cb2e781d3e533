"""stockflow on thin data (issue 10): partial pooling of entry, exit and move rates, the fit
window, the exported rates and age bands from models/ssda903.toml.

The pooled rates are checked against closed forms computed here, not by the module's helpers:
for entries by age band the prior is Gamma with the pooled rate as mean and relative variance
k = max(0, (X^2 - (n - 1)) / sum(e)) (the Pearson moment estimator), so a band's posterior
mean is pooled x (1 + k y) / (1 + k e) per unit exposure; for exit and move cells the
posterior given the main-effects prior mu and the prior weight a = 1 / k is
(a + y) / (a / mu + days).
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cobic.codes import default_codes, load_codes
from cobic.data.ssda903 import read_ssda903
from cobic.demand import stockflow
from cobic.demand.api import estimate_forecast_bytes, forecast_episodes
from cobic.demand.base import get_model
from cobic.demand.limits import LIMITS
from cobic.demand.stockflow import AGE_CUTS, DURATION_LABELS, truncate
from cobic.paths import fixtures_dir, models_dir

COLS = "CHILD,SEX,DOB,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC"


def _d(x: date | None) -> str:
    return "" if x is None else f"{x:%d/%m/%Y}"


@pytest.fixture(scope="module")
def sample(shared_data):
    folder = shared_data / "ssda903_sample"
    if not folder.is_dir():
        pytest.skip(f"the public SSDA903 sample is not at {folder}")
    return read_ssda903(folder)


# ---------------------------------------------------------------- the shared sample

@pytest.mark.parametrize("origin", [2018, 2019, 2020])
def test_sample_forecasts_at_every_origin_with_sane_means(sample, origin):
    """Before pooling, origins 2018 and 2019 were refused (entry draws of up to 10^11 children
    a year from age bands with no entries) and 2020 had means 3-90 times the medians."""
    n_paths = 500
    est = estimate_forecast_bytes(truncate(sample, origin), "stockflow", n_paths, 2)
    assert est <= LIMITS.memory_budget_bytes
    p = forecast_episodes(sample, origin=origin, horizon=2, n_paths=n_paths, seed=1)
    t = p.forecast_table().filter(pl.col("age_band") == "all")
    assert t.height == 2 * (len(sample.codes.group_names) + 1)
    assert t["mean"].is_finite().all()
    checked = t.filter(pl.col("q50") >= 5)
    assert checked.height >= 4  # fostering, residential and the total at both horizons at least
    ratio = checked["mean"] / checked["q50"]
    assert ratio.is_between(0.67, 1.5).all(), checked
    # the parameter draws are bounded: the expected entrants a year drawn for the worst 1% of
    # paths stay within 4 times the median (before: up to 10^9 times; at origin 2020 the
    # trend, -1.25 +- 0.11 a year extrapolated 3.7 years from the window's centre, alone
    # makes the 99th percentile 2.5 times the median)
    f = get_model("stockflow").fit(truncate(sample, origin))
    draws = f._entry_draws(np.random.default_rng(0), 2000)
    for year in (origin + 1, origin + 2):
        lam = f._entry_lambda(draws, year).sum(axis=1)
        assert np.isfinite(lam).all()
        assert np.quantile(lam, 0.99) <= 4 * np.median(lam)


def test_sample_rates_are_finite_positive_and_pooled(sample):
    f = get_model("stockflow").fit(truncate(sample, 2018))
    r = f.rates()
    e = r["entries"]
    assert e["age_band"].to_list() == list(default_codes().age_band_labels)
    assert e["rate_per_year"].is_finite().all() and (e["rate_per_year"] > 0).all()
    # the sample has no entrants under 5: their bands get small positive rates, below the
    # pooled rate they are shrunk towards
    none = e.filter(pl.col("events") == 0)
    assert none.height == 2
    assert (none["rate_per_year"] < none["prior_rate_per_year"]).all()
    assert (none["rate_per_year"] < 5).all()
    for kind in ("exits", "moves"):
        t = r[kind]
        assert t["rate_per_year"].is_finite().all() and (t["rate_per_year"] > 0).all()
        assert t["rate_per_year"].max() < 20  # a year
        assert int(t["events"].sum()) == int(f.exposure[kind].sum())


# ---------------------------------------------------------------- a hand-built small case

def _hand_built(tmp_path):
    """One collection year (2023-24), no moves:

    * 120 children aged 12 enter foster care (U4); 60 of them return home after 30 days;
    * 30 children aged 6 enter foster care; 10 of them leave after 200 days;
    * 10 children aged 6 enter residential care (K2) and none leaves;
    * 10 children aged 16 enter foster care; none leaves;
    * nobody under 5 enters.
    """
    rows = []
    start = date(2023, 4, 3)
    specs = ([("A", 120, date(2011, 1, 1), "U4", 60, 30), ("B", 30, date(2017, 1, 1), "U4", 10, 200),
              ("R", 10, date(2017, 1, 1), "K2", 0, 0), ("S", 10, date(2007, 1, 1), "U4", 0, 0)])
    for prefix, n, dob, place, n_exit, stay in specs:
        for i in range(n):
            decom = start + timedelta(days=i % 60)
            dec = decom + timedelta(days=stay) if i < n_exit else None
            rec = "E13" if dec else ""
            rows.append(f"{prefix}{i},1,{_d(dob)},{_d(decom)},S,C2,N1,{place},PR1,{_d(dec)},{rec}")
    # one more row ends the collection year 2023-24
    rows.append("Z,2,01/01/2012,01/03/2024,S,C2,N1,U4,PR1,20/03/2024,E13")
    path = tmp_path / "hand.csv"
    path.write_text(COLS + "\n" + "\n".join(rows) + "\n")
    data = read_ssda903(path)
    assert data.collection_years == (2024,)
    return data


def test_entry_pooling_matches_the_closed_form(tmp_path):
    data = _hand_built(tmp_path)
    f = get_model("stockflow").fit(data)
    e = f.rates()["entries"]
    # by hand: entries per band, band widths (years of age) and one year of exposure
    y = np.array([0, 0, 30 + 10, 121, 10], dtype=float)  # Z (aged 12) is the 121st 10-15
    w = np.array([1, 4, 5, 6, 2], dtype=float)
    assert e["events"].to_list() == y.astype(int).tolist()
    assert e["exposure_days"].to_list() == [366.0] * 5  # 1 April 2023 - 31 March 2024
    expo = w / w.sum()  # population-years x share of ages 0-17 (no population: 1)
    pooled = y.sum() / expo.sum()
    expected = pooled * expo
    x2 = ((y - expected) ** 2 / expected).sum()
    k = max(0.0, (x2 - (len(y) - 1)) / expected.sum())
    assert k > 0
    post = pooled * (1 + k * y) / (1 + k * expected) * expo  # entries a year
    assert e["prior_events"].to_list() == pytest.approx([1 / k] * 5, rel=1e-9)
    assert e["prior_rate_per_year"].to_list() == pytest.approx((pooled * expo).tolist(), rel=1e-9)
    assert e["rate_per_year"].to_list() == pytest.approx(post.tolist(), rel=1e-9)
    # a band with no entries: finite, positive, shrunk below its pooled rate
    for band in ("under 1", "1-4"):
        row = e.filter(pl.col("age_band") == band).row(0, named=True)
        assert 0 < row["rate_per_year"] < row["prior_rate_per_year"]
        assert math.isfinite(row["rate_per_year"])
    # a band with many entries keeps its own rate: within 5% (its prior weighs 1/k events
    # against 121)
    row = e.filter(pl.col("age_band") == "10-15").row(0, named=True)
    assert row["rate_per_year"] == pytest.approx(row["raw_rate_per_year"], rel=0.05)
    assert row["raw_rate_per_year"] == pytest.approx(121.0)
    # no trend with one year: the level at the origin is the posterior mean
    assert not f.trend
    assert e["rate_at_origin_per_year"].to_list() == pytest.approx(post.tolist(), rel=1e-9)
    assert f.entry_rate() == pytest.approx(post.sum(), rel=1e-9)


def test_exit_pooling_in_thin_and_full_cells(tmp_path):
    data = _hand_built(tmp_path)
    f = get_model("stockflow").fit(data)
    r = f.rates()
    ex = r["exits"]
    n_cells = len(data.codes.group_names) * len(data.codes.age_bands) * len(DURATION_LABELS)
    assert ex.height == n_cells
    assert ex["rate_per_year"].is_finite().all() and (ex["rate_per_year"] > 0).all()
    # the cell's posterior given its main-effects prior, in closed form
    a = ex["prior_events"][0]
    assert math.isfinite(a) and a > 0  # the age x duration pattern is not main effects
    by_hand = ((a + ex["events"]) / (a / ex["prior_rate_per_year"]
                                     + ex["exposure_days"] / 365.25))
    assert ex["rate_per_year"].to_list() == pytest.approx(by_hand.to_list(), rel=1e-9)

    def cell(group, band, dur):
        return ex.filter((pl.col("placement_group") == group) & (pl.col("age_band") == band)
                         & (pl.col("duration_band") == dur)).row(0, named=True)

    # residential children never left: positive, finite, below what the cell is pooled to
    # and below foster care's rate for the same age and time in care
    res = cell("residential", "5-9", "3-12 months")
    assert res["events"] == 0 and res["exposure_days"] > 0
    assert 0 < res["rate_per_year"] < res["prior_rate_per_year"]
    assert res["rate_per_year"] < cell("fostering", "5-9", "3-12 months")["rate_per_year"]
    # 60 of the 12-year-olds left after 30 days: the cell keeps its raw rate within 10%
    # (the prior weighs a events against 60)
    full = cell("fostering", "10-15", "<3 months")
    assert full["events"] == 60 + 1  # and Z, who left after 19 days
    assert full["rate_per_year"] == pytest.approx(full["raw_rate_per_year"], rel=0.10)
    # cells nobody was in get their prior: finite and positive
    empty = ex.filter(pl.col("exposure_days") == 0)
    assert empty.height > 0
    assert empty["rate_per_year"].to_list() == pytest.approx(
        empty["prior_rate_per_year"].to_list())
    assert empty["raw_rate_per_year"].null_count() == empty.height
    # no moves at all: the overall rate from half an event, the same in every cell
    mv = r["moves"]
    assert int(mv["events"].sum()) == 0
    assert mv["rate_per_year"].n_unique() == 1 and mv["rate_per_year"][0] > 0
    # and it simulates
    p = f.simulate(2, 200, seed=3)
    assert np.isfinite(p.values).all()


# ---------------------------------------------------------------- determinism and options

def test_same_inputs_and_seed_give_identical_outputs(sample):
    past = truncate(sample, 2019)
    a = get_model("stockflow").fit(past)
    b = get_model("stockflow").fit(past)
    for kind in ("entries", "exits", "moves"):
        assert a.rates()[kind].equals(b.rates()[kind])
    pa = a.simulate(2, 300, seed=5).paths_table()
    pb = b.simulate(2, 300, seed=5).paths_table()
    assert pa.equals(pb)
    assert not pa.equals(a.simulate(2, 300, seed=6).paths_table())


def test_window_years_sets_the_reference_period(sample):
    past = truncate(sample, 2020)
    full = get_model("stockflow").fit(past)
    one = get_model("stockflow", window_years=1).fit(past)
    half = get_model("stockflow", window_years=0.5).fit(past)
    assert full.rates()["entries"]["exposure_days"][0] == 1096  # three collection years
    assert one.rates()["entries"]["exposure_days"][0] == 366  # 1 April 2019 - 31 March 2020
    assert half.rates()["entries"]["exposure_days"][0] == 183
    # three years is the default's exit and move window (and the sample's whole history)
    three = get_model("stockflow", window_years=3).fit(past)
    for kind in ("entries", "exits", "moves"):
        assert three.rates()[kind].equals(full.rates()[kind])
    days = [m.rates()["exits"]["exposure_days"].sum() for m in (full, one, half)]
    assert days[0] > days[1] > days[2] > 0
    assert one.years == (2020,) and not one.trend
    # a window longer than the data is the data
    long = get_model("stockflow", window_years=30).fit(past)
    assert long.rates()["entries"]["exposure_days"][0] == 1096
    for m in (one, half):
        p = m.simulate(2, 200, seed=1)
        assert np.isfinite(p.values).all()
    for bad in (0, -1, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="window_years"):
            get_model("stockflow", window_years=bad)


def test_rates_tables_have_readable_columns(sample):
    r = get_model("stockflow").fit(truncate(sample, 2020)).rates()
    assert set(r) == {"entries", "exits", "moves"}
    assert r["entries"].columns == ["age_band", "events", "exposure_days", "raw_rate_per_year",
                                    "prior_rate_per_year", "prior_events", "rate_per_year",
                                    "rate_at_origin_per_year"]
    for kind in ("exits", "moves"):
        assert r[kind].columns == ["placement_group", "age_band", "duration_band", "events",
                                   "exposure_days", "raw_rate_per_year", "prior_rate_per_year",
                                   "prior_events", "rate_per_year"]
        assert set(r[kind]["duration_band"].to_list()) == set(DURATION_LABELS)


# ---------------------------------------------------------------- age bands from the toml

def test_age_bands_come_from_the_codes_file(tmp_path):
    assert tuple(b.min_age for b in default_codes().age_bands[1:]) == AGE_CUTS
    text = (models_dir() / "ssda903.toml").read_text()
    head = text[:text.index("[[age_bands]]")]
    bands = "".join(f'[[age_bands]]\nlabel = "{lab}"\nmin_age = {lo}\nmax_age = {hi}\n'
                    for lab, lo, hi in (("0-4", 0, 4), ("5-15", 5, 15), ("16-17", 16, 17)))
    (tmp_path / "codes.toml").write_text(head + bands)
    codes = load_codes(tmp_path / "codes.toml")
    data = read_ssda903(fixtures_dir() / "synthetic_la", codes=codes)
    f = get_model("stockflow").fit(data)
    assert f.rates()["entries"]["age_band"].to_list() == ["0-4", "5-15", "16-17"]
    assert f.rates()["exits"].height == len(codes.group_names) * 3 * len(DURATION_LABELS)
    p = f.simulate(3, 100, seed=2)
    assert list(p.age_bands) == ["0-4", "5-15", "16-17"]
    assert np.array_equal(sum(p.age_bands.values())[0], p.total()[0])
    # no band label is hard-coded in the simulation
    src = Path(stockflow.__file__).read_text()
    assert not re.search(r'"10-15"|"under 1"', src)


def test_rates_out_writes_the_fitted_rates(tmp_path):
    """`cobic forecast --rates-out`: entries by age band count every entry in the window (all
    collection years by default), checked against the flows derived from the returns."""
    from typer.testing import CliRunner

    from cobic.cli import app
    from cobic.data import derive
    from cobic.data.ssda903 import read_ssda903
    from cobic.paths import fixtures_dir

    la = fixtures_dir() / "synthetic_la"
    res = CliRunner().invoke(app, ["forecast", "--episodes", str(la), "--paths", "50",
                                   "--horizon", "1", "--out", str(tmp_path / "f.csv"),
                                   "--rates-out", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    r = pl.read_csv(tmp_path / "r.csv")
    assert set(r["table"]) == {"entries", "exits", "moves"}
    flows = derive.flow_balance(read_ssda903(la))
    assert r.filter(pl.col("table") == "entries")["events"].sum() == flows["entries"].sum()
    ex = r.filter(pl.col("table") == "exits")
    assert ex.height == ex.select("placement_group", "age_band", "duration_band").n_unique()
    assert (ex["rate_per_year"] > 0).all()
    res = CliRunner().invoke(app, ["forecast", "--panel", str(la / "2016-header.csv"),
                                   "--area", "x", "--out", str(tmp_path / "g.csv"),
                                   "--rates-out", str(tmp_path / "s.csv")])
    assert res.exit_code == 2 and "--rates-out goes with --episodes" in res.output
