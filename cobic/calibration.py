"""Costs grounded in each LA's own section 251 outturn, and cost growth learned from history.

**Calibration.** DfE's section 251 outturn gives each LA's gross spend on children looked after
(``TotalLACFinance``) per financial year, and DfE's approximate all-CLA weekly unit cost is that
spend over the children looked after on 31 March times 365 days (x 7). cobic follows the same
convention for published tables: an LA's *all-in spend per child-day* in year ``Y`` is

    spend_per_day[Y] = TotalLACFinance[Y] / (CLA on 31 March Y x 365.25)

and a cost set calibrated to ``Y`` prices a child-day at that figure. It is *all in*: it already
includes placements, social work and case management and overheads, so the cost model adds no
case-management or overhead line on top (:class:`cobic.costs.CostSpec` refuses to). The cost of
``Y``'s own activity then reproduces ``TotalLACFinance[Y]``. Published fostering and residential
weekly unit costs (``FosteringFinance``, ``RescareFinance``) are carried with the cost set for
reference; a placement-group split is shown against the all-in figure, never added to it.

**Growth.** The growth of spend per child-day, ``g[a, t] = log c[a, t] - log c[a, t-1]``, is
modelled from the s251 history up to the origin, pooled over areas (statsmodels OLS with a
year effect for every year and an area deviation, sum-to-zero):

    g[a, t] = lambda[t] + alpha[a] + eps[a, t]

* ``lambda[t]``, the market-wide growth of year ``t``, is projected as a local level: its
  current level is the mean of the last two years' effects (with its standard error), and it
  moves each year by a normal step whose standard deviation is that of the year-on-year
  changes of the effects seen so far (a random walk: shocks such as 2021-2024 persist);
* ``alpha[a]``, the LA's own deviation, is shrunk towards 0 by how precisely it is measured
  (empirical Bayes);
* ``eps[a, t]``, the LA's own year-to-year noise, is a moving average of order 1,
  ``eps[t] = e[t] + theta e[t-1]``: spend per child counted on 31 March carries noise in its
  *level* (a year with many children on 31 March has a low cost per child, and the next year
  bounces back), which shows as negatively correlated growth. ``theta`` is estimated from the
  lag-1 correlation of the residuals up to the origin, and each area's last innovation
  ``e[T]`` carries into its first forecast year.

Paths of cumulative growth are simulated from these (with the level's estimation error), so
every money figure priced from them carries cost-growth risk. The model for an origin is fitted
on data up to that origin only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from cobic.data.dfe import Panel
from cobic.errors import DataError, Problem

__all__ = ["DAYS_PER_YEAR", "MIN_GROWTH_YEARS", "spend_history", "CalibratedCosts", "cost_set_toml",
           "calibrate", "CostGrowth", "fit_cost_growth", "growth_toml", "growth_lines"]

DAYS_PER_YEAR = 365.25
MIN_GROWTH_YEARS = 3  # years of spend a growth model needs (two growth observations)
_MEASURES = {"TotalLACFinance": "spend", "LACFinance": "weekly_all",
             "FosteringFinance": "weekly_fostering", "RescareFinance": "weekly_residential"}


def spend_history(finance: pl.DataFrame, panel: Panel, source: str = "s251") -> pl.DataFrame:
    """Spend, children looked after and spend per child-day per area and financial year.

    Parameters
    ----------
    finance
        :func:`cobic.data.dfe.read_finance` output (``area, measure, year, value, suppressed``).
    panel
        The DfE LA panel (children looked after on 31 March).
    source
        How the s251 table is named in messages.

    Returns
    -------
    pl.DataFrame
        ``area, year, spend, cla_31mar, activity_days, spend_per_day, weekly_all,
        weekly_fostering, weekly_residential, suppressed``; ``spend_per_day`` is null where the
        spend or the count is missing (and ``suppressed`` says which marker stood there).
    """
    wide = (finance.filter(pl.col("measure").is_in(list(_MEASURES)))
            .with_columns(pl.col("measure").replace_strict(_MEASURES))
            .pivot("measure", index=["area", "year"], values="value"))
    for col in _MEASURES.values():
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    marks = (finance.filter((pl.col("measure") == "TotalLACFinance")
                            & pl.col("suppressed").is_not_null())
             .select("area", "year", "suppressed"))
    stock = panel.table.select("area", "year", pl.col("cla_31mar").cast(pl.Float64))
    out = (wide.join(stock, on=["area", "year"], how="left")
           .join(marks, on=["area", "year"], how="left")
           .with_columns(activity_days=pl.col("cla_31mar") * DAYS_PER_YEAR))
    out = out.with_columns(
        spend_per_day=pl.when((pl.col("activity_days") > 0) & (pl.col("spend") > 0))
        .then(pl.col("spend") / pl.col("activity_days")))
    return out.select("area", "year", "spend", "cla_31mar", "activity_days", "spend_per_day",
                      *[c for c in _MEASURES.values() if c != "spend"], "suppressed"
                      ).sort("area", "year")


def _area_rows(history: pl.DataFrame, area: str, source: str) -> pl.DataFrame:
    rows = history.filter(pl.col("area") == area)
    if rows.height == 0:
        have = sorted(history["area"].unique().to_list())
        raise DataError([Problem(source, "area-not-in-s251",
                                 f"area {area!r} has no s251 rows; areas with spend: "
                                 f"{', '.join(have)}", column="area", value=area)])
    return rows


@dataclass(frozen=True)
class CalibratedCosts:
    """An LA's all-in cost of a child-day in its calibration year, with what it includes.

    Attributes
    ----------
    area, year
        The LA and the financial year (named by its ending year) calibrated to.
    spend_per_day
        All-in spend per child-day (GBP, prices of ``year``).
    spend, activity_days
        The s251 spend and the child-days it is divided by (CLA on 31 March x 365.25).
    weekly
        Published weekly unit costs in ``year``: all CLA, fostering, residential (may be NaN).
    includes
        What the figure already includes: placements, social work and case management,
        overheads. Nothing in this list may be added on top.
    source
        Where the figures come from.
    """

    area: str
    year: int
    spend_per_day: float
    spend: float
    activity_days: float
    weekly: dict[str, float]
    includes: tuple[str, ...] = ("placements", "case_management", "overheads")
    source: str = ""

    @property
    def weekly_all_in(self) -> float:
        return self.spend_per_day * 7.0

    def cost_of(self, activity_days: np.ndarray | float) -> np.ndarray | float:
        """Spend in the calibration year's prices for ``activity_days`` child-days."""
        return np.asarray(activity_days) * self.spend_per_day

    def split(self) -> pl.DataFrame:
        """The lines behind the all-in figure: what it includes and DfE's published weekly
        unit costs beside it (shown, never added)."""
        return pl.DataFrame({
            "line": ["all-in spend per child-day", "all-in weekly cost per child",
                     "DfE weekly unit cost, all CLA", "DfE weekly unit cost, fostering",
                     "DfE weekly unit cost, residential", "includes"],
            "value": [f"{self.spend_per_day:,.2f}", f"{self.weekly_all_in:,.0f}",
                      *[("" if not math.isfinite(self.weekly.get(k, math.nan))
                         else f"{self.weekly[k]:,.0f}")
                        for k in ("all", "fostering", "residential")],
                      ", ".join(self.includes)]})


