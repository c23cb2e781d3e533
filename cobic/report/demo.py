"""The one-command demo: validate the embedded LA, forecast it, price the 7-year COBIC, and
write a self-contained HTML report (charts embedded), CSV and XLSX tables and PNG charts.

Everything written is aggregate: no child identifiers, dates of birth or postcodes, and counts
of 1-4 children are suppressed in the tables (:mod:`cobic.report.privacy`).
"""

from __future__ import annotations

import base64
import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from cobic.contract import apply_terms, compare_mechanisms, load_contract
from cobic.contract.calculator import simulate_contract_costs
from cobic.costs import (
    DemandPaths,
    default_growth_path,
    default_unit_costs_path,
    load_cost_spec,
    load_growth,
    with_growth,
)
from cobic.data import derive
from cobic.data.population import read_population_csv
from cobic.data.ssda903 import read_ssda903
from cobic.demand.api import forecast_episodes, series_from_ssda903
from cobic.paths import fixtures_dir, models_dir
from cobic.report import charts
from cobic.report.files import OutputFolder, check_output_folder, output_folder
from cobic.report.privacy import (
    SUPPRESSED,
    assert_aggregate,
    carry_relations,
    row_relations,
    suppress_linked,
    suppress_with_totals,
)
from cobic.report.workbook import write_workbook

__all__ = ["DemoResult", "run_demo", "STEPS"]

STEPS = ("read and validate the returns", "derive stock, flows and child-days",
         "forecast with stockflow (1,000 paths)", "price the 7-year COBIC",
         "draw the charts", "write the report and tables")


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    report: Path
    headline: dict[str, float | str]
    seconds: float


def _html_table(df: pl.DataFrame, money: tuple[str, ...] = ()) -> str:
    def fmt(col: str, v) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v / 1e6:,.2f}" if col in money else f"{v:,.3f}" if abs(v) < 10 else \
                f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}" if col not in ("year", "period", "contract_year") else str(v)
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}{' (GBP m)' if c in money else ''}</th>"
                   for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(c, v)}</td>" for c, v in r.items()) + "</tr>"
                   for r in df.iter_rows(named=True))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _svg(chart) -> str:
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(chart.to_json())
    return f'<img alt="chart" src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}"/>'


