import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="cobic: what-if budget")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from cobic.budget import BudgetModel, Levers, levers_toml, parse_levers
    from cobic.costs import (
        default_growth_path,
        default_unit_costs_path,
        load_cost_spec,
        load_growth,
    )
    from cobic.data.ssda903 import read_ssda903
    from cobic.demand.base import get_model
    from cobic.paths import fixtures_dir, source_fingerprint
    from cobic.report import charts
    from cobic.report.tables import html_table

    return (
        BudgetModel,
        Levers,
        charts,
        levers_toml,
        parse_levers,
        default_growth_path,
        default_unit_costs_path,
        fixtures_dir,
        get_model,
        html_table,
        load_cost_spec,
        load_growth,
        mo,
        pl,
        read_ssda903,
        source_fingerprint,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md("""
    # What-if budget

    The expected cost of children looked after in the embedded synthetic local authority over
    the next five financial years, under levers stated in natural units, against the baseline
    forecast. Prices grow either as fitted to the section 251 history of England and 15 LAs
    (2015-16 to 2024-25: a pooled, uncertain growth model, shown as a P10-P90 band) or at fixed
    uplifts you set. Price and efficiency levers re-cost the cached demand instantly; demand
    levers simulate new demand once per setting (300 paths) and are cached.
    """)
    return


@app.cell
def _(
    BudgetModel,
    default_growth_path,
    default_unit_costs_path,
    fixtures_dir,
    get_model,
    load_cost_spec,
    load_growth,
    mo,
    read_ssda903,
    source_fingerprint,
):
    # the fit, once, kept on disk (notebooks/__marimo__/cache) under a hash of cobic's code,
    # specs and the data: a later opening loads it, and any change fits afresh
    @mo.persistent_cache
    def _fit(fingerprint: str):
        return get_model("stockflow").fit(read_ssda903(fixtures_dir() / "synthetic_la"))

    fitted = _fit(source_fingerprint(fixtures_dir() / "synthetic_la"))
    first = fitted.origin + 2  # the first full financial year after next
    years = tuple(range(first, first + 5))
    budget_model = BudgetModel(fitted, load_cost_spec(default_unit_costs_path()), years,
                               n_paths=300, seed=1, growth=load_growth(default_growth_path()))
    return budget_model, years


@app.cell
def _(mo):
    reset = mo.ui.button(label="Reset the levers", kind="neutral")
    settings_file = mo.ui.file(filetypes=[".toml"], label="Load saved settings (.toml)",
                               kind="button")
    return reset, settings_file


@app.cell
def _(Levers, mo, parse_levers, settings_file):
    # saved settings (a file written by "Save these settings", or by hand): they set the
    # levers' starting values; a bad file is shown on the page and changes nothing
    import tomllib as _tomllib

    loaded = Levers(residential_inflation=0.06, other_inflation=0.03, efficiency=0.0,
                    fitted_growth=True)
    _problem = None
    if settings_file.value:
        try:
            loaded = parse_levers(_tomllib.loads(settings_file.contents().decode("utf-8")),
                                  settings_file.name())
        except (ValueError, UnicodeDecodeError) as _e:
            _problem = str(_e)
    mo.callout(mo.md(f"**Settings not loaded.** {_problem}"), kind="danger") if _problem \
        else None
    return (loaded,)


@app.cell
def _(loaded, mo, reset, years):
    _ = reset.value  # every lever back at its starting value on reset
    _l = loaded
    year_options = {f"{y - 1}-{y % 100:02d}": y for y in years}
    _names = {y: n for n, y in year_options.items()}

    def _year(y, default):
        return _names.get(y, list(year_options)[default])

    entry_shock = mo.ui.slider(-30, 50, step=5, value=round(_l.entry_shock * 100),
                               label="entries change (%)", show_value=True)
    shock_year = mo.ui.dropdown(list(year_options), value=_year(_l.entry_shock_year, 1),
                                label="... from")
    prevention = mo.ui.slider(0, 30, step=5, value=round(_l.prevention * 100),
                              label="prevention: entries fall (%)", show_value=True)
    prevention_year = mo.ui.dropdown(list(year_options), value=_year(_l.prevention_year, 2),
                                     label="... from")
    longer_stays = mo.ui.slider(-20, 30, step=5, value=round(_l.longer_stays * 100),
                                label="stays longer (%)", show_value=True)
    mix = mo.ui.slider(0, 50, step=5, value=round(_l.residential_to_fostering * 100),
                       label="new residential placements moved to fostering (%)",
                       show_value=True)
    growth_options = {"fitted to s251 history (band)": True, "fixed uplifts": False}
    price_growth = mo.ui.dropdown(list(growth_options),
                                  value=list(growth_options)[0 if _l.fitted_growth else 1],
                                  label="price growth")
    res_inflation = mo.ui.slider(0, 12, step=0.5, value=(_l.residential_inflation or 0.06) * 100,
                                 label="residential price growth (%/yr)", show_value=True)
    other_inflation = mo.ui.slider(0, 8, step=0.5, value=(_l.other_inflation or 0.03) * 100,
                                   label="other price growth (%/yr)", show_value=True)
    efficiency = mo.ui.slider(0, 5, step=0.5, value=(_l.efficiency or 0.0) * 100,
                              label="efficiency (%/yr)", show_value=True)
    return (
        efficiency,
        entry_shock,
        growth_options,
        longer_stays,
        mix,
        other_inflation,
        price_growth,
        prevention,
        prevention_year,
        res_inflation,
        shock_year,
        year_options,
    )


@app.cell
def _(
    efficiency,
    entry_shock,
    growth_options,
    longer_stays,
    mix,
    mo,
    other_inflation,
    prevention,
    prevention_year,
    price_growth,
    res_inflation,
    reset,
    settings_file,
    shock_year,
):
    # fixed-uplift sliders only when they apply
    _prices = [price_growth, efficiency]
    if not growth_options[price_growth.value]:
        _prices[1:1] = [res_inflation, other_inflation]
    mo.vstack([
        mo.md("**Demand**"),
        mo.hstack([entry_shock, shock_year]), mo.hstack([prevention, prevention_year]),
        mo.hstack([longer_stays, mix]),
        mo.md("**Prices**"),
        mo.hstack(_prices),
        mo.hstack([reset, settings_file], justify="start", gap=1),
    ])
    return


@app.cell
def _(
    Levers,
    efficiency,
    entry_shock,
    growth_options,
    longer_stays,
    mix,
    other_inflation,
    prevention,
    prevention_year,
    price_growth,
    res_inflation,
    shock_year,
    year_options,
):
    # the controls as plain values (tests override this)
    levers = Levers(
        entry_shock=entry_shock.value / 100, entry_shock_year=year_options[shock_year.value],
        prevention=prevention.value / 100, prevention_year=year_options[prevention_year.value],
        longer_stays=longer_stays.value / 100, residential_to_fostering=mix.value / 100,
        residential_inflation=res_inflation.value / 100,
        other_inflation=other_inflation.value / 100, efficiency=efficiency.value / 100,
        fitted_growth=growth_options[price_growth.value],
    )
    return (levers,)


@app.cell
def _(levers, levers_toml, mo):
    mo.download(data=levers_toml(levers, "saved from the what-if budget notebook").encode(),
                filename="what-if-settings.toml", mimetype="application/toml",
                label="Save these settings")
    return


@app.cell
def compute_budget(budget_model, levers):
    budget = budget_model.budget(levers)
    waterfall = budget_model.waterfall(levers)
    band = budget_model.band(levers)
    return band, budget, waterfall


@app.cell
def show_budget(band, budget, html_table, levers, mo):
    scenario_total = float(budget["scenario"].sum())
    baseline_total = float(budget["baseline"].sum())
    _basis = ("prices grow as fitted to the s251 history" if levers.fitted_growth
              else "prices grow at the fixed uplifts set above")
    _p10, _p90 = float(band["p10"][-1]), float(band["p90"][-1])
    from cobic.report.vocabulary import money_m as _m

    _diff = scenario_total - baseline_total
    mo.vstack([
        mo.Html('<div id="cobic-headline">' + mo.md(f"""
        ## Budget over five years
        - Scenario budget: **{_m(scenario_total)}** (expected; {_basis})
        - Baseline budget: {_m(baseline_total)}
        - Difference: **{"+" if _diff >= 0 else ""}{_m(_diff)}**
        - In {band["financial_year"][-1]} the scenario costs {_m(_p10)} to {_m(_p90)}
          (P10-P90: demand, unit-cost and cost-growth uncertainty)
        """).text + "</div>"),
        mo.Html(html_table(budget, "budget", title="Budget by year",
                           note="£m, nominal: expected cost over the simulated futures.")),
    ])
    return baseline_total, scenario_total


@app.cell
def _(mo):
    # one chart at a time: a lever then redraws the headline, the table and one chart only
    chart_choice = mo.ui.radio({"What each lever adds": "waterfall",
                                "Scenario against baseline by year": "budget",
                                "Range of the scenario's cost by year": "band"},
                               value="What each lever adds", inline=True, label="Chart:")
    chart_choice
    return (chart_choice,)


@app.cell
def show_chart(band, budget, chart_choice, charts, mo, waterfall):
    _draw = {
        "waterfall": lambda: charts.waterfall_chart(waterfall),
        "budget": lambda: charts.budget_chart(budget),
        "band": lambda: charts.cost_band_chart({"scenario": band}, "Scenario cost by year: "
                                               "median and P10-P90 band"),
    }[chart_choice.value]
    budget_view = mo.ui.altair_chart(_draw(), chart_selection=False, legend_selection=False)
    budget_view
    return (budget_view,)


@app.cell
def _(budget_view, mo, scenario_total):
    # the page's "ready" marker, which the browser tests wait for: it uses the results of the
    # cells above that compute and draw, so marimo renders it after their output, with a new
    # run id each time they re-run
    from uuid import uuid4 as _uuid4

    _after = (scenario_total, budget_view)
    _run = _uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))  # no digits: never an id
    mo.Html(f'<div id="cobic-ready" data-ready="1" data-run="{_run}" style="display:none">'
            f"ready {_run}</div>")
    return


if __name__ == "__main__":
    app.run()
