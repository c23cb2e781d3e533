"""One presentation vocabulary: what every column, measure and code is called on a screen, in
what unit, and how its values are written.

Everything cobic shows to people (the demo report, the workbooks, the chart legends) goes
through here, so a column has one name and one unit everywhere:

* :func:`label` - the display name of a column, measure or code (``per_child_month`` ->
  "Per child per month"); names it does not know get a readable fallback (underscores to
  spaces, capitalised), so no underscore reaches a screen;
* :func:`column` - the :class:`Column` (label, kind) of a column in a kind of table (``mean``
  is children in a forecast and money in a contract summary);
* :func:`display` - a table renamed and formatted for people: money as money (GBP m to one
  decimal for totals, whole pounds in ledgers), chances and shares as %, children whole;
* :data:`EXCEL_FORMATS` - the matching spreadsheet number format of each kind.

Kinds: ``money`` (GBP, nominal unless the label says real or present value), ``weekly`` (GBP a
week), ``chance`` and ``share`` (fractions shown as %), ``percent`` (already in %), ``children``
and ``count`` (whole numbers), ``days`` (child-days), ``year`` (a year, no separator),
``factor`` (a plain number to 3 decimals), ``number`` (to 1 decimal) and ``text``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from cobic.units import money_m, pounds  # one place for £ formats (cobic/units.py)

__all__ = ["Column", "CODE_COLUMNS", "KINDS", "EXCEL_FORMATS", "PLACEMENT_GROUPS", "MECHANISMS", "label",
           "column", "value_label", "display", "fmt", "money", "money_m", "pounds", "pct",
           "whole", "measure_kind"]

KINDS = ("money", "weekly", "chance", "share", "percent", "children", "count", "days", "year",
         "factor", "number", "text")

#: spreadsheet number formats by kind (the cell keeps the full number)
EXCEL_FORMATS = {
    "money": '"£"#,##0;[Red]-"£"#,##0', "weekly": '"£"#,##0;[Red]-"£"#,##0',
    "chance": "0.0%", "share": "0.0%", "percent": '0.0"%"', "children": "#,##0",
    "count": "#,##0", "days": "#,##0", "year": "0", "factor": "0.000", "number": "#,##0.0",
    "text": "@",
}


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"


# ----------------------------------------------------------------- codes in plain English
PLACEMENT_GROUPS = {
    "fostering": "Fostering",
    "residential": "Children's homes",
    "secure": "Secure children's homes",
    "supported": "Supported accommodation",
    "placed_with_parents": "Placed with parents",
    "adoption": "Placed for adoption",
    "residential_school": "Residential schools",
    "other": "Other placements",
    "all": "All",
}

MECHANISMS = {
    "block": "Block contract (fixed sum a year)",
    "tariff": "Tariff (price per unit of activity)",
    "per_child_month": "Per child per month",
    "case_rate": "Declining case rate (Kansas)",
    "cobic": "COBIC (this contract)",
    "cobic_multi_year": "COBIC, reconciled over the whole contract",
    "cobic_cost_index": "COBIC, capitation linked to the cost index",
}

EXIT_REASONS = {
    "adoption": "Adopted",
    "returned_home": "Returned home",
    "special_guardianship_or_cao": "Special guardianship or child arrangements order",
    "independent_living": "Moved to independent living",
    "remained_with_carers_at_18": "Stayed with carers at 18 (staying put)",
    "other": "Other reasons",
}

_VALUES = {
    **MECHANISMS,
    "episodes": "Episodes", "header": "Header",
    "baseline": "Baseline", "scenario": "Scenario",
    "forecast": "Forecast", "zero_based": "Zero-based", "historic": "Historic outturn",
    "population": "Population (provider takes volume risk)",
    "child_day": "Child-day (commissioner keeps volume risk)",
    "hybrid": "Hybrid (volume corridor)", "withhold": "Withheld from the capitation",
    "bonus": "Paid on top of the capitation", "stockflow": "Stock and flow simulation",
    "synthetic_la": "Synthetic local authority",
}

# ----------------------------------------------------------------- columns
#: columns holding codes, shown through :func:`value_label`
CODE_COLUMNS = frozenset({"measure", "placement_group", "mechanism", "age_band", "exit_reason",
                          "table", "case", "party", "scenario", "model", "provider", "label",
                          "basis", "area"})

_M, _C, _S, _N = "money", "chance", "share", "children"

COLUMNS: dict[str, Column] = {
    # identifiers
    "area": Column("Area"), "model": Column("Model"), "scenario": Column("Scenario"),
    "origin": Column("Last year of history", "year"), "period": Column("31 March of", "year"),
    "year": Column("Year to 31 March", "year"), "date": Column("Date"),
    "financial_year": Column("Financial year"), "contract_year": Column("Contract year", "year"),
    "placement_group": Column("Placement"), "age_band": Column("Age"),
    "exit_reason": Column("Reason for leaving care"), "provider": Column("Provider"),
    "mechanism": Column("Payment mechanism"), "measure": Column("Measure"),
    "label": Column("Step"), "case": Column("Case"), "party": Column("Who"),
    "path": Column("Path", "count"), "horizon": Column("Years ahead", "count"),
    "table": Column("Return table"), "file": Column("File"),
    # children and flows
    "children": Column("Children", _N), "stock": Column("Children looked after", _N),
    "stock_start": Column("Looked after at the start", _N), "entries": Column("Started care", _N),
    "exits": Column("Left care", _N), "stock_end": Column("Looked after at the end", _N),
    "moves": Column("Placement moves", "count"), "child_days": Column("Child-days", "days"),
    "expected_child_days": Column("Expected child-days", "days"),
    "value": Column("Value", "number"),
    # data quality
    "read": Column("Rows read", "count"), "kept": Column("Kept", "count"),
    "merged": Column("Merged (re-reported)", "count"),
    "dropped": Column("Dropped (duplicates)", "count"), "changed": Column("Changed", "count"),
    "blank_lines": Column("Blank lines", "count"), "date_formats": Column("Date layout"),
    # contract schedule (per year)
    "capitation": Column("Capitation", _M), "fixed": Column("Fixed payment", _M),
    "at_risk": Column("At risk (incentive)", _M), "withheld": Column("Withheld", _M),
    "expected_incentive_earned": Column("Expected incentive earned", _M),
    "expected_cost": Column("Expected cost", _M),
    "expected_provider_share": Column("Expected provider share of variance", _M),
    "expected_commissioner_share": Column("Expected commissioner share of variance", _M),
    "expected_net_to_provider": Column("Expected payment to provider", _M),
    "capitation_real": Column("Capitation, real terms", _M),
    "discount_factor": Column("Discount factor", "factor"),
    "capitation_pv": Column("Capitation, present value", _M),
    "expected_net_to_provider_pv": Column("Expected payment, present value", _M),
    "p_hit_loss_cap": Column("Chance of hitting the loss cap", _C),
    "p_hit_gain_cap": Column("Chance of hitting the gain cap", _C),
    # ledger lines (by path and year)
    "capitated_payment": Column("Capitated payment", _M), "actual_cost": Column("Actual cost", _M),
    "variance": Column("Variance (cost less payment)", _M),
    "provider_share": Column("Provider share of variance", _M),
    "commissioner_share": Column("Commissioner share of variance", _M),
    "indicator_composite": Column("Outcome score", _S),
    "incentive_earned": Column("Incentive earned", _M),
    "net_to_provider": Column("Paid to provider", _M),
    "provider_margin": Column("Provider margin", _M),
    "net_to_provider_real": Column("Paid to provider, real terms", _M),
    "net_to_provider_pv": Column("Paid to provider, present value", _M),
    # summary quantiles (whole contract)
    "mean": Column("Average", _M), "p10": Column("P10", _M), "p50": Column("P50 (median)", _M),
    "p80": Column("P80", _M), "p90": Column("P90 (bad year)", _M), "sd": Column("Spread (SD)", _M),
    # mechanisms
    "commissioner_mean": Column("Commissioner pays: average", _M),
    "commissioner_p10": Column("Commissioner pays: P10", _M),
    "commissioner_p50": Column("Commissioner pays: P50", _M),
    "commissioner_p90": Column("Commissioner pays: P90", _M),
    "commissioner_sd": Column("Commissioner pays: spread (SD)", _M),
    "provider_margin_mean": Column("Provider margin: average", _M),
    "provider_margin_p10": Column("Provider margin: P10", _M),
    "provider_margin_p90": Column("Provider margin: P90", _M),
    "provider_margin_sd": Column("Provider margin: spread (SD)", _M),
    "p_provider_loss": Column("Chance of a provider loss", _C),
    # who pays (demo summary)
    "outlay_p50": Column("All commissioners pay: P50", _M),
    "outlay_p90": Column("All commissioners pay: P90 (bad year)", _M),
    "la_outlay_p50": Column("Local authority pays: P50", _M),
    "la_outlay_p90": Column("Local authority pays: P90 (bad year)", _M),
    # cost growth and budgets
    **{f"{b}_{q}": Column(f"{'Fixed uplifts' if b == 'fixed' else 'Fitted growth'}: "
                          f"{q.upper()}", _M)
       for b in ("fixed", "fitted") for q in ("p10", "p50", "p90")},
    "difference": Column("Difference", _M), "amount": Column("Amount", _M),
    "start": Column("From", _M), "end": Column("To", _M),
    # cost set
    "weekly_cost": Column("Weekly cost", "weekly"), "price_year": Column("Price year"),
    "source": Column("Source"),
    # forecast quantiles (children); overridden per table below
    "median": Column("Median", _N),
    **{f"q{q:02d}": Column(f"P{q}", _N) for q in (5, 10, 50, 90, 95)},
    **{f"lo{lv}": Column(f"{lv}% interval: low", _N) for lv in (50, 80, 95)},
    **{f"hi{lv}": Column(f"{lv}% interval: high", _N) for lv in (50, 80, 95)},
    # backtests
    "n": Column("Forecasts", "count"), "mae": Column("Mean absolute error (children)", "number"),
    "mape": Column("Mean absolute % error", "percent"), "mase": Column("Scaled error", "factor"),
    "bias": Column("Bias", "percent"),
    "coverage_50": Column("Inside the 50% interval", _S),
    "coverage_80": Column("Inside the 80% interval", _S),
    "coverage_95": Column("Inside the 95% interval", _S),
    "interval_score_80": Column("80% interval score (children)", "number"),
    # lots and pooled budgets
    "member": Column("Member LA"), "funder": Column("Funder"),
    "share_of_outlay": Column("Share of the outlay", _S),
    "expected_outlay": Column("Pays: average", _M),
    "expected_own_cost": Column("Its own children's cost: average", _M),
    "part": Column("Part"), "mean_cost": Column("Cost: average", _M),
    "p90_cost": Column("Cost: P90 (bad case)", _M),
    "p90_minus_mean": Column("Risk margin (P90 less average)", _M),
    # inputs
    "assumption": Column("Assumption"), "section": Column("Section"),
    "unit": Column("Unit"),
}

#: per table kind, columns whose meaning differs from the default above
TABLES: dict[str, dict[str, Column]] = {
    "forecast": {"mean": Column("Average", _N), "q05": Column("P5", _N),
                 "q10": Column("P10", _N), "q50": Column("Median", _N),
                 "q90": Column("P90", _N), "q95": Column("P95", _N)},
    "summary": {"p90": Column("P90 (bad case)", _M)},
    "cost_band": {"p90": Column("P90", _M), "p50": Column("P50", _M), "mean": Column("Average", _M)},
    "budget": {"mean": Column("Average", _M), "p90": Column("P90", _M),
               "baseline": Column("Baseline", _M), "scenario": Column("Scenario", _M),
               "difference": Column("Difference", _M)},
    "risk": {"value": Column("Value", "number")},
    "lot": {"outlay_p90": Column("Pays: P90 (bad case)", _M)},
    "fan": {"median": Column("Median", _N)},
}

# ----------------------------------------------------------------- measures (row names)
MEASURES: dict[str, Column] = {
    "actual_cost": Column("Cost of care", _M),
    "capitated_payment": Column("Capitated payment (before risk share)", _M),
    "commissioner_outlay": Column("Commissioners pay", _M),
    "commissioner_outlay_real": Column("Commissioners pay, real terms", _M),
    "commissioner_outlay_pv": Column("Commissioners pay, present value", _M),
    "provider_margin": Column("Provider margin", _M),
    "provider_margin_pv": Column("Provider margin, present value", _M),
    "provider_share_of_variance": Column("Provider share of the over- or underspend", _M),
    "commissioner_share_of_variance": Column("Commissioner share of the over- or underspend", _M),
    "incentive_earned": Column("Incentive earned", _M),
    "P(provider hits the loss cap in some year)":
        Column("Chance the provider hits its loss cap in some year", _C),
    "P(provider hits the gain cap in some year)":
        Column("Chance the provider hits its gain cap in some year", _C),
    "expected risk-share cost to the provider (GBP)":
        Column("Expected risk-share cost to the provider", _M),
    "expected risk-share cost to the commissioner (GBP)":
        Column("Expected risk-share cost to the commissioner", _M),
    "risk margin to reach P80 cost: P80 - mean (GBP)":
        Column("Risk margin to reach the P80 cost (P80 less average)", _M),
    "P(provider makes a loss over the contract)":
        Column("Chance the provider makes a loss over the contract", _C),
}

_RESERVE = re.compile(r"P\(provider's cumulative loss exceeds its reserve of GBP ([\d,]+)\)")


def _measure(name: str) -> Column | None:
    if name in MEASURES:
        return MEASURES[name]
    if name.startswith("outlay_"):
        return Column(f"Paid by {name[len('outlay_'):]}", _M)
    m = _RESERVE.fullmatch(name)
    if m:
        return Column(f"Chance the provider's losses exceed its reserve of "
                      f"£{float(m.group(1).replace(',', '')) / 1e6:,.1f}m", _C)
    return None


def measure_kind(name: str) -> str:
    """The kind of a measure's values: its vocabulary entry, else guessed from its name."""
    m = _measure(name)
    if m is not None:
        return m.kind
    if name.startswith("P(") or name.startswith("p_"):
        return _C
    if "(GBP" in name or "GBP" in name:
        return _M
    return "number"


