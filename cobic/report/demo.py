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
from cobic.contract.design import design, measures
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
from cobic.report import vocabulary as vocab
from cobic.report.files import OutputFolder, check_output_folder, output_folder
from cobic.report.privacy import (
    SUPPRESSED,
    assert_aggregate,
    carry_relations,
    row_relations,
    suppress_linked,
    suppress_with_totals,
)
from cobic.report.tables import html_table
from cobic.report.workbook import inputs_table, write_workbook

__all__ = ["DemoResult", "run_demo", "STEPS"]

STEPS = ("read and validate the returns", "derive stock, flows and child-days",
         "forecast with stockflow (1,000 paths)", "price the 7-year COBIC",
         "draw the charts", "write the report and tables")


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    report: Path
    headline: dict[str, str]
    seconds: float


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
    mechanisms = compare_mechanisms(sim, priced, multi_year=True)
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
            {"what the commissioners pay": priced.net_to_provider.sum(axis=1),
             "provider margin": priced.provider_margin.sum(axis=1)},
            "Whole-contract totals across the paths"),
        "mechanisms": charts.mechanisms_chart(mechanisms),
        "cost_growth": charts.cost_band_chart(
            {"fixed uplifts": sim.cost_band(), "fitted growth": grown["sim"].cost_band()},
            "Cost by year under each cost-growth basis: median and P10-P90 band"),
    }

    tick(STEPS[5])
    tables = {
        **_suppressed_counts(quality, flows, by_group, by_band, forecast),
        "contract_schedule": schedule, "contract_summary": summary, "contract_risk": risk,
        "mechanisms": mechanisms, "cost_growth": _growth_table(sim, grown),
        "who_pays": _who_pays(priced, terms),
        "sustainable_terms": _suggestion(sim, terms, spec, priced),
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
            ("Money", "£, nominal unless marked real terms or present value (Green Book, "
                      "3.5% real)"),
            ("Chances", "shown as %: the share of the simulated futures (paths) in which "
                        "something happens"),
            ("Sources", "[F] found in a published source; [I] an assumption, stated as such "
                        "(see the Inputs sheet)")],
            spec=spec, terms=terms, kinds={"forecast": "forecast",
                                           "contract_summary": "summary",
                                           "contract_risk": "risk"})
        for name, fig in figs.items():
            charts.save_chart(fig, tmp / "charts" / f"{name}.png")
        (tmp / "report.html").write_text(_report_html(data, headline, tables, figs, terms, spec,
                                                      _growth_facts(grown)))
    return DemoResult(out_dir, out_dir / "report.html", headline, time.perf_counter() - t0)


def _with_fitted_growth(paths, spec, terms, seed: int) -> dict:
    """The same contract priced with costs growing as fitted to the s251 history (the shipped
    growth model, :func:`cobic.costs.default_growth_path`) instead of the fixed uplifts."""
    growth, area = load_growth(default_growth_path())
    gspec = with_growth(spec, growth, area)
    sim = simulate_contract_costs(DemandPaths.from_paths(paths), gspec, terms, seed=seed)
    return {"spec": gspec, "sim": sim, "priced": apply_terms(sim, terms, gspec),
            "growth": growth, "area": area}


def _growth_table(sim, grown: dict) -> pl.DataFrame:
    """Cost by contract year, P10/P50/P90, with fixed uplifts and with fitted growth."""
    fixed, fitted = sim.cost_band(), grown["sim"].cost_band()
    return fixed.rename({c: f"fixed_{c}" for c in ("p10", "p50", "p90")}).join(
        fitted.rename({c: f"fitted_{c}" for c in ("p10", "p50", "p90")}), on="financial_year")


SUSTAINABLE = ("provider_loss_prob<=0.3", "provider_margin_mean>=0")
"""What the demo asks the goal-seek for: terms a provider could live with."""