def calibrate(history: pl.DataFrame, area: str, year: int | None = None,
              source: str = "s251") -> CalibratedCosts:
    """Calibrate ``area``'s all-in cost of a child-day to its s251 outturn in ``year``
    (default: its latest year with spend and a count of children looked after).

    Raises
    ------
    DataError
        The area has no s251 rows (the message lists those that do), or the year's spend or
        count is blank or suppressed (never interpolated).
    """
    rows = _area_rows(history, area, source)
    usable = rows.filter(pl.col("spend_per_day").is_not_null())
    if year is None:
        if usable.height == 0:
            raise DataError([Problem(source, "no-spend", f"{area} has no year with both s251 "
                                     "spend and children looked after", column="area",
                                     value=area)])
        year = int(usable["year"].max())
    row = rows.filter(pl.col("year") == year)
    if row.height == 0 or row["spend_per_day"][0] is None:
        why = ("no row" if row.height == 0 else
               f"spend {row['suppressed'][0] or 'blank'}" if row["spend"][0] is None else
               "no count of children looked after")
        raise DataError([Problem(source, "spend-missing", f"{area} {year - 1}-{year % 100:02d}: "
                                 f"{why}; cobic does not interpolate spend", column="year",
                                 value=str(year))])
    r = row.row(0, named=True)

    def num(v) -> float:
        return math.nan if v is None else float(v)

    return CalibratedCosts(
        area=area, year=year, spend_per_day=float(r["spend_per_day"]), spend=float(r["spend"]),
        activity_days=float(r["activity_days"]),
        weekly={"all": num(r["weekly_all"]), "fostering": num(r["weekly_fostering"]),
                "residential": num(r["weekly_residential"])},
        source=f"{source}: TotalLACFinance {year - 1}-{year % 100:02d} / (CLA on 31 March x "
               f"{DAYS_PER_YEAR})")


