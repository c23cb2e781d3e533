"""Readers for DfE published tables and ONS population (as in ``../shared/data/dfe/``).

Suppression and availability markers are turned into nulls and *reported*, never guessed:

====  =========================================================
``c`` confidential (small numbers suppressed)
``k`` rounds to zero / fewer than 0.5
``x`` not available
``z`` not applicable
``-`` the area did not exist that year (local government reorganisation)
====  =========================================================

Any other text in a numeric column, a negative count or population, a missing column or a
duplicated (area, year) is an error naming the file, line, column and rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cobic.data.csvio import LINE, read_text_csv
from cobic.errors import DataError, Problem
from cobic.schemas import (
    CharacteristicsSchema,
    FinanceSchema,
    OutcomesSchema,
    PanelSchema,
    PopulationSchema,
    typed_problems,
)

__all__ = [
    "MARKERS",
    "Panel",
    "read_panel",
    "read_population",
    "read_outcomes",
    "read_england_characteristics",
    "read_england_flows",
    "read_la_characteristics",
    "read_finance",
    "complete_series",
    "parse_numbers",
    "JUMP_FACTOR",
    "JUMP_FLOOR",
]

MARKERS = {
    "c": "suppressed (confidential)",
    "k": "rounds to zero",
    "x": "not available",
    "z": "not applicable",
    "-": "area did not exist that year",
}

PANEL_COLUMNS = ("area", "old_la_code", "new_la_code", "year", "cla_31mar", "cla_rate_per_10k",
                 "starts", "ceased", "mye_year", "pop_0_17_mid_prev_year")
_PANEL_INTS = ("cla_31mar", "starts", "ceased", "mye_year", "pop_0_17_mid_prev_year")
_CHILD_COUNTS = ("cla_31mar", "starts", "ceased")
_JUMP_COLUMNS = (*_CHILD_COUNTS, "pop_0_17_mid_prev_year")
JUMP_FACTOR = 3.0
"""A count (or population) more than this many times its previous year's value, or less than
its inverse, is a warning. The real 2015-2025 panel's largest change is 2.6 times (Wokingham
starts, 25 to 66 in 2018); a slipped digit is a factor of 10."""
JUMP_FLOOR = 20
_LEVELS = {"national": "england", "regional": "region", "local authority": "la"}
"""Jumps are only flagged when both years' values are at least this (small counts vary)."""


@dataclass(frozen=True)
class Panel:
    """The DfE LA panel: one row per area and year, with what was suppressed or missing.

    Attributes
    ----------
    table
        ``area, area_level, old_la_code, new_la_code, year, cla_31mar, cla_rate_per_10k,
        starts, ceased, mye_year, pop_0_17_mid_prev_year`` (nulls where a marker stood).
    markers
        ``area, year, column, marker, meaning, line``: every marker replaced by a null.
    reorganisations
        ``area, first_year, last_year, note``: areas whose series starts late or stops early.
    source
        The file read.
    warnings
        Problems that do not stop the panel being read: a count or population that changes
        more than :data:`JUMP_FACTOR` times from one year to the next (rule
        ``year-on-year-jump``, naming the later year's line).
    """

    table: pl.DataFrame
    markers: pl.DataFrame
    reorganisations: pl.DataFrame
    source: str
    warnings: list[Problem] = field(default_factory=list)

    def areas(self, level: str = "la") -> list[str]:
        return sorted(self.table.filter(pl.col("area_level") == level)["area"].unique().to_list())

    def series(self, area: str) -> pl.DataFrame:
        """One area's rows, by year; ``KeyError`` naming close matches if unknown."""
        out = self.table.filter(pl.col("area") == area).sort("year")
        if out.height == 0:
            close = [a for a in self.table["area"].unique().to_list()
                     if area.lower()[:5] in a.lower()][:8]
            raise KeyError(f"area {area!r} is not in {self.source}"
                           + (f"; did you mean one of {close}?" if close else ""))
        return out


_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NON_FINITE = r"(?i)^[+-]?(nan|inf|infinity)$"
MAX_INTEGER = 10**15
"""Largest whole number accepted (every integer below it is held exactly by a float)."""

_NUMBER_RULES = {
    "not-a-number": "expected a number{markers} (TRUE/FALSE and other text are not numbers)",
    "not-finite": "must be a finite number (not nan, inf or a value too large to hold)",
    "negative": "must not be negative",
    "not-a-whole-number": "must be a whole number",
    "too-large": f"whole numbers must be below {MAX_INTEGER:,}",
}


