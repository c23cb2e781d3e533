"""Exported tables hold aggregates only, and counts of 1-4 are suppressed (DfE convention).

Primary suppression: every value strictly between 0 and 5 is shown as ``"c"`` (DfE's marker
for suppressed cells); zeros and larger values are kept, as text, so a suppressed column reads
the same in CSV, XLSX and HTML (:func:`suppress_small`).

Secondary suppression: a suppressed cell in a group of cells tied by a sum (placement groups
adding up to a printed total, stock at the start plus entries minus exits giving the stock at
the end) could be recovered by subtraction. :func:`suppress_linked` therefore hides, in every
such relation left with exactly one hidden cell, the smallest other visible cell (non-zero
first), and repeats until no relation has exactly one hidden cell. A relation is a list of
``(row, column)`` cells; :func:`group_relations`, :func:`row_relations` and
:func:`carry_relations` build the usual ones, and :func:`suppress_with_totals` is the long-table
case (rows by group with a total row). This is the DfE-style rule: no single hidden cell can be
solved from one relation; it is not a full linear-programming audit of overlapping relations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

__all__ = ["suppress_small", "suppress_with_totals", "suppress_linked", "group_relations",
           "row_relations", "carry_relations", "SUPPRESSED", "CHILD_LEVEL_COLUMNS",
           "assert_aggregate"]

SUPPRESSED = "c"
SMALL = 5  # counts 1 to SMALL - 1 are suppressed
# columns that identify a child: never in an export
CHILD_LEVEL_COLUMNS = {"CHILD", "DOB", "UPN", "MC_DOB", "HOME_POST", "PL_POST", "URN", "MOTHER"}

Cell = tuple[int, str]


def suppress_small(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Primary suppression only: ``columns`` with values in (0, 5) shown as ``"c"``.

    Parameters
    ----------
    df
        The table.
    columns
        Numeric columns to suppress; every other column is returned unchanged.

    Returns
    -------
    polars.DataFrame
        ``df`` with ``columns`` as text: ``"c"`` for 1-4, whole numbers without decimals,
        other values rounded to one decimal.
    """
    return suppress_linked(df, columns, [])


def suppress_with_totals(df: pl.DataFrame, value_cols: list[str],
                         group_col: str | Sequence[str], total_label: str = "all",
                         by: Sequence[str] = ()) -> pl.DataFrame:
    """Primary and secondary suppression of a long table whose groups add up to a total.

    Parameters
    ----------
    df
        The table: one row per group (and optionally a total row) for each key in ``by``.
    value_cols
        Count columns; each is protected on its own.
    group_col
        The column (or columns, for several hierarchies sharing the total row, such as
        placement group and age band) whose members add up to the row labelled
        ``total_label``. Without such a row the total is taken to be printed elsewhere
        (so the members alone are one relation).
    total_label
        Label of the total row in ``group_col``.
    by
        Columns that identify one set of cells adding up (e.g. the date).

    Returns
    -------
    polars.DataFrame
        ``df`` with ``value_cols`` as text and ``"c"`` where suppressed.
    """
    rels = group_relations(df, value_cols, group_col, total_label, by)
    return suppress_linked(df, value_cols, rels)


def suppress_linked(df: pl.DataFrame, columns: list[str], relations: Iterable[Sequence[Cell]],
                    keep: Iterable[Cell] = ()) -> pl.DataFrame:
    """Primary suppression, then secondary suppression over linear ``relations``.

    Parameters
    ----------
    df
        The table.
    columns
        Numeric columns to suppress.
    relations
        Sets of ``(row, column)`` cells tied by a sum (any signs): each ends with none or at
        least two hidden cells.
    keep
        Cells printed elsewhere (e.g. a headline total): never chosen for secondary
        suppression.

    Returns
    -------
    polars.DataFrame
        ``df`` with ``columns`` as text and ``"c"`` where suppressed.

    Raises
    ------
    ValueError
        If a relation cannot be protected because all its other cells are in ``keep``.
    """
    for c in columns:
        if c not in df.columns:
            raise KeyError(f"no column {c!r} to suppress (columns: {df.columns})")
    values = df.select(pl.col(columns).cast(pl.Float64)).to_numpy().reshape(df.height,
                                                                             len(columns))
    col = {c: j for j, c in enumerate(columns)}
    rels = [np.array([r * len(columns) + col[c] for r, c in rel]) for rel in relations]
    kept = np.array([r * len(columns) + col[c] for r, c in keep], dtype=int)
    flat = values.ravel()
    hidden = _protect(flat, (flat > 0) & (flat < SMALL), rels, kept)
    return _as_text(df, columns, hidden.reshape(values.shape))


