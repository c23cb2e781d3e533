import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="cobic: forecast validation")


@app.cell
def _():
    import marimo as mo
    import polars as pl

    from cobic.data.dfe import read_panel
    from cobic.demand.api import SERIES_MODELS, accuracy_gate, backtest_panel
    from cobic.demand.backtest import EvaluationScheme
    from cobic.paths import shared_data_dir
    from cobic.report import charts

    return (
        EvaluationScheme,
        SERIES_MODELS,
        accuracy_gate,
        backtest_panel,
        charts,
        mo,
        pl,
        read_panel,
        shared_data_dir,
    )


@app.cell(hide_code=True)
def _(mo):
    mo.md("""
    # Forecast validation

    The rolling-origin backtest on the real DfE panel: every local authority with a complete
    series 2015-2025, origins 2018-2022, horizons 1-3, all models; accuracy and interval
    coverage by horizon, the accuracy gate of the default model against `naive`, and the
    authorities where the default model does worst.
    """)
    return


@app.cell
def _(mo):
    # a smaller backtest from the command line (the browser test runs one), e.g.
    # marimo run notebooks/forecast_validation.py -- --origins=2021,2022 --horizons=1,2 --paths=200
    def _ints(key, default):
        _v = mo.cli_args().get(key)
        return default if _v in (None, "") else tuple(int(x) for x in str(_v).split(","))

    run_config = {"origins": _ints("origins", (2018, 2019, 2020, 2021, 2022)),
                  "horizons": _ints("horizons", (1, 2, 3)), "paths": _ints("paths", (500,))[0]}
    return (run_config,)


@app.cell
def _(mo, run_config):
    n_paths = mo.ui.slider(200, 2000, step=100, value=run_config["paths"],
                           label="paths per forecast")
    n_paths
    return (n_paths,)


@app.cell
def _(n_paths, run_config):
    # the controls as plain values (tests override this)
    validation_inputs = {"n_paths": int(n_paths.value), "origins": run_config["origins"],
                         "horizons": run_config["horizons"]}
    return (validation_inputs,)


@app.cell
def run_backtest(
    EvaluationScheme,
    SERIES_MODELS,
    backtest_panel,
    mo,
    read_panel,
    shared_data_dir,
    validation_inputs,
):
    panel = read_panel(shared_data_dir() / "dfe" / "la_cla_panel_2015_2025.csv")
    _scheme = EvaluationScheme(validation_inputs["origins"], validation_inputs["horizons"])
    with mo.status.progress_bar(total=len(SERIES_MODELS) * len(_scheme.origins),
                                title="Backtesting") as _bar:
        result = backtest_panel(panel, list(SERIES_MODELS), _scheme,
                                n_paths=validation_inputs["n_paths"], seed=0,
                                progress=lambda _label: _bar.update())
    metrics = result.metrics()
    return metrics, result


@app.cell
def _(accuracy_gate, charts, metrics, mo, pl):
    gate_failures = accuracy_gate(metrics, "panel", "naive")
    mo.vstack([
        mo.md("## Accuracy and coverage by horizon"),
        mo.ui.table(metrics.with_columns(pl.col(pl.Float64).round(3)), selection=None),
        mo.ui.altair_chart(charts.backtest_chart(metrics), chart_selection=False, legend_selection=False),
        mo.md("**Accuracy gate (panel vs naive): passed.**" if not gate_failures else
              "**Accuracy gate (panel vs naive): failed:** " + "; ".join(gate_failures)),
    ])
    return (gate_failures,)


@app.cell
def _(mo, pl, result):
    worst = (result.by_area().filter(pl.col("model") == "panel")
             .group_by("area").agg(pl.col("mape").mean().alias("mean_mape"),
                                   pl.col("coverage_80").mean().alias("coverage_80"))
             .sort("mean_mape", descending=True).head(10))
    mo.vstack([mo.md("## Where the default model does worst (mean MAPE over horizons)"),
               mo.ui.table(worst.with_columns(pl.col(pl.Float64).round(3)), selection=None)])
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