def _number_rule(text: pl.Expr, num: pl.Expr, integer: bool) -> pl.Expr:
    """The rule each cell of ``text`` (parsed as ``num``) breaks; null where it is fine."""
    rule = (pl.when(text.is_null()).then(None)
            .when(text.str.contains(_NON_FINITE)).then(pl.lit("not-finite"))
            .when(~text.str.contains(_NUMBER)).then(pl.lit("not-a-number"))
            .when(~num.is_finite()).then(pl.lit("not-finite"))
            .when(num < 0).then(pl.lit("negative")))
    if integer:
        rule = (rule.when(num.round(0) != num).then(pl.lit("not-a-whole-number"))
                .when(num.abs() >= MAX_INTEGER).then(pl.lit("too-large")))
    return rule.otherwise(None)


def parse_numbers(df: pl.DataFrame, cols: tuple[str, ...], file: str, integer: bool,
                  problems: list[Problem], markers: list[dict] | None = None) -> pl.DataFrame:
    """Parse text columns ``cols`` of ``df`` as finite, non-negative numbers.

    Parameters
    ----------
    df
        A table from :func:`cobic.data.csvio.read_text_csv` (all text, with its line column).
    cols
        The columns to parse; blanks stay null.
    file
        How the file is named in problems.
    integer
        Whether the values must be whole numbers (returned as ``Int64``, else ``Float64``).
    problems
        Receives one :class:`Problem` per cell that is not a number, not finite, negative,
        not whole or too large.
    markers
        When given, the DfE markers (:data:`MARKERS`) are allowed, become null and are
        recorded here; when ``None`` a marker is text like any other.

    Returns
    -------
    polars.DataFrame
        ``df`` with ``cols`` replaced by their numbers.
    """
    allowed = list(MARKERS) if markers is not None else []
    shown = f" or one of the markers {sorted(MARKERS)}" if allowed else ""
    out = []
    for c in cols:
        is_marker = pl.col(c).is_in(allowed)
        text = pl.when(is_marker).then(None).otherwise(pl.col(c).str.replace_all(",", ""))
        num = text.cast(pl.Float64, strict=False)
        checked = df.select(LINE, c, num.alias("_num"), rule=_number_rule(text, num, integer))
        for line, value, _, rule in checked.filter(pl.col("rule").is_not_null()).iter_rows():
            problems.append(Problem(file, rule, _NUMBER_RULES[rule].format(markers=shown),
                                    row=line, column=c, value=value))
        if markers is not None:
            _record_markers(df, c, markers)
        clean = checked.select(pl.when(pl.col("rule").is_null()).then(pl.col("_num")))
        out.append(clean.to_series().cast(pl.Int64 if integer else pl.Float64).alias(c))
    return df.with_columns(out)


def _record_markers(df: pl.DataFrame, c: str, markers: list[dict]) -> None:
    keys = [k for k in ("area", "year") if k in df.columns]
    for r in df.filter(pl.col(c).is_in(list(MARKERS))).select(LINE, c, *keys).iter_rows(
            named=True):
        markers.append({"area": r.get("area"), "year": r.get("year"), "column": c,
                        "marker": r[c], "meaning": MARKERS[r[c]], "line": r[LINE]})


def _leading_year(df: pl.DataFrame, col: str, file: str, problems: list[Problem]) -> pl.Series:
    """The year a value such as ``2024`` or ``2024-25 (OT)`` starts with; reports others."""
    year = df[col].str.slice(0, 4).cast(pl.Int64, strict=False)
    for r in df.filter(year.is_null()).select(LINE, col).iter_rows():
        problems.append(Problem(file, "year", f"{col} must start with a year such as 2024",
                                row=r[0], column=col, value=r[1]))
    return year


def _level(old_code: pl.Expr) -> pl.Expr:
    return (pl.when(old_code == 970).then(pl.lit("england"))
            .when(old_code.is_between(980, 990)).then(pl.lit("region"))
            .otherwise(pl.lit("la")))


