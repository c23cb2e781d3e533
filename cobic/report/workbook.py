"""An ``.xlsx`` workbook a finance lead can open: a notes sheet first, one sheet per table.

Every number is stored as a number (counts too, where a suppressed table holds them as text
beside ``c``), with a GBP or % number format by the column's kind in
:mod:`cobic.report.vocabulary`; headers are the vocabulary's names, frozen, with set column
widths. Optionally an "Inputs" sheet lists every assumption with its source, and a chart sheet
draws the contract value by year (a native Excel chart).
"""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from pathlib import Path

import polars as pl
import xlsxwriter

from cobic.report.vocabulary import (
    CODE_COLUMNS,
    EXCEL_FORMATS,
    column,
    label,
    measure_kind,
    value_label,
)

__all__ = ["write_workbook", "inputs_table", "sheet_kind"]

_BAD = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_kind(name: str) -> str | None:
    """The vocabulary's table kind for a sheet, from its name."""
    n = name.lower()
    for k in ("forecast", "summary", "risk", "cost_growth", "budget", "lot"):
        if k in n:
            return k
    return None


def _number(v) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(float(v)) else None
    try:
        x = float(str(v).replace(",", ""))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _fy(y: int) -> str:
    return f"{y - 1}-{y % 100:02d}"


def _toml_sources(path: str) -> dict[str, str]:
    """``section -> source`` from a model file's ``source`` keys (cost sets keep one per
    section); empty if the file cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {k: v["source"] for k, v in raw.items()
            if isinstance(v, dict) and isinstance(v.get("source"), str)}


def inputs_table(spec=None, terms=None) -> pl.DataFrame:
    """Every assumption behind a priced contract, one row each, with its source:
    ``section, assumption, value, unit, source``. Sources tagged [F] were found in a published
    source, [I] are assumptions (as the cost set marks them)."""
    rows: list[tuple[str, str, object, str, str]] = []
    if spec is not None:
        src = _toml_sources(spec.source) if spec.source else {}
        file = Path(spec.source).name if spec.source else spec.name
        rows.append(("Costs", "Cost set", spec.name, "", file))
        rows.append(("Costs", "Base price year", _fy(spec.base_price_year), "financial year",
                     file))
        if spec.table is not None:
            for r in spec.table.iter_rows(named=True):
                rows.append(("Weekly placement costs",
                             f"{label(r['placement_group'])} ({r['provider']} providers)",
                             float(r["weekly_cost"]), f"£ a week, {r['price_year']} prices",
                             str(r["source"])))
        cm = src.get("case_management", "")
        rows.append(("Case management", "Social work per child-month", spec.per_child_month,
                     "£ a child-month", cm))
        for k, v in spec.event_costs.items():
            rows.append(("Case management", f"One-off cost per {label(k).lower()}", v, "£",
                         cm))
        rows.append(("Overheads", "Overhead rate", spec.overhead_rate, "share of direct cost",
                     src.get("overheads", "")))
        for g, v in spec.indexation.items():
            rows.append(("Indexation", f"Annual uplift: {label(g) if g != 'default' else 'all other placements'}",
                         v, "a year", src.get("indexation", "")))
        rows.append(("Efficiency", "Efficiency a year", spec.efficiency, "a year",
                     src.get("efficiency", "")))
        unc = src.get("uncertainty", "")
        rows += [("Uncertainty", "Unit-cost variation (CV)", spec.unit_cost_cv, "share", unc),
                 ("Uncertainty", "High-cost placements a year (expected)",
                  spec.high_cost_per_year, "placements", unc),
                 ("Uncertainty", "High-cost placement: mean weekly cost",
                  spec.high_cost_mean_weekly, "£ a week", unc),
                 ("Uncertainty", "High-cost placement: length", spec.high_cost_weeks, "weeks",
                  unc)]
        for i, v in enumerate(spec.startup):
            rows.append(("Start-up", f"Start-up cost, contract year {i + 1}", v, "£",
                         src.get("startup", "")))
    if terms is not None:
        tf = Path(terms.source).name if terms.source else terms.name
        design = f"[I] contract design ({tf})"
        rows += [("Contract", "Contract", terms.name, "", tf),
                 ("Contract", "First year", _fy(terms.first_year), "financial year", design),
                 ("Contract", "Length", terms.length, "years", design),
                 ("Contract", "Payment basis", label(terms.basis), "", design),
                 ("Contract", "Volume corridor", terms.corridor, "share of expected child-days",
                  design),
                 ("Contract", "Marginal rate outside the corridor", terms.marginal_rate,
                  "share of the daily rate", design),
                 ("Contract", "Capitation set at", f"P{round(terms.point * 100)} "
                  f"({label(terms.method)})", "", design)]
        for i, s in enumerate(terms.incentive_share):
            rows.append(("Incentive", f"At-risk share, contract year {i + 1}", s,
                         "share of the capitation", design))
        rows.append(("Incentive", "At-risk money", label(terms.incentive_mode), "", design))
        if terms.quality_gate is not None:
            rows.append(("Incentive", "Quality gate (no gain share below this outcome score)",
                         terms.quality_gate, "score 0-1", design))
        rs = terms.risk_share
        for side, bands in (("overspend", rs.loss_bands), ("saving", rs.gain_bands)):
            for b in bands:
                upto = "and above" if math.isinf(b.upper) else f"to {b.upper:.0%}"
                rows.append(("Risk share", f"Provider's share of an {side} from {b.lower:.0%} "
                             f"{upto} of the capitation", b.provider_share, "share", design))
        if rs.loss_cap is not None:
            rows.append(("Risk share", "Provider's loss cap", rs.loss_cap,
                         "share of the capitation", design))
        if rs.gain_cap is not None:
            rows.append(("Risk share", "Provider's gain cap", rs.gain_cap,
                         "share of the capitation", design))
        for ind in terms.indicators:
            for what, v in (("baseline", ind.baseline), ("floor", ind.floor),
                            ("target", ind.target), ("expected change a year", ind.improvement),
                            ("year-to-year noise (SD)", ind.sd),
                            ("correlation with cost on a path (0: independent)",
                             ind.cost_correlation)):
                rows.append(("Outcome indicators", f"{ind.name}: {what}", v, "",
                             "[I] illustrative, from DfE England values" if what == "baseline"
                             else design))
        green = "[F] HM Treasury Green Book" if abs(terms.discount_rate - 0.035) < 1e-9 \
            else design
        rows += [("Finance", "Discount rate (real)", terms.discount_rate, "a year", green),
                 ("Finance", "Inflation (GDP deflator)", terms.inflation, "a year", design)]
        if terms.provider_reserve is not None:
            rows.append(("Finance", "Provider's reserve", terms.provider_reserve, "£", design))
        for f in terms.funders:
            rows.append(("Funders", f"Share paid by {f.name}", f.share, "share", design))
    return pl.DataFrame({"section": [r[0] for r in rows], "assumption": [r[1] for r in rows],
                         "value": [r[2] for r in rows], "unit": [r[3] for r in rows],
                         "source": [r[4] for r in rows]},
                        schema={"section": pl.String, "assumption": pl.String,
                                "value": pl.Object, "unit": pl.String, "source": pl.String})


def _unit_format(unit: str) -> str:
    if unit.startswith("£"):
        return "money"
    if unit.startswith("share") or unit == "a year":
        return "share"
    return "number"


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self.cache: dict[str, object] = {}
        self.header = wb.add_format({"bold": True, "text_wrap": True, "valign": "bottom",
                                     "bg_color": "#F3F5F8", "bottom": 1})
        self.bold = wb.add_format({"bold": True})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})

    def kind(self, kind: str):
        if kind not in self.cache:
            fmt = {"num_format": EXCEL_FORMATS.get(kind, "General")}
            if kind == "number":
                fmt = {"num_format": "#,##0.###"}
            self.cache[kind] = self.wb.add_format(fmt)
        return self.cache[kind]


def _width(header: str, cells: list[str]) -> float:
    longest = max([len(c) for c in cells[:500]] + [1])
    head = min(len(header), 24)  # headers wrap
    return min(max(longest + 2, head + 2, 8), 60)


def _write_table(wb, ws, df: pl.DataFrame, kind: str | None, f: _Formats) -> None:
    by_row = "measure" in df.columns
    row_kinds = [measure_kind(str(m)) for m in df["measure"].to_list()] if by_row else []
    for j, c in enumerate(df.columns):
        col = column(c, kind)
        ws.write(0, j, col.label, f.header)
        vals = df[c].to_list()
        shown: list[str] = []
        for i, v in enumerate(vals, start=1):
            k = col.kind
            if by_row and c != "measure" and k in ("money", "number", "chance"):
                k = row_kinds[i - 1]
            x = None if (k == "text" or c == "measure") else _number(v)
            if x is not None:
                ws.write_number(i, j, x, f.kind(k))
                shown.append(f"{x:,.0f}" if abs(x) >= 1 else "0.000")
            elif v is None:
                shown.append("")
            else:
                text = value_label(str(v), c) if c in CODE_COLUMNS else str(v)
                ws.write_string(i, j, text)
                shown.append(text)
        ws.set_column(j, j, _width(col.label, shown))
    ws.set_row(0, 30 if any(len(column(c, kind).label) > 14 for c in df.columns) else None)
    ws.freeze_panes(1, 1 if df.width > 6 else 0)
    if df.height:
        ws.autofilter(0, 0, df.height, df.width - 1)


def _sheet_name(name: str, used: set[str]) -> str:
    base = label(name).translate(_BAD).strip()[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in used:
        out = f"{base[:28]} {n}"
        n += 1
    used.add(out.lower())
    return out


def _chart_sheet(wb, schedule: pl.DataFrame, sheet: str) -> None:
    """A native chart: the fixed and at-risk parts of the capitation by year (GBP)."""
    cols = schedule.columns
    n = schedule.height
    ch = wb.add_chart({"type": "column", "subtype": "stacked"})
    for part, colour in (("fixed", "#1F5FA8"), ("at_risk", "#E08A2B")):
        if part not in cols:
            continue
        j = cols.index(part)
        ch.add_series({"name": [sheet, 0, j], "categories": [sheet, 1, cols.index(
            "financial_year"), n, cols.index("financial_year")], "values": [sheet, 1, j, n, j],
            "fill": {"color": colour}, "gap": 60})
    if "expected_cost" in cols:
        j = cols.index("expected_cost")
        line = wb.add_chart({"type": "line"})
        line.add_series({"name": [sheet, 0, j], "categories": [sheet, 1, cols.index(
            "financial_year"), n, cols.index("financial_year")], "values": [sheet, 1, j, n, j],
            "line": {"color": "#333333", "dash_type": "dash"}, "marker": {"type": "circle"}})
        ch.combine(line)
    ch.set_title({"name": "Contract value by year"})
    ch.set_x_axis({"name": "Financial year"})
    ch.set_y_axis({"name": "GBP (nominal)", "num_format": '"£"#,##0,,"m"', "min": 0})
    ch.set_legend({"position": "bottom"})
    cs = wb.add_chartsheet("Chart - contract value")
    cs.set_chart(ch)


def write_workbook(path: Path | str, sheets: dict[str, pl.DataFrame],
                   notes: list[tuple[str, str]] | None = None, *, spec=None, terms=None,
                   kinds: dict[str, str] | None = None,
                   chart: str | None = None) -> Path:
    """Write ``sheets`` (name -> table) to ``path`` atomically.

    ``notes`` are (label, text) rows for a first sheet ("About") saying what the figures are.
    With ``spec`` (a cost set) or ``terms`` (contract terms) an "Inputs" sheet lists every
    assumption with its source. ``kinds`` names the vocabulary's table kind of a sheet (else
    it is guessed from the name). ``chart`` names a contract schedule sheet to draw as a
    native chart (default: a sheet named ``schedule`` or ``contract_schedule``, if any).
    Numbers are stored as numbers with GBP and % formats by column kind; headers frozen.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".xlsx")
    os.close(fd)
    kinds = kinds or {}
    try:
        with xlsxwriter.Workbook(tmp) as wb:
            f = _Formats(wb)
            used: set[str] = set()
            if notes:
                ws = wb.add_worksheet(_sheet_name("About", used))
                ws.set_column(0, 0, 28)
                ws.set_column(1, 1, 100)
                for i, (lab, text) in enumerate(notes):
                    ws.write(i, 0, lab, f.bold)
                    ws.write(i, 1, text, f.wrap)
            if spec is not None or terms is not None:
                _write_inputs(wb, inputs_table(spec, terms), f, used)
            names: dict[str, str] = {}
            for name, df in sheets.items():
                ws = wb.add_worksheet(_sheet_name(name, used))
                names[name] = ws.get_name()
                _write_table(wb, ws, df, kinds.get(name, sheet_kind(name)), f)
            target = chart or next((n for n in ("contract_schedule", "schedule")
                                    if n in sheets), None)
            if target is not None and {"financial_year", "fixed"} <= set(sheets[target].columns):
                _chart_sheet(wb, sheets[target], names[target])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _write_inputs(wb, inputs: pl.DataFrame, f: _Formats, used: set[str]) -> None:
    ws = wb.add_worksheet(_sheet_name("Inputs", used))
    heads = ["Section", "Assumption", "Value", "Unit", "Source"]
    for j, h in enumerate(heads):
        ws.write(0, j, h, f.header)
    for i, r in enumerate(inputs.iter_rows(named=True), start=1):
        ws.write_string(i, 0, r["section"])
        ws.write_string(i, 1, r["assumption"])
        v = r["value"]
        if isinstance(v, int | float) and not isinstance(v, bool):
            ws.write_number(i, 2, float(v), f.kind(_unit_format(r["unit"])))
        else:
            ws.write_string(i, 2, str(v))
        ws.write_string(i, 3, r["unit"])
        ws.write_string(i, 4, r["source"])
    for j, w in enumerate((22, 60, 14, 26, 90)):
        ws.set_column(j, j, w)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, inputs.height, len(heads) - 1)
