"""Forecast and backtest from the inputs people have: the DfE panel or an LA's SSDA903 returns.

These functions hold the orchestration the CLI and the notebooks share: which history a model
sees, which areas a pooled model is fitted on, how scenarios are applied, and the accuracy gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from cobic.data import derive
from cobic.data.dfe import Panel, complete_series
from cobic.data.ssda903 import SSDA903
from cobic.demand.backtest import (
    BacktestResult,
    EvaluationScheme,
    backtest_series,
    run_backtest,
)
from cobic.demand.base import Paths, SeriesHistory, capabilities, get_model, models_with
from cobic.demand.limits import LIMITS, ResourceLimitError, estimate_bytes
from cobic.demand.scenarios import Scenario, apply_to_series
from cobic.demand.stockflow import truncate

__all__ = ["forecast_panel", "forecast_episodes", "area_label", "backtest_panel", "backtest_episodes",
           "series_from_ssda903", "accuracy_gate", "estimate_forecast_bytes", "SERIES_MODELS", "fit_episodes",
           "DEFAULT_SERIES_MODEL"]

# what runs on DfE published tables, from each model's declared capabilities
SERIES_MODELS = models_with(published_tables=True)
DEFAULT_SERIES_MODEL = "auto"  # nested rolling-origin selection (see cobic.demand.series)


def _with_scenario(paths: Paths, hist: SeriesHistory, scenario: Scenario | None) -> Paths:
    if scenario is None or not scenario.pieces:
        return paths
    k = min(3, len(hist.years) - 1)
    starts = np.nanmean(hist.starts[:, -k:], axis=1)
    rate = np.nanmean(hist.ceased[:, -k:] / hist.stock[:, -k - 1:-1], axis=1)
    vals = apply_to_series(paths.values[:, :, :, 0], scenario, starts, np.clip(rate, 0, 1),
                           paths.origin)
    return replace(paths, values=vals[:, :, :, None], scenario=scenario.name)


def forecast_panel(panel: Panel, area: str, model: str = DEFAULT_SERIES_MODEL, origin: int | None = None,
                   horizon: int = 5, n_paths: int = 1000, seed: int = 1,
                   scenario: Scenario | None = None) -> Paths:
    """Forecast one area of the DfE panel.

    Pooled models (``naive``'s error pool, ``panel``) are fitted on every LA with a complete
    series up to ``origin`` plus the requested area; the paths returned are the area's.
    """
    if model not in SERIES_MODELS:
        raise ValueError(f"model {model!r} does not run on published tables; choose from "
                         f"{SERIES_MODELS} (stockflow needs SSDA903 episodes)")
    panel.series(area)  # KeyError naming close matches if unknown
    years_all = sorted(panel.table["year"].unique().to_list())
    origin = years_all[-1] if origin is None else origin
    if origin not in years_all:
        raise ValueError(f"origin {origin} is outside the panel's years {years_all[0]}-"
                         f"{years_all[-1]}")
    years = [y for y in years_all if y <= origin]
    row = panel.series(area).filter(pl.col("year").is_in(years))
    have = row.filter(pl.col("cla_31mar").is_not_null())["year"].to_list()
    first = min(have) if have else origin
    years = [y for y in years if y >= first]
    if len(years) < 3 or sorted(have)[-len(years):] != years:
        raise ValueError(f"{area} needs a complete series of children looked after for at least "
                         f"3 years up to {origin} (has {sorted(have)})")
    peers = complete_series(panel, years)
    areas = sorted(set(peers) | {area})
    hist = SeriesHistory.from_panel(panel, areas=areas, years=years)
    paths = get_model(model).fit(hist).simulate(horizon, n_paths, seed)
    paths = _with_scenario(paths, hist, scenario)
    i = paths.areas.index(area)
    return replace(paths, areas=(area,), values=paths.values[i:i + 1])


def series_from_ssda903(data: SSDA903, population: pl.DataFrame | None = None) -> SeriesHistory:
    """One area's annual series (stock on 31 March, entries, exits) derived from episodes."""
    fb = derive.flow_balance(data)
    years = [data.collection_years[0] - 1, *fb["year"].to_list()]
    stock = [fb["stock_start"][0], *fb["stock_end"].to_list()]
    starts = [np.nan, *fb["entries"].to_list()]
    ceased = [np.nan, *fb["exits"].to_list()]
    pop = np.full(len(years), np.nan)
    if population is not None:
        p = dict(population.select("year", "population").iter_rows())
        pop = np.array([p.get(y, np.nan) for y in years], dtype=float)

    def row(v):
        return np.array([v], dtype=float)

    return SeriesHistory((area_label(data.source),), tuple(int(y) for y in years), row(stock), row(starts),
                         row(ceased), pop[None, :])


def area_label(source: str) -> str:
    """The name an LA's returns go by in outputs: the folder's name or the file's stem.

    Parameters
    ----------
    source
        Where the returns were read from (:attr:`SSDA903.source`).

    Returns
    -------
    str
        The last component of the path, without a file extension: never a full path.
    """
    p = Path(source)
    return p.stem if p.is_file() else p.name or str(source)


def fit_episodes(data: SSDA903, model: str = "stockflow", origin: int | None = None,
                 population: pl.DataFrame | None = None, window_years: float | None = None):
    """A child-level model fitted on an LA's returns up to ``origin`` (default: the last
    complete collection year), e.g. to show its rates (``.rates()``)."""
    if not capabilities(model).child_level:
        raise ValueError(f"model {model!r} has no child-level rates; choose from "
                         f"{models_with(child_level=True)}")
    if origin is not None:
        data = truncate(data, origin)
    return get_model(model, population=population, window_years=window_years).fit(data)


def forecast_episodes(data: SSDA903, model: str = "stockflow", origin: int | None = None,
                      horizon: int = 5, n_paths: int = 1000, seed: int = 1,
                      scenario: Scenario | None = None, population: pl.DataFrame | None = None,
                      area: str | None = None, window_years: float | None = None) -> Paths:
    """Forecast from an LA's SSDA903 returns; periods are 31 March of each year after the
    last complete collection year (or ``origin``). ``area`` labels the outputs (default: the
    name of the folder or file read, never its full path). ``window_years`` is the child-level
    model's reference period (None: its default)."""
    if origin is not None:
        data = truncate(data, origin)
    area = area or area_label(data.source)
    if capabilities(model).child_level:
        fitted = get_model(model, population=population, window_years=window_years).fit(data)
        if scenario is not None and scenario.pieces:
            fitted = fitted.with_scenario(scenario)
        fitted = replace(fitted, area_name=area)
        return fitted.simulate(horizon, n_paths, seed)
    if not capabilities(model).episodes:
        raise ValueError(f"model {model!r} does not run on one LA's returns; choose from "
                         f"{models_with(episodes=True)}")
    hist = series_from_ssda903(data, population)
    paths = get_model(model).fit(hist).simulate(horizon, n_paths, seed)
    return replace(_with_scenario(paths, hist, scenario), areas=(area,))


def backtest_panel(panel: Panel, models: list[str], scheme: EvaluationScheme,
                   n_paths: int = 1000, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> BacktestResult:
    """Every LA with a complete series over the panel's years, rolling origins."""
    years = sorted(panel.table["year"].unique().to_list())
    hist = SeriesHistory.from_panel(panel, years=years)
    return backtest_series(hist, models, scheme, n_paths=n_paths, seed=seed, progress=progress)


def backtest_episodes(data: SSDA903, models: list[str], scheme: EvaluationScheme,
                      n_paths: int = 1000, seed: int = 0,
                      population: pl.DataFrame | None = None,
                      progress: Callable[[str], None] | None = None,
                      window_years: float | None = None) -> BacktestResult:
    """Backtest on an LA's own SSDA903 history: origins are collection years
    (``window_years``: the child-level model's reference period)."""
    series = [m for m in models if m != "stockflow"]
    parts = []
    hist = series_from_ssda903(data, population)
    if series:
        parts.append(backtest_series(hist, series, scheme, n_paths, seed, progress).cases)
    if "stockflow" in models:
        area = area_label(data.source)

        def forecast(origin: int, horizon: int) -> dict[str, np.ndarray]:
            fitted = get_model("stockflow", population=population,
                               window_years=window_years).fit(truncate(data, origin))
            return {area: fitted.simulate(horizon, n_paths, seed).total()[0]}

        def actual(_area: str, year: int) -> float | None:
            return float(hist.stock[0, hist.years.index(year)]) if year in hist.years else None

        def scale(_area: str, origin: int) -> float:
            k = hist.years.index(origin)
            return float(np.mean(np.abs(np.diff(hist.stock[0, :k + 1]))))

        parts.append(run_backtest("stockflow", scheme, forecast, actual, scale, progress))
    return BacktestResult(pl.concat(parts))


def accuracy_gate(metrics: pl.DataFrame, model: str, baseline: str,
                  coverage: tuple[float, float] = (0.75, 0.85)) -> list[str]:
    """Failures (empty when it passes): ``model`` worse than ``baseline`` in MAPE or 80%
    interval score at any horizon, or its 80% coverage outside ``coverage``."""
    have = set(metrics["model"].unique().to_list())
    for m in (model, baseline):
        if m not in have:
            raise ValueError(f"--gate: model {m!r} is not in the backtest ({sorted(have)})")
    m = metrics.filter(pl.col("model") == model).sort("horizon")
    b = metrics.filter(pl.col("model") == baseline).sort("horizon")
    fails = []
    for r, s in zip(m.iter_rows(named=True), b.iter_rows(named=True), strict=True):
        h = r["horizon"]
        if r["mape"] > s["mape"]:
            fails.append(f"horizon {h}: MAPE {r['mape']:.2f}% > {baseline} {s['mape']:.2f}%")
        if r["interval_score_80"] > s["interval_score_80"]:
            fails.append(f"horizon {h}: 80% interval score {r['interval_score_80']:.1f} > "
                         f"{baseline} {s['interval_score_80']:.1f}")
        if not coverage[0] <= r["coverage_80"] <= coverage[1]:
            fails.append(f"horizon {h}: 80% coverage {r['coverage_80']:.1%} outside "
                         f"{coverage[0]:.0%}-{coverage[1]:.0%}")
    return fails


def estimate_forecast_bytes(source: SSDA903 | Panel, model: str, n_paths: int, horizon: int,
                            scenario: Scenario | None = None) -> float:
    """Estimated peak memory of forecasting ``source`` with ``model`` (see
    :mod:`cobic.demand.limits`); raises ``ResourceLimitError`` for a panel with more areas
    than the stated maximum."""
    if isinstance(source, Panel):
        n_areas = source.table["area"].n_unique()
        if n_areas > LIMITS.max_areas:
            raise ResourceLimitError(f"{source.source} holds {n_areas:,} areas; at most "
                                     f"{LIMITS.max_areas:,} are modelled at once")
        return estimate_bytes(model, n_paths, horizon, n_areas=n_areas)
    fb = derive.flow_balance(source)
    stock = float(fb["stock_end"][-1]) if fb.height else 0.0
    entries = float(fb["entries"].tail(3).mean()) if fb.height else 0.0
    if scenario is not None and scenario.pieces:
        origin = source.collection_years[-1]
        peak = max(scenario.entry_multiplier(origin + 1 + k, origin) for k in range(horizon))
        entries = entries * max(peak, 1.0) + scenario.extra_uasc
    return estimate_bytes(model, n_paths, horizon, n_children=stock, annual_entries=entries)
