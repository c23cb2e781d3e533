"""pandera.polars schemas for every table that crosses a boundary of cobic.

Two layers:

* *raw* schemas check files as read (every column a string): required values, dates written
  dd/mm/YYYY or YYYY-mm-dd with a four-digit year in 1900-2099 (see
  :func:`cobic.data.dates.parse_date`), allowed SSDA903 code sets (from
  ``models/ssda903.toml``), cross-field rules such as DEC not before DECOM, plausible dates of
  birth. Failures are turned into :class:`cobic.errors.Problem` rows naming the file, line,
  column and rule; a cross-field failure names the CHILD and the columns concerned, never the
  whole row, and values of :data:`PRIVATE_COLUMNS` are never shown.
* *typed* schemas check the clean tables cobic produces and consumes (episodes, header, the DfE
  panel, population, unit costs, outcome indicators).

Each check's ``error`` text starts with ``[rule-id]`` so the rule survives into the report.
"""

from __future__ import annotations

import re
from datetime import date

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from cobic.codes import CodeSets
from cobic.data.dates import MAX_YEAR, MIN_YEAR, parse_date
from cobic.errors import Problem

__all__ = [
    "PROVIDERS",
    "DATE_FORMAT",
    "raw_header_schema",
    "raw_episodes_schema",
    "HEADER_COLUMNS",
    "EPISODE_COLUMNS",
    "episodes_schema",
    "header_schema",
    "panel_schema",
    "population_schema",
    "unit_costs_schema",
    "outcomes_schema",
    "validate_to_problems",
    "PRIVATE_COLUMNS",
]

DATE_FORMAT = "%d/%m/%Y"  # the SSDA903 layout; YYYY-mm-dd is accepted too (parse_date)
HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODE_COLUMNS = (
    "CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
    "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN",
)
# The columns cobic needs; the others are carried if present but may be blank.
HEADER_REQUIRED = ("CHILD", "SEX", "DOB")
EPISODE_REQUIRED = ("CHILD", "DECOM", "RNE", "LS", "PLACE", "PLACE_PROVIDER")

EARLIEST_DOB = date(1990, 1, 1)
# Personal data: their values never appear in a Problem (the CHILD id does, to find the row).
PRIVATE_COLUMNS = ("UPN", "MOTHER", "MC_DOB", "HOME_POST", "PL_POST")

# check error text -> the columns a cross-field (frame) check concerns, the first one the
# column a Problem names; filled by _frame_check.
_FRAME_COLUMNS: dict[str, tuple[str, ...]] = {}


_DATE_COLUMNS = ("DOB", "MC_DOB", "DECOM", "DEC")


def _parse(col: str) -> pl.Expr:
    """The date in ``col``, parsed once per validation by :func:`validate_to_problems`."""
    return pl.col(f"_date_{col}")


def _date_check() -> list[pa.Check]:
    """A date's layout (dd/mm/YYYY or YYYY-mm-dd, 4-digit year), then its year's range."""
    def year_ok(key: str) -> pl.Expr:  # not a date at all: the format check reports it
        return (pl.col(key).is_null() | parse_date(pl.col(key), bounded=False).is_null()
                | pl.col(f"_date_{key}").is_not_null())

    return [
        pa.Check(
            lambda d: d.lazyframe.select(
                pl.col(d.key).is_null() | parse_date(pl.col(d.key), bounded=False).is_not_null()),
            name="date-format",
            error="[date-format] must be a real date written dd/mm/YYYY with a 4-digit year "
                  "(e.g. 01/04/2021; YYYY-mm-dd is also accepted)",
        ),
        pa.Check(lambda d: d.lazyframe.select(year_ok(d.key)), name="date-range",
                 error=f"[date-range] the year must be between {MIN_YEAR} and {MAX_YEAR}"),
    ]


