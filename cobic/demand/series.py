"""Annual series models of children looked after at 31 March, one area or many at once.

All simulate in log space, so paths stay positive, and draw their noise from *pooled,
size-scaled empirical errors*: the one-year errors of the model over every area and year of
the history, divided by ``sigma(y) = sqrt(a + b / y)`` (``a`` structural variance, ``b / y``
count noise, fitted across areas), then bootstrapped and rescaled to each area's size. Small
authorities get wider intervals than large ones, as their history says they should.

* ``naive``: last value; errors are the pooled year-on-year changes.
* ``drift``: last value times the area's mean log change per year (with its uncertainty).
* ``flowbalance``: constant starts (mean of the last 3 years) and a constant exit rate
  (ceased / previous stock), with Poisson/binomial process noise only: what existing tools do.
* ``ets``: statsmodels ``ETSModel`` with additive errors and damped trend on log stock, per
  area, paths from its own simulation.
* ``rate``: statsmodels GLM (quasi-Poisson) of the stock with the 0-17 population as exposure
  and a linear trend in the rate, per area; the population is projected log-linearly from its
  last 3 years; paths include parameter draws and negative-binomial noise.
* ``panel`` (default for DfE tables): all areas together. Next year's log change is regressed,
  pooled over areas and years, on the area's recent trend (mean log change over 2 years) and
  its distance from flow equilibrium (log of starts / exit rate, minus log stock); each area's
  trend is thereby shrunk to what trends have predicted across all areas. The step is damped
  (``phi``) over the horizon; coefficients are drawn from their estimated distribution.
* ``auto`` (the default for DfE tables): honest model selection by nested rolling origin.
  At each fit it backtests a fixed set of candidates (the models above and equal mixtures of
  naive with panel and with flowbalance) on the last few origins *inside* the history it is
  given (their outcomes are the history's own later years, never anything after it), and
  forecasts with the candidate whose medians had the lowest mean absolute percentage error
  there, among ``naive`` and the candidates that beat ``naive`` there by a one-sided paired
  t-test at 5% (areas as the pairs): a small gain that the data cannot tell from chance
  keeps the naive forecast. A mixture draws its paths in equal shares from its members (a forecast
  combination that keeps each member's uncertainty). Nothing in it was tuned on a scored
  window: the candidates are the models that existed before it, the rule is fixed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from cobic.demand.base import Capabilities, Paths, SeriesHistory, get_model, register

__all__ = ["Naive", "Drift", "FlowBalance", "ETS", "Rate", "PanelModel", "ErrorScale", "Auto",
           "AUTO_CANDIDATES"]


# ---------------------------------------------------------------- pooled, size-scaled errors

@dataclass(frozen=True)
class ErrorScale:
    """sigma(y)^2 = a + b / y fitted to pooled squared one-year log errors; ``z`` are the
    standardised errors (centred on their median) to bootstrap."""

    a: float
    b: float
    z: np.ndarray

    def sigma(self, y: np.ndarray) -> np.ndarray:
        return np.sqrt(self.a + self.b / np.maximum(y, 1.0))

    @classmethod
    def fit(cls, errors: np.ndarray, level: np.ndarray) -> ErrorScale:
        ok = np.isfinite(errors) & np.isfinite(level) & (level > 0)
        e, y = errors[ok], level[ok]
        if e.size < 2:
            raise ValueError("need at least 2 historical errors to size the intervals")
        e2 = e**2
        if e.size >= 10:
            X = np.column_stack([np.ones_like(y), 1.0 / y])
            a, b = np.linalg.lstsq(X, e2, rcond=None)[0]
            if b < 0:
                a, b = e2.mean(), 0.0
            elif a < 0:
                a, b = 0.0, float(np.sum(e2 / y) / np.sum(1.0 / y**2))
        else:
            a, b = e2.mean(), 0.0
        a = max(float(a), 1e-8)
        z = e / np.sqrt(a + b / y)
        z = z - np.median(z)
        return cls(a, float(b), z)

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return self.z[rng.integers(0, self.z.size, size=shape)]


def _log_walk(last: np.ndarray, steps: np.ndarray, scale: ErrorScale, n_paths: int,
              rng: np.random.Generator) -> np.ndarray:
    """Paths ``[area, path, h]``: log y += step[area, path, h] + sigma(y) * z."""
    n_a, horizon = last.shape[0], steps.shape[-1]
    steps = np.broadcast_to(steps, (n_a, n_paths, horizon))
    z = scale.draw(rng, (n_a, n_paths, horizon))
    out = np.empty((n_a, n_paths, horizon))
    logy = np.repeat(np.log(last)[:, None], n_paths, axis=1)
    for h in range(horizon):
        logy = logy + steps[:, :, h] + scale.sigma(np.exp(logy)) * z[:, :, h]
        out[:, :, h] = np.exp(logy)
    return out


def _paths(model: str, hist: SeriesHistory, values: np.ndarray) -> Paths:
    periods = tuple(hist.origin + h for h in range(1, values.shape[2] + 1))
    return Paths(model=model, areas=hist.areas, origin=hist.origin, periods=periods,
                 groups=("all",), values=values[:, :, :, None])


def _changes(hist: SeriesHistory) -> tuple[np.ndarray, np.ndarray]:
    logy = np.log(hist.stock)
    return np.diff(logy, axis=1), hist.stock[:, :-1]


# ---------------------------------------------------------------- models

@register
@dataclass(frozen=True)
class Naive:
    """Last value, with pooled size-scaled empirical-error intervals."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    name: str = "naive"

    def fit(self, history: SeriesHistory) -> _FittedNaive:
        d, lev = _changes(history)
        return _FittedNaive(history, ErrorScale.fit(d, lev))


