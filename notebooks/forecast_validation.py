import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="cobic: forecast validation")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from cobic.data.dfe import read_panel
    from cobic.demand.api import (
        DEFAULT_SERIES_MODEL,
        SERIES_MODELS,
        accuracy_gate,
        backtest_panel,
    )
    from cobic.demand.backtest import EvaluationScheme
    from cobic.paths import shared_data_dir
    from cobic.report import charts
    from cobic.report.tables import html_table

    return (
        DEFAULT_SERIES_MODEL,
        EvaluationScheme,
        SERIES_MODELS,
        accuracy_gate,
        backtest_panel,
        charts,
        html_table,
        mo,
        pl,
        read_panel,
        shared_data_dir,
    )


@app.cell(hide_code=True)
def _(DEFAULT_SERIES_MODEL, mo):
    mo.md(f"""
    # Forecast validation

    The rolling-origin backtest on the real DfE panel: every local authority with a complete
    series 2015-2025, children looked after on 31 March, horizons 1-3. Two windows: the
    **development** window (origins 2018-2021), on which the default model was chosen, and
    the **held-out** window (origins 2022-2024), which nothing was tuned on. The default,
    `{DEFAULT_SERIES_MODEL}`, picks among the other models at every origin by a backtest
    inside the history it is given. Accuracy and interval coverage by horizon, the accuracy
    gate of the default against `naive`, and the authorities where it does worst.

    Choose the window, models and paths, then press **Run backtest**; results are cached, so
    going back to a setting already run is instant. `ets` and `rate` are slow and off by
    default.
    """)
    return


@app.cell
def _(mo):
    # a smaller backtest from the command line (the browser test runs one), e.g.
    # marimo run notebooks/forecast_validation.py -- --origins=2021,2022 --horizons=1,2 --paths=200
    def _ints(key, default):
        _v = mo.cli_args().get(key)
        return None if _v in (None, "") else tuple(int(x) for x in str(_v).split(","))

    run_config = {"origins": _ints("origins", None), "horizons": _ints("horizons", None),
                  "paths": (_ints("paths", None) or (300,))[0]}
    return (run_config,)


@app.cell
def _(DEFAULT_SERIES_MODEL, SERIES_MODELS, mo, run_config):
    windows = {"development (origins 2018-2021)": (2018, 2019, 2020, 2021),
               "held out (origins 2022-2024)": (2022, 2023, 2024)}
    quick = [m for m in ("naive", DEFAULT_SERIES_MODEL, "panel") if m in SERIES_MODELS]
    settings = mo.ui.dictionary({
        "window": mo.ui.dropdown(list(windows), value=list(windows)[0], label="window"),
        "models": mo.ui.multiselect(list(SERIES_MODELS), value=quick, label="models"),
        "n_paths": mo.ui.slider(200, 2000, step=100, value=run_config["paths"],
                                label="paths per forecast", show_value=True),
    }).form(submit_button_label="Run backtest", bordered=True)
    settings
    return quick, settings, windows


@app.cell
def _(quick, run_config, settings, windows):
    # the settings as plain values, updated only when the form is submitted (tests override
    # this); before the first submit: the quick default run
    _s = settings.value or {"window": list(windows)[0], "models": quick,
                            "n_paths": run_config["paths"]}
    validation_inputs = {
        "n_paths": int(_s["n_paths"]), "models": tuple(_s["models"]) or tuple(quick),
        "origins": run_config["origins"] or windows[_s["window"]],
        "horizons": run_config["horizons"] or (1, 2, 3),
    }
    return (validation_inputs,)


@app.cell
def _(EvaluationScheme, backtest_panel, mo, read_panel, shared_data_dir):
    panel = read_panel(shared_data_dir() / "dfe" / "la_cla_panel_2015_2025.csv")

    @mo.cache
    def backtest(models: tuple, origins: tuple, horizons: tuple, n_paths: int):
        """One backtest per setting, kept for the session."""
        _scheme = EvaluationScheme(origins, horizons)
        with mo.status.progress_bar(total=len(models) * len(origins),
                                    title="Backtesting", remove_on_exit=True) as _bar:
            return backtest_panel(panel, list(models), _scheme, n_paths=n_paths, seed=0,
                                  progress=lambda _label: _bar.update())

    return (backtest,)


@app.cell
def run_backtest(backtest, validation_inputs):
    _v = validation_inputs
    result = backtest(tuple(_v["models"]), tuple(_v["origins"]), tuple(_v["horizons"]),
                      _v["n_paths"])
    metrics = result.metrics()
    return metrics, result


@app.cell
def _(
    DEFAULT_SERIES_MODEL,
    accuracy_gate,
    charts,
    html_table,
    metrics,
    mo,
    pl,
    validation_inputs,
):
    _have = set(metrics["model"])
    gate_failures = (accuracy_gate(metrics, DEFAULT_SERIES_MODEL, "naive")
                     if {DEFAULT_SERIES_MODEL, "naive"} <= _have else None)
    _o = validation_inputs["origins"]
    _gate = ("**Accuracy gate: add the default model and naive to run it.**"
             if gate_failures is None else
             f"**Accuracy gate ({DEFAULT_SERIES_MODEL} vs naive): passed.**"
             if not gate_failures else
             f"**Accuracy gate ({DEFAULT_SERIES_MODEL} vs naive): failed:** "
             + "; ".join(gate_failures))
    mo.vstack([
        mo.md(f"## Accuracy and coverage by horizon (origins {_o[0]}-{_o[-1]})"),
        mo.Html(html_table(metrics.select("model", "horizon", "n", "mape", "coverage_80",
                                          "coverage_95", "interval_score_80", "bias"),
                           "backtest", title="Accuracy and coverage by years ahead")),
        mo.ui.altair_chart(charts.backtest_chart(metrics), chart_selection=False,
                           legend_selection=False),
        mo.md(_gate),
    ])
    return (gate_failures,)


@app.cell
def _(DEFAULT_SERIES_MODEL, html_table, mo, pl, result):
    _model = (DEFAULT_SERIES_MODEL if DEFAULT_SERIES_MODEL in set(result.cases["model"])
              else result.cases["model"][0])
    worst = (result.by_area().filter(pl.col("model") == _model)
             .group_by("area").agg(pl.col("mape").mean().alias("mean_mape"),
                                   pl.col("coverage_80").mean().alias("coverage_80"))
             .sort("mean_mape", descending=True).head(10))
    mo.vstack([mo.md(f"## Where {_model} does worst (mean MAPE over horizons)"),
               mo.Html(html_table(worst, "backtest", title="The ten areas with the largest "
                                  "errors"))])
    return (worst,)


@app.cell
def _(gate_failures, mo, worst):
    # the page's "ready" marker, which the browser tests wait for: it uses the results of the
    # cells above that compute and draw, so marimo renders it after their output, with a new
    # run id each time they re-run
    from uuid import uuid4 as _uuid4

    _after = (gate_failures, worst)
    _run = _uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))  # no digits: never an id
    mo.Html(f'<div id="cobic-ready" data-ready="1" data-run="{_run}" style="display:none">'
            f"ready {_run}</div>")
    return


if __name__ == "__main__":
    app.run()