# ------------------------------------------------------------------ growth


@dataclass(frozen=True)
class CostGrowth:
    """A fitted model of the growth of spend per child-day (see the module docstring).

    Attributes
    ----------
    origin
        The last financial year of data the model saw.
    level, level_se
        The current market-wide growth (log points a year) and its standard error.
    step_sd
        Standard deviation of the yearly change of the market-wide growth.
    noise_sd
        An LA's own year-to-year deviation (residual standard deviation).
    theta, last_innovation
        The moving-average coefficient of that deviation, and each area's last innovation.
    deviation, deviation_se
        Each area's shrunk deviation from the market-wide growth, and its standard error.
    year_effects
        The market-wide growth of each year seen, with standard errors.
    n_obs
        Growth observations (area-years) in the fit.
    """

    origin: int
    level: float
    level_se: float
    step_sd: float
    noise_sd: float
    deviation: dict[str, float]
    deviation_se: dict[str, float]
    year_effects: pl.DataFrame = field(repr=False)
    n_obs: int = 0
    theta: float = 0.0
    last_innovation: dict[str, float] = field(default_factory=dict)

    def simulate(self, area: str, horizon: int, n_paths: int, seed: int,
                 market_seed: int | None = None) -> np.ndarray:
        """Cumulative growth factors ``[path, horizon]`` of ``area``'s spend per child-day,
        relative to the origin year (1 = no growth).

        With ``market_seed`` the market-wide part (the level's error and its yearly steps) is
        drawn from that seed and the area's own part from ``seed``, so areas simulated with
        one ``market_seed`` share the market on every path (a consortium of LAs buys in one
        market); without it both come from ``seed``.
        """
        rng = np.random.default_rng(seed)
        market = rng if market_seed is None else np.random.default_rng(market_seed)
        if market_seed is not None:
            rng = np.random.default_rng([seed, 1])
        dev = self.deviation.get(area, 0.0)
        dev_se = self.deviation_se.get(area, self.noise_sd)
        level = self.level + market.normal(0, self.level_se, (n_paths, 1))
        steps = np.cumsum(market.normal(0, self.step_sd, (n_paths, horizon)), axis=1)
        own = rng.normal(dev, dev_se, (n_paths, 1))
        sd_e = self.noise_sd / math.sqrt(1 + self.theta ** 2)
        e = rng.normal(0, sd_e, (n_paths, horizon))
        before = np.concatenate([np.full((n_paths, 1), self.last_innovation.get(area, 0.0)),
                                 e[:, :-1]], axis=1)
        noise = e + self.theta * before
        return np.exp(np.cumsum(level + steps + own + noise, axis=1))

    def summary(self) -> pl.DataFrame:
        """The fitted figures and their standard errors (log points a year, and % a year)."""
        rows = [("market-wide growth now (level)", self.level, self.level_se),
                ("yearly change of the market-wide growth (sd)", self.step_sd, None),
                ("an LA's own year-to-year noise (sd)", self.noise_sd, None),
                ("moving-average coefficient of that noise", self.theta, None)]
        rows += [(f"deviation: {a}", v, self.deviation_se[a]) for a, v in
                 sorted(self.deviation.items())]
        rows += [(f"market-wide growth {y - 1}-{y % 100:02d}", e, s)
                 for y, e, s in self.year_effects.iter_rows()]
        rate = ~pl.col("figure").str.contains(r"\(sd\)|coefficient")
        return pl.DataFrame(rows, orient="row", schema={
            "figure": pl.String, "estimate": pl.Float64, "se": pl.Float64}).with_columns(
            pct_a_year=pl.when(rate).then(((pl.col("estimate").exp() - 1) * 100).round(2)))


