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

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cobic.data.csvio import LINE, read_text_csv
from cobic.errors import DataError, Problem
from cobic.schemas import OutcomesSchema, PanelSchema, PopulationSchema

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
    """

    table: pl.DataFrame
    markers: pl.DataFrame
    reorganisations: pl.DataFrame
    source: str

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


def _numbers(df: pl.DataFrame, cols: tuple[str, ...], file: str, integer: bool,
             problems: list[Problem], markers: list[dict]) -> pl.DataFrame:
    """Parse ``cols`` as numbers; record markers; report other text and negatives."""
    out = []
    for c in cols:
        s = df[c]
        is_marker = s.is_in(list(MARKERS))
        num = s.str.replace_all(",", "").cast(pl.Float64, strict=False)
        bad = s.is_not_null() & ~is_marker & num.is_null()
        for r in df.filter(bad).select(LINE, c).iter_rows():
            problems.append(Problem(file, "not-a-number",
                                    f"expected a number or one of the markers {sorted(MARKERS)}",
                                    row=r[0], column=c, value=r[1]))
        neg = (num < 0).fill_null(False)
        for r in df.filter(neg).select(LINE, c).iter_rows():
            problems.append(Problem(file, "negative", "must not be negative", row=r[0], column=c,
                                    value=r[1]))
        if integer:
            frac = (num.round(0) != num).fill_null(False)
            for r in df.filter(frac).select(LINE, c).iter_rows():
                problems.append(Problem(file, "not-a-whole-number", "must be a whole number",
                                        row=r[0], column=c, value=r[1]))
        for r in df.filter(is_marker).select(LINE, c, *[k for k in ("area", "year")
                                                        if k in df.columns]).iter_rows(named=True):
            markers.append({"area": r.get("area"), "year": r.get("year"), "column": c,
                            "marker": r[c], "meaning": MARKERS[r[c]], "line": r[LINE]})
        out.append(num.cast(pl.Int64, strict=False) if integer else num)
    return df.with_columns(out)


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

    Raises
    ------
    DataError
        Naming file, line, column and rule for text in a count, negatives, missing columns,
        years that are not whole numbers and duplicated (area, year) rows.
    """
    path = Path(path)
    file = str(path)
    df = read_text_csv(path, PANEL_COLUMNS)
    problems: list[Problem] = []
    markers: list[dict] = []
    year = df["year"].cast(pl.Int64, strict=False)
    for r in df.filter(year.is_null()).select(LINE, "year").iter_rows():
        problems.append(Problem(file, "year", "year must be a whole number such as 2024",
                                row=r[0], column="year", value=r[1]))
    df = df.with_columns(year=year)
    df = _numbers(df, _PANEL_INTS, file, True, problems, markers)
    df = _numbers(df, ("cla_rate_per_10k",), file, False, problems, markers)
    old = df["old_la_code"].cast(pl.Float64, strict=False)
    for r in df.filter(df["old_la_code"].is_not_null() & old.is_null()).select(
            LINE, "old_la_code").iter_rows():
        problems.append(Problem(file, "not-a-number", "old_la_code must be a number", row=r[0],
                                column="old_la_code", value=r[1]))
    df = df.with_columns(old_la_code=old.cast(pl.Int64, strict=False))
    for r in df.filter(pl.col("area").is_null()).select(LINE).iter_rows():
        problems.append(Problem(file, "required", "area is required", row=r[0], column="area"))
    dup = df.filter(pl.len().over("area", "year") > 1)
    for r in dup.group_by("area", "year").agg(pl.col(LINE)).iter_rows(named=True):
        lines = sorted(r[LINE])
        problems.append(Problem(file, "duplicate-area-year",
                                f"area {r['area']!r} has more than one row for {r['year']} "
                                f"(lines {', '.join(map(str, lines))})", row=lines[0],
                                column="area"))
    if problems:
        raise DataError(sorted(problems, key=lambda p: (p.row or 0, p.column or "")))
    table = df.with_columns(area_level=_level(pl.col("old_la_code"))).select(
        "area", "area_level", "old_la_code", "new_la_code", "year", "cla_31mar",
        "cla_rate_per_10k", "starts", "ceased", "mye_year", "pop_0_17_mid_prev_year",
    ).sort("area", "year")
    table = PanelSchema.validate(table)
    marker_df = pl.DataFrame(markers, schema={"area": pl.String, "year": pl.Int64,
                                              "column": pl.String, "marker": pl.String,
                                              "meaning": pl.String, "line": pl.Int64})
    return Panel(table=table, markers=marker_df, reorganisations=_reorganisations(table),
                 source=file)


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