# ----------------------------------------------------------------- names
def _fallback(name: str) -> str:
    s = re.sub(r"[_\s]+", " ", str(name)).strip()
    s = re.sub(r"\bpv\b", "present value", s)
    s = re.sub(r"\bp(\d{2})\b", lambda m: f"P{m.group(1)}", s)
    return s[:1].upper() + s[1:] if s else s


@lru_cache(maxsize=1)
def _groups_from_codes() -> dict[str, str]:
    """Placement groups of the shipped code sets (models/ssda903.toml), named in English."""
    try:
        from cobic.codes import default_codes

        names = default_codes().group_names
    except Exception:  # the vocabulary must work without the code sets
        names = ()
    return {g: PLACEMENT_GROUPS.get(g, _fallback(g)) for g in (*names, "all")}


def value_label(value: str, col: str | None = None) -> str:
    """A code value (a placement group, mechanism, exit reason...) in plain English."""
    v = str(value)
    if col == "exit_reason" and v in EXIT_REASONS:
        return EXIT_REASONS[v]
    if col in (None, "placement_group", "group", "case", "party"):
        groups = _groups_from_codes()
        if v in groups:
            return groups[v]
    if col == "age_band" and v == "all":
        return "All ages"
    if col in ("measure",):
        m = _measure(v)
        return m.label if m is not None else _fallback(v)
    if v in _VALUES:
        return _VALUES[v]
    if "_" in v and " " not in v and "." not in v:  # a code, not a file name
        return _fallback(v)
    return v


