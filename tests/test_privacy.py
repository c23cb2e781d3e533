"""Secondary suppression: no suppressed count can be recovered by subtracting the printed
cells of its group from a printed total; and outputs name an area, never a file path."""

from __future__ import annotations

import polars as pl
import pytest

from cobic.data.ssda903 import read_ssda903
from cobic.demand.api import area_label, forecast_episodes
from cobic.paths import fixtures_dir
from cobic.report.privacy import (
    carry_relations,
    row_relations,
    suppress_linked,
    suppress_with_totals,
)


def _groups(values: list[int], total: int | None = None) -> pl.DataFrame:
    names = [f"g{i}" for i in range(len(values))]
    if total is not None:
        names, values = [*names, "all"], [*values, total]
    return pl.DataFrame({"group": names, "n": values})


def _shown(df: pl.DataFrame) -> dict[str, str]:
    return dict(zip(df["group"], df["n"], strict=True))


def _unknowns_after_subtraction(shown: dict[str, str]) -> int:
    """Cells still unknown once the printed total less the printed members is solved."""
    members = [v for k, v in shown.items() if k != "all"]
    assert shown.get("all", "0") != "c"
    return sum(v == "c" for v in members)


def test_one_small_cell_hides_the_next_smallest_too():
    out = _shown(suppress_with_totals(_groups([3, 12, 7, 50, 100], 172), ["n"], "group"))
    assert out["g0"] == "c"  # the 3
    assert [k for k, v in out.items() if v == "c"] == ["g0", "g2"]  # and the 7, nothing else
    assert out["all"] == "172" and out["g1"] == "12"
    assert _unknowns_after_subtraction(out) >= 2
    # what a reader can solve: the two hidden cells together, not either one
    assert 172 - sum(int(v) for v in out.values() if v not in ("c", "172")) == 3 + 7


def test_two_small_cells_are_enough():
    out = _shown(suppress_with_totals(_groups([2, 30, 4, 60], 96), ["n"], "group"))
    assert out == {"g0": "c", "g1": "30", "g2": "c", "g3": "60", "all": "96"}


def test_the_only_other_cell_is_hidden_even_when_large():
    out = _shown(suppress_with_totals(_groups([3, 40], 43), ["n"], "group"))
    assert out == {"g0": "c", "g1": "c", "all": "43"}


def test_a_small_total_is_hidden_and_zeros_stay_printed():
    assert _shown(suppress_with_totals(_groups([1, 2, 0], 3), ["n"], "group")) == {
        "g0": "c", "g1": "c", "g2": "0", "all": "c"}
    # the only non-zero member equals the total: both hidden, the zero printed
    assert _shown(suppress_with_totals(_groups([3, 0], 3), ["n"], "group")) == {
        "g0": "c", "g1": "0", "all": "c"}
    # a zero is not chosen while a non-zero cell can be
    assert _shown(suppress_with_totals(_groups([3, 0, 9, 20], 32), ["n"], "group")) == {
        "g0": "c", "g1": "0", "g2": "c", "g3": "20", "all": "32"}


def test_total_printed_elsewhere_groups_without_a_total_row():
    # stock by placement group: the total is the day's stock in another table
    out = _shown(suppress_with_totals(_groups([454, 54, 7, 4]), ["n"], "group"))
    assert out == {"g0": "454", "g1": "54", "g2": "c", "g3": "c"}


def test_groups_are_protected_one_date_at_a_time():
    df = pl.DataFrame({"date": [1, 1, 1, 1, 2, 2, 2, 2],
                       "group": ["a", "b", "c", "all"] * 2,
                       "n": [4, 10, 20, 34, 6, 10, 20, 36]})
    out = suppress_with_totals(df, ["n"], "group", by=["date"])
    assert out["n"].to_list() == ["c", "c", "20", "34", "6", "10", "20", "36"]


def test_two_hierarchies_share_the_total_row():
    df = pl.DataFrame({"pg": ["all", "x", "y", "z", "all", "all"],
                       "band": ["all", "all", "all", "all", "young", "old"],
                       "n": [60, 3, 20, 37, 25, 35]})
    out = suppress_with_totals(df, ["n"], ["pg", "band"])
    # groups: 3 -> c, and 20 (next smallest) -> c; bands untouched (no small cell)
    assert out["n"].to_list() == ["60", "c", "c", "37", "25", "35"]


def test_flows_balance_and_carry_over_are_protected():
    flows = pl.DataFrame({"start": [20, 7], "entries": [3, 10], "exits": [16, 9],
                          "end": [7, 8]})
    cols = ["start", "entries", "exits", "end"]
    rels = row_relations(flows, cols) + carry_relations(flows, "end", "start")
    out = suppress_linked(flows, cols, rels, keep=[(1, "end")])
    # entries 3 -> c; the smallest other cell of that year is the end stock 7 -> c; it is
    # the next year's start -> c; that year needs a second cell: exits 9 (end 8 is kept)
    assert out.rows() == [("20", "c", "16", "c"), ("c", "10", "c", "8")]
    for rel in rels:
        assert sum(out[c][r] == "c" for r, c in rel) != 1


def test_a_relation_that_cannot_be_protected_is_refused():
    df = pl.DataFrame({"a": [3], "b": [10]})
    with pytest.raises(ValueError, match="cannot be protected"):
        suppress_linked(df, ["a", "b"], [[(0, "a"), (0, "b")]], keep=[(0, "b")])


def test_duplicate_total_rows_are_refused():
    with pytest.raises(ValueError, match="more than one 'all'"):
        suppress_with_totals(_groups([3, 9, 12], None).vstack(_groups([], 12)).vstack(
            _groups([], 12)), ["n"], "group")


def test_outputs_name_the_area_not_its_path(tmp_path):
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    assert "/" in data.source  # the returns were read from a full path
    table = forecast_episodes(data, "stockflow", horizon=2, n_paths=20).forecast_table()
    assert set(table["area"].unique()) == {"synthetic_la"}
    naive = forecast_episodes(data, "naive", horizon=2, n_paths=20).forecast_table()
    assert set(naive["area"].unique()) == {"synthetic_la"}
    labelled = forecast_episodes(data, "naive", horizon=2, n_paths=20, area="Borsetshire")
    assert set(labelled.forecast_table()["area"].unique()) == {"Borsetshire"}
    f = tmp_path / "la_returns.csv"
    f.write_text("x")
    assert area_label(str(f)) == "la_returns"
    assert area_label(str(tmp_path / "returns_2025") + "/") == "returns_2025"
