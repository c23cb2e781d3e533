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
    assert len(pngs) == 7
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert demo.report.read_text().count("data:image/svg+xml;base64,") == 7
    assert {p.stem for p in (out / "tables").glob("*.csv")} >= {
        "data_quality", "flows", "forecast", "contract_schedule", "mechanisms", "cost_growth"}


def test_demo_cost_growth_band(demo):
    """The fitted-growth band by hand: the shipped model's median growth (16.6% a year now)
    far outruns the cost set's uplifts (3-6% less 2% efficiency), so by the last contract year
    the fitted median cost exceeds the fixed one by at least the compounded difference of the
    slowest fixed uplift (6% less 2%), and every band is ordered."""
    t = pl.read_csv(demo.out_dir / "tables" / "cost_growth.csv")
    for b in ("fixed", "fitted"):
        assert (t[f"{b}_p10"] <= t[f"{b}_p50"]).all() and (t[f"{b}_p50"] <= t[f"{b}_p90"]).all()
    from cobic.costs import default_growth_path, load_growth

    g, _ = load_growth(default_growth_path())
    years = t.height + 1  # the base price year (2024-25) to the last contract year's lead
    ratio = t["fitted_p50"][-1] / t["fixed_p50"][-1]
    assert ratio > (np.exp(g.level) / (1.06 * 0.98)) ** (years - 2)
    assert "With fitted growth: provider margin, expected; chance of a provider loss" in \
        demo.headline


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
    assert demo.headline["Children looked after on the last 31 March"] == f"{stock:,}"
    sched = pl.read_csv(demo.out_dir / "tables" / "contract_schedule.csv")
    assert demo.headline["Total capitation, nominal"] == \
        f"£{sched['capitation'].sum() / 1e6:,.1f}m"
    # present value by hand: real (deflated 2% a year) x Green Book factor
    k = np.arange(1, sched.height + 1)
    pv = (sched["capitation"].to_numpy() / 1.02**k / 1.035 ** (k - 1)).sum()
    assert demo.headline["Total capitation, present value"] == f"£{pv / 1e6:,.1f}m"
    assert sched.height == 7
    # the headline speaks money and chances, not code: no GBP, no bare fraction
    for k, v in demo.headline.items():
        assert "GBP" not in k + v and "P(" not in k and not re.fullmatch(r"0\.\d+", v), (k, v)


def _hidden_per_relation(df: pl.DataFrame, relations) -> list[int]:
    return [sum(df[c][r] == "c" for r, c in rel) for rel in relations]


def _demo_relations(tables: dict[str, pl.DataFrame]) -> dict[str, list]:
    """Every set of printed cells tied by a sum, per table (written out here, independently)."""
    fc = tables["forecast"].with_row_index("i")
    rels = {"stock_by_placement_group": [[(r, "children") for r in range(
                tables["stock_by_placement_group"].height)]],
            "stock_by_age_band": [[(r, "children") for r in range(
                tables["stock_by_age_band"].height)]],
            "forecast": [], "flows": [], "data_quality": []}
    for col in ("mean", "q05", "q10", "q50", "q90", "q95"):
        for other in ("age_band", "placement_group"):
            for _, part in fc.filter(pl.col(other) == "all").group_by("period"):
                rels["forecast"].append([(r, col) for r in part["i"].to_list()])
    fl = tables["flows"]
    for r in range(fl.height):
        rels["flows"].append([(r, c) for c in ("stock_start", "entries", "exits", "stock_end")])
        if r:
            rels["flows"].append([(r - 1, "stock_end"), (r, "stock_start")])
    rels["data_quality"] = [[(r, c) for c in ("read", "kept", "merged", "dropped")]
                            for r in range(tables["data_quality"].height)]
    return rels


def test_demo_suppressed_cells_cannot_be_recovered_from_totals(demo):
    tables = {n: pl.read_csv(demo.out_dir / "tables" / f"{n}.csv", infer_schema=False)
              for n in ("stock_by_placement_group", "stock_by_age_band", "forecast", "flows",
                        "data_quality")}
    for name, rels in _demo_relations(tables).items():
        hidden = _hidden_per_relation(tables[name], rels)
        assert 1 not in hidden, (name, [rel for rel, h in zip(rels, hidden, strict=True) if h == 1][:2])
    # independently: secure (4 children) and the next smallest group are hidden, and the
    # day's stock they add up to is printed (so 2 unknowns remain after subtraction)
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    counts = dict(derive.stock_totals(data, "placement_group").iter_rows())
    smallest = sorted(counts, key=counts.get)[:2]
    assert counts[smallest[0]] < 5 <= counts[smallest[1]]
    shown = dict(tables["stock_by_placement_group"].iter_rows())
    assert sorted(k for k, v in shown.items() if v == "c") == sorted(smallest)
    assert int(tables["flows"]["stock_end"][-1]) == sum(counts.values())
    # small forecast cells exist too (the low quantiles of the smallest groups)
    assert any("c" in tables["forecast"][q].to_list() for q in ("q05", "q10", "q50"))
    assert set(tables["forecast"]["area"].unique()) == {"synthetic_la"}


def test_demo_shows_terms_a_provider_could_sustain(demo):
    """Beside the shipped terms, the goal-seek's suggestion meets its targets (P(loss) at
    most 30%, margin not negative); the shipped column is the priced contract's own figures."""
    t = {r["figure"]: r for r in pl.read_csv(
        demo.out_dir / "tables" / "sustainable_terms.csv").iter_rows(named=True)}
    loss = t["Chance of a provider loss"]
    assert int(loss["suggested"].rstrip("%")) <= 30
    assert not t["Provider margin, expected"]["suggested"].startswith("-")
    risk = pl.read_csv(demo.out_dir / "tables" / "contract_risk.csv")
    shipped = risk.filter(pl.col("measure").str.starts_with("P(provider makes a loss"))
    assert loss["shipped"] == f"{shipped['value'][0]:.0%}"
    assert "Terms a provider could sustain" in demo.report.read_text()


def test_demo_report_writes_money_as_money(demo):
    """Table notes and chart axes say £m, as the tables' own figures do: "GBP m" (the
    code's unit) appears nowhere in the report, its charts included (drawn as SVG)."""
    text = demo.report.read_text()
    assert "£m, nominal" in text
    assert "GBP m" not in text and "GBP nominal" not in text