def _codes_check(rule: str, allowed: tuple[str, ...]) -> pa.Check:
    allowed_list = list(allowed)
    return pa.Check(
        lambda d: d.lazyframe.select(pl.col(d.key).is_null() | pl.col(d.key).is_in(allowed_list)),
        name=rule,
        error=f"[{rule}] must be one of the allowed codes in models/ssda903.toml",
    )


def _frame_check(rule: str, message: str, expr: pl.Expr,
                 columns: tuple[str, ...]) -> pa.Check:
    """A row-wise rule across ``columns``; ``expr`` is True where the row passes."""
    error = f"[{rule}] {message}"
    _FRAME_COLUMNS[error] = columns
    return pa.Check(lambda d: d.lazyframe.select(expr.fill_null(True)), name=rule, error=error)


def raw_header_schema(codes: CodeSets) -> pa.DataFrameSchema:
    """Schema of an SSDA903 header file as read (all strings); see :func:`raw_episodes_schema`
    for the extra columns and :func:`validate_to_problems` for how to validate."""
    cols = {c: pa.Column(str, nullable=c not in HEADER_REQUIRED, required=c in HEADER_REQUIRED)
            for c in HEADER_COLUMNS}
    cols["SEX"] = pa.Column(str, _codes_check("code-SEX", codes.codes["SEX"]), nullable=False)
    cols["DOB"] = pa.Column(str, _date_check(), nullable=False)
    cols["MC_DOB"] = pa.Column(str, _date_check(), nullable=True, required=False)
    checks = [
        _frame_check("dob-plausible",
                     f"DOB must be on or after {EARLIEST_DOB:%d/%m/%Y} and not after the "
                     "end of the collection year",
                     (_parse("DOB") >= pl.lit(EARLIEST_DOB))
                     & (_parse("DOB") <= pl.col("_year_end")), ("DOB",)),
    ]
    return pa.DataFrameSchema(cols, checks=checks, strict=False)


def raw_episodes_schema(codes: CodeSets) -> pa.DataFrameSchema:
    """Schema of an SSDA903 episodes file as read (all strings).

    The frame must also carry the dates ``_year_start`` and ``_year_end`` (the file's
    collection year) and ``_not_after`` (no DECOM or DEC may be later; null: no such limit).
    Validate with :func:`validate_to_problems`, which adds the parsed dates the rules use.
    """
    cols: dict[str, pa.Column] = {
        c: pa.Column(str, nullable=True, required=False) for c in EPISODE_COLUMNS
    }
    cols["CHILD"] = pa.Column(str, nullable=False)
    cols["DECOM"] = pa.Column(str, _date_check(), nullable=False)
    cols["DEC"] = pa.Column(str, _date_check(), nullable=True, required=False)
    for c in ("RNE", "LS", "PLACE", "PLACE_PROVIDER"):
        cols[c] = pa.Column(str, _codes_check(f"code-{c}", codes.codes[c]), nullable=False)
    for c in ("CIN", "REC"):
        cols[c] = pa.Column(str, _codes_check(f"code-{c}", codes.codes[c]), nullable=True,
                            required=False)
    checks = [
        _frame_check("dec-before-decom", "DEC (episode end) must not be before DECOM (start)",
                     _parse("DEC") >= _parse("DECOM"), ("DEC", "DECOM")),
        _frame_check("rec-missing", "REC (reason episode ceased) is required when DEC is given",
                     pl.col("DEC").is_null() | pl.col("REC").is_not_null(), ("REC", "DEC")),
        _frame_check("decom-after-year",
                     "DECOM is after the end of this file's collection year (a combined file: "
                     "after the extract end)",
                     _parse("DECOM") <= pl.col("_year_end"), ("DECOM",)),
        _frame_check("dec-before-year",
                     "DEC is before the start of this file's collection year: the episode "
                     "does not belong in this return",
                     _parse("DEC") >= pl.col("_year_start"), ("DEC",)),
        _frame_check("dec-after-year",
                     "DEC is after the 1 April that follows this file's collection year (a "
                     "combined file: its extract end, the 31 March after the latest DECOM); an "
                     "episode still open at the end of the year has a blank DEC",
                     _parse("DEC") <= pl.col("_year_end") + pl.duration(days=1), ("DEC",)),
        _frame_check("date-in-future", "DECOM is after the date the file was read",
                     _parse("DECOM") <= pl.col("_not_after"), ("DECOM",)),
        _frame_check("date-in-future", "DEC is after the date the file was read",
                     _parse("DEC") <= pl.col("_not_after"), ("DEC",)),
    ]
    return pa.DataFrameSchema(cols, checks=checks, strict=False)


