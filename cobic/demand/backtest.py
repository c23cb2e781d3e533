"""Rolling-origin backtests: one engine, an evaluation-scheme object, metrics per horizon.

For each origin the model is refitted on the history up to that origin, simulates paths, and
its median (the point forecast) and 80%/95% intervals are compared with what happened.

Metrics per model and horizon (the DESIGN.md backtest table):

* ``mae``, ``mape`` (%) of the median, ``bias``: its mean signed error (%);
* ``mase``: absolute error over the area's mean absolute year-on-year change up to the origin;
* ``coverage_50``, ``coverage_80``, ``coverage_95``: share of outcomes inside the central
  intervals;
* ``interval_score_80``: width + (2 / 0.2) x distance outside (Gneiting and Raftery 2007),
  in children; lower is better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from cobic.demand.base import Model, SeriesHistory, get_model

__all__ = ["EvaluationScheme", "BacktestResult", "backtest_series", "run_backtest",
           "metrics_table", "BACKTEST_COLUMNS", "QUANTILES", "CASE_SCHEMA"]

BACKTEST_COLUMNS = ("model", "horizon", "n", "mae", "mape", "mase", "coverage_80",
                    "coverage_95", "interval_score_80", "bias", "coverage_50")


@dataclass(frozen=True)
class EvaluationScheme:
    """Which origins and horizons to evaluate; every origin refits the model.

    Parameters
    ----------
    origins
        The last year of history for each forecast (e.g. 2018..2022).
    horizons
        Years ahead to score (e.g. 1, 2, 3). Cases whose target year is beyond the data are
        left out and counted in ``n``.
    """

    origins: tuple[int, ...]
    horizons: tuple[int, ...]

    def __post_init__(self):
        if not self.origins or not self.horizons:
            raise ValueError(f"origins and horizons must not be empty (got origins="
                             f"{self.origins}, horizons={self.horizons})")
        if min(self.horizons) < 1:
            raise ValueError(f"horizons must be >= 1, got {self.horizons}")


QUANTILES = {"q025": 0.025, "q05": 0.05, "q10": 0.10, "q25": 0.25, "q50": 0.50, "q75": 0.75,
             "q90": 0.90, "q95": 0.95, "q975": 0.975}
CASE_SCHEMA = {"model": pl.String, "area": pl.String, "origin": pl.Int32, "horizon": pl.Int32,
               "year": pl.Int32, "actual": pl.Float64,
               **{q: pl.Float64 for q in QUANTILES}, "scale": pl.Float64}


@dataclass(frozen=True)
class BacktestResult:
    """Every scored case (one row per model, area, origin and horizon: the outcome, the
    quantiles of the forecast paths named ``qNN`` by percent, and the MASE scale), with the
    tables built from them."""

    cases: pl.DataFrame

    def metrics(self) -> pl.DataFrame:
        return metrics_table(self.cases, ["model", "horizon"])

    def by_area(self) -> pl.DataFrame:
        """Metrics per model, area and horizon: where a model fails."""
        return metrics_table(self.cases, ["model", "area", "horizon"])


def _inside(lo: str, hi: str) -> pl.Expr:
    return (pl.col("actual") >= pl.col(lo)) & (pl.col("actual") <= pl.col(hi))


def metrics_table(cases: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """MAE, MAPE (%), mean signed % error, MASE, coverage of the 50/80/95% intervals and the
    80% interval score, per group of ``by``."""
    err = (pl.col("q50") - pl.col("actual"))
    below = (pl.col("q10") - pl.col("actual")).clip(lower_bound=0)
    above = (pl.col("actual") - pl.col("q90")).clip(lower_bound=0)
    return (
        cases.group_by(by)
        .agg(
            n=pl.len(),
            mae=err.abs().mean(),
            mape=(err.abs() / pl.col("actual")).mean() * 100,
            mase=(err.abs() / pl.col("scale")).mean(),
            coverage_80=_inside("q10", "q90").mean(),
            coverage_95=_inside("q025", "q975").mean(),
            interval_score_80=((pl.col("q90") - pl.col("q10")) + 10.0 * (below + above)).mean(),
            bias=(err / pl.col("actual")).mean() * 100,
            coverage_50=_inside("q25", "q75").mean(),
        )
        .sort(by)
    )


Forecaster = Callable[[int, int], dict[str, np.ndarray]]


def run_backtest(model: str, scheme: EvaluationScheme, forecast: Forecaster,
                 actual: Callable[[str, int], float | None],
                 scale: Callable[[str, int], float] | None = None,
                 progress: Callable[[str], None] | None = None) -> pl.DataFrame:
    """The one rolling-origin loop behind every backtest (series, SSDA903, spend).

    Parameters
    ----------
    model
        The name the cases carry.
    scheme
        Origins and horizons.
    forecast
        ``forecast(origin, horizon)`` -> {area: paths ``[path, horizon]``}, using only data up
        to ``origin`` (it is never shown the outcomes).
    actual
        ``actual(area, year)``: the outcome, or ``None`` where there is none to score.
    scale
        ``scale(area, origin)``: the MASE denominator (default 1).

    Returns
    -------
    pl.DataFrame
        The cases (:data:`CASE_SCHEMA`).
    """
    rows = []
    probs = list(QUANTILES.values())
    horizon = max(scheme.horizons)
    for origin in scheme.origins:
        for area, paths in forecast(origin, horizon).items():
            q = np.quantile(paths, probs, axis=0)  # [quantile, horizon]
            sc = float(scale(area, origin)) if scale is not None else 1.0
            for h in scheme.horizons:
                y = actual(area, origin + h)
                if y is None or not np.isfinite(y):
                    continue
                rows.append((model, area, origin, h, origin + h, float(y),
                             *[float(v) for v in q[:, h - 1]], sc))
        if progress is not None:
            progress(f"{model} {origin}")
    return pl.DataFrame(rows, orient="row", schema=CASE_SCHEMA)


def backtest_series(
    history: SeriesHistory,
    models: list[str | Model],
    scheme: EvaluationScheme,
    n_paths: int = 1000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of annual series models on ``history`` (all its areas).

    ``progress`` is called with a short label after each model-origin fit (for progress bars).
    """
    years = history.years
    bad = [o for o in scheme.origins if o not in years or o == years[0]]
    if bad:
        raise ValueError(f"origins {bad} are not inside the history years {years[0]}-{years[-1]}"
                         " (an origin needs at least one year before it)")
    short = [o for o in scheme.origins if years.index(o) < 2]
    if short:
        raise ValueError(f"origins {short}: the history has fewer than 3 years up to them "
                         f"(it starts in {years[0]}); series models size their intervals from "
                         "at least 2 year-on-year changes")
    index = {a: i for i, a in enumerate(history.areas)}

    def actual(area: str, year: int) -> float | None:
        return float(history.stock[index[area], years.index(year)]) if year in years else None

    def scale(area: str, origin: int) -> float:
        past = history.stock[index[area], :years.index(origin) + 1]
        s = np.nanmean(np.abs(np.diff(past)))
        return float(s) if s > 0 else np.nan

    parts = []
    for spec in models:
        model = get_model(spec) if isinstance(spec, str) else spec

        def forecast(origin: int, horizon: int, model=model) -> dict[str, np.ndarray]:
            paths = model.fit(history.until(origin)).simulate(horizon, n_paths, seed).total()
            return {a: paths[i] for a, i in index.items()}

        parts.append(run_backtest(model.name, scheme, forecast, actual, scale, progress))
    return BacktestResult(pl.concat(parts))
