"""Date conventions: ages in whole years, 18th birthdays, English financial years.

* Age on a date is the number of birthdays passed; a child born on 29 February has birthdays
  on 1 March in other years (the UK legal convention).
* A collection year (and financial year) ``Y`` runs from 1 April ``Y-1`` to 31 March ``Y``
  and is named by the year it ends in: 2024 is 2023-24.
* An episode covers the days ``DECOM <= day < DEC``: a child is not looked after on the day an
  episode ends, so the stock on 31 March excludes children who left that day.
* Dates in files are read as ``dd/mm/YYYY`` (the SSDA903 format) or ``YYYY-mm-dd`` (ISO, common
  in LA exports), value by value: the two cannot be confused, so a file may mix them. A year
  must have four digits (``01/04/17`` is rejected, not guessed) and lie in
  ``MIN_YEAR``-``MAX_YEAR`` (1900-2099).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

__all__ = ["age_on", "birthday", "year_start", "year_end", "collection_year_of",
           "EPOCH", "day_number", "birthday_days", "parse_date", "date_format_of",
           "DATE_PATTERNS", "MIN_YEAR", "MAX_YEAR"]

EPOCH = np.datetime64("1970-01-01", "D")

# The accepted ways of writing a date: name -> (regular expression, strptime format). ``{y}``
# stands for the year: any four digits, or only MIN_YEAR-MAX_YEAR (19xx and 20xx) when bounded.
DATE_PATTERNS = {
    "dd/mm/YYYY": (r"^\d{1,2}/\d{1,2}/{y}$", "%d/%m/%Y"),
    "YYYY-mm-dd": (r"^{y}-\d{1,2}-\d{1,2}$", "%Y-%m-%d"),
}
MIN_YEAR, MAX_YEAR = 1900, 2099
_YEAR = {False: r"\d{4}", True: r"(?:19|20)\d{2}"}


def parse_date(s: pl.Expr, *, bounded: bool = True) -> pl.Expr:
    """Parse text written ``dd/mm/YYYY`` or ``YYYY-mm-dd`` to a date (polars expression).

    Parameters
    ----------
    s
        A string expression (values already stripped of surrounding spaces).
    bounded
        When true (the default), dates whose year is outside ``MIN_YEAR``-``MAX_YEAR`` give null.

    Returns
    -------
    pl.Expr
        A date; null for null, a two-digit year, any other layout or an impossible date
        (31/02/2020).
    """
    return pl.coalesce(*(pl.when(s.str.contains(rx.replace("{y}", _YEAR[bounded])))
                         .then(s.str.to_date(fmt, strict=False))
                         for rx, fmt in DATE_PATTERNS.values()))


def date_format_of(s: pl.Expr) -> pl.Expr:
    """The name (key of ``DATE_PATTERNS``) of the layout ``s`` is written in, else null."""
    out = pl.lit(None, dtype=pl.String)
    for name, (rx, _fmt) in reversed(DATE_PATTERNS.items()):
        out = pl.when(s.str.contains(rx.replace("{y}", _YEAR[False]))).then(pl.lit(name)
                                                                            ).otherwise(out)
    return out


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the integer day numbers the simulations use)."""
    return int((np.datetime64(d, "D") - EPOCH).astype(np.int64))


def birthday_days(dob: np.ndarray, years: int) -> np.ndarray:
    """Day numbers of the ``years``-th birthday for day-number DOBs (29 Feb -> 1 March)."""
    d = EPOCH + dob.astype("timedelta64[D]")
    y0 = d.astype("datetime64[Y]")
    m0 = d.astype("datetime64[M]")
    months = (m0 - y0.astype("datetime64[M]")).astype(int)
    dom = (d - m0.astype("datetime64[D]")).astype(int)
    target = ((y0 + years).astype("datetime64[M]") + months).astype("datetime64[D]") + dom
    return (target - EPOCH).astype(np.int64)


def age_on(dob: pl.Expr, on: pl.Expr) -> pl.Expr:
    """Age in whole years on date ``on`` for a child born ``dob`` (polars expressions)."""
    not_yet = (on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32)) < (
        dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day().cast(pl.Int32)
    )
    return (on.dt.year().cast(pl.Int32) - dob.dt.year().cast(pl.Int32) - not_yet.cast(pl.Int32))


def birthday(dob: pl.Expr, years: int) -> pl.Expr:
    """The date of the ``years``-th birthday (29 February births: 1 March in common years)."""
    y = dob.dt.year().cast(pl.Int32) + years
    m = dob.dt.month().cast(pl.Int32)
    d = dob.dt.day().cast(pl.Int32)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    feb29 = (m == 2) & (d == 29)
    return (pl.when(feb29 & ~leap).then(pl.date(y, 3, 1)).otherwise(pl.date(y, m, d)))


def year_start(year: int) -> date:
    """1 April that starts collection/financial year ``year`` (named by its ending year)."""
    return date(year - 1, 4, 1)


def year_end(year: int) -> date:
    """31 March that ends collection/financial year ``year``."""
    return date(year, 3, 31)


def collection_year_of(d: pl.Expr) -> pl.Expr:
    """The collection/financial year (named by the year it ends) that date ``d`` falls in."""
    return d.dt.year().cast(pl.Int32) + (d.dt.month() >= 4).cast(pl.Int32)