def _suggestion(sim, terms, spec, priced) -> pl.DataFrame:
    """The shipped terms beside the goal-seek's cheapest terms meeting :data:`SUSTAINABLE`
    (``cobic design``), as text rows ``figure, shipped, suggested``."""
    res = design(sim, terms, spec, list(SUSTAINABLE))
    a, b = measures(priced), res.measures
    t = res.terms

    def share(x):
        return f"{x:.0%}"

    def band_text(tt):
        bands = tt.risk_share.loss_bands
        return ", ".join(f"{bd.provider_share:.0%} to {bd.upper:.1%}" if math.isfinite(bd.upper)
                         else f"{bd.provider_share:.0%} beyond" for bd in bands)

    rows = [
        ("Capitation at cost percentile", f"P{round(terms.point * 100)}",
         f"P{round(t.point * 100)}"),
        ("Highest at-risk share", share(max(terms.incentive_share)),
         share(max(t.incentive_share))),
        ("Provider's share of overspend", band_text(terms), band_text(t)),
        ("Loss and gain cap", share(terms.risk_share.loss_cap or 0),
         share(t.risk_share.loss_cap or 0)),
        ("Commissioners pay, expected", vocab.money_m(a["commissioner_mean"]),
         vocab.money_m(b["commissioner_mean"])),
        ("Commissioners pay, P90", vocab.money_m(a["commissioner_p90"]),
         vocab.money_m(b["commissioner_p90"])),
        ("Provider margin, expected", vocab.money_m(a["provider_margin_mean"]),
         vocab.money_m(b["provider_margin_mean"])),
        ("Chance of a provider loss", share(a["provider_loss_prob"]),
         share(b["provider_loss_prob"])),
        ("Chance the provider's reserve is breached", share(a["reserve_breach_prob"]),
         share(b["reserve_breach_prob"])),
    ]
    if not res.feasible:
        rows.append(("Goal-seek", "", "no terms tried meet both targets; closest shown"))
    return pl.DataFrame(rows, schema=["figure", "shipped", "suggested"], orient="row")


def _growth_headline(grown: dict) -> dict:
    g, p = grown["growth"], grown["priced"]
    outlay = p.net_to_provider.sum(axis=1)
    margin = p.provider_margin.sum(axis=1)
    m = vocab.money_m
    return {
        f"Cost growth fitted to s251 history ({grown['area']}), now":
            f"{vocab.pct(math.exp(g.level) - 1, 1)} a year (give or take "
            f"{g.level_se * 100:.1f} points)",
        "With fitted growth: total capitation; commissioner outlay, expected and P90":
            f"{m(p.capitation.sum())}; {m(outlay.mean())} and {m(np.quantile(outlay, 0.9))}",
        "With fitted growth: provider margin, expected; chance of a provider loss":
            f"{m(margin.mean())}; {vocab.pct((margin < 0).mean())}",
    }


def _who_pays(priced, terms) -> pl.DataFrame:
    """What the commissioners, and the local authority among them, pay each contract year at
    P50 and P90 of the simulated paths, and over the whole contract (the quantiles of the
    whole-contract totals, not the sum of the years' quantiles). GBP nominal."""
    net = priced.net_to_provider  # [path, year]
    la = next((f for f in terms.funders if "authority" in f.name.lower()),
              terms.funders[0] if terms.funders else None)
    share = la.share if la is not None else 1.0
    years = [f"{y - 1}-{y % 100:02d}" for y in terms.years]
    cols = {"financial_year": [*years, "Whole contract"]}
    for q in (0.5, 0.9):
        per_year = np.quantile(net, q, axis=0).tolist() + [float(np.quantile(net.sum(axis=1), q))]
        cols[f"outlay_p{round(q * 100)}"] = per_year
        cols[f"la_outlay_p{round(q * 100)}"] = [v * share for v in per_year]
    return pl.DataFrame(cols)


