"""The ONS 0-17 population used automatically when an LA's returns are labelled with a known
area, checked against the raw ONS rows, and said so; a user's file overrides it."""

from __future__ import annotations

import csv
import shutil

import polars as pl
from typer.testing import CliRunner

from cobic.cli import app
from cobic.data.population import default_ons_file, ons_population
from cobic.paths import fixtures_dir


def _raw(path, la: str) -> dict[int, float]:
    with open(path, newline="") as f:
        return {int(r["time_period"]): float(r["population_estimate"])
                for r in csv.DictReader(f) if r["la_name"] == la
                and r["geographic_level"] == "Local authority"}


def test_ons_population_is_the_mid_year_before_each_collection_year(shared_data):
    raw = _raw(default_ons_file(), "Leeds")
    pop = ons_population("  leeds ")  # case and spaces ignored
    got = dict(pop.iter_rows())
    assert got == {mid + 1: v for mid, v in raw.items()}  # 31 March 2021 <- mid-2020
    assert got[2025] == 176239.0
    assert ons_population("Atlantis") is None


def test_forecast_uses_and_names_the_ons_population(shared_data, tmp_path):
    la = shutil.copytree(fixtures_dir() / "synthetic_la", tmp_path / "returns")
    (la / "population.csv").unlink(missing_ok=True)
    runner = CliRunner()
    args = ["forecast", "--episodes", str(la), "--horizon", "2", "--paths", "200", "--seed",
            "1"]
    r = runner.invoke(app, [*args, "--area", "Leeds", "--out", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    assert "ONS mid-year estimates of children aged 0-17 for Leeds" in r.output
    # the same forecast with the same figures given as a user file
    own = tmp_path / "pop.csv"
    ons_population("Leeds").write_csv(own)
    r2 = runner.invoke(app, [*args, "--population", str(own), "--out",
                             str(tmp_path / "b.csv")])
    assert r2.exit_code == 0 and "ONS" not in r2.output
    a, b = pl.read_csv(tmp_path / "a.csv"), pl.read_csv(tmp_path / "b.csv")
    assert a.drop("area").equals(b.drop("area"))
    # an unknown label: no population, nothing said
    r3 = runner.invoke(app, [*args, "--area", "Atlantis", "--out", str(tmp_path / "c.csv")])
    assert r3.exit_code == 0 and "Population" not in r3.output
    c = pl.read_csv(tmp_path / "c.csv")
    assert not c.drop("area").equals(a.drop("area"))
