import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="cobic: contract sizing")


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import polars as pl

    from cobic.contract import apply_terms, compare_mechanisms, load_contract
    from cobic.contract.calculator import simulate_contract_costs
    from cobic.contract.presets import sizing_defaults, sizing_risk_share, sizing_terms
    from cobic.costs import (
        DemandPaths,
        default_growth_path,
        default_unit_costs_path,
        load_cost_spec,
        load_growth,
        with_growth,
    )
    from cobic.data.ssda903 import read_ssda903
    from cobic.demand.api import forecast_episodes
    from cobic.paths import fixtures_dir, models_dir, source_fingerprint
    from cobic.report import charts
    from cobic.report.tables import html_table
    from cobic.report.workbook import write_workbook

    return (
        DemandPaths,
        apply_terms,
        charts,
        compare_mechanisms,
        default_growth_path,
        default_unit_costs_path,
        fixtures_dir,
        forecast_episodes,
        html_table,
        load_contract,
        load_cost_spec,
        load_growth,
        mo,
        models_dir,
        np,
        pl,
        read_ssda903,
        simulate_contract_costs,
        sizing_defaults,
        sizing_risk_share,
        sizing_terms,
        source_fingerprint,
        with_growth,
        write_workbook,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md("""
    # Contract sizing

    Size a 5-7 year COBIC contract for the embedded synthetic local authority: the capitation
    at a chosen point of the cost distribution, the incentive share, the gain/risk-share bands
    and the quality gate. Demand (1,000 `stockflow` paths) and costs are simulated once; moving
    a control re-prices the contract only. Costs grow either as fitted to the section 251
    history of England and 15 LAs (2015-16 to 2024-25; uncertain, so every figure carries
    cost-growth risk) or at the cost set's fixed uplifts.
    """)
    return


@app.cell
def _(
    DemandPaths,
    default_growth_path,
    default_unit_costs_path,
    fixtures_dir,
    forecast_episodes,
    load_contract,
    load_cost_spec,
    load_growth,
    mo,
    models_dir,
    read_ssda903,
    simulate_contract_costs,
    source_fingerprint,
    with_growth,
):
    # the expensive part, once: forecast 8 years and cost the 7 contract years that follow;
    # kept on disk (notebooks/__marimo__/cache) under a hash of cobic's code, specs and the
    # data, so a later opening loads it and any change computes it afresh
    @mo.persistent_cache
    def _simulate(fingerprint: str):
        from dataclasses import replace as _replace

        _data = read_ssda903(fixtures_dir() / "synthetic_la")
        _terms = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
        _costs = load_cost_spec(default_unit_costs_path())
        _paths = forecast_episodes(_data, "stockflow", horizon=8, n_paths=1000, seed=1,
                                   area="synthetic LA")
        _terms = _replace(_terms, first_year=_paths.periods[0] + 1)
        _demand = DemandPaths.from_paths(_paths)
        _fitted = with_growth(_costs, *load_growth(default_growth_path()))
        return _terms, {
            "fitted to s251 history": (_fitted, simulate_contract_costs(_demand, _fitted,
                                                                        _terms, seed=1)),
            "fixed uplifts (cost set)": (_costs, simulate_contract_costs(_demand, _costs,
                                                                         _terms, seed=1)),
        }

    base_terms, cost_bases = _simulate(source_fingerprint(fixtures_dir() / "synthetic_la"))
    return base_terms, cost_bases


@app.cell
def _(cost_bases, mo):
    cost_basis = mo.ui.dropdown(list(cost_bases), value=list(cost_bases)[0],
                                label="cost growth")
    cost_basis
    return (cost_basis,)


@app.cell
def _(cost_basis):
    # the cost basis as a plain value (tests override this)
    cost_growth = cost_basis.value
    return (cost_growth,)


@app.cell
def _(mo):
    reset = mo.ui.button(label="Reset to the shipped contract", kind="neutral")
    return (reset,)


@app.cell
def _(base_terms, mo, reset, sizing_defaults):
    # every control starts at the shipped contract's own terms (and goes back there on reset)
    _ = reset.value
    _d = sizing_defaults(base_terms)
    _pct = {"show_value": True, "full_width": False}
    length = mo.ui.slider(5, 7, value=_d["length"], label="contract length (years)",
                          show_value=True)
    basis = mo.ui.dropdown({"by children in care (population)": "population",
                            "by child-days": "child_day",
                            "hybrid (volume corridor)": "hybrid"},
                           value={"population": "by children in care (population)",
                                  "child_day": "by child-days",
                                  "hybrid": "hybrid (volume corridor)"}[_d["basis"]],
                           label="capitation basis")
    point = mo.ui.slider(50, 95, step=5, value=round(_d["point"] * 100),
                         label="capitation at cost percentile (P)", **_pct)
    bedding_in = mo.ui.slider(0, 2, value=_d["bedding_in"],
                              label="bedding-in years (nothing at risk)", show_value=True)
    at_risk = mo.ui.slider(0, 20, step=1, value=round(_d["at_risk"] * 100),
                           label="highest at-risk share (%)", **_pct)
    deadband = mo.ui.slider(1, 5, step=0.5, value=_d["deadband"] * 100,
                            label="provider bears all of the first (%)", **_pct)
    middle_upper = mo.ui.slider(5, 15, step=1, value=round(_d["middle_upper"] * 100),
                                label="middle band up to (%)", **_pct)
    middle_share = mo.ui.slider(0, 100, step=5, value=round(_d["middle_share"] * 100),
                                label="provider share, middle band (%)", **_pct)
    outer_share = mo.ui.slider(0, 100, step=5, value=round(_d["outer_share"] * 100),
                               label="provider share beyond (%)", **_pct)
    cap = mo.ui.slider(1, 15, step=1, value=round(_d["cap"] * 100),
                       label="provider loss and gain cap (%)", **_pct)
    gate = mo.ui.slider(0, 100, step=5, value=round(_d["quality_gate"] * 100),
                        label="quality gate (composite score, %)", **_pct)
    mo.vstack([
        mo.hstack([length, basis, point], justify="start", gap=2),
        mo.hstack([bedding_in, at_risk, gate], justify="start", gap=2),
        mo.hstack([deadband, middle_upper, middle_share], justify="start", gap=2),
        mo.hstack([outer_share, cap, reset], justify="start", gap=2),
    ])
    return (
        at_risk,
        basis,
        bedding_in,
        cap,
        deadband,
        gate,
        length,
        middle_share,
        middle_upper,
        outer_share,
        point,
    )


@app.cell
def _(
    at_risk,
    basis,
    bedding_in,
    cap,
    deadband,
    gate,
    length,
    middle_share,
    middle_upper,
    outer_share,
    point,
):
    # the controls as plain values (tests override this)
    contract_inputs = {
        "length": int(length.value), "basis": basis.value, "point": point.value / 100,
        "bedding_in": int(bedding_in.value), "at_risk": at_risk.value / 100,
        "deadband": deadband.value / 100, "middle_upper": middle_upper.value / 100,
        "middle_share": middle_share.value / 100, "outer_share": outer_share.value / 100,
        "cap": cap.value / 100, "quality_gate": gate.value / 100,
    }
    return (contract_inputs,)


@app.cell
def price_contract(
    apply_terms,
    base_terms,
    compare_mechanisms,
    contract_inputs,
    cost_bases,
    cost_growth,
    sizing_terms,
):
    cost_spec, simulated = cost_bases[cost_growth]
    terms = sizing_terms(base_terms, **contract_inputs)
    window = simulated.first_years(terms.length)
    priced = apply_terms(window, terms, cost_spec)
    schedule = priced.schedule()
    summary = priced.summary()
    risk = priced.risk()
    mechanisms = compare_mechanisms(window, priced, multi_year=True)
    return mechanisms, priced, risk, schedule, summary, terms


@app.cell
def show_headline(base_terms, cost_growth, mo, pl, priced, risk, schedule, summary, terms):
    total_cap = float(schedule["capitation"].sum())
    total_pv = float(schedule["capitation_pv"].sum())
    margin = summary.filter(pl.col("measure") == "provider_margin")
    outlay = summary.filter(pl.col("measure") == "commissioner_outlay")

    def _risk(prefix):
        _r = risk.filter(pl.col("measure").str.starts_with(prefix))
        return float(_r["value"][0]) if _r.height else float("nan")

    headline = {
        "total_capitation": total_cap, "total_capitation_pv": total_pv,
        "expected_outlay": float(outlay["mean"].item()),
        "outlay_p90": float(outlay["p90"].item()),
        "expected_provider_margin": float(margin["mean"].item()),
        "p_loss_cap": float(priced.hit_loss_cap.any(axis=1).mean()),
        "p_provider_loss": _risk("P(provider makes a loss"),
        "p_reserve_breach": _risk("P(provider's cumulative loss exceeds"),
    }
    _h = headline

    from cobic.report.vocabulary import money_m as _m

    def _card(label, value, caption="", bad=False):
        _colour = "#b42318" if bad else "#1b1b1b"
        return (f'<div style="flex:1;min-width:170px;border:1px solid #d0d5dd;border-radius:8px;'
                f'padding:10px 14px"><div style="font-size:0.85em;color:#475467">{label}</div>'
                f'<div style="font-size:1.6em;font-weight:600;color:{_colour}">{value}</div>'
                f'<div style="font-size:0.8em;color:#667085">{caption}</div></div>')

    _cards = mo.Html('<div id="cobic-headline" style="display:flex;gap:10px;flex-wrap:wrap">'
                     + "".join([
        _card("Total capitation", _m(_h["total_capitation"]),
              f"{_m(_h['total_capitation_pv'])} in present value"),
        _card("Commissioner pays (expected)", _m(_h["expected_outlay"]),
              f"{_m(_h['outlay_p90'])} if costs run high (P90)"),
        _card("Provider margin (expected)", _m(_h["expected_provider_margin"]),
              "over the whole contract", bad=_h["expected_provider_margin"] < 0),
        _card("Chance of a provider loss", f"{_h['p_provider_loss']:.0%}",
              "over the whole contract", bad=_h["p_provider_loss"] > 0.5),
        _card("Chance the provider's reserve is breached", f"{_h['p_reserve_breach']:.0%}",
              f"reserve £{(terms.provider_reserve or 0) / 1e6:,.1f}m",
              bad=_h["p_reserve_breach"] > 0.10),
    ]) + "</div>")
    _sentence = (
        f"Over {terms.length} years the commissioner expects to pay {_m(_h['expected_outlay'])}"
        f" ({_m(_h['outlay_p90'])} if costs run high), and the provider "
        + (f"expects to lose {_m(-_h['expected_provider_margin'])}"
           if _h["expected_provider_margin"] < 0 else
           f"expects a margin of {_m(_h['expected_provider_margin'])}")
        + f", with a {_h['p_provider_loss']:.0%} chance of a loss overall.")
    _warn = []
    if _h["expected_provider_margin"] < 0:
        _warn.append("The provider loses money in expectation: these terms are not "
                     "sustainable for a provider as they stand.")
    if _h["p_reserve_breach"] > 0.10:
        _warn.append(f"The provider's cumulative loss exceeds its reserve on "
                     f"{_h['p_reserve_breach']:.0%} of paths (more than 1 in 10).")
    _costs = ("costs growing as fitted to the s251 history" if cost_growth.startswith("fitted")
              else "costs growing at the cost set's fixed uplifts")
    mo.vstack([
        mo.md(f"## Your contract: {terms.length} years, capitation at "
              f"P{round(terms.point * 100)}, {_costs}"),
        mo.md(f"Starting from the shipped *{base_terms.name}*. {_sentence}"),
        _cards,
        *[mo.callout(mo.md(w), kind="warn") for w in _warn],
    ])
    return (headline,)


@app.cell
def _(charts, cost_bases, length, mo):
    # the contract's years alone: drawn again only when its length changes
    cost_bands = {name: sim.first_years(int(length.value)).cost_band()
                  for name, (_spec, sim) in cost_bases.items()}
    mo.vstack([
        mo.md("### The cost the capitation is set against, by year"),
        mo.ui.altair_chart(charts.cost_band_chart(
            cost_bands, "Simulated cost by year: median and P10-P90 band (demand, unit-cost "
            "and cost-growth risk)"), chart_selection=False, legend_selection=False),
    ])
    return (cost_bands,)


@app.cell
def _(cap, charts, deadband, middle_share, middle_upper, mo, outer_share, sizing_risk_share):
    # the bands alone: drawn again only when a band control moves (not the capitation point)
    try:
        _rs = sizing_risk_share(deadband=deadband.value / 100,
                                middle_upper=middle_upper.value / 100,
                                middle_share=middle_share.value / 100,
                                outer_share=outer_share.value / 100, cap=cap.value / 100)
        _chart = mo.ui.altair_chart(charts.risk_share_chart(_rs), chart_selection=False,
                                    legend_selection=False)
    except ValueError:  # an impossible band set: the pricing cell shows why
        _chart = None
    _chart
    return


@app.cell
def _(mo):
    # one detail section at a time: a control then redraws the headline and one section only
    detail = mo.ui.radio({"Schedule by year": "schedule",
                          "Each party's distribution": "distribution",
                          "Payment mechanisms compared": "mechanisms"},
                         value="Schedule by year", inline=True, label="Show below:")
    detail
    return (detail,)


@app.cell
def _(charts, detail, html_table, mechanisms, mo, priced, risk, schedule):
    def _schedule():
        return mo.vstack([
            mo.md("### Contract schedule (£, nominal, real and present value)"),
            mo.Html(html_table(schedule.select(
                "financial_year", "capitation", "fixed", "at_risk", "expected_incentive_earned",
                "expected_cost", "expected_net_to_provider", "p_hit_loss_cap"),
                title="Capitation and expected ledger by year",
                note="£m, nominal; expected = average over the simulated futures.")),
            mo.Html(html_table(schedule.select(
                "financial_year", "capitation_real", "discount_factor", "capitation_pv",
                "expected_net_to_provider_pv"), title="Real terms and present value")),
            mo.ui.altair_chart(charts.contract_value_chart(schedule), chart_selection=False,
                               legend_selection=False),
        ])

    def _distribution():
        return mo.vstack([
            mo.md("### Each party's distribution over the contract"),
            mo.ui.altair_chart(charts.distribution_chart({
                "commissioner outlay": priced.net_to_provider.sum(axis=1),
                "provider margin": priced.provider_margin.sum(axis=1)},
                "Whole-contract totals across 1,000 paths"), chart_selection=False,
                legend_selection=False),
            mo.Html(html_table(risk, "risk", title="Risk figures")),
        ])

    def _mechanisms():
        return mo.vstack([
            mo.md("### Payment mechanisms on the same paths (£)"),
            mo.Html(html_table(mechanisms.select(
                "mechanism", "commissioner_mean", "commissioner_p10", "commissioner_p90",
                "provider_margin_mean", "provider_margin_p10", "provider_margin_p90",
                "p_provider_loss"), title="Payment mechanisms compared",
                note="£m over the contract, nominal.")),
            mo.ui.altair_chart(charts.mechanisms_chart(mechanisms), chart_selection=False,
                               legend_selection=False),
        ])

    details = {"schedule": _schedule, "distribution": _distribution,
               "mechanisms": _mechanisms}[detail.value]()
    details
    return (details,)


@app.cell
def _(mechanisms, mo, risk, schedule, summary, write_workbook):
    import tempfile as _tempfile
    from pathlib import Path as _Path

    def _workbook() -> bytes:
        # written when the button is pressed, not on every change of a control
        with _tempfile.TemporaryDirectory() as _d:
            return write_workbook(_Path(_d) / "contract.xlsx",
                                  {"schedule": schedule, "summary": summary, "risk": risk,
                                   "mechanisms": mechanisms}).read_bytes()

    mo.download(data=_workbook, filename="contract.xlsx",
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                label="Download the workbook")
    return


@app.cell
def _(details, headline, mo):
    # the page's "ready" marker, which the browser tests wait for: it uses the results of the
    # cells above that compute and draw, so marimo renders it after their output, with a new
    # run id each time they re-run
    from uuid import uuid4 as _uuid4

    _after = (details, headline)
    _run = _uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))  # no digits: never an id
    mo.Html(f'<div id="cobic-ready" data-ready="1" data-run="{_run}" style="display:none">'
            f"ready {_run}</div>")
    return


if __name__ == "__main__":
    app.run()
