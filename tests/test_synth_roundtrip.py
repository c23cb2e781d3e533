"""Files written by the generator read back through the reader give exactly its truth."""

from __future__ import annotations

import dataclasses
import filecmp
from datetime import date

import polars as pl
import pytest
from typer.testing import CliRunner

from cobic.cli import FIXTURE_SEED, app
from cobic.data import derive
from cobic.data.ssda903 import read_ssda903
from cobic.data.synth import SynthSpec, generate, scenario, write_ssda903
from cobic.paths import fixtures_dir

CASES = [("steady", 1), ("growth", 2), ("shock", 3), ("decline", 4), ("steady", 5)]


def _small(name: str, seed: int) -> SynthSpec:
    return scenario(name, seed=seed, population_0_17=25_000, n_years=7, burn_in_years=12)


def _truth(la, measure: str) -> dict:
    t = la.truth.filter(pl.col("measure") == measure)
    return {(r["year"], r["placement_group"]): r["value"] for r in t.iter_rows(named=True)}


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_round_trip_matches_truth(tmp_path, name, seed):
    la = generate(_small(name, seed))
    write_ssda903(la, tmp_path)
    data = read_ssda903(tmp_path)
    assert data.year_label == "ending"
    assert data.collection_years == la.spec.years
    assert data.quality_report().height == 0 or set(data.quality_report()["outcome"]) == {"merged"}

    s = derive.stock(data)
    got = {(d.year, g): float(n) for d, g, n in
           s.group_by("date", "placement_group").agg(pl.col("children").sum()).iter_rows()}
    want = {k: v for k, v in _truth(la, "stock").items() if v > 0}
    assert got == want

    cd = derive.child_days(data)
    got = {(y, g): float(v) for y, g, v in cd.iter_rows()}
    want = {k: v for k, v in _truth(la, "child_days").items() if v > 0}
    assert got == want

    fb = derive.flow_balance(data)
    for measure in ("entries", "exits", "moves"):
        want = {y: v for (y, _), v in _truth(la, measure).items()}
        got = {r["year"]: float(r[measure]) for r in fb.iter_rows(named=True)}
        assert got == want, measure


def test_round_trip_with_files_named_by_starting_year(tmp_path):
    la = generate(_small("steady", 7))
    write_ssda903(la, tmp_path / "ending")
    (tmp_path / "starting").mkdir()
    for p in (tmp_path / "ending").iterdir():
        y, rest = p.name.split("-", 1)
        (tmp_path / "starting" / f"{int(y) - 1}-{rest}").write_bytes(p.read_bytes())
    a = read_ssda903(tmp_path / "ending")
    b = read_ssda903(tmp_path / "starting")
    assert b.year_label == "starting"
    assert a.collection_years == b.collection_years
    assert derive.flow_balance(a).equals(derive.flow_balance(b))


def test_same_seed_gives_byte_identical_files(tmp_path):
    spec = _small("shock", 11)
    write_ssda903(generate(spec), tmp_path / "a")
    write_ssda903(generate(spec), tmp_path / "b")
    write_ssda903(generate(dataclasses.replace(spec, seed=12)), tmp_path / "c")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(names)
    _, mismatch, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", names, shallow=False)
    assert mismatch  # another seed gives other data


def test_shipped_fixture_regenerates_byte_identically(tmp_path):
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "la"),
                                   "--seed", str(FIXTURE_SEED)])
    assert res.exit_code == 0, res.output
    shipped = fixtures_dir() / "synthetic_la"
    names = sorted(p.name for p in shipped.iterdir() if p.is_file())
    assert len(names) == 23
    match, mismatch, errors = filecmp.cmpfiles(shipped, tmp_path / "la", names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_fixture_is_a_600_child_la_over_10_years():
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    assert len(data.collection_years) == 10
    s = derive.stock(data, on=data.extract_end)["children"].sum()
    assert 500 <= s <= 700


def test_entry_rate_and_shock_are_what_the_spec_says():
    # With re-entries off, entries are Poisson(rate x population x multiplier) each year.
    base = dataclasses.replace(SynthSpec(seed=3), population_0_17=1_000_000, n_years=6,
                               burn_in_years=1, reentry_probability=0.0)
    shocked = dataclasses.replace(base, shock_year=base.first_year + 3, shock_multiplier=1.2)
    expect = sum(base.entry_rate_per_10k) / 1e4 * base.population_0_17 / 18
    for spec, mult in ((base, 1.0), (shocked, 1.2)):
        t = generate(spec).truth.filter(pl.col("measure") == "entries")
        late = t.filter(pl.col("year") >= base.first_year + 3)["value"].mean()
        # 3 years of ~4,150 entries a year: sd of the mean ~37, so 3% is > 3 sd
        assert late == pytest.approx(expect * mult, rel=0.03)


def test_no_child_is_looked_after_at_or_beyond_18(tmp_path):
    la = generate(_small("growth", 21))
    write_ssda903(la, tmp_path)
    data = read_ssda903(tmp_path)
    s = derive.stock(data)
    assert s["age"].max() <= 17
    p = derive.periods_of_care(data)
    assert p.filter(pl.col("end").is_not_null())["age_at_end"].max() <= 18
    assert data.extract_end == date(la.spec.years[-1], 3, 31)