def read_panel(path: Path | str) -> Panel:
    """Read the DfE LA panel of children looked after (counts, rates, starts, ceased, population).

    Returns
    -------
    Panel
        With ``warnings`` holding the year-on-year jumps (see :data:`JUMP_FACTOR`).

    Raises
    ------
    DataError
        Naming file, line, column and rule for text (including TRUE/FALSE) in a number, values
        that are not finite (nan, inf, 1e400), negative or too large, whole numbers that are not
        whole, years outside 2000-2100, populations of 0, rates above 10,000 per 10,000, counts
        above the area's 0-17 population, missing columns and duplicated (area, year) rows.
    """
    path = Path(path)
    file = str(path)
    raw = read_text_csv(path, PANEL_COLUMNS)
    problems: list[Problem] = []
    markers: list[dict] = []
    df = _parse_panel(raw, file, problems, markers)
    if problems:
        raise DataError(_by_line(problems))
    table = df.with_columns(area_level=_level(pl.col("old_la_code"))).select(
        LINE, "area", "area_level", "old_la_code", "new_la_code", "year", "cla_31mar",
        "cla_rate_per_10k", "starts", "ceased", "mye_year", "pop_0_17_mid_prev_year",
    ).sort("area", "year")
    problems = (typed_problems(table, PanelSchema, file, raw=raw)
                + _above_population(table, file))
    if problems:
        raise DataError(_by_line(problems))
    marker_df = pl.DataFrame(markers, schema={"area": pl.String, "year": pl.Int64,
                                              "column": pl.String, "marker": pl.String,
                                              "meaning": pl.String, "line": pl.Int64})
    warnings = _jumps(table, file)
    table = table.drop(LINE)
    return Panel(table=table, markers=marker_df, reorganisations=_reorganisations(table),
                 source=file, warnings=warnings)


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))


def _parse_panel(df: pl.DataFrame, file: str, problems: list[Problem],
                 markers: list[dict]) -> pl.DataFrame:
    """Parse the panel's text columns into numbers; report what cannot be parsed."""
    df = df.with_columns(year=_whole_year(df, "year", file, problems))
    df = parse_numbers(df, _PANEL_INTS, file, True, problems, markers)
    df = parse_numbers(df, ("cla_rate_per_10k",), file, False, problems, markers)
    df = parse_numbers(df, ("old_la_code",), file, True, problems)
    for r in df.filter(pl.col("area").is_null()).select(LINE).iter_rows():
        problems.append(Problem(file, "required", "area is required", row=r[0], column="area"))
    dup = df.filter(pl.len().over("area", "year") > 1)
    for r in dup.group_by("area", "year").agg(pl.col(LINE)).iter_rows(named=True):
        lines = sorted(r[LINE])
        problems.append(Problem(file, "duplicate-area-year",
                                f"area {r['area']!r} has more than one row for {r['year']} "
                                f"(lines {', '.join(map(str, lines))})", row=lines[0],
                                column="area"))
    return df


def _whole_year(df: pl.DataFrame, col: str, file: str, problems: list[Problem]) -> pl.Series:
    """``col`` as a whole-number year; reports anything else (blank, text, 2024.5)."""
    year = df[col].cast(pl.Int64, strict=False)
    for r in df.filter(year.is_null()).select(LINE, col).iter_rows():
        problems.append(Problem(file, "year", f"{col} must be a whole number such as 2024",
                                row=r[0], column=col, value=r[1]))
    return year


def _above_population(table: pl.DataFrame, file: str) -> list[Problem]:
    """Counts of children above the area's 0-17 population (where the population is given)."""
    out = []
    for c in _CHILD_COUNTS:
        pop = pl.col("pop_0_17_mid_prev_year")
        over = table.filter(((pl.col(c) > pop) & (pop > 0)).fill_null(False))
        for line, value, pop in over.select(LINE, c, "pop_0_17_mid_prev_year").iter_rows():
            out.append(Problem(file, "above-population",
                               f"{c} is more than the area's 0-17 population ({pop:,})",
                               row=line, column=c, value=str(value)))
    return out


