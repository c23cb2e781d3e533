"""pandera.polars schemas for every table that crosses a boundary of cobic.

Two layers:

* *raw* schemas check files as read (every column a string): required values, dd/mm/YYYY
  dates, allowed SSDA903 code sets (from ``models/ssda903.toml``), cross-field rules such as
  DEC not before DECOM, plausible dates of birth. Failures are turned into
  :class:`cobic.errors.Problem` rows naming the file, line, column and rule.
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
from cobic.errors import Problem

__all__ = [
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
]

DATE_FORMAT = "%d/%m/%Y"
HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
EPISODE_COLUMNS = (
    "CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
    "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN",
)
# The columns cobic needs; the others are carried if present but may be blank.
HEADER_REQUIRED = ("CHILD", "SEX", "DOB")
EPISODE_REQUIRED = ("CHILD", "DECOM", "RNE", "LS", "PLACE", "PLACE_PROVIDER")

EARLIEST_DOB = date(1990, 1, 1)


def _parse(col: str) -> pl.Expr:
    return pl.col(col).str.to_date(DATE_FORMAT, strict=False)


def _date_check() -> pa.Check:
    return pa.Check(
        lambda d: d.lazyframe.select(pl.col(d.key).is_null() | _parse(d.key).is_not_null()),
        name="date-format",
        error="[date-format] must be a real date written dd/mm/YYYY",
    )


def _codes_check(rule: str, allowed: tuple[str, ...]) -> pa.Check:
    allowed_list = list(allowed)
    return pa.Check(
        lambda d: d.lazyframe.select(pl.col(d.key).is_null() | pl.col(d.key).is_in(allowed_list)),
        name=rule,
        error=f"[{rule}] must be one of the allowed codes in models/ssda903.toml",
    )


def _frame_check(rule: str, message: str, expr: pl.Expr) -> pa.Check:
    """A row-wise rule across columns; ``expr`` is True where the row passes."""
    return pa.Check(lambda d: d.lazyframe.select(expr.fill_null(True)), name=rule,
                    error=f"[{rule}] {message}")


def raw_header_schema(codes: CodeSets) -> pa.DataFrameSchema:
    """Schema of an SSDA903 header file as read (all strings)."""
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
                     & (_parse("DOB") <= pl.col("_year_end"))),
    ]
    return pa.DataFrameSchema(cols, checks=checks, strict=False)


def raw_episodes_schema(codes: CodeSets) -> pa.DataFrameSchema:
    """Schema of an SSDA903 episodes file as read (all strings)."""
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
                     _parse("DEC") >= _parse("DECOM")),
        _frame_check("rec-missing", "REC (reason episode ceased) is required when DEC is given",
                     pl.col("DEC").is_null() | pl.col("REC").is_not_null()),
        _frame_check("decom-after-year",
                     "DECOM is after the end of this file's collection year",
                     _parse("DECOM") <= pl.col("_year_end")),
        _frame_check("dec-before-year",
                     "DEC is before the start of this file's collection year: the episode "
                     "does not belong in this return",
                     _parse("DEC") >= pl.col("_year_start")),
    ]
    return pa.DataFrameSchema(cols, checks=checks, strict=False)


_RULE = re.compile(r"^\[([^\]]+)\]\s*(.*)$", re.S)


def validate_to_problems(
    df: pl.DataFrame, schema: pa.DataFrameSchema, file: str, line_col: str = "_line"
) -> list[Problem]:
    """Validate ``df`` lazily and return one Problem per failing cell or row (empty if valid)."""
    try:
        schema.validate(df, lazy=True)
        return []
    except SchemaErrors as err:
        fc = err.failure_cases
    lines = df[line_col].to_list() if line_col in df.columns else None
    problems = []
    for rec in fc.iter_rows(named=True):
        check = str(rec.get("check"))
        m = _RULE.match(check)
        if m:
            rule, message = m.group(1), m.group(2)
        elif check == "not_nullable":
            rule, message = "required", "a value is required"
        elif check == "column_in_dataframe":
            rule, message = "missing-column", "required column is missing"
        else:
            rule, message = "schema", check
        idx = rec.get("index")
        row = lines[idx] if (lines is not None and idx is not None) else None
        problems.append(Problem(file=file, rule=rule, message=message, row=row,
                                column=rec.get("column"), value=rec.get("failure_case")))
    problems.sort(key=lambda p: (p.row or 0, p.column or ""))
    return problems


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


class PanelSchema(pa.DataFrameModel):
    """The DfE LA panel (``la_cla_panel_2015_2025.csv``) after parsing."""

    area: str
    area_level: str = pa.Field(isin=["england", "region", "la"])
    old_la_code: int = pa.Field(nullable=True)
    new_la_code: str = pa.Field(nullable=True)
    year: int = pa.Field(ge=2000, le=2100)
    cla_31mar: int = pa.Field(nullable=True, ge=0)
    cla_rate_per_10k: float = pa.Field(nullable=True, ge=0)
    starts: int = pa.Field(nullable=True, ge=0)
    ceased: int = pa.Field(nullable=True, ge=0)
    mye_year: int = pa.Field(nullable=True)
    pop_0_17_mid_prev_year: int = pa.Field(nullable=True, gt=0)

    class Config:
        unique = ["area", "year"]
        coerce = True


class PopulationSchema(pa.DataFrameModel):
    """ONS mid-year estimates of children aged 0-17."""

    area: str
    area_code: str = pa.Field(nullable=True)
    area_level: str = pa.Field(isin=["england", "region", "la"])
    mid_year: int = pa.Field(ge=1990, le=2100)
    population_0_17: int = pa.Field(ge=0)

    class Config:
        coerce = True


class UnitCostSchema(pa.DataFrameModel):
    """Weekly placement cost by placement group and provider type, with price year and source."""

    placement_group: str
    provider: str = pa.Field(isin=["in_house", "independent", "all"])
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
