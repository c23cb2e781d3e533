"""Saved what-if settings: written and read back, the same scenario on the command line, bad
files named by key, and the notebook's levers starting from a loaded file."""

from __future__ import annotations

import tomllib

import polars as pl
import pytest
from typer.testing import CliRunner

from cobic.budget import Levers, levers_toml, load_levers, parse_levers
from cobic.cli import app
from cobic.errors import SpecError
from cobic.paths import fixtures_dir
from tests.test_notebooks import load

LEVERS = Levers(entry_shock=0.2, entry_shock_year=2028, prevention=0.1, prevention_year=2029,
                longer_stays=0.1, residential_to_fostering=0.25, residential_inflation=0.08,
                other_inflation=0.025, efficiency=0.01, fitted_growth=False)


def test_settings_round_trip(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(levers_toml(LEVERS, "a note"))
    assert load_levers(f) == LEVERS
    assert "a note" in f.read_text()


@pytest.mark.parametrize(("text", "key"), [
    ("[demand]\nentry_shock = 0.2\n", "demand.entry_shock_year"),
    ("[demand]\nentry_shock = 9.0\nentry_shock_year = 2028\n", "demand.entry_shock"),
    ("[demand]\nstays = 0.1\n", "stays"),
    ("[prices]\nfitted_growth = 1\n", "prices.fitted_growth"),
    ("[prices]\nefficiency = nan\n", "prices.efficiency"),
    ("[other]\n", "other"),
])
def test_a_bad_settings_file_names_the_key(text, key):
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        parse_levers(tomllib.loads(text), "s.toml")


def test_cli_scenario_file_is_the_same_scenario_as_its_pieces(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(levers_toml(Levers(entry_shock=0.2, entry_shock_year=2028, longer_stays=0.1)))
    la = str(fixtures_dir() / "synthetic_la")
    runner = CliRunner()
    common = ["forecast", "--episodes", la, "--paths", "100", "--horizon", "4", "--seed", "2"]
    a = runner.invoke(app, [*common, "--scenario-file", str(f), "--out", str(tmp_path / "a.csv")])
    b = runner.invoke(app, [*common, "--scenario", "entry_step=+20%@2028", "--scenario",
                            "stay=+10%", "--out", str(tmp_path / "b.csv")])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    fa, fb = pl.read_csv(tmp_path / "a.csv"), pl.read_csv(tmp_path / "b.csv")
    assert fa.equals(fb)
    base = runner.invoke(app, [*common, "--out", str(tmp_path / "c.csv")])
    assert base.exit_code == 0
    assert not pl.read_csv(tmp_path / "c.csv").equals(fa)  # the levers did something
    both = runner.invoke(app, [*common, "--scenario-file", str(f), "--scenario", "uasc=3",
                               "--out", str(tmp_path / "d.csv")])
    assert both.exit_code == 2 and not (tmp_path / "d.csv").exists()


def test_the_notebook_starts_from_loaded_settings():
    _, defs = load("what_if_budget").app.run()
    years = defs["years"]
    loaded = Levers(entry_shock=0.15, entry_shock_year=years[2], longer_stays=-0.1,
                    residential_inflation=0.07, other_inflation=0.02, efficiency=0.01,
                    fitted_growth=False)
    _, defs = load("what_if_budget").app.run(defs={"loaded": loaded})
    lv = defs["levers"]
    assert lv.entry_shock == pytest.approx(0.15) and lv.entry_shock_year == years[2]
    assert lv.longer_stays == pytest.approx(-0.1) and not lv.fitted_growth
    assert lv.residential_inflation == pytest.approx(0.07)
    assert lv.efficiency == pytest.approx(0.01)
