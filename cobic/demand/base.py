"""One interface for every demand model, a registry by name, and the output tables.

A model is fitted on history and simulates ``n_paths`` future paths with a seed::

    fitted = get_model("naive").fit(history)
    paths = fitted.simulate(horizon=5, n_paths=1000, seed=1)   # a Paths object
    paths.forecast_table()                                       # DESIGN.md forecast table

Annual series models (``naive``, ``drift``, ``flowbalance``, ``ets``, ``rate``, ``panel``)
take a :class:`SeriesHistory` (stock at 31 March, starts, ceased and population per area and
year, from the DfE panel or derived from SSDA903). ``stockflow`` takes SSDA903 episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Protocol

import numpy as np
import polars as pl

from cobic.data.dfe import Panel

__all__ = [
    "SeriesHistory",
    "Paths",
    "Fitted",
    "Model",
    "register",
    "get_model",
    "Capabilities",
    "capabilities",
    "models_with",
    "capability_table",
    "model_names",
    "QUANTILES",
    "FORECAST_COLUMNS",
    "PATHS_COLUMNS",
    "DURATION_CLASSES",
]

QUANTILES = {"q05": 0.05, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q95": 0.95}
FORECAST_COLUMNS = ("area", "model", "origin", "period", "placement_group", "age_band", "mean",
                    *QUANTILES, "scenario")
PATHS_COLUMNS = ("area", "path", "period", "placement_group", "value")
DURATION_CLASSES = ("under 6 months", "6-12 months", "12+ months")
# the measures of the long paths table (measures_table; cobic forecast --paths-out)
PATH_MEASURES = ("stock", "child_days", "entries", "exits", "moves", "days_by_duration")


@dataclass(frozen=True)
class SeriesHistory:
    """Annual history per area, as aligned matrices (areas x years); NaN where missing.

    ``stock`` is the number looked after on 31 March of each year; ``starts`` and ``ceased``
    the flows in the year ending then; ``population`` the 0-17 population used as the rate
    denominator for that year (ONS mid-year of the previous calendar year).
    """

    areas: tuple[str, ...]
    years: tuple[int, ...]
    stock: np.ndarray
    starts: np.ndarray
    ceased: np.ndarray
    population: np.ndarray

    def __post_init__(self):
        shape = (len(self.areas), len(self.years))
        for name in ("stock", "starts", "ceased", "population"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        if len(self.years) < 2:
            raise ValueError(f"history needs at least 2 years, got {list(self.years)}")
        if np.any(self.stock[:, -1] <= 0) or np.isnan(self.stock[:, -1]).any():
            bad = [a for a, v in zip(self.areas, self.stock[:, -1], strict=True)
                   if not v > 0]
            raise ValueError(f"the last year's stock must be positive for every area: {bad[:5]}")

    @property
    def origin(self) -> int:
        return self.years[-1]

    def until(self, year: int) -> SeriesHistory:
        """The history up to and including ``year`` (for rolling-origin backtests)."""
        if year not in self.years:
            raise ValueError(f"origin {year} is not in the history years {self.years}")
        k = self.years.index(year) + 1
        return SeriesHistory(self.areas, self.years[:k], self.stock[:, :k], self.starts[:, :k],
                             self.ceased[:, :k], self.population[:, :k])

    def select(self, areas: list[str]) -> SeriesHistory:
        idx = [self.areas.index(a) for a in areas]
        return SeriesHistory(tuple(areas), self.years, self.stock[idx], self.starts[idx],
                             self.ceased[idx], self.population[idx])

    @classmethod
    def from_panel(cls, panel: Panel, areas: list[str] | None = None,
                   years: range | list[int] | None = None) -> SeriesHistory:
        """Build from the DfE panel; by default all LAs with a complete stock series."""
        t = panel.table
        ys = sorted(t["year"].unique().to_list()) if years is None else list(years)
        if areas is None:
            from cobic.data.dfe import complete_series
            areas = complete_series(panel, ys)
        missing = [a for a in areas if a not in set(t["area"].to_list())]
        if missing:
            raise KeyError(f"areas not in {panel.source}: {missing[:5]}")
        sub = t.filter(pl.col("area").is_in(areas) & pl.col("year").is_in(ys))

        def mat(col: str) -> np.ndarray:
            w = sub.pivot(on="year", index="area", values=col, sort_columns=True)
            w = pl.DataFrame({"area": areas}).join(w, on="area", how="left")
            cols = [str(y) for y in ys]
            for c in cols:
                if c not in w.columns:
                    w = w.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
            return w.select(cols).to_numpy().astype(float)

        return cls(tuple(areas), tuple(ys), mat("cla_31mar"), mat("starts"), mat("ceased"),
                   mat("pop_0_17_mid_prev_year"))


@dataclass(frozen=True)
class Paths:
    """Simulated futures: ``values[area, path, period, group]`` for periods after ``origin``.

    Periods are years (stock on 31 March of each year). ``groups`` are placement groups
    (``"all"`` for series models); the ``"all"`` total is added in the tables when absent.
    ``extra`` may hold other measures with the same layout (e.g. ``child_days``, ``entries``).
    """

    model: str
    areas: tuple[str, ...]
    origin: int
    periods: tuple[int, ...]
    groups: tuple[str, ...]
    values: np.ndarray
    scenario: str = "baseline"
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    age_bands: dict[str, np.ndarray] = field(default_factory=dict)  # band -> [area,path,period]

    def total(self, measure: str = "stock") -> np.ndarray:
        """``[area, path, period]`` summed over groups."""
        v = self.values if measure == "stock" else self.extra[measure]
        return v.sum(axis=3)

    def _frames(self, measure: str) -> list[tuple[str, str, np.ndarray]]:
        v = self.values if measure == "stock" else self.extra[measure]
        out = []
        if self.groups != ("all",):
            out += [(g, "all", v[:, :, :, i]) for i, g in enumerate(self.groups)]
        out.append(("all", "all", v.sum(axis=3)))
        if measure == "stock":
            out += [("all", band, arr) for band, arr in self.age_bands.items()]
        return out

    def forecast_table(self, measure: str = "stock") -> pl.DataFrame:
        """The DESIGN.md forecast table: mean and quantiles per area, period, group, band."""
        rows = []
        qs = np.array(list(QUANTILES.values()))
        for group, band, arr in self._frames(measure):
            mean = arr.mean(axis=1)  # [area, period]
            quant = np.quantile(arr, qs, axis=1)  # [q, area, period]
            for i, area in enumerate(self.areas):
                for j, period in enumerate(self.periods):
                    rows.append((area, self.model, self.origin, period, group, band,
                                 float(mean[i, j]), *[float(quant[k, i, j])
                                                      for k in range(len(qs))], self.scenario))
        schema = {"area": pl.String, "model": pl.String, "origin": pl.Int32, "period": pl.Int32,
                  "placement_group": pl.String, "age_band": pl.String, "mean": pl.Float64,
                  **{q: pl.Float64 for q in QUANTILES}, "scenario": pl.String}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def measures_table(self) -> pl.DataFrame:
        """Every measure's paths in one long table (the paths table plus ``measure``):
        ``stock`` and, where simulated, ``child_days``, ``entries``, ``exits``, ``moves`` and
        ``days_by_duration`` (whose ``placement_group`` holds the time-in-care class)."""
        unknown = set(self.extra) - set(PATH_MEASURES)
        if unknown:  # a model's extra measure must be named in PATH_MEASURES, for the readers
            raise ValueError(f"measures {sorted(unknown)} are not in PATH_MEASURES")
        parts = [self.paths_table("stock").with_columns(measure=pl.lit("stock"))]
        for m in self.extra:
            parts.append(self.paths_table(m).with_columns(measure=pl.lit(m)))
        return pl.concat(parts).select("area", "measure", "path", "period", "placement_group",
                                       "value")

    def paths_table(self, measure: str = "stock") -> pl.DataFrame:
        """The DESIGN.md paths table: ``area, path, period, placement_group, value``."""
        v = self.values if measure == "stock" else self.extra[measure]
        n_a, n_p, n_t, n_g = v.shape
        groups = DURATION_CLASSES if measure == "days_by_duration" else self.groups
        if groups not in (("all",), DURATION_CLASSES):
            v = np.concatenate([v, v.sum(axis=3, keepdims=True)], axis=3)
            groups = (*groups, "all")
            n_g += 1
        idx = np.indices((n_a, n_p, n_t, n_g)).reshape(4, -1)
        return pl.DataFrame({
            "area": pl.Series(np.array(self.areas, dtype=object)[idx[0]], dtype=pl.String),
            "path": idx[1].astype(np.int32),
            "period": np.array(self.periods, dtype=np.int32)[idx[2]],
            "placement_group": pl.Series(np.array(groups, dtype=object)[idx[3]], dtype=pl.String),
            "value": v.reshape(-1).astype(np.float64),
        })


class Fitted(Protocol):
    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths: ...


class Model(Protocol):
    name: str

    def fit(self, history) -> Fitted: ...


@dataclass(frozen=True)
class Capabilities:
    """What a model can do: read from this table, not from ``if model == ...`` checks.

    Attributes
    ----------
    published_tables
        Runs on DfE published tables (annual series of an area among many).
    episodes
        Runs on an LA's SSDA903 returns (its own series, or child by child).
    pooled
        Borrows strength across areas (needs many areas to fit well).
    needs_population
        Needs the 0-17 population.
    child_level
        Simulates child by child (memory grows with children followed x paths).
    placement_groups
        Forecasts placement groups and age bands, not only the total.
    """

    published_tables: bool = True
    episodes: bool = True
    pooled: bool = False
    needs_population: bool = False
    child_level: bool = False
    placement_groups: bool = False


_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: make a model available by its ``name`` (its ``capabilities``
    class attribute, default :class:`Capabilities`, says what it supports)."""
    _REGISTRY[cls.name] = cls
    return cls