def run_demo(out_dir: Path | str | OutputFolder = "cobic-demo-output",
             episodes: Path | None = None,
             progress: Callable[[str], None] | None = None, n_paths: int = 1000,
             seed: int = 1) -> DemoResult:
    """Run the demo and write its outputs into ``out_dir`` through the one writer
    (:mod:`cobic.report.files`: a user's files there are never deleted or overwritten)."""
    t0 = time.perf_counter()
    target = out_dir if isinstance(out_dir, OutputFolder) else check_output_folder(
        out_dir, inputs=(episodes,))
    out_dir = target.path
    tick = progress or (lambda _s: None)
    src = Path(episodes) if episodes is not None else fixtures_dir() / "synthetic_la"

    tick(STEPS[0])
    data = read_ssda903(src)
    tick(STEPS[1])
    flows = derive.flow_balance(data)
    by_group = derive.stock_totals(data, "placement_group")
    by_band = derive.stock_totals(data, "age_band")
    quality = data.quality_summary().with_columns(
        pl.col("file").map_elements(lambda f: Path(f).name, return_dtype=pl.String))

    tick(STEPS[2])
    pop_file = src / "population.csv" if src.is_dir() else None
    pop = None
    if pop_file is not None and pop_file.exists():
        pop = read_population_csv(pop_file)
    paths = forecast_episodes(data, "stockflow", horizon=8, n_paths=n_paths, seed=seed,
                              population=pop, area=src.name)
    forecast = paths.forecast_table()

    tick(STEPS[3])
    terms = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    terms = replace(terms, first_year=paths.periods[0] + 1)
    spec = load_cost_spec(default_unit_costs_path())
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), spec, terms, seed=seed)
    priced = apply_terms(sim, terms, spec)
    schedule, summary, risk = priced.schedule(), priced.summary(), priced.risk()
    mechanisms = compare_mechanisms(sim, priced)
    grown = _with_fitted_growth(paths, spec, terms, seed)

    tick(STEPS[4])
    series = series_from_ssda903(data)
    history = pl.DataFrame({"period": list(series.years), "value": series.stock[0].tolist()})
    figs = {
        "forecast_fan": charts.fan_chart(history, paths.periods, paths.total()[0]),
        "stock_by_group": charts.stock_by_group_chart(forecast),
        "contract_value": charts.contract_value_chart(schedule),
        "risk_share": charts.risk_share_chart(terms.risk_share),
        "distributions": charts.distribution_chart(
            {"commissioner outlay": priced.net_to_provider.sum(axis=1),
             "provider margin": priced.provider_margin.sum(axis=1)},
            "Whole-contract totals across the paths"),
        "mechanisms": charts.mechanisms_chart(mechanisms),
        "cost_growth": charts.cost_band_chart(
            {"fixed uplifts": _cost_band(sim), "fitted growth": _cost_band(grown["sim"])},
            "Cost by year under each cost-growth basis: median and P10-P90 band"),
    }

    tick(STEPS[5])
    tables = {
        **_suppressed_counts(quality, flows, by_group, by_band, forecast),
        "contract_schedule": schedule, "contract_summary": summary, "contract_risk": risk,
        "mechanisms": mechanisms, "cost_growth": _growth_table(sim, grown),
    }
    for name, df in tables.items():
        assert_aggregate(df, name)
    headline = _headline(data, tables["flows"], paths, priced, schedule, summary)
    headline.update(_growth_headline(grown))
    with output_folder(target, "demo") as tmp:
        (tmp / "tables").mkdir()
        (tmp / "charts").mkdir()
        for name, df in tables.items():
            df.write_csv(tmp / "tables" / f"{name}.csv")
        write_workbook(tmp / "cobic-demo.xlsx", tables, [
            ("What", "cobic demo: embedded synthetic local authority, forecast and 7-year COBIC"),
            ("Privacy", "aggregates only; counts of 1-4 children shown as c (DfE convention)"),
            ("Money", "GBP nominal unless marked real or pv (Green Book, 3.5% real)")])
        for name, fig in figs.items():
            charts.save_chart(fig, tmp / "charts" / f"{name}.png")
        (tmp / "report.html").write_text(_report_html(data, headline, tables, figs, terms, spec))
    return DemoResult(out_dir, out_dir / "report.html", headline, time.perf_counter() - t0)


def _with_fitted_growth(paths, spec, terms, seed: int) -> dict:
    """The same contract priced with costs growing as fitted to the s251 history (the shipped
    growth model, :func:`cobic.costs.default_growth_path`) instead of the fixed uplifts."""
    growth, area = load_growth(default_growth_path())
    gspec = with_growth(spec, growth, area)
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), gspec, terms, seed=seed)
    return {"spec": gspec, "sim": sim, "priced": apply_terms(sim, terms, gspec),
            "growth": growth, "area": area}


def _cost_band(sim) -> pl.DataFrame:
    """``financial_year, p10, p50, p90`` of the simulated cost of each contract year."""
    q = np.quantile(sim.cost, [0.1, 0.5, 0.9], axis=0)
    return pl.DataFrame({"financial_year": [f"{y - 1}-{y % 100:02d}" for y in sim.years],
                         "p10": q[0], "p50": q[1], "p90": q[2]})


def _growth_table(sim, grown: dict) -> pl.DataFrame:
    """Cost by contract year, P10/P50/P90, with fixed uplifts and with fitted growth."""
    fixed, fitted = _cost_band(sim), _cost_band(grown["sim"])
    return fixed.rename({c: f"fixed_{c}" for c in ("p10", "p50", "p90")}).join(
        fitted.rename({c: f"fitted_{c}" for c in ("p10", "p50", "p90")}), on="financial_year")


def _growth_headline(grown: dict) -> dict:
    g, p = grown["growth"], grown["priced"]
    outlay = p.net_to_provider.sum(axis=1)
    margin = p.provider_margin.sum(axis=1)
    return {
        f"cost growth fitted to s251 history ({grown['area']}), now (% a year)":
            f"{(math.exp(g.level) - 1) * 100:.1f} (se {g.level_se * 100:.1f} points)",
        "with fitted growth: total capitation / commissioner outlay mean / P90 (GBP m)":
            f"{p.capitation.sum() / 1e6:,.2f} / {outlay.mean() / 1e6:,.2f} / "
            f"{np.quantile(outlay, 0.9) / 1e6:,.2f}",
        "with fitted growth: provider margin mean (GBP m), P(provider loss)":
            f"{margin.mean() / 1e6:,.2f}, {(margin < 0).mean():.0%}",
    }


