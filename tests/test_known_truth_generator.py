"""The independent known-truth generator (benchmarks/known_truth.py) checked on its own terms:
its returns read cleanly, its truth agrees with what cobic derives from them, it is
deterministic, and its kinds behave as named (steady roughly flat, growth rising)."""

from __future__ import annotations

import filecmp
import importlib.util
import sys
from pathlib import Path

import polars as pl
import pytest

from cobic.data import derive
from cobic.data.ssda903 import read_ssda903

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "known_truth.py"


@pytest.fixture(scope="module")
def kt():
    spec = importlib.util.spec_from_file_location("known_truth", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("known_truth", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def steady(kt, tmp_path_factory):
    d = tmp_path_factory.mktemp("steady")
    return kt.generate("steady", 2, d, reps=30), read_ssda903(d)


@pytest.fixture(scope="module")
def growth(kt, tmp_path_factory):
    d = tmp_path_factory.mktemp("growth")
    return kt.generate("growth", 1, d, reps=30), read_ssda903(d)


@pytest.mark.parametrize("case", ["steady", "growth"])
def test_returns_read_and_match_the_truth(case, request):
    truth, data = request.getfixturevalue(case)
    spec = truth.spec
    assert data.collection_years == spec.years
    assert 10 <= len(spec.years) <= 12
    # nothing had to be repaired: re-reported episodes are merged, nothing else
    assert set(data.quality_report()["outcome"].to_list()) <= {"merged"}
    assert data.quality_report()["change"].drop_nulls().len() == 0
    fb = derive.flow_balance(data)
    for measure, col in (("stock", "stock_end"), ("entries", "entries"), ("exits", "exits"),
                         ("child_days", "child_days")):
        want = truth.series(measure)
        got = dict(fb.select("year", col).iter_rows())
        assert {y: float(v) for y, v in got.items()} == {y: want[y] for y in got}, measure
    s = derive.stock(data, on=data.extract_end)
    by_group = dict(s.group_by("placement_group").agg(pl.col("children").sum()).iter_rows())
    for g, n in by_group.items():
        assert truth.series("stock", group=g)[spec.last_year] == n
    # re-entries, UASC and children in care since before the first return are all present
    p = truth.periods
    assert p["reentry"].any() and p["uasc"].any()
    assert (p["start"] < data.data_start).any()
    assert 100 <= truth.series("stock")[spec.last_year] <= 1500


def test_same_seed_same_files(kt, tmp_path):
    a = kt.generate("steady", 2, tmp_path / "a", reps=0)
    kt.generate("steady", 2, tmp_path / "b", reps=0)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names and filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names,
                                      shallow=False)[0] == names
    assert a.spec == kt.make_spec("steady", 2)


def test_steady_truth_is_roughly_flat(steady):
    truth, _ = steady
    spec = truth.spec
    origin = truth.series("stock")[spec.last_year]
    exp = truth.series("stock", which="expected")
    assert all(abs(exp[y] / origin - 1) < 0.12 for y in spec.future_years)
    q10 = truth.series("stock", which="expected", stat="q10")
    q90 = truth.series("stock", which="expected", stat="q90")
    assert all(q10[y] < exp[y] < q90[y] for y in spec.future_years)


def test_growth_truth_rises(growth):
    truth, _ = growth
    spec = truth.spec
    assert spec.trend >= 0.03
    origin = truth.series("stock")[spec.last_year]
    exp = [truth.series("stock", which="expected")[y] for y in spec.future_years]
    assert exp[-1] > 1.2 * origin
    assert all(b > a for a, b in zip(exp, exp[1:], strict=False))
    hist = truth.series("stock")
    assert hist[spec.last_year] > hist[spec.first_year - 1]
    ent = truth.series("entries", which="expected")
    assert ent[spec.future_years[-1]] > ent[spec.future_years[0]]
