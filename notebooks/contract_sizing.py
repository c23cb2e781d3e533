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
    from cobic.contract.presets import sizing_terms
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
    from cobic.paths import fixtures_dir, models_dir
    from cobic.report import charts
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
        load_contract,
        load_cost_spec,
        load_growth,
        mo,
        models_dir,
        np,
        pl,
        read_ssda903,
        simulate_contract_costs,
        sizing_terms,
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
    models_dir,
    read_ssda903,
    simulate_contract_costs,
    with_growth,
):
    # the expensive part, once: forecast 8 years and cost the 7 contract years that follow
    data = read_ssda903(fixtures_dir() / "synthetic_la")
    base_terms = load_contract(models_dir() / "contracts" / "cobic_7yr.toml")
    _costs = load_cost_spec(default_unit_costs_path())
    paths = forecast_episodes(data, "stockflow", horizon=8, n_paths=1000, seed=1,
                              area="synthetic LA")
    from dataclasses import replace as _replace

    base_terms = _replace(base_terms, first_year=paths.periods[0] + 1)
    _demand = DemandPaths.from_paths(paths)
    _fitted = with_growth(_costs, *load_growth(default_growth_path()))
    cost_bases = {
        "fitted to s251 history": (_fitted, simulate_contract_costs(_demand, _fitted,
                                                                    base_terms, seed=1)),
        "fixed uplifts (cost set)": (_costs, simulate_contract_costs(_demand, _costs,
                                                                     base_terms, seed=1)),
    }
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
    length = mo.ui.slider(5, 7, value=7, label="contract length (years)")
    basis = mo.ui.dropdown(["population", "child_day", "hybrid"], value="hybrid",
                           label="capitation basis")
    point = mo.ui.slider(50, 95, step=5, value=50, label="capitation at cost percentile (P)")
    bedding_in = mo.ui.slider(0, 2, value=1, label="bedding-in years (nothing at risk)")
    at_risk = mo.ui.slider(0, 20, step=1, value=10, label="at-risk share after bedding-in (%)")
    deadband = mo.ui.slider(1, 5, step=0.5, value=2, label="provider bears all of the first (%)")
    middle_upper = mo.ui.slider(5, 15, step=1, value=8, label="middle band up to (%)")
    middle_share = mo.ui.slider(0, 100, step=5, value=50, label="provider share, middle band (%)")
    outer_share = mo.ui.slider(0, 100, step=5, value=20, label="provider share beyond (%)")
    cap = mo.ui.slider(1, 15, step=1, value=5, label="provider loss and gain cap (%)")
    gate = mo.ui.slider(0, 100, step=5, value=25, label="quality gate (composite, %)")
    mo.vstack([
        mo.hstack([length, basis, point]),
        mo.hstack([bedding_in, at_risk, gate]),
        mo.hstack([deadband, middle_upper, middle_share]),
        mo.hstack([outer_share, cap]),
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
    mechanisms = compare_mechanisms(window, priced)
    return mechanisms, priced, risk, schedule, summary, terms


@app.cell
def show_headline(cost_growth, mo, pl, priced, schedule, summary, terms):
    total_cap = float(schedule["capitation"].sum())
    total_pv = float(schedule["capitation_pv"].sum())
    margin = summary.filter(pl.col("measure") == "provider_margin")
    outlay = summary.filter(pl.col("measure") == "commissioner_outlay")
    headline = {
        "total_capitation": total_cap, "total_capitation_pv": total_pv,
        "expected_outlay": float(outlay["mean"].item()),
        "outlay_p90": float(outlay["p90"].item()),
        "expected_provider_margin": float(margin["mean"].item()),
        "p_loss_cap": float(priced.hit_loss_cap.any(axis=1).mean()),
    }
    mo.md(f"""
    ## {terms.name}: {terms.length} years, basis `{terms.basis}`, capitation at
    P{round(terms.point * 100)}; costs growing {'as fitted to the s251 history'
    if cost_growth.startswith('fitted') else 'at fixed uplifts'}

    - Total capitation (nominal): **GBP {total_cap / 1e6:,.2f}m**
    - Total capitation (present value): **GBP {total_pv / 1e6:,.2f}m**
    - Commissioner outlay: expected **GBP {headline['expected_outlay'] / 1e6:,.2f}m**,
      P90 GBP {headline['outlay_p90'] / 1e6:,.2f}m
    - Provider margin: expected **GBP {headline['expected_provider_margin'] / 1e6:,.2f}m**
    - Chance the provider hits its loss cap in some year: **{headline['p_loss_cap']:.0%}**
    """)
    return (headline,)


@app.cell
def _(charts, cost_bases, mo, np, pl, terms):
    def _band(sim):
        _t = sim.cost[:, :terms.length]
        _q = np.quantile(_t, [0.1, 0.5, 0.9], axis=0)
        return pl.DataFrame({"financial_year": [f"{y - 1}-{y % 100:02d}" for y in
                                                sim.years[:terms.length]],
                             "p10": _q[0], "p50": _q[1], "p90": _q[2]})

    cost_bands = {name: _band(sim) for name, (_spec, sim) in cost_bases.items()}
    mo.vstack([
        mo.md("### The cost the capitation is set against, by year"),
        mo.ui.altair_chart(charts.cost_band_chart(
            cost_bands, "Simulated cost by year: median and P10-P90 band (demand, unit-cost "
            "and cost-growth risk)"), chart_selection=False, legend_selection=False),
    ])
    return (cost_bands,)


@app.cell
def _(charts, mo, pl, schedule, terms):
    schedule_view = mo.vstack([
        mo.md("### Contract schedule (GBP, nominal, real and present value)"),
        mo.ui.table(schedule.with_columns(
            pl.col(pl.Float64).exclude("discount_factor", "p_hit_loss_cap", "p_hit_gain_cap")
            .round(0), pl.col("discount_factor", "p_hit_loss_cap", "p_hit_gain_cap").round(4)),
            selection=None),
        mo.ui.altair_chart(charts.contract_value_chart(schedule), chart_selection=False, legend_selection=False),
        mo.ui.altair_chart(charts.risk_share_chart(terms.risk_share), chart_selection=False, legend_selection=False),
    ])
    schedule_view
    return (schedule_view,)


@app.cell
def _(charts, mechanisms, mo, pl, priced, risk):
    distribution_view = mo.vstack([
        mo.md("### Each party's distribution over the contract"),
        mo.ui.altair_chart(charts.distribution_chart({
            "commissioner outlay": priced.net_to_provider.sum(axis=1),
            "provider margin": priced.provider_margin.sum(axis=1)},
            "Whole-contract totals across 1,000 paths"), chart_selection=False, legend_selection=False),
        mo.ui.table(risk.with_columns(pl.col("value").round(3)), selection=None),
        mo.md("### Payment mechanisms on the same paths (GBP)"),
        mo.ui.table(mechanisms.with_columns(pl.col(pl.Float64).exclude("p_provider_loss")
                                            .round(0)), selection=None),
        mo.ui.altair_chart(charts.mechanisms_chart(mechanisms), chart_selection=False, legend_selection=False),
    ])
    distribution_view
    return (distribution_view,)


@app.cell
def _(mechanisms, mo, risk, schedule, summary, write_workbook):
    import tempfile as _tempfile
    from pathlib import Path as _Path

    with _tempfile.TemporaryDirectory() as _d:
        _p = write_workbook(_Path(_d) / "contract.xlsx",
                            {"schedule": schedule, "summary": summary, "risk": risk,
                             "mechanisms": mechanisms})
        workbook_bytes = _p.read_bytes()
    mo.download(data=workbook_bytes, filename="contract.xlsx", label="Download the workbook")
    return


@app.cell
def _(distribution_view, headline, mo, schedule_view):
    # the page's "ready" marker, which the browser tests wait for: it uses the results of the
    # cells above that compute and draw, so marimo renders it after their output, with a new
    # run id each time they re-run
    from uuid import uuid4 as _uuid4

    _after = (distribution_view, headline, schedule_view)
    _run = _uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))  # no digits: never an id
    mo.Html(f'<div id="cobic-ready" data-ready="1" data-run="{_run}" style="display:none">'
            f"ready {_run}</div>")
    return


if __name__ == "__main__":
    app.run()
