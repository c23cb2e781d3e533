"""A user's population of children (the rate denominator), as given to ``cobic forecast`` and
``cobic backtest`` with ``--population``.

The file has columns ``year`` and ``population`` (children aged 0-17 in the area in that
collection year) and optionally ``age`` (0-17): a population by single year of age is summed
over ages. Every problem names the file, line, column and rule.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cobic.data.csvio import LINE, read_text_csv
from cobic.data.dfe import parse_numbers
from cobic.errors import DataError, Problem

__all__ = ["read_population_csv", "FIRST_YEAR", "LAST_YEAR"]

FIRST_YEAR, LAST_YEAR = 1990, 2100
"""The years a population may be given for."""


def read_population_csv(path: Path | str) -> pl.DataFrame:
    """Read a population CSV into one row per year.

    Parameters
    ----------
    path
        CSV with columns ``year``, ``population`` and optionally ``age`` (other columns are
        ignored).

    Returns
    -------
    polars.DataFrame
        ``year`` (Int64), ``population`` (Float64, summed over ages), sorted by year.

    Raises
    ------
    DataError
        For a missing or unreadable file, missing columns, blank values, a population that is
        not a finite number above zero (``lots``, ``nan``, ``inf``, ``0``, ``-5``), a year that
        is not a whole number in 1990-2100, an age that is not a whole number in 0-17, or a
        year (or year and age) given twice.
    """
    file = str(path)
    raw = read_text_csv(path, ("year", "population"))
    by_age = "age" in raw.columns
    keys = ("year", "age") if by_age else ("year",)
    problems = _blanks(raw, ("population", *keys), file)
    df = parse_numbers(raw, keys, file, True, problems)
    df = parse_numbers(df, ("population",), file, False, problems)
    problems += _outside(df, raw, "year", FIRST_YEAR, LAST_YEAR, file)
    if by_age:
        problems += _outside(df, raw, "age", 0, 17, file)
    problems += _zero(df, raw, file) + _duplicates(df, keys, file)
    if problems:
        raise DataError(sorted(problems, key=lambda p: (p.row or 0, p.column or "")))
    return (df.group_by("year").agg(pl.col("population").sum())
            .select(pl.col("year").cast(pl.Int64), pl.col("population").cast(pl.Float64))
            .sort("year"))


def _blanks(raw: pl.DataFrame, cols: tuple[str, ...], file: str) -> list[Problem]:
    return [Problem(file, "required", f"{c} is required", row=line, column=c)
            for c in cols for (line,) in raw.filter(pl.col(c).is_null()).select(LINE).rows()]


def _outside(df: pl.DataFrame, raw: pl.DataFrame, col: str, low: int, high: int,
             file: str) -> list[Problem]:
    bad = df.filter(~pl.col(col).is_between(low, high)).select(LINE)
    return [Problem(file, "out-of-range", f"{col} must be between {low} and {high}",
                    row=line, column=col, value=value)
            for line, value in bad.join(raw.select(LINE, col), on=LINE).rows()]


def _zero(df: pl.DataFrame, raw: pl.DataFrame, file: str) -> list[Problem]:
    bad = df.filter(pl.col("population") == 0).select(LINE)
    return [Problem(file, "not-positive", "population must be more than zero", row=line,
                    column="population", value=value)
            for line, value in bad.join(raw.select(LINE, "population"), on=LINE).rows()]


def _duplicates(df: pl.DataFrame, keys: tuple[str, ...], file: str) -> list[Problem]:
    dup = df.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
                    & (pl.len().over(keys) > 1))
    rule = "duplicate-" + "-".join(keys)
    out = []
    for r in dup.group_by(keys).agg(pl.col(LINE)).iter_rows(named=True):
        lines = sorted(r[LINE])
        what = ", ".join(f"{k} {r[k]}" for k in keys)
        out.append(Problem(file, rule, f"{what} appears more than once (lines "
                           f"{', '.join(map(str, lines))})" + ("" if len(keys) > 1 else
                           "; give an age column to sum a population by age"),
                           row=lines[1], column=keys[-1], value=str(r[keys[-1]])))
    return out