def _jumps(table: pl.DataFrame, file: str) -> list[Problem]:
    """Warnings for counts that change more than :data:`JUMP_FACTOR` times in one year."""
    out = []
    for c in _JUMP_COLUMNS:
        prev = pl.col(c).shift(1).over("area", order_by="year")
        prev_year = pl.col("year").shift(1).over("area", order_by="year")
        low, high = pl.min_horizontal(prev, pl.col(c)), pl.max_horizontal(prev, pl.col(c))
        jumps = table.with_columns(prev=prev).filter(
            (prev_year == pl.col("year") - 1) & (low >= JUMP_FLOOR)
            & (high > JUMP_FACTOR * low))
        for line, area, year, before, now in jumps.select(
                LINE, "area", "year", "prev", c).iter_rows():
            out.append(Problem(file, "year-on-year-jump",
                               f"{area}: {c} went from {before:,} in {year - 1} to {now:,} in "
                               f"{year}, more than {JUMP_FACTOR:g} times up or down; check for "
                               "a typo", row=line, column=c, value=str(now)))
    return _by_line(out)


def _reorganisations(table: pl.DataFrame) -> pl.DataFrame:
    first, last = table["year"].min(), table["year"].max()
    spans = (table.filter(pl.col("cla_31mar").is_not_null())
             .group_by("area").agg(first_year=pl.col("year").min(), last_year=pl.col("year").max()))
    return (spans.filter((pl.col("first_year") > first) | (pl.col("last_year") < last))
            .with_columns(note=pl.when(pl.col("first_year") > first)
                          .then(pl.lit("series starts in ") + pl.col("first_year").cast(pl.String)
                                + pl.lit(" (new authority)"))
                          .otherwise(pl.lit("series stops after ") + pl.col("last_year")
                                     .cast(pl.String) + pl.lit(" (authority abolished or merged)")))
            .sort("area"))


def complete_series(panel: Panel, years: range | list[int], column: str = "cla_31mar",
                    level: str = "la") -> list[str]:
    """Areas of ``level`` with a value of ``column`` in every one of ``years``."""
    ys = list(years)
    t = panel.table.filter((pl.col("area_level") == level) & pl.col("year").is_in(ys)
                           & pl.col(column).is_not_null())
    ok = t.group_by("area").agg(pl.len().alias("n")).filter(pl.col("n") == len(ys))
    return sorted(ok["area"].to_list())


def _suppressed(df: pl.DataFrame, markers: list[dict], column: str) -> pl.Expr:
    """The marker that stood in ``column`` on each row of ``df`` (null where a value stood)."""
    by_line = {m["line"]: m["marker"] for m in markers if m["column"] == column}
    return pl.col(LINE).replace_strict(by_line, default=None, return_dtype=pl.String)


def _checked(df: pl.DataFrame, schema: type, file: str,
             raw: pl.DataFrame | None = None) -> pl.DataFrame:
    """``df`` without its line column once ``schema`` holds; else DataError naming the lines."""
    problems = typed_problems(df, schema, file, raw=raw)
    if problems:
        raise DataError(problems)
    return df.drop(LINE)


def read_population(path: Path | str) -> pl.DataFrame:
    """ONS mid-year estimates of children aged 0-17 (``ons_mye_0_17_*.csv``).

    Returns ``area, area_code, area_level, mid_year, population_0_17, suppressed``: where ONS
    gives a marker (``x`` for an area that did not exist) the population is null and
    ``suppressed`` holds the marker.

    Raises
    ------
    DataError
        Naming file, line, column and rule for a population that is not a positive whole
        number, a year that is not a whole number in 1990-2100 or an unknown geographic level.
    """
    path = Path(path)
    file = str(path)
    cols = ("time_period", "geographic_level", "country_name", "region_name", "region_code",
            "la_name", "new_la_code", "population_estimate")
    df = read_text_csv(path, cols)
    problems: list[Problem] = []
    markers: list[dict] = []
    df = parse_numbers(df, ("population_estimate",), file, True, problems, markers)
    df = df.with_columns(mid_year=_whole_year(df, "time_period", file, problems))
    level = pl.col("geographic_level").str.to_lowercase()
    for r in df.filter(~level.is_in(list(_LEVELS)).fill_null(True)).select(
            LINE, "geographic_level").iter_rows():
        problems.append(Problem(file, "not-allowed", "geographic_level must be National, "
                                "Regional or Local authority", row=r[0],
                                column="geographic_level", value=r[1]))
    if problems:
        raise DataError(_by_line(problems))
    out = df.select(
        LINE,
        area=pl.when(level == "national").then(pl.col("country_name"))
        .when(level == "regional").then(pl.col("region_name")).otherwise(pl.col("la_name")),
        area_code=pl.when(level == "national").then(pl.lit("E92000001"))
        .when(level == "regional").then(pl.col("region_code")).otherwise(pl.col("new_la_code")),
        area_level=level.replace_strict(_LEVELS),
        mid_year="mid_year",
        population_0_17=pl.col("population_estimate"),
        suppressed=_suppressed(df, markers, "population_estimate"),
    )
    return _checked(out, PopulationSchema, file)


