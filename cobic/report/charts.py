"""Altair charts. Each function takes tables (or path arrays) and returns an ``alt.Chart``;
:func:`save_chart` writes PNG or SVG through vl-convert.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import polars as pl

from cobic.contract.risk_share import provider_share
from cobic.contract.terms import RiskShare
from cobic.report.vocabulary import label, value_label

__all__ = ["fan_chart", "stock_by_group_chart", "contract_value_chart", "risk_share_chart",
           "distribution_chart", "mechanisms_chart", "backtest_chart", "waterfall_chart",
           "budget_chart", "save_chart", "fan_table"]

WIDTH, HEIGHT = 560, 280
BLUE = "#1f5fa8"


def _data(df: pl.DataFrame) -> alt.Data:
    return alt.Data(values=df.to_dicts())


def fan_table(periods, values: np.ndarray, levels=(0.5, 0.8, 0.95)) -> pl.DataFrame:
    """Central intervals of ``values[path, period]`` at each level, and the median."""
    rows = []
    for j, p in enumerate(periods):
        v = values[:, j]
        row = {"period": int(p), "median": float(np.median(v))}
        for lv in levels:
            lo, hi = np.quantile(v, [(1 - lv) / 2, (1 + lv) / 2])
            row[f"lo{int(lv * 100)}"], row[f"hi{int(lv * 100)}"] = float(lo), float(hi)
        rows.append(row)
    return pl.DataFrame(rows)


def fan_chart(history: pl.DataFrame, periods, values: np.ndarray,
              title: str = "Children looked after on 31 March") -> alt.LayerChart:
    """History line, 50/80/95% intervals and the median of the simulated paths, the intervals
    and lines named in the legend.

    ``history``: ``period, value``; ``values[path, period]`` for ``periods``.
    """
    fan = fan_table(periods, values)
    last = history.sort("period").tail(1)
    # join the fan to the last observed point so the bands start from it
    start = {"period": int(last["period"][0]), "median": float(last["value"][0])}
    for lv in (50, 80, 95):
        start[f"lo{lv}"] = start[f"hi{lv}"] = start["median"]
    fan = pl.concat([pl.DataFrame([start]).cast(fan.schema), fan])
    names = [f"{lv}% of paths inside" for lv in (95, 80, 50)]
    long = pl.concat([fan.select("period", lo=pl.col(f"lo{lv}"), hi=pl.col(f"hi{lv}"),
                                 interval=pl.lit(n))
                      for lv, n in zip((95, 80, 50), names, strict=True)])
    x = alt.X("period:O", title="31 March of")
    bands = alt.Chart(_data(long)).mark_area().encode(
        x=x, y=alt.Y("lo:Q", title="children", scale=alt.Scale(zero=False)), y2="hi:Q",
        color=alt.Color("interval:N", title="Forecast interval",
                        scale=alt.Scale(domain=names, range=["#d2dff0", "#a5bfe1", "#6f97cc"]),
                        legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("period:O", title="31 March of"),
                 alt.Tooltip("interval:N", title="interval"),
                 alt.Tooltip("lo:Q", format=",.0f", title="from"),
                 alt.Tooltip("hi:Q", format=",.0f", title="to")])
    lines = pl.concat([
        fan.select(pl.col("period").cast(pl.Int64), value=pl.col("median"),
                   line=pl.lit("forecast median")),
        history.select(pl.col("period").cast(pl.Int64), pl.col("value").cast(pl.Float64),
                       line=pl.lit("recorded")),
    ])
    line = alt.Chart(_data(lines)).mark_line(point=True).encode(
        x=x, y="value:Q",
        color=alt.Color("line:N", title=None, scale=alt.Scale(
            domain=["recorded", "forecast median"], range=["black", BLUE])),
        strokeDash=alt.StrokeDash("line:N", legend=None, scale=alt.Scale(
            domain=["recorded", "forecast median"], range=[[1, 0], [4, 3]])),
        tooltip=[alt.Tooltip("period:O", title="31 March of"), alt.Tooltip("line:N", title="line"),
                 alt.Tooltip("value:Q", format=",.0f", title="children")])
    return alt.layer(bands, line).resolve_scale(color="independent").properties(
        width=WIDTH, height=HEIGHT,
        title=alt.TitleParams(f"{title}: recorded and forecast",
                              subtitle="Shaded: the range holding 50%, 80% and 95% of the "
                                       "simulated paths"))


def stock_by_group_chart(forecast: pl.DataFrame) -> alt.Chart:
    """Mean stock by placement group (means add up to the total), stacked by period."""
    df = forecast.filter((pl.col("placement_group") != "all") & (pl.col("age_band") == "all"))
    df = df.with_columns(pl.col("placement_group").map_elements(
        lambda g: value_label(g, "placement_group"), return_dtype=pl.String))
    return alt.Chart(_data(df.select("period", "placement_group", "mean"))).mark_area().encode(
        x=alt.X("period:O", title="31 March of"),
        y=alt.Y("mean:Q", stack=True, title="children (mean of paths)"),
        color=alt.Color("placement_group:N", title="Placement"),
        tooltip=[alt.Tooltip("period:O", title="31 March of"),
                 alt.Tooltip("placement_group:N", title="placement"),
                 alt.Tooltip("mean:Q", format=",.0f", title="children (mean)")],
    ).properties(width=WIDTH, height=HEIGHT, title="Forecast stock by placement group")


def contract_value_chart(schedule: pl.DataFrame) -> alt.Chart:
    """Capitation by contract year: the fixed (capitated) part and the at-risk incentive pot."""
    long = pl.concat([
        schedule.select("financial_year", part=pl.lit("fixed payment"),
                        gbp_m=pl.col("fixed") / 1e6),
        schedule.select("financial_year", part=pl.lit("at risk (incentive)"),
                        gbp_m=pl.col("at_risk") / 1e6),
    ])
    return alt.Chart(_data(long)).mark_bar().encode(
        x=alt.X("financial_year:O", title="financial year"),
        y=alt.Y("gbp_m:Q", stack=True, title="£m (nominal)"),
        color=alt.Color("part:N", title=None, scale=alt.Scale(
            domain=["fixed payment", "at risk (incentive)"], range=[BLUE, "#e08a2b"])),
        tooltip=[alt.Tooltip("financial_year:O", title="financial year"),
                 alt.Tooltip("part:N", title="part"),
                 alt.Tooltip("gbp_m:Q", format=",.2f", title="£m")],
    ).properties(width=WIDTH, height=HEIGHT, title="Contract value by year")


def _band_edges(rs: RiskShare) -> list[dict]:
    """The risk share's band edges (actual cost as % of the capitated payment), each named by
    what changes there."""
    out = []
    for b in rs.loss_bands[1:]:
        out.append({"edge": 100 + b.lower * 100,
                    "name": f"+{b.lower:.0%}: provider bears {b.provider_share:.0%} beyond"})
    for b in rs.gain_bands[1:]:
        out.append({"edge": 100 - b.lower * 100,
                    "name": f"-{b.lower:.0%}: provider keeps {b.provider_share:.0%} beyond"})
    return sorted(out, key=lambda r: r["edge"])


def _kinks(ratio: np.ndarray, rs: RiskShare) -> tuple[np.ndarray, np.ndarray]:
    """The provider's share on a fine grid of cost ratios, kept only where its slope changes
    (and at both ends): the same piecewise-linear line drawn from a few points, so the chart
    carries tens of rows, not thousands."""
    d = ratio - 1.0
    pi = provider_share(d, np.ones_like(d), rs)
    slope = np.diff(pi) / np.diff(ratio)
    turn = np.flatnonzero(np.abs(np.diff(slope)) > 1e-9) + 1
    keep = np.unique(np.concatenate([[0, len(ratio) - 1], turn]))
    return ratio[keep], pi[keep]


def risk_share_chart(rs: RiskShare, lo: float = 0.80, hi: float = 1.20) -> alt.LayerChart:
    """Provider and commissioner shares of the variance against actual cost as a share of the
    capitation, with the band edges marked and named.

    Sign convention: the variance is actual cost less the capitated payment, so above zero a
    party pays towards an overspend and below zero it keeps part of a saving.
    """
    ratio, pi = _kinks(np.linspace(lo, hi, 4001), rs)
    d = ratio - 1.0
    df = pl.concat([
        pl.DataFrame({"cost_pct": ratio * 100, "party": "provider", "share_pct": pi * 100}),
        pl.DataFrame({"cost_pct": ratio * 100, "party": "commissioner",
                      "share_pct": (d - pi) * 100}),
    ])
    xscale = alt.Scale(domain=[lo * 100, hi * 100], zero=False)
    lines = alt.Chart(_data(df)).mark_line().encode(
        x=alt.X("cost_pct:Q", title="actual cost, % of the capitated payment", scale=xscale),
        y=alt.Y("share_pct:Q", title="% of the capitated payment (+ pays, - keeps)"),
        color=alt.Color("party:N", title="Who", scale=alt.Scale(
            domain=["provider", "commissioner"], range=["#7a3ea8", BLUE])),
    )
    edges = [e for e in _band_edges(rs) if lo * 100 < e["edge"] < hi * 100]
    edf = pl.DataFrame(edges or [{"edge": 100.0, "name": "no bands"}])
    edf = edf.with_row_index("i").with_columns(
        y=pl.when(pl.col("i") % 2 == 0).then(pl.lit(0.97)).otherwise(pl.lit(0.88)))
    rules = alt.Chart(_data(edf.drop("i"))).mark_rule(
        color="grey", strokeDash=[2, 2]).encode(x=alt.X("edge:Q", scale=xscale),
                                                tooltip=[alt.Tooltip("name:N", title="band edge")])
    names = alt.Chart(_data(edf.drop("i"))).mark_text(
        angle=270, align="left", baseline="bottom", dx=-4, dy=-2, fontSize=9, color="#444"
    ).encode(x=alt.X("edge:Q", scale=xscale), y=alt.value(HEIGHT - 4), text="name:N")
    zero = alt.Chart(_data(pl.DataFrame({"z": [0.0]}))).mark_rule(color="#999").encode(y="z:Q")
    return alt.layer(rules, names, zero, lines).properties(
        width=WIDTH, height=HEIGHT, title=alt.TitleParams(
            "Risk share: who bears an overspend or keeps a saving",
            subtitle=["Above zero: the party pays towards an overspend (cost above the "
                      "capitated payment);", "below zero: it keeps part of a saving. Dashed "
                      "lines: band edges, named by what changes there."]))


def distribution_chart(values: dict[str, np.ndarray], title: str) -> alt.HConcatChart:
    """Histograms (GBP m) of whole-contract totals per path, one panel per measure."""
    panels = []
    for k, v in values.items():
        # binned here (40 bins), so the chart carries 40 rows rather than one per path
        counts, edges = np.histogram(np.asarray(v, float) / 1e6, bins=40)
        df = pl.DataFrame({"lo": edges[:-1], "hi": edges[1:], "paths": counts})
        panels.append(alt.Chart(_data(df)).mark_bar(opacity=0.8, color=BLUE).encode(
            x=alt.X("lo:Q", title=f"{k}, £m over the contract", scale=alt.Scale(zero=False)),
            x2="hi:Q", y=alt.Y("paths:Q", title="paths"),
        ).properties(width=260, height=200))
    return alt.hconcat(*panels).properties(title=title)


def mechanisms_chart(mechanisms: pl.DataFrame) -> alt.Chart:
    """Mean and P10-P90 of the commissioner's outlay and the provider's margin per mechanism."""
    long = pl.concat([
        mechanisms.select("mechanism", party=pl.lit("what the commissioners pay"),
                          mean=pl.col("commissioner_mean") / 1e6,
                          p10=pl.col("commissioner_p10") / 1e6,
                          p90=pl.col("commissioner_p90") / 1e6),
        mechanisms.select("mechanism", party=pl.lit("provider margin"),
                          mean=pl.col("provider_margin_mean") / 1e6,
                          p10=pl.col("provider_margin_p10") / 1e6,
                          p90=pl.col("provider_margin_p90") / 1e6),
    ])
    long = long.with_columns(pl.col("mechanism").map_elements(
        lambda m: value_label(m, "mechanism"), return_dtype=pl.String))
    base = alt.Chart(_data(long)).encode(y=alt.Y("mechanism:N", title=None, sort=None))
    bars = base.mark_rule(strokeWidth=3, color="#9bb7d9").encode(
        x=alt.X("p10:Q", title="£m over the contract (P10 to P90, dot = mean)"), x2="p90:Q")
    dots = base.mark_point(filled=True, color=BLUE).encode(x="mean:Q")
    return alt.layer(bars, dots).properties(width=260, height=160).facet(
        column=alt.Column("party:N", title=None)).resolve_scale(x="independent").properties(
        title="Payment mechanisms on the same demand and cost paths")


def backtest_chart(metrics: pl.DataFrame) -> alt.HConcatChart:
    """MAPE and 80% interval coverage by horizon for each model (target band 75-85%)."""
    df = metrics.select(pl.col("model").map_elements(lambda m: label(m), return_dtype=pl.String),
                        "horizon", "mape", pl.col("coverage_80") * 100)
    mape = alt.Chart(_data(df)).mark_line(point=True).encode(
        x=alt.X("horizon:O", title="years ahead"), y=alt.Y("mape:Q", title="mean absolute % error"),
        color=alt.Color("model:N", title="Model")).properties(width=260, height=220,
                                                              title="Accuracy")
    band = alt.Chart(_data(pl.DataFrame({"lo": [75.0], "hi": [85.0]}))).mark_rect(
        opacity=0.15, color="green").encode(y="lo:Q", y2="hi:Q")
    cov = alt.Chart(_data(df)).mark_line(point=True).encode(
        x=alt.X("horizon:O", title="years ahead"),
        y=alt.Y("coverage_80:Q", title="80% interval coverage (%)",
                scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("model:N", title="Model"))
    return alt.hconcat(mape, alt.layer(band, cov).properties(
        width=260, height=220, title="Coverage (target 75-85%)"))


def waterfall_chart(steps: pl.DataFrame, title: str = "What each lever adds") -> alt.LayerChart:
    """``steps``: ``label, amount`` in order, the first the baseline and the last the total.

    The axis starts at zero (bar heights are true to the amounts) and each bar is labelled
    with its GBP m (levers signed), so small levers are read from the labels."""
    labels = steps["label"].to_list()
    amounts = steps["amount"].to_numpy() / 1e6
    rows, run = [], 0.0
    for i, (lab, a) in enumerate(zip(labels, amounts, strict=True)):
        total = i == 0 or i == len(labels) - 1
        if total:
            rows.append({"order": i, "label": lab, "start": 0.0, "end": float(a), "kind": "total",
                         "text": f"£{a:,.1f}m"})
            run = float(a)
        else:
            rows.append({"order": i, "label": lab, "start": run, "end": run + float(a),
                         "kind": "increase" if a >= 0 else "decrease",
                         "text": f"{'+' if a >= 0 else '-'}£{abs(a):,.1f}m"})
            run += float(a)
    df = pl.DataFrame(rows).with_columns(top=pl.max_horizontal("start", "end"))
    x = alt.X("label:N", sort=labels, title=None, axis=alt.Axis(labelAngle=0, labelLimit=90))
    bars = alt.Chart(_data(df)).mark_bar().encode(
        x=x,
        y=alt.Y("start:Q", title="£m over the period", scale=alt.Scale(zero=True)),
        y2="end:Q",
        color=alt.Color("kind:N", scale=alt.Scale(domain=["total", "increase", "decrease"],
                                                  range=["#555555", "#c0392b", "#27ae60"]),
                        title=None),
        tooltip=[alt.Tooltip("label:N", title="step"),
                 alt.Tooltip("start:Q", format=",.2f", title="from, £m"),
                 alt.Tooltip("end:Q", format=",.2f", title="to, £m")],
    )
    text = alt.Chart(_data(df)).mark_text(dy=-6, fontSize=11, color="#222").encode(
        x=x, y="top:Q", text="text:N")
    return alt.layer(bars, text).properties(width=WIDTH, height=HEIGHT, title=title)


def budget_chart(budget: pl.DataFrame) -> alt.Chart:
    """``financial_year, baseline, scenario`` (GBP): the budget by year against the baseline."""
    long = pl.concat([
        budget.select("financial_year", case=pl.lit("baseline"), gbp_m=pl.col("baseline") / 1e6),
        budget.select("financial_year", case=pl.lit("scenario"), gbp_m=pl.col("scenario") / 1e6),
    ])
    return alt.Chart(_data(long)).mark_bar().encode(
        x=alt.X("financial_year:O", title="financial year"),
        xOffset="case:N",
        y=alt.Y("gbp_m:Q", title="expected cost, £m (nominal)"),
        color=alt.Color("case:N", scale=alt.Scale(range=["#9bb7d9", BLUE]), title=None),
        tooltip=[alt.Tooltip("financial_year:O", title="financial year"),
                 alt.Tooltip("case:N", title="case"),
                 alt.Tooltip("gbp_m:Q", format=",.2f", title="£m")],
    ).properties(width=WIDTH, height=HEIGHT, title="Budget by year: scenario against baseline")


def cost_band_chart(bands: dict[str, pl.DataFrame],
                    title: str = "Cost by year: median and P10-P90 band") -> alt.LayerChart:
    """Each case's ``financial_year, p10, p50, p90`` (GBP) as a shaded P10-P90 band around a
    median line, in GBP m, the bands labelled in the legend."""
    long = pl.concat([b.select("financial_year", (pl.col("p10", "p50", "p90") / 1e6),
                               case=pl.lit(name)) for name, b in bands.items()])
    names = list(bands)
    colour = alt.Color("case:N", scale=alt.Scale(domain=names,
                                                 range=[BLUE, "#d95f02", "#7570b3"][:len(names)]),
                       title="P10-P90 band and median")
    base = alt.Chart(_data(long)).encode(x=alt.X("financial_year:O", title="financial year"))
    band = base.mark_area(opacity=0.22).encode(
        y=alt.Y("p10:Q", title="cost, £m (nominal)", scale=alt.Scale(zero=True)),
        y2="p90:Q", color=colour)
    line = base.mark_line(point=True).encode(
        y="p50:Q", color=colour,
        tooltip=[alt.Tooltip("case:N", title="case"),
                 alt.Tooltip("financial_year:O", title="financial year"),
                 *(alt.Tooltip(f"{c}:Q", format=",.1f", title=f"{c.upper()} (£m)")
                   for c in ("p10", "p50", "p90"))])
    return alt.layer(band, line).properties(width=WIDTH, height=HEIGHT, title=title)


def save_chart(chart: alt.TopLevelMixin, path: Path | str) -> Path:
    """Write ``chart`` as PNG or SVG (by extension) with vl-convert."""
    import vl_convert as vlc

    path = Path(path)
    spec = chart.to_json()
    if path.suffix.lower() == ".png":
        path.write_bytes(vlc.vegalite_to_png(spec, scale=2))
    elif path.suffix.lower() == ".svg":
        path.write_text(vlc.vegalite_to_svg(spec))
    else:
        raise ValueError(f"{path}: charts are saved as .png or .svg")
    return path

