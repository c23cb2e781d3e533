"""Demand measures derived from clean SSDA903 episodes: stock, entries, exits, child-days, moves.

Conventions (see :mod:`cobic.data.dates`): an episode covers ``DECOM <= day < DEC``; years are
collection/financial years named by the 31 March they end on; ages are whole years on the date
counted (entries: at the start of the period of care; exits: on the day care ended).

A *period of care* is a run of episodes of one child where each starts on the day the previous
one ended; a new period also starts at an episode whose RNE is ``S``. Children looked after
under an agreed series of short breaks (LS V3, V4) are left out by default, as in DfE counts.

Because periods of one child never overlap, the measures balance exactly:
``stock(31 March Y) = stock(31 March Y-1) + entries(Y) - exits(Y)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl

from cobic.data.dates import age_on, collection_year_of, year_end
from cobic.data.ssda903 import SSDA903

__all__ = [
    "episodes_in_scope",
    "periods_of_care",
    "stock",
    "entries",
    "exits",
    "child_days",
    "placement_moves",
    "flow_balance",
    "stock_totals",
    "age_band_expr",
]


def age_band_expr(data: SSDA903, age: pl.Expr) -> pl.Expr:
    """Map an age expression to the DfE age band labels of ``data.codes``."""
    expr = pl.when(pl.lit(False)).then(pl.lit(None, dtype=pl.String))
    for b in data.codes.age_bands:
        expr = expr.when(age.is_between(b.min_age, b.max_age)).then(pl.lit(b.label))
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def episodes_in_scope(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Episodes counted in demand measures, with DOB, period number and an end for open ones.

    ``end`` is ``DEC``, or the day after ``extract_end`` for an episode still open (censored).
    """
    key = ("episodes_in_scope", exclude_short_breaks)
    if key in data._cache:
        return data._cache[key]
    eps = data.episodes
    if exclude_short_breaks:
        eps = eps.filter(~pl.col("short_break"))
    censor = data.extract_end + timedelta(days=1)
    new_rne = list(data.codes.new_period_rne)
    eps = (
        eps.join(data.header.select("CHILD", "DOB"), on="CHILD", how="left")
        .sort("CHILD", "DECOM")
        .with_columns(end=pl.col("DEC").fill_null(censor).clip(upper_bound=censor))
        .with_columns(
            _new=(pl.col("DECOM") != pl.col("DEC").shift(1).over("CHILD")).fill_null(True)
            | pl.col("RNE").is_in(new_rne)
        )
        .with_columns(period=pl.col("_new").cast(pl.Int32).cum_sum().over("CHILD"))
        .drop("_new")
    )
    data._cache[key] = eps
    return eps