def read_population(path: Path | str) -> pl.DataFrame:
    """ONS mid-year estimates of children aged 0-17 (``ons_mye_0_17_*.csv``).

    Returns ``area, area_code, area_level, mid_year, population_0_17``.
    """
    path = Path(path)
    file = str(path)
    cols = ("time_period", "geographic_level", "country_name", "region_name", "region_code",
            "la_name", "new_la_code", "population_estimate")
    df = read_text_csv(path, cols)
    problems: list[Problem] = []
    df = _numbers(df, ("population_estimate",), file, True, problems, [])
    df = df.with_columns(mid_year=df["time_period"].cast(pl.Int64, strict=False))
    for r in df.filter(pl.col("mid_year").is_null()).select(LINE, "time_period").iter_rows():
        problems.append(Problem(file, "year", "time_period must be a year", row=r[0],
                                column="time_period", value=r[1]))
    if problems:
        raise DataError(problems)
    level = pl.col("geographic_level").str.to_lowercase()
    out = df.select(
        area=pl.when(level == "national").then(pl.col("country_name"))
        .when(level == "regional").then(pl.col("region_name")).otherwise(pl.col("la_name")),
        area_code=pl.when(level == "national").then(pl.lit("E92000001"))
        .when(level == "regional").then(pl.col("region_code")).otherwise(pl.col("new_la_code")),
        area_level=pl.when(level == "national").then(pl.lit("england"))
        .when(level == "regional").then(pl.lit("region")).otherwise(pl.lit("la")),
        mid_year="mid_year",
        population_0_17=pl.col("population_estimate"),
    ).filter(pl.col("population_0_17").is_not_null())
    return PopulationSchema.validate(out)


def read_outcomes(path: Path | str) -> pl.DataFrame:
    """LAIT outcome indicators (``outcomes_lait_*.csv``): ``area, indicator, year, value``."""
    path = Path(path)
    file = str(path)
    df = read_text_csv(path, ("LA and Regions", "Short Desc", "Years", "Values"))
    problems: list[Problem] = []
    markers: list[dict] = []
    df = _numbers(df, ("Values",), file, False, problems, markers)
    year = _leading_year(df, "Years", file, problems)
    if problems:
        raise DataError(problems)
    out = df.select(area=pl.col("LA and Regions"), indicator=pl.col("Short Desc"), year=year,
                    value=pl.col("Values"))
    return OutcomesSchema.validate(out)



def _characteristics(path: Path | str, area_cols: tuple[str, ...], number_col: str,
                     extra: tuple[str, ...] = ()) -> pl.DataFrame:
    path = Path(path)
    file = str(path)
    df = read_text_csv(path, (*area_cols, "time_period", "cla_group", "characteristic",
                              number_col, "percentage", *extra))
    problems: list[Problem] = []
    markers: list[dict] = []
    df = _numbers(df, (number_col,), file, True, problems, markers)
    df = _numbers(df, ("percentage",), file, False, problems, markers)
    year = df["time_period"].cast(pl.Int64, strict=False)
    for r in df.filter(year.is_null()).select(LINE, "time_period").iter_rows():
        problems.append(Problem(file, "year", "time_period must be a year", row=r[0],
                                column="time_period", value=r[1]))
    if problems:
        raise DataError(problems)
    suppressed = pl.Series("suppressed", [None] * df.height, dtype=pl.String)
    if markers:
        m = pl.DataFrame(markers).filter(pl.col("column") == number_col).select(
            pl.col("line").alias(LINE), pl.col("marker"))
        suppressed = df.select(LINE).join(m, on=LINE, how="left")["marker"].alias("suppressed")
    return df.with_columns(year=year, suppressed=suppressed).select(
        *area_cols, "year", "cla_group", "characteristic",
        pl.col(number_col).alias("number"), "percentage", *extra, "suppressed")


def read_england_characteristics(path: Path | str) -> pl.DataFrame:
    """England CLA at 31 March by characteristic (``england_cla_31march_characteristics_*``).

    Returns ``year, cla_group, characteristic, number, percentage, suppressed``.
    """
    return _characteristics(path, (), "cla_31_march_number")


def read_england_flows(path: Path | str) -> pl.DataFrame:
    """England starts and ceased by characteristic (``england_cla_flows_characteristics_*``).

    Returns ``year, cla_group, characteristic, number, percentage, flow, suppressed``.
    """
    return _characteristics(path, (), "number", extra=("flow",))


def read_la_characteristics(path: Path | str) -> pl.DataFrame:
    """Selected LAs' CLA at 31 March by characteristic (``la_selected_cla_characteristics_*``).

    Returns ``la_name, new_la_code, year, cla_group, characteristic, number, percentage,
    suppressed`` (``number`` null and ``suppressed`` holding the marker where DfE suppressed).
    """
    return _characteristics(path, ("la_name", "new_la_code"), "cla_31_march_number")


def read_finance(path: Path | str) -> pl.DataFrame:
    """Section 251 outturn and DfE approximate weekly unit costs (``finance_s251_lait_*``).

    Returns ``area, measure, year, value`` with ``year`` the financial year's ending year
    (``2024-25 (OT)`` -> 2025).
    """
    path = Path(path)
    file = str(path)
    df = read_text_csv(path, ("area", "measure", "year", "Values"))
    problems: list[Problem] = []
    df = _numbers(df, ("Values",), file, False, problems, [])
    start = _leading_year(df, "year", file, problems)
    if problems:
        raise DataError(problems)
    return df.select("area", "measure", year=start + 1, value=pl.col("Values"))