def column(name: str, kind: str | None = None) -> Column:
    """The :class:`Column` of ``name`` in a table of ``kind`` (fallback: readable name, kind
    guessed from the name)."""
    if kind is not None and name in TABLES.get(kind, {}):
        return TABLES[kind][name]
    if name in COLUMNS:
        return COLUMNS[name]
    m = _measure(name)
    if m is not None:
        return m
    low = name.lower()
    if low.startswith("p_") or low.startswith("share_"):
        guess = _C
    elif any(w in low for w in ("cost", "gbp", "outlay", "margin", "payment")):
        guess = _M
    else:
        guess = "text"
    return Column(_fallback(name), guess)


def label(name: str, kind: str | None = None) -> str:
    """The display name of a column, measure or code value (readable fallback)."""
    if kind is not None and name in TABLES.get(kind, {}):
        return TABLES[kind][name].label
    if name in COLUMNS:
        return COLUMNS[name].label
    m = _measure(name)
    if m is not None:
        return m.label
    groups = _groups_from_codes()
    if name in groups:
        return groups[name]
    if name in _VALUES:
        return _VALUES[name]
    return _fallback(name)


# ----------------------------------------------------------------- formatters
def _num(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return None if isinstance(v, float) and math.isnan(v) else float(v)
    try:
        return float(str(v).replace(",", ""))
    except ValueError:
        return None


money = money_m


def pct(v: float, dp: int | None = None) -> str:
    """A fraction as a percentage: 0.409 -> ``41%`` (one decimal under 1% and over 99%)."""
    p = v * 100
    if dp is None:
        dp = 1 if (0 < abs(p) < 1 or 99 < abs(p) < 100) else 0
    return f"{p:.{dp}f}%"


def whole(v: float) -> str:
    """A whole number with thousands separators: 2,284.5 -> ``2,285``."""
    r = math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)  # half away from zero
    return f"{r:,.0f}"