_RULE = re.compile(r"^\[([^\]]+)\]\s*(.*)$", re.S)


def validate_to_problems(
    df: pl.DataFrame, schema: pa.DataFrameSchema, file: str, line_col: str = "_line"
) -> list[Problem]:
    """Validate ``df`` lazily and return one Problem per failing cell or row (empty if valid).

    Parameters
    ----------
    df
        The table as read (strings), with ``line_col`` holding each row's line in ``file``.
    schema
        A raw schema from this module.
    file
        How the file is named in problems.
    line_col
        The column of line numbers (header line is 1).

    Returns
    -------
    list of Problem
        Sorted by line and column. A cross-field rule names the row's CHILD in the message and
        its first column (with that column's value) in the Problem; the whole row is never
        shown, and values of :data:`PRIVATE_COLUMNS` are withheld.
    """
    checked = df.with_columns(parse_date(pl.col(c)).alias(f"_date_{c}")
                              for c in _DATE_COLUMNS if c in df.columns)
    try:
        schema.validate(checked, lazy=True)
        return []
    except SchemaErrors as err:
        fc = err.failure_cases
    lines = df[line_col].to_list() if line_col in df.columns else None
    problems = []
    for rec in fc.iter_rows(named=True):
        check = str(rec.get("check"))
        rule, message = _rule_of(check)
        idx, column, value = rec.get("index"), rec.get("column"), rec.get("failure_case")
        row = lines[idx] if (lines is not None and idx is not None) else None
        if column is None and rec.get("schema_context") == "DataFrameSchema":
            column, value, message = _frame_failure(df, idx, check, message)
        if column in PRIVATE_COLUMNS and value is not None:
            value, message = None, f"{message} (value not shown: personal data)"
        problems.append(Problem(file=file, rule=rule, message=message, row=row,
                                column=column, value=None if value is None else str(value)))
    problems.sort(key=lambda p: (p.row or 0, p.column or ""))
    return problems


def _rule_of(check: str) -> tuple[str, str]:
    """The rule id and message of a raw-schema check's error text."""
    m = _RULE.match(check)
    if m:
        return m.group(1), m.group(2)
    if check == "not_nullable":
        return "required", "a value is required"
    if check == "column_in_dataframe":
        return "missing-column", "required column is missing"
    return "schema", check


def _frame_failure(df: pl.DataFrame, idx: int | None, check: str,
                   message: str) -> tuple[str | None, str | None, str]:
    """Column, value and message for a failed cross-field check, naming the CHILD, not the row.

    pandera puts the whole failing row (UPN, postcodes, ...) into ``failure_case``: it is
    discarded and the values of the check's own columns are looked up instead.
    """
    columns = [c for c in _FRAME_COLUMNS.get(check, ()) if c in df.columns]
    if idx is None:
        return (columns[0] if columns else None), None, message
    row = df.row(idx, named=True)
    child = row.get("CHILD")
    if child is not None:
        message = f"CHILD {child}: {message}"
    others = [f"{c} {'(not shown)' if c in PRIVATE_COLUMNS else row[c] or '(blank)'}"
              for c in columns[1:]]
    if others:
        message += f" ({', '.join(others)})"
    if not columns:
        return None, None, message
    return columns[0], row[columns[0]], message


# ---------------------------------------------------------------- typed tables

