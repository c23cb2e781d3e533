"""Exported tables hold aggregates only, and counts of 1-4 are suppressed (DfE convention).

:func:`suppress_small` replaces every value strictly between 0 and 5 in the given columns by
``"c"`` (DfE's marker for suppressed cells); zeros and larger values are kept, as strings, so a
suppressed column reads the same in CSV, XLSX and HTML.
"""

from __future__ import annotations

import polars as pl

__all__ = ["suppress_small", "SUPPRESSED", "CHILD_LEVEL_COLUMNS", "assert_aggregate"]

SUPPRESSED = "c"
# columns that identify a child: never in an export
CHILD_LEVEL_COLUMNS = {"CHILD", "DOB", "UPN", "MC_DOB", "HOME_POST", "PL_POST", "URN", "MOTHER"}


def suppress_small(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``columns`` with values in (0, 5) shown as ``"c"`` (and others formatted as text)."""
    out = []
    for c in columns:
        if c not in df.columns:
            raise KeyError(f"no column {c!r} to suppress (columns: {df.columns})")
        v = pl.col(c)
        text = (pl.when(v.round(0) == v).then(v.cast(pl.Int64).cast(pl.String))
                .otherwise(v.round(1).cast(pl.String)))
        out.append(pl.when((v > 0) & (v < 5)).then(pl.lit(SUPPRESSED)).otherwise(text).alias(c))
    return df.with_columns(out)


def assert_aggregate(df: pl.DataFrame, name: str) -> None:
    """Refuse to export a table with a child-level column."""
    bad = CHILD_LEVEL_COLUMNS & set(df.columns)
    if bad:
        raise ValueError(f"table {name!r} has child-level columns {sorted(bad)}: not exported")