def _growth_obs(history: pl.DataFrame, origin: int) -> pl.DataFrame:
    past = history.filter((pl.col("year") <= origin) & pl.col("spend_per_day").is_not_null())
    return (past.sort("area", "year")
            .with_columns(g=pl.col("spend_per_day").log().diff().over("area"),
                          gap=pl.col("year").diff().over("area"))
            .filter((pl.col("gap") == 1) & pl.col("g").is_finite())
            .select("area", "year", "g"))


def fit_cost_growth(history: pl.DataFrame, origin: int,
                    min_years: int = MIN_GROWTH_YEARS) -> CostGrowth:
    """Fit the pooled growth model on spend per child-day up to ``origin`` (inclusive).

    Raises
    ------
    ValueError
        Fewer than ``min_years`` years of spend up to ``origin``: too few to extrapolate from.
    """
    import statsmodels.api as sm

    obs = _growth_obs(history, origin)
    years = sorted(obs["year"].unique().to_list())
    if len(years) + 1 < min_years:
        raise ValueError(f"cost growth: {len(years) + 1} year(s) of spend up to "
                         f"{origin - 1}-{origin % 100:02d}; at least {min_years} are needed to "
                         "extrapolate growth")
    areas = sorted(obs["area"].unique().to_list())
    y = obs["g"].to_numpy()
    yr = obs["year"].to_numpy()
    ar = obs["area"].to_list()
    X = np.column_stack([(yr == t).astype(float) for t in years]
                        + [_sum_code(ar, areas, a) for a in areas[:-1]])
    fit = sm.OLS(y, X).fit()
    k = len(years)
    lam, lam_se = fit.params[:k], fit.bse[:k]
    noise = float(np.sqrt(fit.scale)) if fit.df_resid > 0 else float(np.std(y - lam[0]))
    dev_raw = np.append(fit.params[k:], -fit.params[k:].sum()) if len(areas) > 1 else np.zeros(1)
    dev_se = np.full(len(areas), noise / math.sqrt(max(1, len(years))))
    tau2 = max(0.0, float(np.var(dev_raw)) - float(np.mean(dev_se ** 2)))
    shrink = tau2 / (tau2 + dev_se ** 2) if tau2 > 0 else np.zeros(len(areas))
    last = lam[-2:]
    level = float(np.mean(last))
    level_se = float(np.sqrt(np.sum(lam_se[-2:] ** 2)) / len(last))
    step_sd = float(np.std(np.diff(lam), ddof=1)) if k >= 3 else float(abs(np.diff(lam)[0])) \
        if k == 2 else noise
    effects = pl.DataFrame({"year": years, "estimate": lam, "se": lam_se})
    theta, last = _moving_average(obs.with_columns(resid=fit.resid))
    return CostGrowth(origin=origin, level=level, level_se=level_se, step_sd=step_sd,
                      noise_sd=noise,
                      deviation={a: float(d * s) for a, d, s in zip(areas, dev_raw, shrink,
                                                                    strict=True)},
                      deviation_se={a: float(math.sqrt(s) * se) for a, s, se in
                                    zip(areas, shrink, dev_se, strict=True)},
                      year_effects=effects, n_obs=len(y), theta=theta, last_innovation=last)


def _moving_average(obs: pl.DataFrame) -> tuple[float, dict[str, float]]:
    """MA(1) coefficient from the pooled lag-1 correlation of residuals (within -0.95..0.95;
    0 without pairs), and each area's last innovation, filtered as ``e[t] = r[t] - theta
    e[t-1]``."""
    r = obs.sort("area", "year").with_columns(prev=pl.col("resid").shift(1).over("area"))
    pairs = r.drop_nulls("prev")
    rho = 0.0
    if pairs.height >= 3:
        rho = float((pairs["resid"] * pairs["prev"]).sum() / (r["resid"] ** 2).sum())
    rho = max(-0.4999, min(0.4999, rho))
    theta = 0.0 if rho == 0 else (1 - math.sqrt(1 - 4 * rho * rho)) / (2 * rho)
    theta = max(-0.95, min(0.95, theta))
    last = {}
    for (area,), part in r.group_by(["area"], maintain_order=True):
        e = 0.0
        for v in part["resid"].to_list():
            e = v - theta * e
        last[area] = e
    return theta, last