def _suppressed_counts(quality, flows, by_group, by_band, forecast) -> dict[str, pl.DataFrame]:
    """The count tables with primary and secondary suppression (:mod:`cobic.report.privacy`).

    The groups and bands on the last 31 March add up to that day's stock, printed in the
    flows table and the headline; flows balance within a year (start + entries - exits = end)
    and carry over (end = next start); rows read = kept + merged + dropped.
    """
    balance = ["stock_start", "entries", "exits", "stock_end"]
    flow_rels = row_relations(flows, balance) + carry_relations(flows, "stock_end",
                                                                "stock_start")
    quality_rels = row_relations(quality, ["read", "kept", "merged", "dropped"])
    return {
        "data_quality": suppress_linked(quality, ["read", "kept", "merged", "dropped",
                                                  "changed"], quality_rels),
        "flows": suppress_linked(flows, [*balance, "moves"], flow_rels,
                                 keep=[(flows.height - 1, "stock_end")]),
        "stock_by_placement_group": suppress_with_totals(by_group, ["children"],
                                                         "placement_group"),
        "stock_by_age_band": suppress_with_totals(by_band, ["children"], "age_band"),
        "forecast": suppress_with_totals(forecast, ["mean", "q05", "q10", "q50", "q90", "q95"],
                                         ["placement_group", "age_band"], by=["period"]),
    }