def fmt(v, kind: str, ledger: bool = False) -> str:
    """One value for people, by kind. Suppressed counts (``c``) and text pass through."""
    if v is None:
        return ""
    x = _num(v)
    if kind == "text" or x is None:
        return str(v)
    if kind == "money":
        return pounds(x) if ledger else money_m(x)
    if kind == "weekly":
        return pounds(x)
    if kind in ("chance", "share"):
        return pct(x)
    if kind == "percent":
        return f"{x:.1f}%"
    if kind in ("children", "count", "days"):
        return whole(x)
    if kind == "year":
        return str(int(x))
    if kind == "factor":
        return f"{x:,.3f}"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def display(df: pl.DataFrame, kind: str | None = None, ledger: bool = False) -> pl.DataFrame:
    """``df`` for people: columns renamed (:func:`label`), values formatted as strings by
    their kind (:func:`fmt`) and codes in plain English (:func:`value_label`).

    ``kind`` is the kind of table (``forecast``, ``summary``, ``risk``...; it settles what an
    ambiguous column such as ``mean`` holds). A ``measure, value...`` table is formatted row by
    row, by each measure's kind. ``ledger``: money in whole pounds rather than GBP m.
    """
    by_row = "measure" in df.columns
    out: dict[str, list[str]] = {}
    names: list[str] = []
    kinds_by_row = [measure_kind(str(m)) for m in df["measure"].to_list()] if by_row else []
    for c in df.columns:
        col = column(c, kind)
        vals = df[c].to_list()
        if (c in CODE_COLUMNS and not df[c].dtype.is_numeric()) or (
                col.kind == "text" and df[c].dtype == pl.String):
            out_vals = [value_label(v, c) if v is not None else "" for v in vals]
        elif by_row and col.kind in ("money", "number", "chance"):
            out_vals = [fmt(v, k, ledger) for v, k in zip(vals, kinds_by_row, strict=True)]
        else:
            out_vals = [fmt(v, col.kind, ledger) for v in vals]
        name = col.label
        while name in names:  # two columns with one label: keep both, apart
            name += " "
        names.append(name)
        out[name] = out_vals
    return pl.DataFrame(out, schema={n: pl.String for n in names})


def kinds(df: pl.DataFrame, kind: str | None = None) -> dict[str, str]:
    """Column -> value kind for ``df`` (for alignment and spreadsheet formats)."""
    return {c: column(c, kind).kind for c in df.columns}
