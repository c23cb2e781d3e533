"""`cobic design` end to end: the designed TOML re-priced by `cobic price` meets the targets;
an infeasible set exits 2, writes nothing and names the nearest values."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from cobic.cli import app
from cobic.costs import default_unit_costs_path
from cobic.paths import fixtures_dir, models_dir

runner = CliRunner()


@pytest.fixture(scope="module")
def paths_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("design")
    p = d / "paths.parquet"
    r = runner.invoke(app, ["forecast", "--episodes", str(fixtures_dir() / "synthetic_la"),
                            "--horizon", "8", "--paths", "300", "--seed", "1",
                            "--out", str(d / "f.csv"), "--paths-out", str(p)])
    assert r.exit_code == 0, r.output
    return p


def _args(paths_file, out, *targets):
    return ["design", "--forecast", str(paths_file), "--contract",
            str(models_dir() / "contracts" / "cobic_7yr.toml"), "--costs",
            str(default_unit_costs_path()), "--out", str(out),
            *[a for t in targets for a in ("--target", t)]]


def test_designed_terms_meet_the_targets_when_priced_again(paths_file, tmp_path):
    out = tmp_path / "designed.toml"
    r = runner.invoke(app, _args(paths_file, out, "provider_loss_prob<=0.3",
                                 "commissioner_p90<=520e6"))
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["price", "--forecast", str(paths_file), "--contract", str(out),
                            "--costs", str(default_unit_costs_path()), "--out",
                            str(tmp_path / "priced")])
    assert r.exit_code == 0, r.output
    risk = pl.read_csv(tmp_path / "priced" / "risk.csv")
    summary = pl.read_csv(tmp_path / "priced" / "summary.csv")
    p_loss = risk.filter(pl.col("measure").str.starts_with("P(provider makes a loss"))
    assert p_loss["value"][0] <= 0.3
    p90 = summary.filter(pl.col("measure") == "commissioner_outlay")["p90"][0]
    assert p90 <= 520e6


def test_an_infeasible_target_set_exits_2_with_the_nearest_values(paths_file, tmp_path):
    out = tmp_path / "designed.toml"
    r = runner.invoke(app, _args(paths_file, out, "provider_loss_prob<=0",
                                 "commissioner_p90<=1e6"))
    assert r.exit_code == 2
    assert "no terms tried meet every target" in r.output and "best" in r.output
    assert not out.exists()


def test_a_bad_target_is_named(paths_file, tmp_path):
    r = runner.invoke(app, _args(paths_file, tmp_path / "d.toml", "provider_los_prob<=0.3"))
    assert r.exit_code == 2 and "provider_los_prob" in r.output
