"""Rolling-origin backtests: one engine, an evaluation-scheme object, metrics per horizon.

For each origin the model is refitted on the history up to that origin, simulates paths, and
its median (the point forecast) and 80%/95% intervals are compared with what happened.

Metrics per model and horizon (the DESIGN.md backtest table):

* ``mae``, ``mape`` (%) of the median;
* ``mase``: absolute error over the area's mean absolute year-on-year change up to the origin;
* ``coverage_80``, ``coverage_95``: share of outcomes inside the central intervals;
* ``interval_score_80``: width + (2 / 0.2) x distance outside (Gneiting and Raftery 2007),
  in children; lower is better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from cobic.demand.base import Model, SeriesHistory, get_model

__all__ = ["EvaluationScheme", "BacktestResult", "backtest_series", "metrics_table",
           "BACKTEST_COLUMNS"]

BACKTEST_COLUMNS = ("model", "horizon", "n", "mae", "mape", "mase", "coverage_80",
                    "coverage_95", "interval_score_80")


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


@dataclass(frozen=True)
class BacktestResult:
    """Every scored case, with the tables built from them."""

    cases: pl.DataFrame  # model, area, origin, horizon, actual, point, lo80, hi80, lo95, hi95, scale

    def metrics(self) -> pl.DataFrame:
        return metrics_table(self.cases, ["model", "horizon"])

    def by_area(self) -> pl.DataFrame:
        """Metrics per model, area and horizon: where a model fails."""
        return metrics_table(self.cases, ["model", "area", "horizon"])


def metrics_table(cases: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    err = (pl.col("point") - pl.col("actual")).abs()
    below = (pl.col("lo80") - pl.col("actual")).clip(lower_bound=0)
    above = (pl.col("actual") - pl.col("hi80")).clip(lower_bound=0)
    return (
        cases.group_by(by)
        .agg(
            n=pl.len(),
            mae=err.mean(),
            mape=(err / pl.col("actual")).mean() * 100,
            mase=(err / pl.col("scale")).mean(),
            coverage_80=((pl.col("actual") >= pl.col("lo80"))
                         & (pl.col("actual") <= pl.col("hi80"))).mean(),
            coverage_95=((pl.col("actual") >= pl.col("lo95"))
                         & (pl.col("actual") <= pl.col("hi95"))).mean(),
            interval_score_80=((pl.col("hi80") - pl.col("lo80")) + 10.0 * (below + above)).mean(),
        )
        .sort(by)
    )


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
    rows = []
    for spec in models:
        model = get_model(spec) if isinstance(spec, str) else spec
        for origin in scheme.origins:
            past = history.until(origin)
            horizon = max(h for h in scheme.horizons)
            paths = model.fit(past).simulate(horizon, n_paths, seed).total()  # [area, path, h]
            q = np.quantile(paths, [0.5, 0.1, 0.9, 0.025, 0.975], axis=1)  # [5, area, h]
            diffs = np.abs(np.diff(past.stock, axis=1))
            scale = np.nanmean(diffs, axis=1)
            scale = np.where(scale > 0, scale, np.nan)
            for h in scheme.horizons:
                target = origin + h
                if target not in years:
                    continue
                actual = history.stock[:, years.index(target)]
                for i, area in enumerate(history.areas):
                    if not np.isfinite(actual[i]):
                        continue
                    rows.append((model.name, area, origin, h, float(actual[i]),
                                 *[float(q[k, i, h - 1]) for k in range(5)], float(scale[i])))
            if progress is not None:
                progress(f"{model.name} {origin}")
    cases = pl.DataFrame(rows, orient="row", schema={
        "model": pl.String, "area": pl.String, "origin": pl.Int32, "horizon": pl.Int32,
        "actual": pl.Float64, "point": pl.Float64, "lo80": pl.Float64, "hi80": pl.Float64,
        "lo95": pl.Float64, "hi95": pl.Float64, "scale": pl.Float64})
    return BacktestResult(cases)