@dataclass(frozen=True)
class _FittedNaive:
    history: SeriesHistory
    scale: ErrorScale

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        rng = np.random.default_rng(seed)
        last = self.history.stock[:, -1]
        v = _log_walk(last, np.zeros((len(last), 1, horizon)), self.scale, n_paths, rng)
        return _paths("naive", self.history, v)


@register
@dataclass(frozen=True)
class Drift:
    """Last value times the area's mean log change per year."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    name: str = "drift"

    def fit(self, history: SeriesHistory) -> _FittedDrift:
        d, lev = _changes(history)
        mu = np.nanmean(d, axis=1)
        n = np.sum(np.isfinite(d), axis=1)
        resid = d - mu[:, None]
        return _FittedDrift(history, mu, np.nanstd(d, axis=1, ddof=1) / np.sqrt(n),
                            ErrorScale.fit(resid, lev))


@dataclass(frozen=True)
class _FittedDrift:
    history: SeriesHistory
    mu: np.ndarray
    mu_se: np.ndarray
    scale: ErrorScale

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        rng = np.random.default_rng(seed)
        mu = self.mu[:, None] + np.nan_to_num(self.mu_se)[:, None] * rng.standard_normal(
            (len(self.mu), n_paths))
        steps = np.repeat(mu[:, :, None], horizon, axis=2)
        v = _log_walk(self.history.stock[:, -1], steps, self.scale, n_paths, rng)
        return _paths("drift", self.history, v)


@register
@dataclass(frozen=True)
class FlowBalance:
    """Constant starts and exit rate (means of the last ``window`` years), process noise only."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    name: str = "flowbalance"
    window: int = 3

    def fit(self, history: SeriesHistory) -> _FittedFlow:
        k = min(self.window, len(history.years) - 1)
        starts = np.nanmean(history.starts[:, -k:], axis=1)
        rate = np.nanmean(history.ceased[:, -k:] / history.stock[:, -k - 1:-1], axis=1)
        if np.isnan(starts).any() or np.isnan(rate).any():
            bad = [a for a, s, r in zip(history.areas, starts, rate, strict=True)
                   if np.isnan(s) or np.isnan(r)]
            raise ValueError(f"flowbalance needs starts and ceased for the last {k} years: "
                             f"missing for {bad[:5]}")
        return _FittedFlow(history, starts, np.clip(rate, 0.0, 1.0))


