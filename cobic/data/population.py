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

__all__ = ["read_population_csv", "FIRST_YEAR", "LAST_YEAR", "ons_population",
           "default_ons_file"]

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


def default_ons_file() -> Path | None:
    """The ONS mid-year estimates of children aged 0-17 in the shared reference data
    (``dfe/ons_mye_0_17_*.csv`` under :func:`cobic.paths.shared_data_dir`), if present."""
    from cobic.paths import shared_data_dir

    found = sorted((shared_data_dir() / "dfe").glob("ons_mye_0_17_*.csv"))
    return found[-1] if found else None


def ons_population(area: str, path: Path | str | None = None) -> pl.DataFrame | None:
    """The 0-17 population of local authority ``area`` from ONS mid-year estimates, as the
    ``year, population`` table a forecast takes: collection year ``Y`` (ending 31 March ``Y``)
    gets the mid-``Y - 1`` estimate, as in the DfE panel.

    Parameters
    ----------
    area
        The LA's name as ONS spells it (case and surrounding spaces ignored).
    path
        The ONS file (default: :func:`default_ons_file`).

    Returns
    -------
    polars.DataFrame or None
        ``year`` (Int64), ``population`` (Float64); None when there is no file or no LA of
        that name in it (an unknown label is not an error: the population is optional).
    """
    from cobic.data.dfe import read_population

    path = default_ons_file() if path is None else Path(path)
    if path is None or not Path(path).is_file():
        return None
    ons = read_population(path)
    key = area.strip().casefold()
    rows = ons.filter((pl.col("area_level") == "la")
                      & (pl.col("area").str.strip_chars().str.to_lowercase() == key)
                      & pl.col("population_0_17").is_not_null())
    if rows.height == 0:
        return None
    return (rows.group_by("mid_year").agg(pl.col("population_0_17").first())
            .select(year=(pl.col("mid_year") + 1).cast(pl.Int64),
                    population=pl.col("population_0_17").cast(pl.Float64))
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
