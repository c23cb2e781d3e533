"""What-if budgets for finance leads: the expected cost by year under levers stated in natural
units, against the baseline, and what each lever contributes (a waterfall).

Demand levers (entry shock, prevention, longer stays, placement-mix shift) change the
simulated demand, which is simulated once per setting and cached; money levers (price
inflation by group, or cost growth fitted to the s251 history; efficiency) only re-cost the
cached demand, which is instant. :meth:`BudgetModel.band` gives the P10-P90 band of each
year's cost over the demand paths and, with fitted growth, the cost-growth paths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from cobic.calibration import CostGrowth
from cobic.costs import CostSpec, DemandPaths, simulate_costs, with_growth
from cobic.demand import scenarios
from cobic.demand.checkpoints import Checkpoints
from cobic.demand.scenarios import Scenario
from cobic.demand.stockflow import FittedStockFlow
from cobic.errors import SpecError
from cobic.specs import integer, known, number, read_toml, table

__all__ = ["Levers", "BudgetModel", "LEVER_ORDER", "levers_toml", "parse_levers", "load_levers"]

LEVER_ORDER = ("entry shock", "prevention", "longer stays", "placement mix", "price inflation",
               "efficiency")


@dataclass(frozen=True)
class Levers:
    """Budget levers in natural units (percentages as fractions: 0.2 = 20%)."""

    entry_shock: float = 0.0  # change in entries ...
    entry_shock_year: int | None = None  # ... from this financial year (ending) on
    prevention: float = 0.0  # fall in entries ...
    prevention_year: int | None = None  # ... from this year on
    longer_stays: float = 0.0  # average stays longer by this share (negative: shorter)
    residential_to_fostering: float = 0.0  # share of new residential placements to fostering
    residential_inflation: float | None = None  # annual uplift (None: the cost set's)
    other_inflation: float | None = None
    efficiency: float | None = None
    fitted_growth: bool = False  # cost growth fitted to s251 history instead of the uplifts

    def scenario(self) -> Scenario:
        """The demand levers as a scenario, built directly (no text round trip)."""
        sc = Scenario()
        if self.entry_shock and self.entry_shock_year:
            sc = scenarios.entry_step(sc, self.entry_shock, self.entry_shock_year)
        if self.prevention and self.prevention_year:
            sc = scenarios.prevention(sc, self.prevention, self.prevention_year)
        if self.longer_stays:
            sc = scenarios.stay(sc, self.longer_stays)
        if self.residential_to_fostering:
            sc = scenarios.mix(sc, "residential", "fostering", self.residential_to_fostering)
        return sc

    def costs(self, base: CostSpec, growth: tuple[CostGrowth, str] | None = None) -> CostSpec:
        """The cost set these levers price with: ``base`` with its uplifts and efficiency
        replaced where set, or with the fitted ``growth`` (model, area) when
        ``fitted_growth``."""
        if self.fitted_growth:
            if growth is None:
                raise ValueError("fitted cost growth asked for, but no growth model was given")
            eff = 0.0 if self.efficiency is None else self.efficiency
            return with_growth(base, *growth, efficiency=eff)
        idx = dict(base.indexation)
        if self.residential_inflation is not None:
            idx["residential"] = self.residential_inflation
            idx["residential_school"] = self.residential_inflation
        if self.other_inflation is not None:
            for g in list(idx):
                if g not in ("residential", "residential_school"):
                    idx[g] = self.other_inflation
        eff = base.efficiency if self.efficiency is None else self.efficiency
        return replace(base, indexation=idx, efficiency=eff)

    def only(self, names: tuple[str, ...]) -> Levers:
        """These levers, with the others at their baseline (on the same price basis: fixed
        uplifts or fitted growth)."""
        keep = {
            "entry shock": ("entry_shock", "entry_shock_year"),
            "prevention": ("prevention", "prevention_year"),
            "longer stays": ("longer_stays",),
            "placement mix": ("residential_to_fostering",),
            "price inflation": ("residential_inflation", "other_inflation"),
            "efficiency": ("efficiency",),
        }
        out = Levers(fitted_growth=self.fitted_growth)
        for n in names:
            out = replace(out, **{f: getattr(self, f) for f in keep[n]})
        return out


class BudgetModel:
    """A fitted demand model and a cost set; budgets for any levers, with demand cached."""

    def __init__(self, fitted: FittedStockFlow, costs: CostSpec, years: tuple[int, ...],
                 n_paths: int = 300, seed: int = 1,
                 growth: tuple[CostGrowth, str] | None = None):
        self.fitted, self.base_costs, self.years = fitted, costs, tuple(years)
        self.growth = growth
        self.n_paths, self.seed = n_paths, seed
        self._demand: dict[tuple, DemandPaths] = {}
        # the baseline's state at the start of each year: a lever that changes entries from
        # a later year re-simulates only the years from it (the same paths as afresh)
        self._checkpoints = Checkpoints()

    def demand(self, levers: Levers) -> DemandPaths:
        sc = levers.scenario()
        key = sc.pieces
        if key and () not in self._demand:
            self.demand(Levers())  # the baseline first: the run the checkpoints keep
        if key not in self._demand:
            f = self.fitted.with_scenario(sc) if sc.pieces else self.fitted
            horizon = self.years[-1] - self.fitted.origin
            paths = f.simulate(horizon, self.n_paths, self.seed, self._checkpoints)
            self._demand[key] = DemandPaths.from_paths(paths).window(self.years[0],
                                                                    len(self.years))
        return self._demand[key]

    def cost_by_year(self, levers: Levers) -> np.ndarray:
        """Expected cost per year (mean over paths), GBP nominal."""
        c = simulate_costs(self.demand(levers), levers.costs(self.base_costs, self.growth),
                           seed=self.seed, uncertain=False)
        return c.total.mean(axis=0)

    def band(self, levers: Levers, quantiles=(0.1, 0.5, 0.9)) -> pl.DataFrame:
        """Each year's cost over the paths, with unit-cost and (with ``fitted_growth``)
        cost-growth uncertainty: mean and the ``quantiles`` (columns ``p10 p50 p90``)."""
        c = simulate_costs(self.demand(levers), levers.costs(self.base_costs, self.growth),
                           seed=self.seed, uncertain=True).total
        qs = np.quantile(c, quantiles, axis=0)
        return pl.DataFrame({
            "financial_year": [f"{y - 1}-{y % 100:02d}" for y in self.years],
            "mean": c.mean(axis=0),
            **{f"p{round(q * 100)}": v for q, v in zip(quantiles, qs, strict=True)}})

    def budget(self, levers: Levers) -> pl.DataFrame:
        base = self.cost_by_year(Levers(fitted_growth=levers.fitted_growth))
        scen = self.cost_by_year(levers)
        return pl.DataFrame({
            "financial_year": [f"{y - 1}-{y % 100:02d}" for y in self.years],
            "baseline": base, "scenario": scen, "difference": scen - base,
        })

    def waterfall(self, levers: Levers) -> pl.DataFrame:
        """Baseline total, the change as each lever is added in turn, scenario total."""
        totals = [self.cost_by_year(levers.only(LEVER_ORDER[:k])).sum()
                  for k in range(len(LEVER_ORDER) + 1)]
        labels = ["baseline", *LEVER_ORDER, "scenario"]
        amounts = [totals[0], *np.diff(totals), totals[-1]]
        return pl.DataFrame({"label": labels, "amount": np.array(amounts, dtype=float)})


# ------------------------------------------------------------------ saved settings

_DEMAND = {"entry_shock": (-0.9, 5.0), "prevention": (0.0, 1.0), "longer_stays": (-0.9, 3.0),
           "residential_to_fostering": (0.0, 1.0)}
_YEARS = ("entry_shock_year", "prevention_year")
_PRICES = {"residential_inflation": (-0.5, 0.5), "other_inflation": (-0.5, 0.5),
           "efficiency": (0.0, 0.5)}


def levers_toml(levers: Levers, note: str = "") -> str:
    """The levers as a settings file (``[demand]`` and ``[prices]``; fractions: 0.2 = 20%),
    which :func:`load_levers`, the what-if notebook and ``cobic forecast --scenario-file``
    read back."""
    def num(v) -> str:
        return f"{v!r}" if isinstance(v, float) else str(v)

    lines = ["# cobic what-if settings (fractions: 0.2 = 20%)"] + (
        [f"# {note}"] if note else []) + ["", "[demand]"]
    for k in (*_DEMAND, *_YEARS):
        v = getattr(levers, k)
        if v is not None:
            lines.append(f"{k} = {num(v)}")
    lines += ["", "[prices]", f"fitted_growth = {'true' if levers.fitted_growth else 'false'}"]
    for k in _PRICES:
        v = getattr(levers, k)
        if v is not None:
            lines.append(f"{k} = {num(float(v))}")
    return "\n".join(lines) + "\n"


def parse_levers(raw: dict, src: str = "settings") -> Levers:
    """Levers from a parsed settings file; every error names the file and key.

    Raises
    ------
    SpecError
        Unknown tables or keys, numbers outside their range, a step without its year.
    """
    known(src, "", raw, {"demand", "prices"})
    d = known(src, "demand", table(src, "demand", raw.get("demand", {})),
              {*_DEMAND, *_YEARS})
    p = known(src, "prices", table(src, "prices", raw.get("prices", {})),
              {*_PRICES, "fitted_growth"})
    out = {k: number(src, f"demand.{k}", d[k], *rng) for k, rng in _DEMAND.items() if k in d}
    out.update({k: integer(src, f"demand.{k}", d[k], 2000, 2100) for k in _YEARS if k in d})
    for lever, year in (("entry_shock", "entry_shock_year"), ("prevention", "prevention_year")):
        if out.get(lever) and year not in out:
            raise SpecError(src, f"demand.{year}", f"is required when demand.{lever} is set")
    out.update({k: number(src, f"prices.{k}", p[k], *rng) for k, rng in _PRICES.items()
                if k in p})
    fg = p.get("fitted_growth", False)
    if not isinstance(fg, bool):
        raise SpecError(src, "prices.fitted_growth", f"must be true or false, got {fg!r}")
    return Levers(**out, fitted_growth=fg)


def load_levers(path) -> Levers:
    """Levers from a settings file (see :func:`levers_toml`)."""
    return parse_levers(read_toml(path), str(path))