@dataclass(frozen=True)
class _FittedFlow:
    history: SeriesHistory
    starts: np.ndarray
    exit_rate: np.ndarray

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        rng = np.random.default_rng(seed)
        n_a = len(self.starts)
        stock = np.repeat(self.history.stock[:, -1:], n_paths, axis=1).astype(np.int64)
        out = np.empty((n_a, n_paths, horizon))
        for h in range(horizon):
            entries = rng.poisson(np.repeat(self.starts[:, None], n_paths, axis=1))
            exits = rng.binomial(stock, np.repeat(self.exit_rate[:, None], n_paths, axis=1))
            stock = np.maximum(stock + entries - exits, 0)
            out[:, :, h] = stock
        return _paths("flowbalance", self.history, out)


@register
@dataclass(frozen=True)
class ETS:
    """statsmodels ETSModel (additive error, damped additive trend) on log stock, per area."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    name: str = "ets"

    def fit(self, history: SeriesHistory) -> _FittedETS:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        fits = []
        for i in range(len(history.areas)):
            y = np.log(history.stock[i])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits.append(ETSModel(y, error="add", trend="add", damped_trend=True)
                            .fit(disp=False))
        return _FittedETS(history, fits)


@dataclass(frozen=True)
class _FittedETS:
    history: SeriesHistory
    fits: list

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        rng = np.random.default_rng(seed)
        out = np.empty((len(self.fits), n_paths, horizon))
        for i, f in enumerate(self.fits):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sim = f.simulate(horizon, repetitions=n_paths, anchor="end",
                                 rng=np.random.default_rng(int(rng.integers(2**31))))
            out[i] = np.exp(np.asarray(sim).reshape(horizon, n_paths).T)
        return _paths("ets", self.history, out)


def _project_population(pop: np.ndarray, horizon: int) -> np.ndarray:
    """Log-linear extrapolation of each area's last 3 population values."""
    n_a, t = pop.shape
    out = np.empty((n_a, horizon))
    for i in range(n_a):
        y = pop[i]
        ok = np.flatnonzero(np.isfinite(y) & (y > 0))[-3:]
        if ok.size == 0:
            raise ValueError("no population figure to project from")
        slope = 0.0 if ok.size == 1 else np.polyfit(ok, np.log(y[ok]), 1)[0]
        base = np.log(y[ok[-1]])
        out[i] = np.exp(base + slope * (np.arange(1, horizon + 1) + (t - 1 - ok[-1])))
    return out


@register
@dataclass(frozen=True)
class Rate:
    """GLM (quasi-Poisson) of the stock with population exposure and a linear rate trend."""

    capabilities: ClassVar[Capabilities] = Capabilities(needs_population=True)

    name: str = "rate"

    def fit(self, history: SeriesHistory) -> _FittedRate:
        import statsmodels.api as sm

        years = np.array(history.years, dtype=float) - history.origin
        params, covs, disp = [], [], []
        for i in range(len(history.areas)):
            y, pop = history.stock[i], history.population[i]
            ok = np.isfinite(y) & np.isfinite(pop) & (pop > 0)
            if ok.sum() < 3:
                raise ValueError(f"rate: {history.areas[i]} has fewer than 3 years with a "
                                 "population figure")
            X = sm.add_constant(years[ok])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sm.GLM(y[ok], X, family=sm.families.Poisson(), offset=np.log(pop[ok])
                             ).fit(scale="X2")
            params.append(res.params)
            covs.append(res.cov_params())
            disp.append(max(float(res.scale), 1.0))
        return _FittedRate(history, np.array(params), np.array(covs), np.array(disp))


@dataclass(frozen=True)
class _FittedRate:
    history: SeriesHistory
    params: np.ndarray  # [area, 2]
    covs: np.ndarray  # [area, 2, 2]
    dispersion: np.ndarray

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        rng = np.random.default_rng(seed)
        n_a = len(self.params)
        pop = _project_population(self.history.population, horizon)  # [area, h]
        h = np.arange(1, horizon + 1, dtype=float)
        out = np.empty((n_a, n_paths, horizon))
        for i in range(n_a):
            beta = rng.multivariate_normal(self.params[i], self.covs[i], size=n_paths)
            mu = pop[i][None, :] * np.exp(beta[:, :1] + beta[:, 1:] * h[None, :])
            phi = self.dispersion[i]
            lam = rng.gamma(mu / (phi - 1.0), phi - 1.0) if phi > 1.0 else mu
            out[i] = rng.poisson(lam)
        return _paths("rate", self.history, out)


