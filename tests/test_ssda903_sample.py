"""The public synthetic SSDA903 sample, checked against a second, plain-Python reading."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from cobic.data import derive
from cobic.data.ssda903 import read_ssda903


def _d(s: str) -> date | None:
    return datetime.strptime(s, "%d/%m/%Y").date() if s else None


def _independent_stock(folder, on: date, exclude_short_breaks: bool) -> int:
    """Stock on ``on`` from the raw files with the documented rules, in plain Python.

    Files named YYYY hold 1 April YYYY - 31 March YYYY+1 in this sample. Rules: the latest
    return's copy of an episode (CHILD, DECOM) wins; an episode left open in a return and absent
    from every later return closes the day after that return's year end; an episode ends no
    later than the start of the child's next episode; short breaks (V3/V4) optionally left out.
    """
    latest: dict[tuple[str, date], tuple[int, dict]] = {}
    years = sorted(int(p.name[:4]) for p in folder.glob("*-episodes.csv"))
    for y in years:
        with open(folder / f"{y}-episodes.csv", newline="") as f:
            for row in csv.DictReader(f):
                latest[(row["CHILD"], _d(row["DECOM"]))] = (y, row)
    by_child: dict[str, list] = {}
    for (child, decom), (y, row) in latest.items():
        dec = _d(row["DEC"])
        if dec is None and y < years[-1]:
            dec = date(y + 1, 3, 31) + timedelta(days=1)
        by_child.setdefault(child, []).append([decom, dec, row["LS"]])
    n = 0
    for eps in by_child.values():
        eps.sort(key=lambda e: e[0])
        for a, b in zip(eps, eps[1:], strict=False):
            if a[1] is None or a[1] > b[0]:
                a[1] = b[0]
        if any(e[0] <= on and (e[1] is None or e[1] > on)
               and not (exclude_short_breaks and e[2] in ("V3", "V4")) for e in eps):
            n += 1
    return n


@pytest.fixture(scope="module")
def sample(shared_data):
    return read_ssda903(shared_data / "ssda903_sample")


def test_sample_year_label_inferred(sample):
    assert sample.year_label == "starting"
    assert sample.collection_years == (2018, 2019, 2020, 2021, 2022)
    assert sample.extract_end == date(2022, 3, 31)


@pytest.mark.parametrize("exclude", [True, False])
def test_stock_on_31_march_matches_independent_count(sample, shared_data, exclude):
    s = derive.stock(sample, exclude_short_breaks=exclude)
    got = dict(s.group_by("date").agg(pl.col("children").sum()).iter_rows())
    for year in range(2017, 2022):
        d = date(year, 3, 31)
        assert got[d] == _independent_stock(shared_data / "ssda903_sample", d, exclude), d


def test_stock_at_start_matches_published_sample_figure(sample):
    # ../shared/data/README.md: "628 in care on 31 March 2017" (all legal statuses).
    s = derive.stock(sample, on=date(2017, 3, 31), exclude_short_breaks=False)
    assert s["children"].sum() == 628


def test_quality_report_accounts_for_every_raw_row(sample, shared_data):
    q = sample.quality_summary()
    assert (q["kept"] + q["merged"] + q["dropped"] == q["read"]).all()
    for r in q.iter_rows(named=True):
        with open(r["file"], "rb") as f:
            raw_rows = sum(1 for line in f if line.strip()) - 1  # minus the column header
        assert r["read"] == raw_rows, r["file"]
    # every kept episode row is in the clean table, once
    kept = sample.quality.filter((pl.col("table") == "episodes") & (pl.col("outcome") == "kept"))
    assert kept.height == sample.episodes.height
    # every change is explained
    rep = sample.quality_report()
    assert rep.filter(pl.col("detail").is_null()).height == 0
    assert set(rep["change"].drop_nulls().unique()) <= {"overlap-resolved",
                                                         "closed-not-in-next-return"}


def test_flows_balance_on_sample(sample):
    fb = derive.flow_balance(sample)
    assert (fb["stock_start"] + fb["entries"] - fb["exits"] == fb["stock_end"]).all()
