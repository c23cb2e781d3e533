"""The demo report: everything written, aggregates only, small counts suppressed, and the
headline figures equal to the library's."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from cobic.data import derive
from cobic.data.ssda903 import read_ssda903
from cobic.paths import fixtures_dir
from cobic.report.demo import run_demo
from cobic.report.privacy import assert_aggregate, suppress_small


def test_suppress_small_counts():
    df = pl.DataFrame({"g": ["a", "b", "c", "d", "e"], "n": [0, 1, 4, 5, 120],
                       "m": [0.0, 0.4, 4.9, 5.0, 12.5]})
    out = suppress_small(df, ["n", "m"])
    assert out["n"].to_list() == ["0", "c", "c", "5", "120"]
    assert out["m"].to_list() == ["0", "c", "c", "5", "12.5"]
    with pytest.raises(ValueError, match="CHILD"):
        assert_aggregate(pl.DataFrame({"CHILD": ["1"]}), "x")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("d") / "out", n_paths=200)


def test_demo_writes_everything(demo):
    out = demo.out_dir
    assert demo.report.exists() and demo.report.stat().st_size > 50_000
    assert (out / "cobic-demo.xlsx").read_bytes()[:2] == b"PK"
    pngs = sorted((out / "charts").glob("*.png"))
    assert len(pngs) == 6
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert demo.report.read_text().count("data:image/svg+xml;base64,") == 6
    assert {p.stem for p in (out / "tables").glob("*.csv")} >= {
        "data_quality", "flows", "forecast", "contract_schedule", "mechanisms"}


def test_demo_outputs_hold_aggregates_only(demo):
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    ids = set(data.header["CHILD"].to_list())
    dobs = {d.strftime("%d/%m/%Y") for d in data.header["DOB"].to_list()}
    for f in [demo.report, *(demo.out_dir / "tables").glob("*.csv")]:
        text = f.read_text()
        found = set(re.findall(r"(?<![\d.,])1\d{5}(?![\d.,])", text)) & ids
        assert not found, (f.name, sorted(found)[:3])
        assert not set(re.findall(r"\d{2}/\d{2}/\d{4}", text)) & dobs, f.name
        assert not re.search(r"\b[A-Z]{1,2}\d{1,2}[A-Z]? \d[A-Z]{2}\b", text), f.name
        if f.suffix == ".csv":
            header = text.splitlines()[0].split(",")
            assert not {"CHILD", "DOB", "UPN", "HOME_POST", "PL_POST"} & set(header), f.name


def test_demo_counts_of_1_to_4_are_suppressed(demo):
    for name, cols in {"stock_by_placement_group": ["children"],
                       "stock_by_age_band": ["children"],
                       "flows": ["stock_start", "entries", "exits", "stock_end", "moves"],
                       "data_quality": ["read", "kept", "merged", "dropped", "changed"]}.items():
        df = pl.read_csv(demo.out_dir / "tables" / f"{name}.csv", infer_schema=False)
        for c in cols:
            vals = [v for v in df[c].to_list() if v != "c"]
            assert all(float(v) == 0 or float(v) >= 5 for v in vals), (name, c)
    # the fixture has fewer than 5 children in secure placements: shown as c
    groups = pl.read_csv(demo.out_dir / "tables" / "stock_by_placement_group.csv",
                         infer_schema=False)
    assert dict(groups.iter_rows())["secure"] == "c"


def test_demo_headline_equals_the_library(demo):
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    stock = derive.stock(data, on=data.extract_end)["children"].sum()
    assert demo.headline["children looked after on the last 31 March"] == stock
    sched = pl.read_csv(demo.out_dir / "tables" / "contract_schedule.csv")
    assert demo.headline["total capitation, nominal (GBP m)"] == round(
        sched["capitation"].sum() / 1e6, 2)
    # present value by hand: real (deflated 2% a year) x Green Book factor
    k = np.arange(1, sched.height + 1)
    pv = (sched["capitation"].to_numpy() / 1.02**k / 1.035 ** (k - 1)).sum()
    assert demo.headline["total capitation, present value (GBP m)"] == round(pv / 1e6, 2)
    assert sched.height == 7