def episodes_schema(codes: CodeSets) -> pa.DataFrameSchema:
    """Clean episodes as produced by :func:`cobic.data.ssda903.read_ssda903`."""
    return pa.DataFrameSchema(
        {
            "CHILD": pa.Column(str),
            "DECOM": pa.Column(pl.Date),
            "DEC": pa.Column(pl.Date, nullable=True),
            "RNE": pa.Column(str, pa.Check.isin(list(codes.codes["RNE"]))),
            "LS": pa.Column(str, pa.Check.isin(list(codes.codes["LS"]))),
            "PLACE": pa.Column(str, pa.Check.isin(list(codes.codes["PLACE"]))),
            "PLACE_PROVIDER": pa.Column(str, pa.Check.isin(list(codes.codes["PLACE_PROVIDER"]))),
            "REC": pa.Column(str, nullable=True),
            "placement_group": pa.Column(str, pa.Check.isin(list(codes.group_names))),
        },
        checks=[pa.Check(lambda d: d.lazyframe.select(
            (pl.col("DEC") >= pl.col("DECOM")).fill_null(True)), name="dec_not_before_decom")],
        unique=["CHILD", "DECOM"],
        strict=False,
    )


def header_schema(codes: CodeSets) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "CHILD": pa.Column(str, unique=True),
            "SEX": pa.Column(str, pa.Check.isin(list(codes.codes["SEX"]))),
            "DOB": pa.Column(pl.Date),
        },
        strict=False,
    )


MAX_CHILDREN = 20_000_000
"""More children than any area holds (England's 0-17 population is about 12.2 million)."""


class PanelSchema(pa.DataFrameModel):
    """The DfE LA panel (``la_cla_panel_2015_2025.csv``) after parsing.

    No count or population exceeds :data:`MAX_CHILDREN` and no rate per 10,000 exceeds 10,000;
    the check that a count does not exceed the area's own 0-17 population is a cross-column
    rule in :func:`cobic.data.dfe.read_panel`.
    """

    area: str
    area_level: str = pa.Field(isin=["england", "region", "la"])
    old_la_code: int = pa.Field(nullable=True)
    new_la_code: str = pa.Field(nullable=True)
    year: int = pa.Field(ge=2000, le=2100)
    cla_31mar: int = pa.Field(nullable=True, ge=0, le=MAX_CHILDREN)
    cla_rate_per_10k: float = pa.Field(nullable=True, ge=0, le=10_000)
    starts: int = pa.Field(nullable=True, ge=0, le=MAX_CHILDREN)
    ceased: int = pa.Field(nullable=True, ge=0, le=MAX_CHILDREN)
    mye_year: int = pa.Field(nullable=True, ge=1990, le=2100)
    pop_0_17_mid_prev_year: int = pa.Field(nullable=True, gt=0, le=MAX_CHILDREN)

    class Config:
        unique = ["area", "year"]
        coerce = True


class PopulationSchema(pa.DataFrameModel):
    """ONS mid-year estimates of children aged 0-17 (null where ONS gives a marker)."""

    area: str
    area_code: str = pa.Field(nullable=True)
    area_level: str = pa.Field(isin=["england", "region", "la"])
    mid_year: int = pa.Field(ge=1990, le=2100)
    population_0_17: int = pa.Field(nullable=True, gt=0, le=MAX_CHILDREN)

    class Config:
        coerce = True


#: provider types of a unit cost (``all``: the blend of both)
PROVIDERS = ("in_house", "independent", "all")


class UnitCostSchema(pa.DataFrameModel):
    """Weekly placement cost by placement group and provider type, with price year and source."""

    placement_group: str
    provider: str = pa.Field(isin=list(PROVIDERS))
    weekly_cost: float = pa.Field(ge=0)
    price_year: str = pa.Field(str_matches=r"^\d{4}-\d{2}$")
    source: str

    class Config:
        unique = ["placement_group", "provider"]
        coerce = True


class OutcomesSchema(pa.DataFrameModel):
    """Outcome indicators (percentages) by area and year."""

    area: str
    indicator: str
    year: int = pa.Field(ge=2000, le=2100)
    value: float = pa.Field(nullable=True, ge=0, le=100)

    class Config:
        coerce = True