def periods_of_care(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """One row per period of care: start, end (null if still open), exit reason and ages."""
    key = ("periods_of_care", exclude_short_breaks)
    if key in data._cache:
        return data._cache[key]
    eps = episodes_in_scope(data, exclude_short_breaks)
    reasons = data.codes.rec_to_reason
    p = eps.group_by("CHILD", "period").agg(
        start=pl.col("DECOM").first(),
        end=pl.col("DEC").last(),
        REC=pl.col("REC").last(),
        DOB=pl.col("DOB").first(),
        first_group=pl.col("placement_group").first(),
        last_group=pl.col("placement_group").last(),
        episodes=pl.len(),
    )
    censor = data.extract_end + timedelta(days=1)
    p = p.with_columns(end=pl.when(pl.col("end") >= censor).then(None).otherwise(pl.col("end")))
    p = p.with_columns(
        age_at_start=age_on(pl.col("DOB"), pl.col("start")),
        age_at_end=age_on(pl.col("DOB"), pl.col("end")),
        exit_reason=pl.when(pl.col("end").is_null()).then(None)
        .otherwise(pl.col("REC").replace_strict(reasons, default="unknown",
                                                return_dtype=pl.String)),
    ).sort("CHILD", "period")
    data._cache[key] = p
    return p


def _default_dates(data: SSDA903) -> list[date]:
    first = data.collection_years[0]
    return [year_end(y) for y in range(first - 1, data.collection_years[-1] + 1)]


def stock(
    data: SSDA903,
    on: date | Iterable[date] | None = None,
    exclude_short_breaks: bool = True,
) -> pl.DataFrame:
    """Children looked after on each date, by placement group, age band and single year of age.

    Parameters
    ----------
    on
        A date or dates (default: every 31 March from the day before the data start to the
        extract end). Dates outside the data's coverage raise ``ValueError``.

    Returns
    -------
    polars.DataFrame
        ``date, placement_group, age_band, age, children`` (cells with no children are absent).
    """
    dates = _default_dates(data) if on is None else ([on] if isinstance(on, date) else list(on))
    lo = data.data_start - timedelta(days=1)
    for d in dates:
        if not lo <= d <= data.extract_end:
            raise ValueError(f"on={d}: the data cover {lo:%d/%m/%Y} to "
                             f"{data.extract_end:%d/%m/%Y} only")
    eps = episodes_in_scope(data, exclude_short_breaks)
    parts = []
    for d in dates:
        cover = eps.filter((pl.col("DECOM") <= d) & (pl.col("end") > d))
        parts.append(cover.select(
            pl.lit(d).alias("date"), "placement_group", "CHILD",
            age=age_on(pl.col("DOB"), pl.lit(d)),
        ))
    allp = pl.concat(parts)
    return (
        allp.with_columns(age_band=age_band_expr(data, pl.col("age")))
        .group_by("date", "placement_group", "age_band", "age")
        .agg(children=pl.col("CHILD").n_unique())
        .sort("date", "placement_group", "age")
    )


def stock_totals(data: SSDA903, by: str, on: date | None = None,
                 exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Children looked after on ``on`` (default: the extract end) by ``placement_group`` (largest
    first) or ``age_band`` (youngest first): ``by, children``."""
    if by not in ("placement_group", "age_band"):
        raise ValueError(f"by must be 'placement_group' or 'age_band', got {by!r}")
    s = stock(data, on=on or data.extract_end, exclude_short_breaks=exclude_short_breaks)
    out = s.group_by(by).agg(children=pl.col("children").sum())
    if by == "placement_group":
        return out.sort("children", "placement_group", descending=[True, False])
    order = {b: i for i, b in enumerate(data.codes.age_band_labels)}
    return out.sort(pl.col("age_band").replace_strict(order, return_dtype=pl.Int32))


def _in_years(data: SSDA903, col: str) -> pl.Expr:
    return pl.col(col).is_between(data.data_start, data.extract_end)


def entries(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Periods of care started in each collection year, by age at entry and first placement.

    Returns ``year, age_band, age, placement_group, entries``.
    """
    p = periods_of_care(data, exclude_short_breaks).filter(_in_years(data, "start"))
    return (
        p.with_columns(year=collection_year_of(pl.col("start")),
                       age_band=age_band_expr(data, pl.col("age_at_start")))
        .group_by("year", "age_band", pl.col("age_at_start").alias("age"),
                  pl.col("first_group").alias("placement_group"))
        .agg(entries=pl.len())
        .sort("year", "age", "placement_group")
    )


def exits(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Periods of care ended in each collection year, by reason and age on leaving.

    Returns ``year, exit_reason, age_band, age, placement_group, exits`` (``placement_group``
    is the last placement).
    """
    p = periods_of_care(data, exclude_short_breaks).filter(
        pl.col("end").is_not_null() & _in_years(data, "end"))
    return (
        p.with_columns(year=collection_year_of(pl.col("end")),
                       age=pl.col("age_at_end").clip(upper_bound=17))
        .with_columns(age_band=age_band_expr(data, pl.col("age")))
        .group_by("year", "exit_reason", "age_band", "age",
                  pl.col("last_group").alias("placement_group"))
        .agg(exits=pl.len())
        .sort("year", "exit_reason", "age", "placement_group")
    )


def child_days(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Days looked after in each financial year by placement group.

    An episode contributes the days ``max(DECOM, 1 April) <= day < min(DEC, next 1 April)``.
    Returns ``year, placement_group, child_days``.
    """
    eps = episodes_in_scope(data, exclude_short_breaks)
    lo = data.data_start
    hi = data.extract_end + timedelta(days=1)
    e = eps.select(
        "placement_group",
        s=pl.col("DECOM").clip(lower_bound=lo),
        e=pl.col("end").clip(upper_bound=hi),
    ).filter(pl.col("e") > pl.col("s"))
    e = e.with_columns(
        year=pl.int_ranges(collection_year_of(pl.col("s")),
                           collection_year_of(pl.col("e") - timedelta(days=1)) + 1)
    ).explode("year")
    ys = pl.date(pl.col("year") - 1, 4, 1)
    ye = pl.date(pl.col("year"), 4, 1)
    e = e.with_columns(
        days=(pl.min_horizontal(pl.col("e"), ye) - pl.max_horizontal(pl.col("s"), ys))
        .dt.total_days()
    )
    return (e.group_by(pl.col("year").cast(pl.Int32), "placement_group")
            .agg(child_days=pl.col("days").sum())
            .sort("year", "placement_group"))


def placement_moves(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Placement changes within a period of care, per collection year, by the new placement group.

    A move is an episode that is not the first of its period and whose RNE includes a change of
    placement (``models/ssda903.toml`` ``episodes.placement_change_rne``).
    Returns ``year, placement_group, moves``.
    """
    eps = episodes_in_scope(data, exclude_short_breaks)
    change = list(data.codes.placement_change_rne)
    first = pl.col("DECOM") == pl.col("DECOM").min().over("CHILD", "period")
    m = eps.filter(~first & pl.col("RNE").is_in(change) & _in_years(data, "DECOM"))
    return (m.with_columns(year=collection_year_of(pl.col("DECOM")))
            .group_by("year", "placement_group").agg(moves=pl.len())
            .sort("year", "placement_group"))


def flow_balance(data: SSDA903, exclude_short_breaks: bool = True) -> pl.DataFrame:
    """Per year: stock at the start and end, entries, exits, child-days and moves (all groups).

    ``stock_end == stock_start + entries - exits`` holds exactly for every year.
    """
    s = stock(data, exclude_short_breaks=exclude_short_breaks)
    s = s.group_by("date").agg(pl.col("children").sum()).with_columns(
        year=pl.col("date").dt.year().cast(pl.Int32))
    years = pl.DataFrame({"year": list(data.collection_years)}, schema={"year": pl.Int32})
    en = entries(data, exclude_short_breaks).group_by("year").agg(entries=pl.col("entries").sum())
    ex = exits(data, exclude_short_breaks).group_by("year").agg(exits=pl.col("exits").sum())
    cd = child_days(data, exclude_short_breaks).group_by("year").agg(
        child_days=pl.col("child_days").sum())
    mv = placement_moves(data, exclude_short_breaks).group_by("year").agg(
        moves=pl.col("moves").sum())
    out = (
        years.join(s.select(pl.col("year") + 1, stock_start=pl.col("children")), on="year",
                   how="left")
        .join(s.select("year", stock_end=pl.col("children")), on="year", how="left")
        .join(en.with_columns(pl.col("year").cast(pl.Int32)), on="year", how="left")
        .join(ex.with_columns(pl.col("year").cast(pl.Int32)), on="year", how="left")
        .join(cd.with_columns(pl.col("year").cast(pl.Int32)), on="year", how="left")
        .join(mv.with_columns(pl.col("year").cast(pl.Int32)), on="year", how="left")
        .fill_null(0)
    )
    return out.select("year", "stock_start", "entries", "exits", "stock_end", "child_days",
                      "moves").sort("year")
