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
    from cobic.paths import fixtures_dir, shared_data_dir
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
    read_ssda903,
    series_from_ssda903,
):
    from cobic.demand import scenarios as _sc
    from cobic.errors import DataError as _DataError

    _x = explorer_inputs

    def _run():
        if _x["source"] == "DfE panel LA":
            if panel is None:
                raise ValueError("the DfE panel (la_cla_panel_2015_2025.csv) was not found "
                                 "in the shared data folder")
            _hist = panel.series(_x["area"]).select(
                period=pl.col("year"), value=pl.col("cla_31mar").cast(pl.Float64)).drop_nulls()
            _d, _origin = None, int(_hist["period"].max())
        else:
            _where = (fixtures_dir() / "synthetic_la" if _x["source"] == "embedded synthetic LA"
                      else _x["folder"])
            _d = read_ssda903(_where)
            _s = series_from_ssda903(_d)
            _hist = pl.DataFrame({"period": list(_s.years), "value": _s.stock[0].tolist()})
            _origin = _s.origin
        _scenario = _sc.Scenario()
        if _x["entry_step"]:
            _scenario = _sc.entry_step(_scenario, _x["entry_step"], _origin + 2)
        if _x["stays"] and _x["model"] == "stockflow":
            _scenario = _sc.stay(_scenario, _x["stays"])
        with mo.status.spinner("Forecasting ..."):
            if _d is None:
                _f = forecast_panel(panel, _x["area"], _x["model"], horizon=_x["horizon"],
                                    n_paths=1000, seed=1, scenario=_scenario)
            else:
                _f = forecast_episodes(_d, _x["model"], horizon=_x["horizon"], n_paths=1000,
                                       seed=1, scenario=_scenario, area=str(_x["source"]))
        return _d, _f, _hist

    try:
        _data, forecast, history = _run()
        _problem = None
    except (_DataError, ValueError, KeyError, OSError) as _e:
        _problem = str(_e.args[0]) if isinstance(_e, KeyError) and _e.args else str(_e)
    mo.stop(_problem is not None,
            mo.callout(mo.md(f"**Could not forecast.** {_problem}"), kind="danger"))
    episodes_data = _data
    return episodes_data, forecast, history


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
    episodes_data,
    explorer_inputs,
    html_table,
    mo,
    panel,
    pl,
):
    _x = explorer_inputs
    with mo.status.spinner("Backtesting ..."):
        if episodes_data is None:
            _res = backtest_panel(panel, list(dict.fromkeys(["naive", _x["model"]])),
                                  EvaluationScheme(tuple(range(2018, 2023)), (1, 2, 3)),
                                  n_paths=300)
            area_backtest = _res.by_area().filter(pl.col("area") == _x["area"])
        else:
            _years = episodes_data.collection_years
            _origins = tuple(y for y in _years[-4:-1] if y - 3 >= _years[0])
            if _origins:
                _res = backtest_episodes(episodes_data, list(dict.fromkeys(["naive", _x["model"]])),
                                         EvaluationScheme(_origins, (1, 2)), n_paths=200)
                area_backtest = _res.metrics()
            else:
                area_backtest = pl.DataFrame()
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