def _sum_code(labels: list[str], levels: list[str], level: str) -> np.ndarray:
    """Sum-to-zero contrast column for ``level`` (the last level is minus all the others)."""
    lab = np.array(labels)
    return (lab == level).astype(float) - (lab == levels[-1]).astype(float)


def _fy(year: int) -> str:
    return f"{year - 1}-{year % 100:02d}"


def _toml_map(values: dict[str, float]) -> str:
    return "{ " + ", ".join(f'"{k}" = {v:.6g}' for k, v in sorted(values.items())) + " }"


def cost_set_toml(cal: CalibratedCosts, growth: CostGrowth | None,
                  groups: tuple[str, ...]) -> str:
    """A cost-set TOML (``models/costs/`` format) for ``cal``: every placement group at the
    all-in weekly cost, ``includes`` all lines (so the cost model adds no case management or
    overheads), no efficiency, and the fitted ``[growth]`` model with its standard errors."""
    fy = _fy(cal.year)
    lines = [
        f"# Calibrated by cobic to {cal.area}'s own s251 outturn for {fy}.",
        "# All-in: placements, social work and case management and overheads are in the weekly",
        "# figure; the placement mix is not priced (every group costs the same per child-day).",
        f'name = "{cal.area} all-in, calibrated to {fy}"',
        f'base_price_year = "{fy}"',
        f'includes = {list(cal.includes)!r}'.replace("'", '"'),
        f'note = "spend {cal.spend:,.0f} over {cal.activity_days:,.0f} child-days"',
        "",
        "[efficiency]",
        "rate = 0.0",
        'source = "[I] history shows no fall in spend per child (s251 2015-16 to 2024-25)"',
        "",
    ]
    for g in (*groups, "all"):
        lines += ["[[placement]]", f'placement_group = "{g}"', 'provider = "all"',
                  f"weekly_cost = {cal.weekly_all_in:.2f}", f'price_year = "{fy}"',
                  f'source = "[F] {cal.source}"', ""]
    if growth is not None:
        lines += growth_lines(growth, cal.area)
    return "\n".join(lines)


def growth_lines(growth: CostGrowth, area: str) -> list[str]:
    """The ``[growth]`` table of a cost set (TOML lines) for ``area``."""
    return [
        "# Fitted growth of spend per child-day (log points a year), standard errors beside:",
        "# see cobic/calibration.py; cobic costs prints the whole fit.",
        "[growth]", f'area = "{area}"', f"origin = {growth.origin}",
        f"level = {growth.level:.6g}", f"level_se = {growth.level_se:.6g}",
        f"step_sd = {growth.step_sd:.6g}", f"noise_sd = {growth.noise_sd:.6g}",
        f"theta = {growth.theta:.6g}",
        f"deviation = {_toml_map(growth.deviation)}",
        f"deviation_se = {_toml_map(growth.deviation_se)}",
        f"last_innovation = {_toml_map(growth.last_innovation)}",
        f'source = "pooled s251 growth model, {growth.n_obs} area-years up to '
        f'{_fy(growth.origin)}"',
        ""]


def growth_toml(growth: CostGrowth, area: str, source: str) -> str:
    """A TOML holding only a fitted ``[growth]`` model (``cobic costs --growth-out``), which
    :func:`cobic.costs.load_growth` reads and :func:`cobic.costs.with_growth` applies to any
    cost set priced in the growth model's origin year."""
    return "\n".join([
        f"# Cost growth of {area}'s spend per child-day, fitted by cobic on {source}",
        f"# (section 251 outturn, pooled over its areas, up to {_fy(growth.origin)}).",
        f'name = "cost growth fitted to s251 history ({area})"',
        f'base_price_year = "{_fy(growth.origin)}"', "", *growth_lines(growth, area)])