@register
@dataclass(frozen=True)
class PanelModel:
    """Pooled across areas: recent trend and flow-equilibrium gap, damped (see module doc)."""

    capabilities: ClassVar[Capabilities] = Capabilities(episodes=False, pooled=True)

    name: str = "panel"
    trend_years: int = 2
    phi: float = 0.5

    def _features(self, hist: SeriesHistory, tau: int) -> np.ndarray:
        logy = np.log(hist.stock)
        k = min(self.trend_years, tau)
        trend = (logy[:, tau] - logy[:, tau - k]) / k
        exit_rate = hist.ceased[:, tau] / hist.stock[:, tau - 1]
        gap = np.log(hist.starts[:, tau] / exit_rate) - logy[:, tau]
        return np.column_stack([np.ones(len(trend)), trend, gap])

    def fit(self, history: SeriesHistory) -> _FittedPanel:
        t = len(history.years)
        if t < 3:
            raise ValueError("panel needs at least 3 years of history")
        logy = np.log(history.stock)
        X, y, lev = [], [], []
        for tau in range(1, t - 1):
            X.append(self._features(history, tau))
            y.append(logy[:, tau + 1] - logy[:, tau])
            lev.append(history.stock[:, tau])
        X, y, lev = np.vstack(X), np.concatenate(y), np.concatenate(lev)
        ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
        X, y, lev = X[ok], y[ok], lev[ok]
        if len(y) < 3 * X.shape[1]:
            raise ValueError(f"panel: only {len(y)} usable area-years to fit on")
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ beta
        dof = max(len(y) - X.shape[1], 1)
        cov = np.linalg.inv(X.T @ X) * (resid @ resid) / dof
        xo = self._features(history, t - 1)
        if not np.isfinite(xo).all():
            bad = [a for a, r in zip(history.areas, np.isfinite(xo).all(axis=1), strict=True)
                   if not r]
            raise ValueError(f"panel: missing starts/ceased in the last year for {bad[:5]}")
        return _FittedPanel(history, beta, cov, xo, self.phi, ErrorScale.fit(resid, lev))


@dataclass(frozen=True)
class _FittedPanel:
    history: SeriesHistory
    beta: np.ndarray
    cov: np.ndarray
    x_origin: np.ndarray
    phi: float
    scale: ErrorScale

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        rng = np.random.default_rng(seed)
        betas = rng.multivariate_normal(self.beta, self.cov, size=n_paths)  # [path, k]
        step = self.x_origin @ betas.T  # [area, path]
        damp = self.phi ** np.arange(1, horizon + 1)
        steps = step[:, :, None] * damp[None, None, :]
        v = _log_walk(self.history.stock[:, -1], steps, self.scale, n_paths, rng)
        return _paths("panel", self.history, v)

    @property
    def coefficients(self) -> dict[str, float]:
        return dict(zip(("intercept", "trend", "equilibrium_gap"), self.beta.tolist(),
                        strict=True))


# ---------------------------------------------------------------- nested selection

AUTO_CANDIDATES: dict[str, tuple[str, ...]] = {
    "naive": ("naive",), "panel": ("panel",), "drift": ("drift",),
    "flowbalance": ("flowbalance",), "naive+panel": ("naive", "panel"),
    "naive+flowbalance": ("naive", "flowbalance"),
    "naive+panel+flowbalance": ("naive", "panel", "flowbalance"),
}


def _mixture(members: tuple[str, ...], hist: SeriesHistory, horizon: int, n_paths: int,
             seed: int) -> np.ndarray:
    """``[area, path, h]`` paths drawn in equal shares from each member model."""
    cut = np.linspace(0, n_paths, len(members) + 1).astype(int)
    parts = []
    for i, m in enumerate(members):
        n = int(cut[i + 1] - cut[i])
        if n:
            parts.append(get_model(m).fit(hist).simulate(horizon, n, seed + 101 * i)
                         .values[:, :, :, 0])
    return np.concatenate(parts, axis=1)