def _headline(data, flows, paths, priced, schedule, summary) -> dict:
    last = flows.tail(1).row(0, named=True)
    stock = last["stock_end"]
    in5 = paths.total()[0][:, 4]
    q10, q50, q90 = (int(round(float(v))) for v in np.quantile(in5, [0.1, 0.5, 0.9]))
    outlay = summary.filter(pl.col("measure") == "commissioner_outlay").row(0, named=True)
    margin = summary.filter(pl.col("measure") == "provider_margin").row(0, named=True)
    return {
        "children looked after on the last 31 March":
            stock if stock == SUPPRESSED else int(stock),
        f"forecast for 31 March {paths.periods[4]} (median, 80% interval)":
            f"{q50} ({q10}-{q90})",
        "total capitation, nominal (GBP m)": round(float(schedule["capitation"].sum()) / 1e6, 2),
        "total capitation, present value (GBP m)":
            round(float(schedule["capitation_pv"].sum()) / 1e6, 2),
        "commissioner outlay, mean / P90 (GBP m)":
            f"{outlay['mean'] / 1e6:,.2f} / {outlay['p90'] / 1e6:,.2f}",
        "provider margin, mean (GBP m)": round(margin["mean"] / 1e6, 2),
        "P(provider hits its loss cap in some year)":
            round(float(priced.hit_loss_cap.any(axis=1).mean()), 3),
    }


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{font-weight:600}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:right}
th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:.9em}.head td{font-size:1.05em}
img{max-width:100%;margin:.6em 0}
"""


def _report_html(data, headline, tables, figs, terms, spec) -> str:
    money = ("capitation", "fixed", "at_risk", "expected_incentive_earned", "expected_cost",
             "expected_provider_share", "expected_commissioner_share",
             "expected_net_to_provider", "capitation_real", "capitation_pv",
             "expected_net_to_provider_pv", "mean", "p10", "p50", "p80", "p90",
             "commissioner_mean", "commissioner_p10", "commissioner_p50", "commissioner_p90",
             "commissioner_sd", "provider_margin_mean", "provider_margin_p10",
             "provider_margin_p90", "provider_margin_sd")
    head = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(str(v))}</b></td></tr>"
                   for k, v in headline.items())
    fc = tables["forecast"].filter((pl.col("placement_group") == "all")
                                   & (pl.col("age_band") == "all"))
    years = data.collection_years
    parts = [
        f"<h1>cobic demo: {html.escape(str(terms.name))} for a synthetic local authority</h1>",
        f"<p class='note'>Generated {date.today():%d %B %Y} by cobic. Data: the embedded "
        f"synthetic LA (SSDA903 returns {years[0] - 1}-{str(years[0])[2:]} to "
        f"{years[-1] - 1}-{str(years[-1])[2:]}). Aggregates only: no child identifiers, dates "
        "of birth or postcodes; counts of 1-4 children are shown as <b>c</b>.</p>",
        f"<table class='head'>{head}</table>",
        "<h2>Data quality</h2><p>Every row read is kept, merged (re-reported in a later "
        "return) or dropped (an exact duplicate); rules that could not be met would have "
        "stopped the run.</p>", _html_table(tables["data_quality"]),
        "<h2>Children looked after</h2>", _html_table(tables["flows"]),
        _html_table(tables["stock_by_placement_group"]),
        _html_table(tables["stock_by_age_band"]),
        "<h2>Forecast</h2><p>stockflow: entries (Poisson GLM by age band, population "
        "exposure, shrunk trend), exits and placement moves (Poisson GLMs by placement group, "
        "age band and time in care), simulated child by child with ageing and exit at 18; paths "
        "carry parameter uncertainty and process noise.</p>",
        _svg(figs["forecast_fan"]), _svg(figs["stock_by_group"]),
        _html_table(fc.select("period", "mean", "q05", "q10", "q50", "q90", "q95")),
        f"<h2>Contract: {html.escape(terms.name)}</h2>",
        f"<p>{terms.length} years from {terms.first_year - 1}-{terms.first_year % 100:02d}; "
        f"basis {terms.basis} (corridor {terms.corridor:.0%}, marginal rate "
        f"{terms.marginal_rate:.0%}); capitation at P{round(terms.point * 100)} of the "
        f"simulated cost; at-risk share by year "
        f"{', '.join(f'{s:.0%}' for s in terms.incentive_share)} ({terms.incentive_mode}); "
        f"discount rate {terms.discount_rate:.1%} real, inflation {terms.inflation:.1%}.</p>",
        _svg(figs["contract_value"]),
        _html_table(tables["contract_schedule"].select(
            "contract_year", "financial_year", "capitation", "fixed", "at_risk",
            "expected_cost", "expected_net_to_provider", "capitation_real", "discount_factor",
            "capitation_pv", "p_hit_loss_cap"), money),
        _svg(figs["risk_share"]), _svg(figs["distributions"]),
        _html_table(tables["contract_summary"], money), _html_table(tables["contract_risk"]),
        "<h2>Cost-growth risk</h2><p>The contract above is priced with the cost set's fixed "
        "uplifts. Spend per child in care has grown much faster (s251: about 8% a year over "
        "2017-2020 and 11% over 2020-2025), so the same contract is priced again with costs "
        "growing as fitted to the s251 history of England and 15 LAs to 2024-25 (a pooled "
        "model with a market-wide growth that moves from year to year, and no efficiency); "
        "the bands show how far each year's cost could run.</p>", _svg(figs["cost_growth"]),
        _html_table(tables["cost_growth"], money + tuple(
            f"{b}_{q}" for b in ("fixed", "fitted") for q in ("p10", "p50", "p90"))),
        "<h2>Payment mechanisms on the same paths</h2>", _svg(figs["mechanisms"]),
        _html_table(tables["mechanisms"], money),
        "<h2>Assumptions</h2>",
        f"<p>Costs: {html.escape(spec.name)} ({html.escape(Path(spec.source).name)}), base "
        f"price year {spec.base_price_year - 1}-{spec.base_price_year % 100:02d}; overheads "
        f"{spec.overhead_rate:.0%}; efficiency {spec.efficiency:.1%} a year; indexation "
        f"{', '.join(f'{k} {v:.1%}' for k, v in spec.indexation.items())}; unit-cost CV "
        f"{spec.unit_cost_cv:.0%}; {spec.high_cost_per_year:g} high-cost placements a year "
        "expected.</p>",
        _html_table(spec.table.select("placement_group", "provider", "weekly_cost",
                                      "price_year", "source")),
    ]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>cobic demo"
            f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