def _protect(values: np.ndarray, hidden: np.ndarray, relations: list[np.ndarray],
             keep: np.ndarray) -> np.ndarray:
    """``hidden`` grown until no relation has exactly one hidden cell."""
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for rel in relations:
            if hidden[rel].sum() == 1:
                hidden[_next_smallest(values, hidden, rel, keep)] = True
                changed = True
    return hidden


def _next_smallest(values: np.ndarray, hidden: np.ndarray, rel: np.ndarray,
                   keep: np.ndarray) -> int:
    """The visible cell of ``rel`` to hide: the smallest non-zero one (zeros last)."""
    free = rel[~hidden[rel] & ~np.isin(rel, keep) & ~np.isnan(values[rel])]
    if free.size == 0:
        raise ValueError("a suppressed cell cannot be protected: every other cell of its "
                         "relation is printed elsewhere")
    v = values[free]
    return int(free[np.lexsort((v, v == 0))[0]])


def group_relations(df: pl.DataFrame, value_cols: list[str], group_col: str | Sequence[str],
                    total_label: str = "all", by: Sequence[str] = ()) -> list[list[Cell]]:
    """Relations of a long table: for each column, the rows sharing ``by`` (and the other
    group columns) add up to their ``total_label`` row (see :func:`suppress_with_totals`)."""
    hier = [group_col] if isinstance(group_col, str) else list(group_col)
    ix = df.with_row_index("_row")
    rels: list[list[Cell]] = []
    for g in hier:
        keys = [*by, *(h for h in hier if h != g)]
        parts = ix.group_by(keys, maintain_order=True) if keys else [((), ix)]
        for _, part in parts:
            rows = part["_row"].to_list()
            if (part[g] == total_label).sum() > 1:
                raise ValueError(f"more than one {total_label!r} row in {g!r} for one group")
            if len(rows) >= 2:
                rels.extend([(r, c) for r in rows] for c in value_cols)
    return rels


def row_relations(df: pl.DataFrame, columns: list[str]) -> list[list[Cell]]:
    """One relation per row between ``columns`` (e.g. read = kept + merged + dropped)."""
    return [[(r, c) for c in columns] for r in range(df.height)]


def carry_relations(df: pl.DataFrame, end_col: str, start_col: str) -> list[list[Cell]]:
    """``end_col`` of each row equals ``start_col`` of the next (rows in time order)."""
    return [[(r - 1, end_col), (r, start_col)] for r in range(1, df.height)]


def _as_text(df: pl.DataFrame, columns: list[str], hidden: np.ndarray) -> pl.DataFrame:
    out = []
    for j, c in enumerate(columns):
        v = pl.col(c)
        text = (pl.when(v.round(0) == v).then(v.cast(pl.Int64).cast(pl.String))
                .otherwise(v.round(1).cast(pl.String)))
        out.append(pl.when(pl.lit(pl.Series(hidden[:, j]))).then(pl.lit(SUPPRESSED))
                   .otherwise(text).alias(c))
    return df.with_columns(out)


def assert_aggregate(df: pl.DataFrame, name: str) -> None:
    """Refuse to export a table with a child-level column.

    Parameters
    ----------
    df
        The table to be exported.
    name
        Its name, for the message.

    Raises
    ------
    ValueError
        If ``df`` has a column in :data:`CHILD_LEVEL_COLUMNS`.
    """
    bad = CHILD_LEVEL_COLUMNS & set(df.columns)
    if bad:
        raise ValueError(f"table {name!r} has child-level columns {sorted(bad)}: not exported")
