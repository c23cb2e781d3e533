"""Suppression edges, each checked against values worked out by hand (DfE convention: counts of
1-4 hidden as "c", 0 and 5 upwards shown; secondary suppression hides the smallest non-zero
other cell of a relation left with one hidden cell)."""

from __future__ import annotations

import polars as pl
import pytest

from cobic.report.privacy import (
    assert_aggregate,
    carry_relations,
    group_relations,
    suppress_linked,
    suppress_small,
    suppress_with_totals,
)


def test_primary_suppression_boundaries():
    df = pl.DataFrame({"n": [0, 1, 4, 5, 6]})
    assert suppress_small(df, ["n"])["n"].to_list() == ["0", "c", "c", "5", "6"]


def test_numbers_are_written_whole_or_to_one_decimal():
    df = pl.DataFrame({"x": [12.0, 12.34, 12.5, 12.96, 250.0]})
    assert suppress_small(df, ["x"])["x"].to_list() == ["12", "12.3", "12.5", "13.0", "250"]


def test_a_group_of_one_member_and_its_total_is_a_relation():
    """One member plus its total: hiding the member (3) must hide the total too, or the total
    gives it away."""
    df = pl.DataFrame({"group": ["fostering", "all"], "n": [3, 3]})
    rels = group_relations(df, ["n"], "group")
    assert rels == [[(0, "n"), (1, "n")]]
    assert suppress_with_totals(df, ["n"], "group")["n"].to_list() == ["c", "c"]


def test_secondary_suppression_takes_the_smallest_non_zero_cell_even_if_negative():
    """A signed relation (start + entries - exits = end): with the 2 hidden, the next cell to
    hide is the smallest non-zero one, here -30 (exits written as a negative), not the 0."""
    df = pl.DataFrame({"a": [2.0], "b": [-30.0], "c": [0.0], "d": [70.0]})
    out = suppress_linked(df, ["a", "b", "c", "d"], [[(0, "a"), (0, "b"), (0, "c"),
                                                       (0, "d")]])
    assert out.row(0) == ("c", "c", "0", "70")


def test_exports_with_a_child_level_column_are_refused_and_others_pass():
    assert_aggregate(pl.DataFrame({"year": [2024], "n": [10]}), "ok")
    with pytest.raises(ValueError, match=r"\['DOB'\]"):
        assert_aggregate(pl.DataFrame({"DOB": ["2010-01-01"], "n": [1]}), "leaky")


def test_an_unknown_column_is_named():
    with pytest.raises(KeyError, match="nope"):
        suppress_small(pl.DataFrame({"n": [1]}), ["nope"])


def test_negative_values_are_not_counts_and_are_shown():
    """A net change of -3 is not a count of three children: only 1-4 are suppressed."""
    df = pl.DataFrame({"net": [-3, -1, 0, 2]})
    assert suppress_small(df, ["net"])["net"].to_list() == ["-3", "-1", "0", "c"]


def test_carry_relations_link_each_row_to_the_next_only():
    df = pl.DataFrame({"start": [10, 12, 15], "end": [12, 15, 11]})
    assert carry_relations(df, "end", "start") == [[(0, "end"), (1, "start")],
                                                   [(1, "end"), (2, "start")]]


def test_relations_follow_the_table_order():
    """Groups in the order the table gives them, so which cell is hidden second does not
    change from run to run."""
    df = pl.DataFrame({"date": ["b", "b", "a", "a", "c", "c"],
                       "group": ["x", "all", "x", "all", "x", "all"], "n": [3, 3, 7, 7, 9, 9]})
    assert group_relations(df, ["n"], "group", by=["date"]) == [
        [(0, "n"), (1, "n")], [(2, "n"), (3, "n")], [(4, "n"), (5, "n")]]
