import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="cobic: demand explorer")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from cobic.data.dfe import complete_series, read_panel
    from cobic.data.ssda903 import read_ssda903
    from cobic.demand.api import (
        backtest_episodes,
        backtest_panel,
        forecast_episodes,
        forecast_panel,
        series_from_ssda903,
    )
    from cobic.demand.backtest import EvaluationScheme
    from cobic.paths import fixtures_dir, shared_data_dir, source_fingerprint
    from cobic.report import charts
    from cobic.report.tables import html_table

    return (
        EvaluationScheme,
        backtest_episodes,
        backtest_panel,
        charts,
        complete_series,
        fixtures_dir,
        forecast_episodes,
        forecast_panel,
        html_table,
        mo,
        pl,
        read_panel,
        read_ssda903,
        series_from_ssda903,
        shared_data_dir,
        source_fingerprint,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md("""
    # Demand explorer

    Forecast children looked after for the embedded synthetic LA, a folder of SSDA903 returns,
    or a local authority from the DfE panel; choose the model, horizon and scenarios; see the
    fan chart, the placement-group breakdown (for `stockflow`) and that area's backtest.
    """)
    return


@app.cell
def _(complete_series, read_panel, shared_data_dir):
    _panel_file = shared_data_dir() / "dfe" / "la_cla_panel_2015_2025.csv"
    panel = read_panel(_panel_file) if _panel_file.exists() else None
    panel_las = complete_series(panel, range(2015, 2026)) if panel is not None else []
    return panel, panel_las


@app.cell
def _(mo, panel_las, shared_data_dir):
    source = mo.ui.dropdown(["embedded synthetic LA", "SSDA903 folder", "DfE panel LA"],
                            value="embedded synthetic LA", label="data")
    folder = mo.ui.text(value=str(shared_data_dir() / "ssda903_sample"),
                        label="SSDA903 folder", full_width=True)
    la = mo.ui.dropdown(panel_las or ["(no panel found)"],
                        value=(panel_las or ["(no panel found)"])[0], label="local authority")
    horizon = mo.ui.slider(1, 7, value=5, label="years ahead", show_value=True)
    entry_step = mo.ui.slider(-30, 50, step=5, value=0, label="entries change from year 2 (%)",
                              show_value=True)
    stays = mo.ui.slider(-20, 30, step=5, value=0, label="stays longer (%)", show_value=True)
    return entry_step, folder, horizon, la, source, stays


@app.cell
def _(mo, source):
    from cobic.demand.api import DEFAULT_SERIES_MODEL as _default
    from cobic.demand.base import models_with as _models_with

    if source.value == "DfE panel LA":  # the default first, then the others
        _models = [_default, *[m for m in _models_with(published_tables=True) if m != _default]]
    else:  # one LA's returns: models that need no pooling or population
        _models = ["stockflow", *[m for m in _models_with(episodes=True, pooled=False,
                                                          needs_population=False)
                                  if m != "stockflow"]]
    model = mo.ui.dropdown(_models, value=_models[0], label="model")
    return (model,)


@app.cell
def _(entry_step, folder, horizon, la, mo, model, source, stays):
    # only the controls that apply: the folder for SSDA903 returns, the LA for the DfE panel,
    # longer stays for stockflow (series models take entry changes only)
    _rows = [mo.hstack([source, model, horizon], justify="start", gap=2)]
    if source.value == "SSDA903 folder":
        _rows.append(folder)
    if source.value == "DfE panel LA":
        _rows.append(la)
    _rows.append(mo.hstack([entry_step] + ([stays] if model.value == "stockflow" else []),
                           justify="start", gap=2))
    mo.vstack(_rows)
    return


@app.cell
def _(entry_step, folder, horizon, la, model, source, stays):
    # the controls as plain values (tests override this)
    explorer_inputs = {
        "source": source.value, "folder": folder.value, "area": la.value,
        "model": model.value, "horizon": int(horizon.value),
        "entry_step": entry_step.value / 100, "stays": stays.value / 100,
    }
    return (explorer_inputs,)


@app.cell
def run_forecast(
    explorer_inputs,
    fixtures_dir,
    forecast_episodes,
    forecast_panel,
    mo,
    panel,
    pl,
    read_panel,
    read_ssda903,
    series_from_ssda903,
    shared_data_dir,
    source_fingerprint,
):
    from cobic.demand import scenarios as _sc
    from cobic.errors import DataError as _DataError

    _x = explorer_inputs
    if _x["source"] == "DfE panel LA":
        explorer_input = shared_data_dir() / "dfe" / "la_cla_panel_2015_2025.csv"
    elif _x["source"] == "embedded synthetic LA":
        explorer_input = fixtures_dir() / "synthetic_la"
    else:
        explorer_input = _x["folder"]

    # 1,000 paths: kept on disk (notebooks/__marimo__/cache) under a hash of cobic's code, the
    # input and the controls, so a setting seen before answers at once (errors are not kept)
    @mo.persistent_cache
    def _forecast(fingerprint: str, source: str, where: str, area: str, model: str,
                  horizon: int, entry_step: float, stays: float):
        if source == "DfE panel LA":
            p = read_panel(where)
            hist = p.series(area).select(
                period=pl.col("year"), value=pl.col("cla_31mar").cast(pl.Float64)).drop_nulls()
            data, origin = None, int(hist["period"].max())
        else:
            data = read_ssda903(where)
            s = series_from_ssda903(data)
            hist = pl.DataFrame({"period": list(s.years), "value": s.stock[0].tolist()})
            origin = s.origin
        scenario = _sc.Scenario()
        if entry_step:
            scenario = _sc.entry_step(scenario, entry_step, origin + 2)
        if stays and model == "stockflow":
            scenario = _sc.stay(scenario, stays)
        if data is None:
            f = forecast_panel(p, area, model, horizon=horizon, n_paths=1000, seed=1,
                               scenario=scenario)
        else:
            f = forecast_episodes(data, model, horizon=horizon, n_paths=1000, seed=1,
                                  scenario=scenario, area=source)
        return f, hist

    try:
        if _x["source"] == "DfE panel LA" and panel is None:
            raise ValueError("the DfE panel (la_cla_panel_2015_2025.csv) was not found in the "
                             "shared data folder")
        # the input's hash, once a run: the backtest below is kept under it too
        explorer_key = source_fingerprint(explorer_input)
        with mo.status.spinner("Forecasting ..."):
            forecast, history = _forecast(
                explorer_key, _x["source"], str(explorer_input), _x["area"], _x["model"],
                _x["horizon"], _x["entry_step"], _x["stays"])
        _problem = None
    except (_DataError, ValueError, KeyError, OSError) as _e:
        _problem = str(_e.args[0]) if isinstance(_e, KeyError) and _e.args else str(_e)
    mo.stop(_problem is not None,
            mo.callout(mo.md(f"**Could not forecast.** {_problem}"), kind="danger"))
    return explorer_input, explorer_key, forecast, history


@app.cell
def _(charts, forecast, history, html_table, mo, pl):
    _table = forecast.forecast_table()
    _all = _table.filter((pl.col("placement_group") == "all") & (pl.col("age_band") == "all"))
    forecast_summary = _all.select("period", "mean", "q10", "q50", "q90")
    _parts = [mo.md(f"## {forecast.areas[0]}: `{forecast.model}` ({forecast.scenario})"),
              mo.ui.altair_chart(charts.fan_chart(history, forecast.periods,
                                                  forecast.total()[0]), chart_selection=False, legend_selection=False),
              mo.Html(html_table(forecast_summary, "forecast",
                                 title="Children looked after on 31 March"))]
    if forecast.groups != ("all",):
        _parts.append(mo.ui.altair_chart(charts.stock_by_group_chart(_table), chart_selection=False, legend_selection=False))
    mo.vstack(_parts)
    return (forecast_summary,)


@app.cell
def _(
    EvaluationScheme,
    backtest_episodes,
    backtest_panel,
    explorer_input,
    explorer_inputs,
    explorer_key,
    forecast,
    html_table,
    mo,
    pl,
    read_panel,
    read_ssda903,
):
    _x = explorer_inputs
    _after_forecast = forecast  # backtest only an input the forecast could read

    # rolling origins refit the model each time: kept on disk (notebooks/__marimo__/cache)
    # under a hash of cobic's code and the input, so an area and model seen before answers
    # at once and any change to the code or the data computes it afresh
    @mo.persistent_cache
    def _backtest(fingerprint: str, source: str, where: str, area: str, model: str):
        models = list(dict.fromkeys(["naive", model]))
        if source == "DfE panel LA":
            res = backtest_panel(read_panel(where), models,
                                 EvaluationScheme(tuple(range(2018, 2023)), (1, 2, 3)),
                                 n_paths=300)
            return res.by_area().filter(pl.col("area") == area)
        data = read_ssda903(where)
        years = data.collection_years
        origins = tuple(y for y in years[-4:-1] if y - 3 >= years[0])
        if not origins:
            return pl.DataFrame()
        return backtest_episodes(data, models, EvaluationScheme(origins, (1, 2)),
                                 n_paths=200).metrics()

    with mo.status.spinner("Backtesting ..."):
        area_backtest = _backtest(explorer_key, _x["source"], str(explorer_input),
                                  _x["area"], _x["model"])
    mo.vstack([mo.md("### This area's backtest (rolling origins)"),
               mo.Html(html_table(area_backtest.select(
                   [c for c in ("model", "area", "horizon", "n", "mape", "coverage_80",
                                "coverage_95", "interval_score_80", "bias")
                    if c in area_backtest.columns]), "backtest",
                   title="Accuracy by years ahead")) if area_backtest.height
               else mo.md("Too few years of history to backtest.")])
    return (area_backtest,)


@app.cell
def _(area_backtest, forecast_summary, mo):
    # the page's "ready" marker, which the browser tests wait for: it uses the results of the
    # cells above that compute and draw, so marimo renders it after their output, with a new
    # run id each time they re-run
    from uuid import uuid4 as _uuid4

    _after = (area_backtest, forecast_summary)
    _run = _uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))  # no digits: never an id
    mo.Html(f'<div id="cobic-ready" data-ready="1" data-run="{_run}" style="display:none">'
            f"ready {_run}</div>")
    return


if __name__ == "__main__":
    app.run()