def read_outcomes(path: Path | str) -> pl.DataFrame:
    """LAIT outcome indicators (``outcomes_lait_*.csv``).

    Returns ``area, indicator, year, value, suppressed`` (``value`` null and ``suppressed``
    holding the marker where LAIT gives one).
    """
    path = Path(path)
    file = str(path)
    df = read_text_csv(path, ("LA and Regions", "Short Desc", "Years", "Values"))
    problems: list[Problem] = []
    markers: list[dict] = []
    df = parse_numbers(df, ("Values",), file, False, problems, markers)
    year = _leading_year(df, "Years", file, problems)
    if problems:
        raise DataError(problems)
    out = df.select(LINE, area=pl.col("LA and Regions"), indicator=pl.col("Short Desc"),
                    year=year, value=pl.col("Values"),
                    suppressed=_suppressed(df, markers, "Values"))
    return _checked(out, OutcomesSchema, file)


def _characteristics(path: Path | str, area_cols: tuple[str, ...], number_col: str,
                     extra: tuple[str, ...] = ()) -> pl.DataFrame:
    path = Path(path)
    file = str(path)
    raw = read_text_csv(path, (*area_cols, "time_period", "cla_group", "characteristic",
                               number_col, "percentage", *extra))
    problems: list[Problem] = []
    markers: list[dict] = []
    df = parse_numbers(raw, (number_col,), file, True, problems, markers)
    df = parse_numbers(df, ("percentage",), file, False, problems, markers)
    year = _whole_year(df, "time_period", file, problems)
    if problems:
        raise DataError(_by_line(problems))
    out = df.with_columns(year=year).select(
        LINE, *area_cols, "year", "cla_group", "characteristic",
        pl.col(number_col).alias("number"), "percentage", *extra,
        suppressed=_suppressed(df, markers, number_col),
        percentage_suppressed=_suppressed(df, markers, "percentage"))
    return _checked(out, CharacteristicsSchema, file, raw=raw)


def read_england_characteristics(path: Path | str) -> pl.DataFrame:
    """England CLA at 31 March by characteristic (``england_cla_31march_characteristics_*``).

    Returns ``year, cla_group, characteristic, number, percentage, suppressed,
    percentage_suppressed``.
    """
    return _characteristics(path, (), "cla_31_march_number")


def read_england_flows(path: Path | str) -> pl.DataFrame:
    """England starts and ceased by characteristic (``england_cla_flows_characteristics_*``).

    Returns ``year, cla_group, characteristic, number, percentage, flow, suppressed,
    percentage_suppressed``.
    """
    return _characteristics(path, (), "number", extra=("flow",))


def read_la_characteristics(path: Path | str) -> pl.DataFrame:
    """Selected LAs' CLA at 31 March by characteristic (``la_selected_cla_characteristics_*``).

    Returns ``la_name, new_la_code, year, cla_group, characteristic, number, percentage,
    suppressed, percentage_suppressed`` (``number`` null and ``suppressed`` holding the marker
    where DfE suppressed; likewise for the percentage).
    """
    return _characteristics(path, ("la_name", "new_la_code"), "cla_31_march_number")


def read_finance(path: Path | str) -> pl.DataFrame:
    """Section 251 outturn and DfE approximate weekly unit costs (``finance_s251_lait_*``).

    Returns ``area, measure, year, value, suppressed`` with ``year`` the financial year's
    ending year (``2024-25 (OT)`` -> 2025) and ``suppressed`` the marker where one stood.
    """
    path = Path(path)
    file = str(path)
    df = read_text_csv(path, ("area", "measure", "year", "Values"))
    problems: list[Problem] = []
    markers: list[dict] = []
    df = parse_numbers(df, ("Values",), file, False, problems, markers)
    start = _leading_year(df, "year", file, problems)
    if problems:
        raise DataError(problems)
    out = df.select(LINE, "area", "measure", year=start + 1, value=pl.col("Values"),
                    suppressed=_suppressed(df, markers, "Values"))
    return _checked(out, FinanceSchema, file)