panel_schema = PanelSchema
population_schema = PopulationSchema
unit_costs_schema = UnitCostSchema
outcomes_schema = OutcomesSchema


# ------------------------------------------------- typed tables that carry their line numbers

class CharacteristicsSchema(pa.DataFrameModel):
    """DfE counts by characteristic (31 March or flows), England or selected LAs."""

    year: int = pa.Field(ge=2000, le=2100)
    number: int = pa.Field(nullable=True, ge=0)
    percentage: float = pa.Field(nullable=True, ge=0, le=100)

    class Config:
        coerce = True


class FinanceSchema(pa.DataFrameModel):
    """Section 251 spend and unit costs by area, measure and financial year (ending year)."""

    area: str
    measure: str
    year: int = pa.Field(ge=2000, le=2100)
    value: float = pa.Field(nullable=True, ge=0)

    class Config:
        coerce = True


_TYPED_RULE = re.compile(r"^\[([^\]]+)\]\s*(.*)$", re.S)
_BOUND = re.compile(r"^(greater_than_or_equal_to|greater_than|less_than_or_equal_to|less_than)"
                    r"\((.*)\)$")
_BOUND_SIGN = {"greater_than_or_equal_to": ">=", "greater_than": ">",
               "less_than_or_equal_to": "<=", "less_than": "<"}
_NAMED_RULES = {
    "not_nullable": ("required", "a value is required"),
    "column_in_dataframe": ("missing-column", "required column is missing"),
    "multiple_fields_uniqueness": ("duplicate", "the row's key appears more than once"),
    "field_uniqueness": ("duplicate", "the value appears more than once"),
}


def _typed_rule(check: str) -> tuple[str, str]:
    """The project rule and message for a pandera check name such as ``greater_than(0)``."""
    m = _TYPED_RULE.match(check)
    if m:
        return m.group(1), m.group(2)
    m = _BOUND.match(check)
    if m:
        return "out-of-range", f"must be {_BOUND_SIGN[m.group(1)]} {m.group(2)}"
    if check in _NAMED_RULES:
        return _NAMED_RULES[check]
    if check.startswith("isin("):
        return "not-allowed", f"must be one of {check[5:-1]}"
    if check.startswith(("dtype(", "coerce_dtype(")):
        return "type", f"has the wrong type ({check})"
    return "schema", check


def typed_problems(df: pl.DataFrame, schema: type[pa.DataFrameModel] | pa.DataFrameSchema,
                   file: str, line_col: str = "_line",
                   raw: pl.DataFrame | None = None) -> list[Problem]:
    """Validate a typed table that carries its file line numbers; one Problem per failure.

    Parameters
    ----------
    df
        The typed table, with ``line_col`` holding each row's line in ``file``.
    schema
        A pandera model or schema (extra columns such as ``line_col`` must be allowed).
    file
        How the file is named in problems.
    line_col
        The column of line numbers (header line is 1).
    raw
        The table as read (text, same ``line_col``); when given, a problem in a column it also
        has shows the text that stood in the file rather than the parsed value.

    Returns
    -------
    list of Problem
        Empty when ``df`` is valid; never raises pandera's own errors.
    """
    try:
        schema.validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    except pa.errors.SchemaError as err:
        return [Problem(file, "schema", str(err).splitlines()[0])]
    lines = df[line_col].to_list()
    problems = []
    for rec in cases.iter_rows(named=True):
        rule, message = _typed_rule(str(rec.get("check")))
        idx, column = rec.get("index"), rec.get("column")
        column = column if column in df.columns else None
        row = lines[idx] if idx is not None else None
        value = None if rec.get("failure_case") is None else str(rec["failure_case"])
        if raw is not None and column in raw.columns and row is not None:
            value = raw.filter(pl.col(line_col) == row)[column].item()
        problems.append(Problem(file, rule, f"{column or 'row'} {message}", row=row,
                                column=column, value=value))
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))