def _growth_facts(grown: dict) -> dict[str, float]:
    g, p = grown["growth"], grown["priced"]
    outlay = p.net_to_provider.sum(axis=1)
    margin = p.provider_margin.sum(axis=1)
    return {"growth": math.exp(g.level) - 1, "growth_se": g.level_se, "area": grown["area"],
            "outlay_mean": float(outlay.mean()), "outlay_p90": float(np.quantile(outlay, 0.9)),
            "margin_mean": float(margin.mean()), "p_loss": float((margin < 0).mean())}


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
    """The demo's headline figures in plain words, written as the report writes them."""
    last = flows.tail(1).row(0, named=True)
    stock = last["stock_end"]
    in5 = paths.total()[0][:, 4]
    q10, q50, q90 = (vocab.whole(float(v)) for v in np.quantile(in5, [0.1, 0.5, 0.9]))
    outlay = summary.filter(pl.col("measure") == "commissioner_outlay").row(0, named=True)
    margin = summary.filter(pl.col("measure") == "provider_margin").row(0, named=True)
    m = vocab.money_m
    return {
        "Children looked after on the last 31 March":
            stock if stock == SUPPRESSED else vocab.whole(float(stock)),
        f"Forecast for 31 March {paths.periods[4]} (median, 80% interval)":
            f"{q50} ({q10} to {q90})",
        "Total capitation, nominal": m(float(schedule["capitation"].sum())),
        "Total capitation, present value": m(float(schedule["capitation_pv"].sum())),
        "Commissioner outlay, expected and P90": f"{m(outlay['mean'])} and {m(outlay['p90'])}",
        "Provider margin, expected": m(margin["mean"]),
        "Chance the provider hits its loss cap in some year":
            vocab.pct(float(priced.hit_loss_cap.any(axis=1).mean())),
    }


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1120px;
margin:1.5em auto;padding:0 1.2em;color:#1b1b1b;line-height:1.45;font-size:15px}
h1{font-weight:600;font-size:1.6em;margin:.2em 0}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
h3{margin:1.2em 0 .3em;font-size:1.05em}
.note{color:#555;font-size:.9em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.7em;
margin:.6em 0}
.card{border:1px solid #d5dbe3;border-radius:6px;padding:.55em .8em;background:#f8fafc}
.card .k{font-size:.82em;color:#444}.card .v{font-size:1.45em;font-weight:650;
font-variant-numeric:tabular-nums}.card .s{font-size:.8em;color:#555}
.card.bad{border-color:#d9a3a3;background:#fdf3f3}
.warn{border-left:4px solid #c0392b;background:#fdf3f3;padding:.5em .9em;margin:.7em 0}
.ok{border-left:4px solid #27ae60;background:#f1faf4;padding:.5em .9em;margin:.7em 0}
.warn ul,.ok ul{margin:.2em 0;padding-left:1.2em}
.cols{display:grid;grid-template-columns:minmax(0,1.15fr) minmax(0,1fr);gap:1.2em;align-items:start}
.gt_table td,.gt_table th{font-variant-numeric:tabular-nums}
.gt_col_heading{white-space:normal!important;overflow-wrap:break-word}
.gt_table{max-width:100%}
dl.terms{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.5em 0}
dl.terms dt{color:#444}dl.terms dd{margin:0}
img{max-width:100%;height:auto;margin:.6em 0;display:block}
figure{margin:.6em 0}
@media (max-width:900px){.cols{grid-template-columns:1fr}}
@media print{
  @page{size:A4;margin:14mm 12mm}
  body{max-width:none;margin:0;padding:0;font-size:10pt}
  h2{break-before:page;margin-top:0}
  #summary h2,.keep h2{break-before:auto}
  .cards{grid-template-columns:repeat(4,1fr)}
  .cols{grid-template-columns:1fr}
  .card,.warn,.ok,figure,img,.gt_table tr{break-inside:avoid}
  .gt_table{font-size:8.5pt!important}
  .gt_table td,.gt_table th{padding:2px 4px!important}
  a{color:inherit;text-decoration:none}
}
"""


def _fy(y: int) -> str:
    return f"{y - 1}-{y % 100:02d}"


def _measure(df: pl.DataFrame, name: str, col: str = "value") -> float:
    return float(df.filter(pl.col("measure") == name)[col][0])


def _card(key: str, value: str, sub: str = "", bad: bool = False) -> str:
    return (f"<div class='card{' bad' if bad else ''}'><div class='k'>{html.escape(key)}</div>"
            f"<div class='v'>{html.escape(value)}</div>"
            f"<div class='s'>{html.escape(sub)}</div></div>")


def _summary_html(tables, terms) -> str:
    """The one-page summary: what the LA pays (P50, P90 by year and over the contract) and
    whether a provider could live with the terms, with plain-English warnings."""
    m, pct = vocab.money_m, vocab.pct
    pays = tables["who_pays"]
    years, whole = pays.filter(pl.col("financial_year") != "Whole contract"), pays.tail(1)
    la50, la90 = years["la_outlay_p50"], years["la_outlay_p90"]
    summary, risk = tables["contract_summary"], tables["contract_risk"]
    margin = _measure(summary, "provider_margin", "mean")
    margin_p10 = _measure(summary, "provider_margin", "p10")
    p_loss = _measure(risk, "P(provider makes a loss over the contract)")
    reserve_row = risk.filter(pl.col("measure").str.starts_with("P(provider's cumulative loss"))
    p_reserve = float(reserve_row["value"][0]) if reserve_row.height else None
    p_cap = _measure(risk, "P(provider hits the loss cap in some year)")
    la = next((f.name for f in terms.funders if "authority" in f.name.lower()), "the LA")
    la_lower = la.lower() if la.lower() == "local authority" else la
    share = next((f.share for f in terms.funders if f.name == la), 1.0)
    reserve = terms.provider_reserve

    warnings = []
    if margin < 0:
        warnings.append(f"The provider is expected to <b>lose {m(-margin)}</b> over the "
                        f"contract (average over the simulated futures): terms a provider "
                        "could not sustain. Raise the capitation point or ease the risk share.")
    if p_reserve is not None and p_reserve > 0.10:
        warnings.append(f"In <b>{pct(p_reserve)}</b> of the simulated futures the provider's "
                        f"running losses exceed its reserve of {m(reserve or 0)} (more than "
                        "1 in 10): it would need more capital, or a lower loss cap.")
    if p_loss > 0.5:
        warnings.append(f"A provider loss over the contract is more likely than not "
                        f"({pct(p_loss)}).")
    box = ("<div class='warn'><b>Sustainability warnings</b><ul>"
           + "".join(f"<li>{w}</li>" for w in warnings) + "</ul></div>") if warnings else (
        "<div class='ok'><b>No sustainability warnings</b>: the expected provider margin is "
        "not below zero and the provider's reserve is breached in at most 1 in 10 futures."
        "</div>")
    first, last = years["financial_year"][0], years["financial_year"][-1]
    la_cards = "".join([
        _card(f"{la} pays a year (P50)", f"{m(la50.min())} to {m(la50.max())}",
              f"{first} to {last}; half the futures cost less"),
        _card(f"{la} pays in a bad year (P90)", f"up to {m(la90.max())}",
              "1 in 10 futures cost more in that year"),
        _card(f"{la}, whole contract (P50)", m(whole["la_outlay_p50"][0]),
              f"{terms.length} years, nominal"),
        _card(f"{la}, bad case for the whole contract (P90)", m(whole["la_outlay_p90"][0]),
              "1 in 10 futures cost more over the contract"),
    ])
    prov_cards = "".join([
        _card("Expected provider margin", m(margin), f"over the contract; P10 {m(margin_p10)}",
              bad=margin < 0),
        _card("Chance of a provider loss", pct(p_loss), "over the whole contract",
              bad=p_loss > 0.5),
        _card("Chance the provider's reserve is breached",
              pct(p_reserve) if p_reserve is not None else "no reserve set",
              f"reserve {m(reserve)}" if reserve else "", bad=bool(p_reserve and p_reserve > .1)),
        _card("Chance of hitting the loss cap", pct(p_cap), "in some year of the contract"),
    ])
    table = html_table(pays.select("financial_year", "la_outlay_p50", "la_outlay_p90",
                                   "outlay_p50", "outlay_p90"),
                       title=f"What the commissioners pay each year (the {la_lower} pays "
                             f"{share:.0%})",
                       note="£m, nominal. P50: half the simulated futures cost less; P90: "
                            "1 in 10 cost more. The whole-contract row is the P50 and P90 of "
                            "the contract's total, which is less than the sum of the years' "
                            "P90s (bad years rarely all come together).",
                       table_id="t-who-pays")
    return (
        "<section id='summary'><h2>Summary</h2>"
        f"<h3>What the {html.escape(la_lower)} pays</h3><div class='cards'>{la_cards}</div>"
        f"<div class='cols'><div>{table}</div><div>"
        "<h3>Could a provider live with these terms?</h3>"
        f"<div class='cards'>{prov_cards}</div>{box}</div></div>"
        "<p class='note'>How to read this report: money is in pounds, nominal (cash), unless "
        "marked real terms or present value. Chances are the share of the simulated futures "
        "(paths) in which something happens. Sources are tagged <b>[F]</b> found in a "
        "published source or <b>[I]</b> an assumption, stated as such (see Assumptions and "
        "sources).</p></section>")


def _inputs_display(inputs: pl.DataFrame) -> pl.DataFrame:
    def value(v, unit: str) -> str:
        if not isinstance(v, int | float) or isinstance(v, bool):
            return str(v)
        if unit.startswith("£"):
            return vocab.pounds(v)
        if unit.startswith("share") or unit == "a year":
            return vocab.pct(v, 1 if abs(v * 100 - round(v * 100)) > 1e-9 else 0)
        return f"{v:,g}"

    return pl.DataFrame({
        "section": inputs["section"], "assumption": inputs["assumption"],
        "value": [value(v, u) for v, u in zip(inputs["value"].to_list(),
                                               inputs["unit"].to_list(), strict=True)],
        "unit": inputs["unit"], "source": inputs["source"]},
        schema={c: pl.String for c in ("section", "assumption", "value", "unit", "source")})


def _report_html(data, headline, tables, figs, terms, spec, growth: dict | None = None) -> str:
    fc = tables["forecast"].filter((pl.col("placement_group") == "all")
                                   & (pl.col("age_band") == "all"))
    years = data.collection_years
    rs = terms.risk_share
    loss = ", ".join(f"{b.provider_share:.0%} from {b.lower:.0%}" for b in rs.loss_bands)
    growth_p = ""
    if growth:
        growth_p = (
            f"<p>With costs growing as fitted ({vocab.pct(growth['growth'], 1)} a year now, "
            f"give or take {growth['growth_se'] * 100:.1f} points), the commissioners would pay "
            f"{vocab.money_m(growth['outlay_mean'])} on average over the contract and "
            f"{vocab.money_m(growth['outlay_p90'])} in a bad case (P90); the provider's "
            f"expected margin would be {vocab.money_m(growth['margin_mean'])}, with a "
            f"{vocab.pct(growth['p_loss'])} chance of a loss.</p>")
    sched = tables["contract_schedule"]
    inputs = _inputs_display(inputs_table(spec, terms))
    parts = [
        f"<h1>{html.escape(str(terms.name))}: what it costs and who carries the risk</h1>",
        f"<p class='note'>cobic demo, generated {date.today():%d %B %Y}, for an embedded "
        f"synthetic local authority (SSDA903 returns {_fy(years[0])} to {_fy(years[-1])}). "
        "Aggregates only: no child identifiers, dates of birth or postcodes; counts of 1-4 "
        "children are shown as <b>c</b>.</p>",
        _summary_html(tables, terms),

        "<section id='demand'><h2>Demand: children looked after</h2>"
        "<p>The forecast (stock and flow simulation): entries modelled by age band against "
        "the child population with a shrunk trend, exits and placement moves by placement, "
        "age and time in care, simulated child by child with ageing and leaving at 18. The "
        "simulated futures carry parameter uncertainty and chance.</p>",
        f"<figure>{_svg(figs['forecast_fan'])}</figure>",
        html_table(fc.select("period", "mean", "q10", "q50", "q90"), "forecast",
                   title="Forecast children looked after on 31 March",
                   note="P10 to P90: 8 in 10 simulated futures fall inside.",
                   table_id="t-forecast"),
        f"<figure>{_svg(figs['stock_by_group'])}</figure>",
        "<div class='cols'><div>",
        html_table(tables["stock_by_placement_group"], title="On the last 31 March, by "
                   "placement", table_id="t-by-group"),
        "</div><div>",
        html_table(tables["stock_by_age_band"], title="By age", table_id="t-by-age"),
        "</div></div>",
        html_table(tables["flows"], title="Flows into and out of care by year",
                   note="Looked after at the start + started care - left care = looked after "
                        "at the end.", table_id="t-flows"),
        "</section>",

        f"<section id='money'><h2>Money: the contract</h2>"
        f"<p>{terms.length} years from {_fy(terms.first_year)}; payment basis "
        f"{html.escape(vocab.label(terms.basis).lower())}, corridor {terms.corridor:.0%}, "
        f"marginal rate {terms.marginal_rate:.0%}; capitation at P{round(terms.point * 100)} "
        f"of the simulated cost; at risk by year "
        f"{', '.join(f'{s:.0%}' for s in terms.incentive_share)} "
        f"({html.escape(vocab.label(terms.incentive_mode).lower())}); discount rate "
        f"{terms.discount_rate:.1%} real, inflation {terms.inflation:.1%}.</p>",
        f"<figure>{_svg(figs['contract_value'])}</figure>",
        html_table(sched.select("financial_year", "capitation", "fixed", "at_risk",
                                "expected_incentive_earned", "expected_cost",
                                "expected_net_to_provider", "p_hit_loss_cap"),
                   title="Capitation and expected ledger by year",
                   note="£m, nominal; expected = average over the simulated futures.",
                   table_id="t-schedule"),
        html_table(sched.select("financial_year", "capitation_real", "discount_factor",
                                "capitation_pv", "expected_net_to_provider_pv"),
                   title="Real terms and present value",
                   note=f"Real: deflated by {terms.inflation:.0%} a year; present value: real, "
                        f"discounted at {terms.discount_rate:.1%} (Green Book), year 1 "
                        "undiscounted.", table_id="t-pv"),
        "<h3>Cost-growth risk</h3><p>The contract is priced with the cost set's fixed "
        "uplifts. Spend per child in care has grown much faster (s251: about 8% a year over "
        "2017-2020 and 11% over 2020-2025), so the same contract is priced again with costs "
        "growing as fitted to the s251 history of England and 15 LAs to 2024-25 (a pooled "
        "model with a market-wide growth that moves from year to year, and no efficiency); "
        f"the bands show how far each year's cost could run.</p>{growth_p}",
        f"<figure>{_svg(figs['cost_growth'])}</figure>",
        html_table(tables["cost_growth"], "cost_band", title="Cost by year under each basis",
                   note="£m, nominal.", table_id="t-growth"),
        "</section>",

        "<section id='risk'><h2>Risk: who carries it</h2>"
        f"<p>Overspends are shared: the provider bears {loss} of the capitation"
        f"{f', up to a loss cap of {rs.loss_cap:.0%}' if rs.loss_cap else ''}; savings the "
        "same way.</p>",
        f"<figure>{_svg(figs['risk_share'])}</figure>",
        f"<figure>{_svg(figs['distributions'])}</figure>",
        html_table(tables["contract_summary"], "summary", title="Whole contract, across the "
                   "simulated futures", note="£m, nominal unless marked.",
                   table_id="t-summary"),
        html_table(tables["contract_risk"], "risk", title="Risk figures", table_id="t-risk"),
        "<h3>Terms a provider could sustain</h3><p>The goal-seek (<code>cobic design</code>) "
        "searched the capitation point, at-risk share, band widths and caps for the terms with "
        "the lowest expected payment by the commissioners at which the provider's chance of a "
        "loss is at most 30% and its expected margin is not negative, on the same simulated "
        "futures:</p>",
        html_table(tables["sustainable_terms"], title="Shipped and suggested terms",
                   table_id="t-suggested"),
        "<h3>Payment mechanisms on the same futures</h3>",
        f"<figure>{_svg(figs['mechanisms'])}</figure>",
        html_table(tables["mechanisms"].select(
            "mechanism", "commissioner_mean", "commissioner_p10", "commissioner_p90",
            "provider_margin_mean", "provider_margin_p10", "provider_margin_p90",
            "p_provider_loss"), title="Payment mechanisms compared",
            note="£m over the contract, nominal. Each mechanism is set to the same "
                 "expected payment where it has a rate to set.", table_id="t-mechanisms"),
        "</section>",

        "<section id='assumptions'><h2>Assumptions and sources</h2>"
        "<p>Each figure carries its source. <b>[F]</b>: found in a published source (named); "
        "<b>[I]</b>: an assumption, stated as such, to be replaced with local figures where "
        f"they exist. Costs: {html.escape(spec.name)} "
        f"({html.escape(Path(spec.source).name)}), base price year "
        f"{_fy(spec.base_price_year)}; contract terms: "
        f"{html.escape(Path(terms.source).name if terms.source else terms.name)}.</p>",
        html_table(inputs.filter(pl.col("section").is_in(
            ["Weekly placement costs", "Case management", "Overheads", "Indexation",
             "Efficiency", "Uncertainty", "Start-up"])).drop("section"),
            title="Cost assumptions", table_id="t-cost-inputs"),
        html_table(inputs.filter(~pl.col("section").is_in(
            ["Costs", "Weekly placement costs", "Case management", "Overheads", "Indexation",
             "Efficiency", "Uncertainty", "Start-up"])).drop("section"),
            title="Contract terms", table_id="t-terms"),
        "</section>",

        "<section id='appendix'><h2>Appendix: data quality</h2><p>Every row read is kept, "
        "merged (re-reported in a later return) or dropped (an exact duplicate); rules that "
        "could not be met would have stopped the run.</p>",
        html_table(tables["data_quality"], title="Rows read from each return file",
                   table_id="t-quality"),
        "</section>",
    ]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>cobic demo: {html.escape(str(terms.name))}</title><style>{_CSS}</style>"
            f"</head><body>{''.join(parts)}</body></html>")