def _inner_errors(members: tuple[str, ...], hist: SeriesHistory, origin_index: int,
                  horizon: int, n_paths: int) -> np.ndarray:
    """Each area's mean absolute percentage error (a fraction) of ``members``' medians fitted
    on ``hist`` up to ``origin_index`` against ``hist``'s own later years; all nan when a
    member cannot fit."""
    sub = hist.until(hist.years[origin_index])
    try:
        v = _mixture(members, sub, horizon, n_paths, seed=7)
    except ValueError:
        return np.full(len(hist.areas), np.nan)
    med = np.median(v, axis=1)
    act = hist.stock[:, origin_index + 1:origin_index + 1 + horizon]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an area with no usable year: nan
        return np.nanmean(np.abs(med - act) / act, axis=1)


def beats_benchmark(gain: np.ndarray, alpha: float) -> bool:
    """One-sided paired t-test that a mean gain over the benchmark is above zero.

    ``gain`` is ``[area, inner origin]`` (benchmark error minus challenger error). With
    several areas each area's mean gain is one observation (errors of one area at
    successive origins are correlated, so they count once); with one area, each inner
    origin is. Fewer than 2 observations, or a gain of exactly zero, never beat it.
    """
    gain = gain[:, np.isfinite(gain).any(axis=0)]  # inner origins the challenger scored
    gain = gain[np.isfinite(gain).all(axis=1)]
    obs = gain.mean(axis=1) if gain.shape[0] > 1 else gain.ravel()
    if obs.size < 2 or not obs.mean() > 0:
        return False
    sd = obs.std(ddof=1)
    if sd == 0:
        return True  # the same positive gain everywhere
    from scipy.special import stdtrit  # Student t quantiles (scipy.stats is slow to import)

    t = obs.mean() / (sd / np.sqrt(obs.size))
    return bool(t > stdtrit(obs.size - 1, 1.0 - alpha))


@register
@dataclass(frozen=True)
class Auto:
    """Nested rolling-origin selection among :data:`AUTO_CANDIDATES` (see module doc).

    Parameters
    ----------
    inner_origins
        How many of the last origins inside the history to score the candidates on.
    horizon
        Years ahead scored at each inner origin (fewer where the history ends).
    inner_paths
        Paths per candidate at each inner origin (medians only are scored).
    alpha
        Level of the one-sided paired test (:func:`beats_benchmark`) a candidate must pass
        against ``naive`` to be chosen over it: the conventional 5%, not tuned.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(pooled=True)

    name: str = "auto"
    inner_origins: int = 3
    horizon: int = 3
    inner_paths: int = 200
    candidates: tuple[str, ...] = tuple(AUTO_CANDIDATES)
    alpha: float = 0.05

    def fit(self, history: SeriesHistory) -> _FittedAuto:
        t = len(history.years)
        first = max(2, t - 1 - self.inner_origins)  # an inner fit needs 3 years
        errors = {c: np.column_stack(
            [_inner_errors(AUTO_CANDIDATES[c], history, o, min(self.horizon, t - 1 - o),
                           self.inner_paths) for o in range(first, t - 1)]
            or [np.full(len(history.areas), np.nan)]) for c in self.candidates}
        scores = {}
        for c, e in errors.items():
            per_origin = [float(np.nanmean(col)) for col in e.T if np.isfinite(col).any()]
            scores[c] = float(np.mean(per_origin)) if per_origin else float("inf")
        base = errors.get("naive")
        eligible = [c for c in self.candidates if np.isfinite(scores[c]) and (
            c == "naive" or base is None or beats_benchmark(base - errors[c], self.alpha))]
        if not eligible:
            return _FittedAuto(history, "naive", scores)  # too short to score anything
        best = min(eligible, key=lambda c: (scores[c], self.candidates.index(c)))
        return _FittedAuto(history, best, scores)


@dataclass(frozen=True)
class _FittedAuto:
    history: SeriesHistory
    chosen: str
    scores: dict[str, float]

    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        members = AUTO_CANDIDATES[self.chosen]
        if len(members) == 1:  # exactly the member's own paths
            v = get_model(members[0]).fit(self.history).simulate(horizon, n_paths, seed)
            return replace(v, model="auto")
        return _paths("auto", self.history, _mixture(members, self.history, horizon, n_paths,
                                                     seed))

    @property
    def selection(self) -> dict[str, float]:
        """Each candidate's inner MAPE (%), best first."""
        return {c: round(v * 100, 3) for c, v in sorted(self.scores.items(),
                                                         key=lambda kv: kv[1])}
