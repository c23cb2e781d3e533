"""The real-spend backtest: would a capitation priced at an origin have matched what the LA
actually spent in the years after?

For each area of the s251 table and each origin ``Y`` (a financial year, named by its ending
year), using only data up to ``Y``:

* **demand**: the pooled ``panel`` model, fitted on every LA's series up to 31 March ``Y``,
  simulates the children looked after on 31 March of each year ahead;
* **cost**: the area's all-in spend per child-day calibrated to ``Y``
  (:func:`cobic.calibration.calibrate`) grows along paths of the pooled cost-growth model
  fitted on spend up to ``Y`` (:func:`cobic.calibration.fit_cost_growth`);
* **spend** on each path = children on 31 March x 365.25 x cost per child-day;

and the distribution is scored against the outturn (``TotalLACFinance``) of each horizon with
the one backtest loop (:func:`cobic.demand.backtest.run_backtest`). In the same run:

* ``default``: today's default cost route at the origin: England's all-CLA weekly unit cost of
  ``Y`` through the cost model with its fixed uplift (3%), 2% efficiency a year, case
  management and 12% overheads on top, on the same demand paths;
* ``cpi2``: the last outturn grown 2% a year;
* ``trend3``: the last outturn grown at the area's trailing (up to) 3-year spend growth;
* ``demand_only`` / ``cost_only``: the model with the outturn unit cost (so only demand is
  forecast) or with the outturn demand (so only unit cost is): where the error comes from.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import polars as pl

from cobic.calibration import DAYS_PER_YEAR, calibrate, fit_cost_growth, spend_history
from cobic.costs import DemandPaths, default_unit_costs_path, load_cost_spec, simulate_costs
from cobic.data.dfe import Panel, complete_series
from cobic.demand.api import DEFAULT_SERIES_MODEL
from cobic.demand.backtest import BacktestResult, EvaluationScheme, run_backtest
from cobic.demand.base import SeriesHistory, get_model
from cobic.errors import DataError, Problem

__all__ = ["SPEND_MODELS", "backtest_spend", "error_sources"]

SPEND_MODELS = ("cobic", "default", "cpi2", "trend3", "demand_only", "cost_only")


class _Origin:
    """Everything a spend forecast at one origin may see (data up to the origin only)."""

    def __init__(self, history: pl.DataFrame, panel_hist: SeriesHistory, areas: list[str],
                 origin: int, horizon: int, n_paths: int, seed: int):
        self.history = history.filter(pl.col("year") <= origin)
        self.origin = origin
        self.growth = fit_cost_growth(self.history, origin)
        fitted = get_model(DEFAULT_SERIES_MODEL).fit(panel_hist.until(origin))
        paths = fitted.simulate(horizon, n_paths, seed).total()  # [area, path, h]
        self.stock = {a: paths[panel_hist.areas.index(a)] for a in areas}
        self.n_paths, self.seed = n_paths, seed

    def spend(self, area: str) -> float:
        r = self.history.filter((pl.col("area") == area) & (pl.col("year") == self.origin))
        return float(r["spend"][0])

    def per_day(self, area: str) -> float:
        return calibrate(self.history, area, self.origin).spend_per_day

    def growth_paths(self, area: str, horizon: int) -> np.ndarray:
        return self.growth.simulate(area, horizon, self.n_paths, self.seed + 7)


def _panel_history(panel: Panel, areas: list[str]) -> SeriesHistory:
    years = sorted(panel.table["year"].unique().to_list())
    peers = complete_series(panel, years)
    missing = [a for a in areas if a not in set(panel.table["area"].to_list())]
    if missing:
        raise DataError([Problem(panel.source, "area-not-in-panel", f"{a} is in the s251 table "
                                 "but not in the panel", column="area", value=a)
                         for a in missing])
    return SeriesHistory.from_panel(panel, areas=sorted(set(peers) | set(areas)), years=years)


@functools.cache
def _default_spec():
    return load_cost_spec(default_unit_costs_path())


def _default_cost(origin: int, england_weekly: float, stock: np.ndarray) -> np.ndarray:
    """Today's default route at ``origin``: England's weekly unit cost of the origin year in
    the default cost set (fixed uplift, efficiency, case management, overheads)."""
    spec = replace(_default_spec(), weekly={"all": england_weekly}, base_price_year=origin,
                   startup=())
    years = tuple(range(origin + 1, origin + 1 + stock.shape[1]))
    demand = DemandPaths.from_stock(years, stock)
    return simulate_costs(demand, spec, uncertain=False).total


def _forecasters(o_cache: Callable[[int, int], _Origin], truth: pl.DataFrame
                 ) -> dict[str, Callable[[int, int], dict[str, np.ndarray]]]:
    """One forecaster per spend model: ``(origin, horizon) -> {area: paths [path, h]}``."""

    def actual(area: str, year: int, col: str) -> float:
        r = truth.filter((pl.col("area") == area) & (pl.col("year") == year))
        v = r[col][0] if r.height else None
        return math.nan if v is None else float(v)

    def model(o: _Origin, area: str, h: int) -> np.ndarray:
        return o.stock[area][:, :h] * DAYS_PER_YEAR * o.per_day(area) * o.growth_paths(area, h)

    def each(fn):
        def run(origin: int, h: int) -> dict[str, np.ndarray]:
            o = o_cache(origin, h)
            return {a: fn(o, a, h) for a in o.stock}
        return run

    def future(area, o, h, col):
        return np.array([actual(area, o.origin + k, col) for k in range(1, h + 1)])[None, :]

    def trend(o: _Origin, a: str, h: int) -> np.ndarray:
        past = o.history.filter((pl.col("area") == a) & pl.col("spend").is_not_null()).sort(
            "year").tail(4)
        span = int(past["year"][-1] - past["year"][0])
        g = (past["spend"][-1] / past["spend"][0]) ** (1 / span) - 1 if span else 0.0
        return (o.spend(a) * (1 + g) ** np.arange(1, h + 1))[None, :]

    def england_weekly(o: _Origin) -> float:
        r = o.history.filter((pl.col("area") == "England") & (pl.col("year") == o.origin))
        if r.height == 0 or r["weekly_all"][0] is None:
            raise DataError([Problem("s251", "spend-missing", "the default route needs "
                                     f"England's weekly unit cost for {o.origin}",
                                     column="LACFinance")])
        return float(r["weekly_all"][0])

    return {
        "cobic": each(model),
        "default": each(lambda o, a, h: _default_cost(o.origin, england_weekly(o),
                                                      o.stock[a][:, :h])),
        "cpi2": each(lambda o, a, h: (o.spend(a) * 1.02 ** np.arange(1, h + 1))[None, :]),
        "trend3": each(trend),
        "demand_only": each(lambda o, a, h: o.stock[a][:, :h] * DAYS_PER_YEAR
                            * future(a, o, h, "spend_per_day")),
        "cost_only": each(lambda o, a, h: future(a, o, h, "activity_days") * o.per_day(a)
                          * o.growth_paths(a, h)),
    }


def backtest_spend(panel: Panel, finance: pl.DataFrame, scheme: EvaluationScheme,
                   areas: list[str] | None = None, models: tuple[str, ...] = SPEND_MODELS,
                   n_paths: int = 1000, seed: int = 0, source: str = "s251",
                   progress: Callable[[str], None] | None = None) -> BacktestResult:
    """Score capitation-style spend forecasts against s251 outturns (see the module docstring).

    Parameters
    ----------
    panel, finance
        The DfE LA panel and the s251 table (:func:`cobic.data.dfe.read_finance`).
    scheme
        Origins (financial years, by ending year) and horizons.
    areas
        Areas to score (default: every area of the s251 table).
    """
    history = spend_history(finance, panel, source)
    have = sorted(history["area"].unique().to_list())
    areas = list(areas) if areas else have
    unknown = [a for a in areas if a not in have]
    if unknown:
        raise DataError([Problem(source, "area-not-in-s251", f"area {a!r} has no s251 rows; "
                                 f"areas with spend: {', '.join(have)}", column="area", value=a)
                         for a in unknown])
    panel_hist = _panel_history(panel, areas)
    cache: dict[int, _Origin] = {}

    def origin_data(origin: int, horizon: int) -> _Origin:
        if origin not in cache:
            cache[origin] = _Origin(history, panel_hist, areas, origin, horizon, n_paths, seed)
        return cache[origin]

    truth = history.filter(pl.col("area").is_in(areas))

    def actual(area: str, year: int) -> float | None:
        r = truth.filter((pl.col("area") == area) & (pl.col("year") == year))
        return None if r.height == 0 or r["spend"][0] is None else float(r["spend"][0])

    def scale(area: str, origin: int) -> float:
        s = truth.filter((pl.col("area") == area) & (pl.col("year") <= origin)).sort("year")
        d = s["spend"].diff().abs().drop_nulls()
        return float(d.mean()) if d.len() and d.mean() > 0 else math.nan

    fc = _forecasters(origin_data, truth)
    parts = [run_backtest(m, scheme, fc[m], actual, scale, progress) for m in models]
    return BacktestResult(pl.concat(parts))


def error_sources(result: BacktestResult) -> pl.DataFrame:
    """By horizon: MAPE of the model, with only demand forecast, with only unit cost forecast,
    and the share of the model's squared log error that each explains."""
    c = result.cases.with_columns(e=(pl.col("q50") / pl.col("actual")).log())
    w = c.pivot("model", index=["area", "origin", "horizon"], values="e")
    need = {"cobic", "demand_only", "cost_only"}
    if not need <= set(w.columns):
        raise ValueError("error_sources needs the cobic, demand_only and cost_only models")
    sq = {m: (pl.col(m) ** 2) for m in need}
    return (w.group_by("horizon").agg(
        n=pl.len(),
        mape=((pl.col("cobic").exp() - 1).abs().mean() * 100),
        mape_demand_only=((pl.col("demand_only").exp() - 1).abs().mean() * 100),
        mape_cost_only=((pl.col("cost_only").exp() - 1).abs().mean() * 100),
        share_demand=sq["demand_only"].sum() / (sq["demand_only"].sum() + sq["cost_only"].sum()),
    ).with_columns(share_unit_cost=1 - pl.col("share_demand")).sort("horizon"))