def capabilities(name: str) -> Capabilities:
    """The capabilities of the model called ``name``."""
    get_model(name) if name not in _REGISTRY else None  # registers, or names the choices
    return getattr(_REGISTRY[name], "capabilities", Capabilities())


def models_with(**wanted: bool) -> tuple[str, ...]:
    """Names of the models whose capabilities match every ``wanted`` flag, in the order
    they were registered (e.g. ``models_with(published_tables=True)``)."""
    model_names()
    return tuple(n for n, cls in _REGISTRY.items()
                 if all(getattr(getattr(cls, "capabilities", Capabilities()), k) == v
                        for k, v in wanted.items()))


def capability_table() -> pl.DataFrame:
    """One row per model, one column per capability."""
    model_names()
    rows = [{"model": n, **{f.name: getattr(getattr(cls, "capabilities", Capabilities()),
                                             f.name) for f in fields(Capabilities)}}
            for n, cls in _REGISTRY.items()]
    return pl.DataFrame(rows)


def get_model(name: str, **options) -> Model:
    """A model by name (``naive``, ``drift``, ``flowbalance``, ``ets``, ``rate``, ``panel``,
    ``stockflow``), with options passed to its constructor."""
    from cobic.demand import series, stockflow  # noqa: F401  (registers the models)

    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose from {sorted(_REGISTRY)}")
    return _REGISTRY[name](**options)


def model_names() -> list[str]:
    from cobic.demand import series, stockflow  # noqa: F401

    return sorted(_REGISTRY)
