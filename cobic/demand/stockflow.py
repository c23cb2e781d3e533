"""``stockflow``: a multi-state model of children looked after, fitted on SSDA903 episodes.

Fit window (the reference period). By default exits and moves (and who enters: ages and first
placements) are fitted on the last ``fit_years`` collection years up to the origin and the
number of entries on the last ``entry_years`` (default: all);
``window_years`` (e.g. 0.5, 1 or 3) fits all of them on the same span of that many years
before 31 March of the origin (never before the first collection year).

Rates, with partial pooling (empirical Bayes) so that a thin cell borrows strength from its
neighbours and no cell gets a zero, an absurd rate or an exploding parameter draw:

* **exits** and **placement moves**: events over days looked after in cells of placement group x
  age band (the bands of ``models/ssda903.toml``) x time in care (<3 months, 3-12 months, 1-2,
  2-5, 5+ years), in two levels.

  1. *Main effects*: log mu = a + group + age band + duration band, a Poisson GLMM whose
     effects are random, N(0, s_f^2) for each factor f, with every level (none is a reference)
     and a flat prior on ``a``. The three s_f are estimated from the fit window by maximising
     the Laplace approximation of the marginal likelihood (type-II maximum likelihood, s_f
     kept within 0.001-5 for numerical safety); the effects are the posterior mode and their
     covariance the inverse penalised Hessian. A level with few events is shrunk towards the
     average level, a level never seen gets it, and no effect's posterior sd exceeds s_f.
  2. *Cells*: rate = mu x theta with theta ~ Gamma(1 / k, 1 / k) (mean 1), so a cell's
     posterior is Gamma(1 / k + events, 1 / (k mu) + days): mu for a cell with no events or
     little exposure, its own events / days for a cell with many. k is the moment estimate
     max(0, (X^2 - (n - edf)) / sum(mu x days)) from the Pearson X^2 of the n cells with
     exposure around the main effects (edf: their effective degrees of freedom), as in Marshall
     (1991, Applied Statistics 40:283) with a degrees-of-freedom correction; k = 0 (no excess
     variation) leaves every cell at mu.

  The exit on the 18th birthday is not a hazard but certain.
* **entries**: the yearly log entry rate (entries over the 0-17 population when one is given,
  rates per 10,000) is a *local level*: Poisson noise plus an irregular year-to-year
  variation, around a level that takes random shocks each year and, in a second model, a
  fixed drift. Both models' variances are fitted by maximum likelihood (a Kalman filter) on
  every year of entries up to the origin, and averaged by their predictive likelihoods (of
  each year after the first two, given the years before it), so a step in entries becomes a
  new level rather than a trend, and a trend is carried forward only as far as the years
  support it (a trend fitted to a few years of noise or to one step was the main
  error on the broader known-truth LAs of ``benchmarks/known_truth.py``). Forecast paths
  draw the level and drift from the filter's posterior and add the level's shocks and the
  irregular variation year by year. With fewer than 4 years of entries: a log-linear trend
  shrunk by its reliability b^2 / (b^2 + se^2), as before. Age bands are gamma-Poisson:
  exposure is population-years x the band's share of ages 0-17; the prior is Gamma with the
  pooled rate as mean and relative variance k from the same moment estimator (with 1 degree
  of freedom for the pooled rate), so a band with no entries gets a small positive rate and a
  band with many keeps its own; the bands share the level at the origin in those proportions.
* **cohort trend in exits** (option ``cohort_trend``, off by default): the exit hazards
  change by ``exp(gamma)`` from one entry cohort (the collection year a period of care began)
  to the next. ``gamma`` is the conditional maximum likelihood estimate within strata of
  placement group x age band x fine time in care, over every return up to the origin (periods
  begun before the first return left out), with the larger of its model and cohort-clustered
  sandwich standard errors; the fitted cell rates stand for their band's mean cohort in the fit
  window, and each child's exit hazard is scaled by ``exp(gamma (cohort - that mean))``.
* single years of age within a band, first placement groups by age band and move destinations
  by age band are proportions (Dirichlet draws with a small pseudo-count).

Every prior strength (the s_f, k and the trend's prior) is estimated from the fit window's own
data; nothing is set by looking at backtest scores.

Simulate (per path): draw the main effects from their normal posterior, each cell's rate from
its gamma posterior given them, the pooled entry rate from its gamma posterior and each band's
rate given it, the trend, and the proportions (parameter uncertainty), then simulate every child
in care at the origin and every new entrant in quarterly steps: exits, moves, single-year
ageing with exit on the 18th birthday, child-days per financial year by placement group.
Everything is vectorised over paths x children with numpy. :meth:`FittedStockFlow.rates`
returns the fitted rates as tables.

Scenarios (:class:`cobic.demand.scenarios.Scenario`) change the fitted rates before simulation.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import ClassVar

import numpy as np
import polars as pl

from cobic.codes import CodeSets, default_codes
from cobic.data import derive
from cobic.data.dates import (
    age_on,
    birthday,
    birthday_days,
    collection_year_of,
    day_number,
    year_end,
    year_start,
)
from cobic.data.ssda903 import SSDA903
from cobic.demand.base import Capabilities, Paths, register
from cobic.demand.checkpoints import Checkpoints
from cobic.demand.limits import LIMITS, ResourceLimitError, format_bytes

__all__ = ["StockFlow", "FittedStockFlow", "truncate", "AGE_CUTS", "DURATION_CUTS",
           "DURATION_LABELS"]


def _age_cuts(codes: CodeSets) -> tuple[int, ...]:
    """Birthdays at which the age band changes: every band's ``min_age`` but the first."""
    return tuple(b.min_age for b in codes.age_bands[1:])


AGE_CUTS = _age_cuts(default_codes())  # of models/ssda903.toml: (1, 5, 10, 16)
DURATION_CUTS = (91, 365, 730, 1826)  # days in care at which the duration band changes
DURATION_LABELS = ("<3 months", "3-12 months", "1-2 years", "2-5 years", "5+ years")
N_DB = len(DURATION_CUTS) + 1
N_AGES = 18  # single years of age 0-17 (the bands must cover exactly these)
_DAYS_PER_YEAR = 365.25
_SIGMA_BOUNDS = (1e-3, 5.0)  # numerical range for the random-effect sd (log rate scale)


def truncate(data: SSDA903, year: int) -> SSDA903:
    """The data as known at the end of collection year ``year`` (for backtests).

    Episodes starting later are removed; ends after 31 March ``year`` become open.
    """
    if year not in data.collection_years:
        raise ValueError(f"year {year} is not one of the collection years "
                         f"{data.collection_years}")
    end = year_end(year)
    eps = data.episodes.filter(pl.col("DECOM") <= end).with_columns(
        REC=pl.when(pl.col("DEC") > end).then(None).otherwise(pl.col("REC")),
        DEC=pl.when(pl.col("DEC") > end).then(None).otherwise(pl.col("DEC")),
    )
    hdr = data.header.join(eps.select("CHILD").unique(), on="CHILD", how="semi")
    years = tuple(y for y in data.collection_years if y <= year)
    return replace(data, episodes=eps, header=hdr, collection_years=years, extract_end=end,
                   _cache={})


def _band_expr(values: pl.Expr, cuts: tuple[int, ...]) -> pl.Expr:
    out = pl.lit(0, dtype=pl.Int32)
    for c in cuts:
        out = out + (values >= c).cast(pl.Int32)
    return out


def _exposure(data: SSDA903, start: date, end_excl: date, groups: tuple[str, ...],
              age_cuts: tuple[int, ...] = AGE_CUTS,
              dur_cuts: tuple[int, ...] = DURATION_CUTS, by_cohort: bool = False
              ) -> pl.DataFrame:
    """Days looked after, exits and moves by (group, age band, duration band) in a window.

    ``dur_cuts`` are the days in care at which the duration band changes; with ``by_cohort``
    the rows are also split by ``cohort``, the collection year in which the period of care
    began. Rows are sorted by their keys."""
    eps = derive.episodes_in_scope(data)
    pstart = pl.col("DECOM").min().over("CHILD", "period")
    change = list(data.codes.placement_change_rne)
    eps = eps.with_columns(
        pstart=pstart,
        b18=birthday(pl.col("DOB"), 18),
        last_in_period=pl.col("DECOM") == pl.col("DECOM").max().over("CHILD", "period"),
        next_is_move=(pl.col("RNE").shift(-1).over("CHILD").is_in(change)
                      & (pl.col("period").shift(-1).over("CHILD") == pl.col("period"))),
    )
    eps = eps.with_columns(
        s=pl.max_horizontal(pl.col("DECOM"), pl.lit(start)),
        e=pl.min_horizontal(pl.col("end"), pl.lit(end_excl)),
    ).filter(pl.col("e") > pl.col("s"))
    exit_event = (pl.col("last_in_period") & pl.col("DEC").is_not_null()
                  & (pl.col("DEC") < pl.lit(end_excl)) & (pl.col("DEC") < pl.col("b18")))
    move_event = pl.col("next_is_move") & (pl.col("end") < pl.lit(end_excl))
    eps = eps.with_columns(exit_event=exit_event, move_event=move_event)
    cuts = [birthday(pl.col("DOB"), k) for k in age_cuts] + [
        pl.col("pstart") + timedelta(days=d) for d in dur_cuts]
    seg = eps.select(
        "CHILD", "DOB", "pstart", "placement_group", "exit_event", "move_event", "s", "e",
        cut=pl.concat_list([pl.col("s"), *cuts]),
    ).explode("cut").filter((pl.col("cut") >= pl.col("s")) & (pl.col("cut") < pl.col("e")))
    seg = seg.sort("CHILD", "s", "cut").with_columns(
        seg_end=pl.col("cut").shift(-1).over("CHILD", "s").fill_null(pl.col("e")))
    seg = seg.with_columns(
        days=(pl.col("seg_end") - pl.col("cut")).dt.total_days(),
        is_last=pl.col("seg_end") == pl.col("e"),
        age=age_on(pl.col("DOB"), pl.col("cut")),
        dur=(pl.col("cut") - pl.col("pstart")).dt.total_days(),
    ).with_columns(ab=_band_expr(pl.col("age"), age_cuts), db=_band_expr(pl.col("dur"),
                                                                          dur_cuts),
                   cohort=collection_year_of(pl.col("pstart")))
    gmap = {g: i for i, g in enumerate(groups)}
    keys = ["placement_group", "ab", "db", *(["cohort"] if by_cohort else [])]
    return (seg.group_by(keys)
            .agg(days=pl.col("days").sum(),
                 exits=(pl.col("is_last") & pl.col("exit_event")).sum(),
                 moves=(pl.col("is_last") & pl.col("move_event")).sum())
            .filter(pl.col("placement_group").is_in(list(groups)))
            .with_columns(g=pl.col("placement_group").replace_strict(gmap, return_dtype=pl.Int32))
            .sort(keys))


# ---------------------------------------------------------------- partial pooling

def _cell_grid(n_g: int, n_ab: int) -> np.ndarray:
    """``[cell, 3]`` (group, age band, duration band) of every cell, in the simulation's order
    ``(group * n_ab + age band) * N_DB + duration band``."""
    g, a, d = np.meshgrid(np.arange(n_g), np.arange(n_ab), np.arange(N_DB), indexing="ij")
    return np.column_stack([g.reshape(-1), a.reshape(-1), d.reshape(-1)])


def _design(cells: np.ndarray, n_g: int, n_ab: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Main-effects design with an intercept and every level of each factor.

    Parameters
    ----------
    cells
        ``[cell, 3]`` group, age band and duration band indices.
    n_g, n_ab
        Numbers of placement groups and age bands.

    Returns
    -------
    X : numpy.ndarray
        ``[cell, 1 + n_g + n_ab + N_DB]`` indicator columns (the effects are identified by
        their priors, so no level is dropped).
    blocks : list of numpy.ndarray
        The column indices of each factor (group, age band, duration band).
    """
    sizes = (n_g, n_ab, N_DB)
    cols = [np.ones(len(cells))]
    blocks, j = [], 1
    for f, n in enumerate(sizes):
        cols += [(cells[:, f] == k).astype(float) for k in range(n)]
        blocks.append(np.arange(j, j + n))
        j += n
    return np.column_stack(cols), blocks


def _penalised_poisson(y: np.ndarray, X: np.ndarray, offset: np.ndarray, prec: np.ndarray,
                       max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Posterior mode of a Poisson log-linear model with independent N(0, 1 / prec) priors.

    Parameters
    ----------
    y, X, offset
        Counts, design and log exposure (rows with exposure only).
    prec
        Prior precision of each coefficient (0: flat prior).
    max_iter
        Newton steps at most (each halved until the objective does not fall).

    Returns
    -------
    beta : numpy.ndarray
        The mode.
    H : numpy.ndarray
        Negative Hessian of the log posterior at the mode (``X' diag(mu) X + diag(prec)``).
    objective : float
        Log likelihood (without the ``log y!`` constant) minus the quadratic penalty.
    converged : bool
        Whether the Newton step became negligible and everything is finite.
    """
    def objective(b):
        eta = X @ b + offset
        with np.errstate(over="ignore", invalid="ignore"):
            return float(y @ eta - np.exp(eta).sum() - 0.5 * (prec * b * b).sum())

    beta = np.zeros(X.shape[1])
    beta[0] = math.log(max(y.sum(), 0.5) / max(np.exp(offset).sum(), 1e-12))
    obj, converged = objective(beta), False
    for _ in range(max_iter):
        mu = np.exp(X @ beta + offset)
        H = (X.T * mu) @ X + np.diag(prec)
        try:
            step = np.linalg.solve(H, X.T @ (y - mu) - prec * beta)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-6:
            cand = beta + t * step
            new = objective(cand)
            if np.isfinite(new) and new >= obj - 1e-12:
                break
            t /= 2
        beta, obj = cand, new
        if np.max(np.abs(t * step)) < 1e-9:
            converged = True
            break
    mu = np.exp(X @ beta + offset)
    H = (X.T * mu) @ X + np.diag(prec)
    converged = converged and bool(np.isfinite(beta).all() and np.isfinite(H).all())
    return beta, H, obj, converged


def _poisson_glmm(y: np.ndarray, exposure: np.ndarray, X: np.ndarray,
                  blocks: list[np.ndarray]) -> dict:
    """Main-effects Poisson GLMM, variances by empirical Bayes (Laplace marginal likelihood).

    log E[y] = log exposure + X beta; beta[0] (intercept) has a flat prior, the coefficients of
    factor f are N(0, s_f^2). s = (s_f) maximises the Laplace approximation
    ``l(b) - b'P b / 2 - log|H| / 2 + log|P| / 2`` at the mode ``b``; factors with fewer than
    two levels observed keep s_f at the lower bound (their levels are not identified).

    Parameters
    ----------
    y, exposure
        Events and exposure per cell (cells with no exposure carry no information).
    X, blocks
        Design and factor columns from :func:`_design`.

    Returns
    -------
    dict
        ``beta``, ``cov`` (posterior covariance, the inverse of ``H``), ``sigma`` (per factor)
        and ``edf`` (effective degrees of freedom of the fit, ``p - tr(H^-1 P)``).
    """
    from scipy.optimize import minimize

    keep = exposure > 0
    p, n_f = X.shape[1], len(blocks)
    if not keep.any() or y[keep].sum() == 0:
        # nothing to pool: the overall rate from half an event, with its Poisson uncertainty
        beta, cov = np.zeros(p), np.zeros((p, p))
        beta[0] = math.log(0.5 / max(exposure.sum(), 1.0))
        cov[0, 0] = 1.0
        return {"beta": beta, "cov": cov, "sigma": np.zeros(n_f), "edf": 1.0}
    yk, Xk, off = y[keep], X[keep], np.log(exposure[keep])
    seen = [int((Xk[:, cols].sum(axis=0) > 0).sum()) >= 2 for cols in blocks]
    lo, hi = (math.log(b) for b in _SIGMA_BOUNDS)

    def precisions(log_s):
        prec = np.zeros(p)
        for f, cols in enumerate(blocks):
            prec[cols] = math.exp(-2.0 * log_s[f]) if seen[f] else math.exp(-2.0 * lo)
        return prec

    def neg_marginal(free):
        log_s = np.full(n_f, lo)
        log_s[np.array(seen)] = free
        prec = precisions(log_s)
        beta, H, obj, _ = _penalised_poisson(yk, Xk, off, prec)
        sign, logdet = np.linalg.slogdet(H)
        if sign <= 0 or not np.isfinite(obj):
            return 1e30
        return -(obj - 0.5 * logdet + 0.5 * np.log(prec[prec > 0]).sum())

    log_s = np.full(n_f, lo)
    if any(seen):
        res = minimize(neg_marginal, np.full(sum(seen), math.log(0.5)), method="L-BFGS-B",
                       bounds=[(lo, hi)] * sum(seen))
        log_s[np.array(seen)] = res.x
    prec = precisions(log_s)
    beta, H, _, ok = _penalised_poisson(yk, Xk, off, prec)
    cov = np.linalg.inv(H)
    cov = (cov + cov.T) / 2
    if not ok or not np.isfinite(cov).all():
        beta, cov = np.zeros(p), np.zeros((p, p))
        beta[0] = math.log(yk.sum() / exposure.sum())
        cov[0, 0] = 1.0 / max(yk.sum(), 1.0)
        return {"beta": beta, "cov": cov, "sigma": np.zeros(n_f), "edf": 1.0}
    edf = float(p - np.trace(cov * prec[None, :]))
    return {"beta": beta, "cov": cov, "sigma": np.exp(log_s), "edf": edf}


def _moment_dispersion(y: np.ndarray, expected: np.ndarray, df: float) -> float:
    """Moment estimate of the relative variance ``k`` of cell rates around their prior means.

    Under y ~ Poisson(e theta), theta ~ Gamma(1/k, 1/k), E[X^2] = (n - df) + k sum(e) for the
    Pearson statistic X^2 = sum((y - e)^2 / e), so k = max(0, (X^2 - (n - df)) / sum(e))
    (Marshall 1991, with ``df`` for the parameters of the prior means).

    Parameters
    ----------
    y, expected
        Events and prior expected events per cell; cells with ``expected <= 0`` are ignored.
    df
        Degrees of freedom used by the prior means.

    Returns
    -------
    float
        ``k >= 0``; 0 means no variation beyond Poisson (every cell at its prior mean).
    """
    ok = expected > 0
    e, yy = expected[ok], y[ok]
    if e.size == 0:
        return 0.0
    x2 = float(((yy - e) ** 2 / e).sum())
    return max(0.0, (x2 - (e.size - df)) / float(e.sum()))


def _gamma_posterior_mean(y: np.ndarray, exposure: np.ndarray, prior: np.ndarray,
                          k: float) -> np.ndarray:
    """Posterior mean rate ``prior (1 + k y) / (1 + k prior exposure)`` of a Poisson cell with
    a Gamma(1/k, 1/(k prior)) prior (the prior mean when ``k = 0``)."""
    return prior * (1.0 + k * y) / (1.0 + k * prior * exposure)


def _gamma_draws(rng: np.random.Generator, y: np.ndarray, exposure: np.ndarray,
                 prior: np.ndarray, k: float) -> np.ndarray:
    """Rates drawn from each cell's posterior Gamma(1/k + y, 1/(k prior) + exposure).

    Parameters
    ----------
    y, exposure
        ``[cell]`` events and exposure.
    prior
        ``[path, cell]`` prior mean rates (drawn per path).
    k
        Relative prior variance; 0 returns ``prior``.
    """
    if k <= 0:
        return prior
    a = 1.0 / k
    shape = np.broadcast_to(a + y, prior.shape)
    return rng.standard_gamma(shape) / (a / np.maximum(prior, 1e-300) + exposure)


def _hazard_fit(events: np.ndarray, days: np.ndarray, X: np.ndarray,
                blocks: list[np.ndarray]) -> dict:
    """Exit or move rates per cell: the GLMM main effects and the cells' gamma layer.

    Returns the GLMM's ``beta``, ``cov``, ``sigma`` and ``edf`` with ``k`` (relative variance
    of the cells around the main effects), ``prior`` and ``rate`` (posterior mean) per day.
    """
    fit = _poisson_glmm(events, days, X, blocks)
    prior = np.exp(X @ fit["beta"])
    k = _moment_dispersion(events, prior * days, fit["edf"])
    return {**fit, "k": k, "prior": prior,
            "rate": _gamma_posterior_mean(events, days, prior, k)}


# fine bands of time in care for the cohort trend (quarters, half-years, then years to 6)
COHORT_DUR_CUTS = (91, 182, 273, 365, 547, 730, 912, 1095, 1461, 1826, 2191)


def _conditional_cohort_slope(strata: np.ndarray, c: np.ndarray, y: np.ndarray,
                              d: np.ndarray) -> tuple[float, float, float]:
    """Maximum conditional likelihood of ``gamma`` in ``y ~ Poisson(d x r_s x exp(gamma c))``
    with a free rate ``r_s`` in every stratum ``s`` (eliminated by conditioning on each
    stratum's events, as in a stratified Cox model), by Newton's method from 0.

    Returns ``(gamma, se, robust_se)``: the model-based standard error and the sandwich one
    with the cohorts (the values of ``c``) as clusters, which also counts the scatter of whole
    cohorts around the trend; ``(0, inf, inf)`` when no stratum has events at two cohorts.
    """
    gam = 0.0
    n_s = int(strata.max()) + 1 if strata.size else 0
    tot = np.bincount(strata, weights=y, minlength=n_s)
    for _ in range(50):
        w = d * np.exp(np.clip(gam * c, -50.0, 50.0))
        sw = np.bincount(strata, weights=w, minlength=n_s)
        m1 = np.bincount(strata, weights=w * c, minlength=n_s) / np.maximum(sw, 1e-300)
        m2 = np.bincount(strata, weights=w * c * c, minlength=n_s) / np.maximum(sw, 1e-300)
        score = float((y * c).sum() - (tot * m1).sum())
        info = float((tot * np.maximum(m2 - m1 * m1, 0.0)).sum())
        if info <= 1e-9:
            return 0.0, math.inf, math.inf
        step = float(np.clip(score / info, -0.2, 0.2))
        gam += step
        if abs(step) < 1e-8:
            break
    # each row's score: (c - m1_s) (y - Y_s w / sw_s), summed within each cohort
    u = (c - m1[strata]) * (y - tot[strata] * w / np.maximum(sw[strata], 1e-300))
    _, cl = np.unique(c, return_inverse=True)
    n_cl = int(cl.max()) + 1
    meat = float((np.bincount(cl, weights=u, minlength=n_cl) ** 2).sum())
    robust = math.sqrt(meat * n_cl / max(n_cl - 1, 1)) / info if n_cl > 1 else math.inf
    return gam, 1.0 / math.sqrt(info), robust


def _cohort_trend(data: SSDA903, end_excl: date, groups: tuple[str, ...],
                  cuts: tuple[int, ...], origin: int, z_carry: float) -> dict:
    """The change per entry year (cohort) in the exit hazards, from every return up to the
    origin: children of the same placement group, age band and (fine) time in care compared
    across the years their periods of care began.

    Periods that began before the first return's year are left out (their start may be
    truncated). Returns ``gamma`` (log hazard ratio per cohort year) and ``se``, ``z`` and
    ``used`` (whether ``|z|`` reaches ``z_carry``).
    """
    first = data.collection_years[0]
    ex = _exposure(data, year_start(first), end_excl, groups, cuts, COHORT_DUR_CUTS,
                   by_cohort=True).filter((pl.col("cohort") >= first) & (pl.col("days") > 0))
    if ex.height == 0:
        return {"gamma": 0.0, "se": math.inf, "z": 0.0, "used": False}
    n_db = len(COHORT_DUR_CUTS) + 1
    strata = ((ex["g"].to_numpy().astype(np.int64) * 64 + ex["ab"].to_numpy()) * n_db
              + ex["db"].to_numpy())
    _, strata = np.unique(strata, return_inverse=True)
    c = (ex["cohort"].to_numpy() - origin).astype(float)
    gam, se, robust = _conditional_cohort_slope(
        strata, c, ex["exits"].to_numpy().astype(float), ex["days"].to_numpy().astype(float))
    se = max(se, robust)  # whole cohorts scatter around the trend more than Poisson says
    z = gam / se if math.isfinite(se) else 0.0
    return {"gamma": gam, "se": se, "z": z, "used": abs(z) >= z_carry}


def _trend_fit(totals: np.ndarray, expo: np.ndarray, t: np.ndarray) -> tuple[float, float,
                                                                             float] | None:
    """Log-linear trend of yearly totals: ``(b, se^2, t_bar)`` or None if not identified.

    ``t_bar`` is the information-weighted mean of ``t``, where the level is uncorrelated with
    the slope.
    """
    ok = expo > 0
    if ok.sum() < 3 or totals[ok].sum() == 0:
        return None
    X = np.column_stack([np.ones(ok.sum()), t[ok]])
    beta, H, _, conv = _penalised_poisson(totals[ok], X, np.log(expo[ok]), np.zeros(2))
    if not conv:
        return None
    cov = np.linalg.inv(H)
    mu = np.exp(X @ beta + np.log(expo[ok]))
    return float(beta[1]), float(cov[1, 1]), float((mu * t[ok]).sum() / mu.sum())


MIN_LEVEL_YEARS = 4  # years of entries a level-with-drift model needs (2 diffuse, 2 to fit)


def _kalman(y: np.ndarray, h: np.ndarray, s_eta2: float, drift: bool = True
            ) -> tuple[float, np.ndarray, np.ndarray]:
    """Kalman filter of ``y[t] = mu[t] + e[t]``, ``e ~ N(0, h[t])``, ``mu[t] = mu[t-1] + d +
    eta``, ``eta ~ N(0, s_eta2)``, with the state ``(mu, d)`` started diffuse (``d`` fixed at
    0 when not ``drift``).

    Returns the log-likelihood of ``y[2:]`` (the first two observations start the diffuse
    state, for either model, so the two likelihoods are comparable), and the filtered state
    and its covariance after the last observation.
    """
    a = np.array([y[0], 0.0])
    P = np.diag([1e7, 1e7 if drift else 0.0])
    T = np.array([[1.0, 1.0], [0.0, 1.0]])
    Q = np.diag([s_eta2, 0.0])
    ll = 0.0
    for t in range(len(y)):
        if t > 0:
            a, P = T @ a, T @ P @ T.T + Q
        f = P[0, 0] + h[t]
        v = y[t] - a[0]
        if t >= 2:
            ll += -0.5 * (math.log(2 * math.pi * f) + v * v / f)
        k = P[:, 0] / f
        a = a + k * v
        P = P - np.outer(k, P[0, :])
    return ll, a, (P + P.T) / 2


def _level_drift_fit(totals: np.ndarray, expo: np.ndarray) -> dict | None:
    """A local level with drift for the yearly log entry rate (``None`` with fewer than
    :data:`MIN_LEVEL_YEARS` years with entries).

    ``y[t] = log(entries[t] / exposure[t])`` is the level ``mu[t]`` plus Poisson noise (known:
    ``1 / entries[t]``) and an irregular year-to-year variation ``s_eps2``; the level moves by
    a random shock ``s_eta2`` a year (so a step in entries is taken up as a new level) and,
    in the second model, a fixed drift ``d``. The variances of each model are estimated by
    maximum likelihood from the window's own years, and the two are averaged by their
    likelihoods of the years after the first two, each year predicted from the years before
    it (both models start from those two years and fit two variances): a drift is carried
    forward only as far as the years give evidence for it.

    Returns
    -------
    dict or None
        ``mu`` (the level at the origin, log entries a year per unit exposure), ``drift``,
        ``cov`` (their 2 x 2 filtered covariance), ``s_eta2``, ``s_eps2``.
    """
    ok = (expo > 0) & (totals > 0)
    if ok.sum() < MIN_LEVEL_YEARS:
        return None
    y = np.log(totals[ok] / expo[ok])
    poisson = 1.0 / totals[ok]
    fits = {m: _ml_level(y, poisson, m) for m in (True, False)}
    # the weight of the drift: the two models' likelihoods of the same years y[2:], each
    # year predicted from the years before it. The drift is not a further parameter here: it
    # is part of the diffuse state, and its noisy early estimate already costs the drift
    # model in those predictions; each model has the same two fitted variances
    w = 1.0 / (1.0 + math.exp(min(50.0, fits[False]["ll"] - fits[True]["ll"])))
    d, lv = fits[True], fits[False]
    mu = w * d["a"][0] + (1 - w) * lv["a"][0]
    level_var = (w * d["P"][0, 0] + (1 - w) * lv["P"][0, 0]
                 + w * (1 - w) * (d["a"][0] - lv["a"][0]) ** 2)
    drift_var = w * d["P"][1, 1] + w * (1 - w) * d["a"][1] ** 2
    return {"mu": float(mu), "drift": float(w * d["a"][1]), "drift_weight": w,
            "cov": np.array([[level_var, w * d["P"][0, 1]], [w * d["P"][0, 1], drift_var]]),
            "s_eta2": w * d["s_eta2"] + (1 - w) * lv["s_eta2"],
            "s_eps2": w * d["s_eps2"] + (1 - w) * lv["s_eps2"]}


def _ml_level(y: np.ndarray, poisson: np.ndarray, drift: bool) -> dict:
    """Maximum-likelihood variances of the local level (with or without drift) and the
    filtered state after the last year."""
    from scipy.optimize import minimize

    scale = max(float(np.var(np.diff(y))), 1e-4)

    def nll(z):
        s_eta2, s_eps2 = scale * np.exp(z)
        return -_kalman(y, poisson + s_eps2, s_eta2, drift)[0]

    best = min((minimize(nll, np.array(z0), method="Nelder-Mead",
                         options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 400})
                for z0 in ((-2.0, -2.0), (-6.0, 0.0), (0.0, -6.0))), key=lambda r: r.fun)
    s_eta2, s_eps2 = (scale * np.exp(np.clip(best.x, -20, 5))).tolist()
    ll, a, P = _kalman(y, poisson + s_eps2, s_eta2, drift)
    return {"ll": ll, "a": a, "P": P, "s_eta2": s_eta2, "s_eps2": s_eps2}


def _with_level_drift(ent: dict, fit: dict) -> dict:
    """The entry fit ``ent`` with its level and trend from the level-with-drift ``fit`` (the
    drift already averaged with the no-drift model by their predictive likelihoods)."""
    d, vd = fit["drift"], float(fit["cov"][1, 1])
    return {**ent, "model": "level_drift", "level": fit["mu"],
            "level_var": float(fit["cov"][0, 0]), "level_drift_cov": float(fit["cov"][0, 1]),
            "trend": d, "trend_se2": vd, "trend_mean": d, "trend_var": vd, "t0": 0.0,
            "drift_weight": fit["drift_weight"], "s_eta2": fit["s_eta2"],
            "s_eps2": fit["s_eps2"]}


def _entry_fit(counts: np.ndarray, expo: np.ndarray, t: np.ndarray, widths: np.ndarray,
               trend: bool) -> dict:
    """Entry rates by age band: trend on the totals, gamma-Poisson pooling of the bands.

    Parameters
    ----------
    counts
        ``[year, band]`` entries.
    expo
        ``[year]`` population-years of exposure (the year's population times the share of
        the year inside the window).
    t
        ``[year]`` year minus origin.
    widths
        ``[band]`` single years of age in each band (their share of 0-17 is the band's share
        of the exposure).
    trend
        Whether to fit a trend.

    Returns
    -------
    dict
        ``events``, ``exposure`` (band population-years at ``t0``, trend-adjusted), ``pooled``
        (prior mean rate), ``k``, ``rate`` (posterior mean at ``t0``, per band population),
        ``t0`` (centre of the window, years from the origin), ``trend`` (b or None),
        ``trend_se2``, ``trend_mean`` and ``trend_var`` (the shrunk posterior).
    """
    share = widths / widths.sum()
    tr = _trend_fit(counts.sum(axis=1), expo, t) if trend else None
    b, se2, t0 = tr if tr is not None else (0.0, 0.0, 0.0)
    adj = expo * np.exp(b * (t - t0))
    y = counts.sum(axis=0)
    E = share * adj.sum()
    if y.sum() > 0:
        pooled = y.sum() / E.sum()
        k = _moment_dispersion(y, pooled * E, 1.0)
    else:
        pooled, k = 0.5 / max(E.sum(), 1e-12), 0.0
    rel = b * b / (b * b + se2) if b * b + se2 > 0 else 0.0
    return {"events": y, "exposure": E, "pooled": pooled, "k": k,
            "rate": _gamma_posterior_mean(y, E, np.full(len(y), pooled), k),
            "t0": t0, "trend": b if tr is not None else None, "trend_se2": se2,
            "trend_mean": b * rel, "trend_var": se2 * rel}


@register
@dataclass(frozen=True)
class StockFlow:
    """Multi-state stock-flow model from SSDA903 episodes (see the module docstring).

    Parameters
    ----------
    fit_years
        Collection years up to the origin used to estimate exit and move hazards (when
        ``window_years`` is None).
    entry_years
        Collection years up to the origin used to estimate the entry level and its drift
        (when ``window_years`` is None; default 30, i.e. every year of the returns).
    trend
        Fit a log-linear trend in the entry rate (needs 3+ entry years) and carry it forward;
        its (shrunk) uncertainty is drawn with the other parameters, so intervals widen with
        the horizon.
    population
        Optional ``year, population`` (0-17, the denominator for each collection year): entry
        rates are then per 10,000 children and follow the population forward (held at its last
        value unless ``population`` extends beyond the origin).
    window_years
        The reference period: fit entries, exits and moves on the last ``window_years`` years
        (any positive number, e.g. 0.5, 1 or 3) up to 31 March of the origin, instead of
        ``fit_years`` and ``entry_years``. None (the default) keeps those.
    cohort_trend
        Let the exit hazards change from one entry cohort to the next (children who entered
        care in later years staying longer or shorter), estimated from every return up to the
        origin; its point is carried forward only when it is clear (``|z| >= cohort_z``; the
        default 1.96 is the two-sided 5% level, 0 always carries it), and its uncertainty is
        always drawn. Off by default: on a development set of known-truth LAs
        (``benchmarks/bench_known_truth.py --first-index 100 --variants``) it did not beat
        the model without it (README).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        published_tables=False, child_level=True, placement_groups=True)


    name: str = "stockflow"
    fit_years: int = 3
    entry_years: int = 30
    trend: bool = True
    population: pl.DataFrame | None = None
    window_years: float | None = None
    cohort_trend: bool = False
    cohort_z: float = 1.96

    def __post_init__(self):
        for what in ("fit_years", "entry_years"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{what} must be a whole number of years >= 1, got {v!r}")
        w = self.window_years
        if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float))
                              or not math.isfinite(w) or w <= 0):
            raise ValueError(f"window_years must be a positive number of years or None, "
                             f"got {w!r}")

    def _windows(self, data: SSDA903) -> tuple[date, date, date]:
        """Starts of the exit/move window and of the entry window, and the (exclusive) end."""
        years = data.collection_years
        end_excl = year_end(years[-1]) + timedelta(days=1)
        if self.window_years is None:
            start = year_start(years[-min(self.fit_years, len(years))])
            entry_start = year_start(years[-min(self.entry_years, len(years))])
        else:  # whole years by the calendar (1 April), the rest in days
            whole = int(self.window_years)
            start = (end_excl.replace(year=end_excl.year - whole)
                     - timedelta(days=round((self.window_years - whole) * _DAYS_PER_YEAR)))
            start = entry_start = max(start, year_start(years[0]))
        return start, entry_start, end_excl

    def fit(self, data: SSDA903) -> FittedStockFlow:
        if not isinstance(data, SSDA903):
            raise TypeError("stockflow is fitted on SSDA903 episodes (cobic.data.read_ssda903)")
        origin = data.collection_years[-1]
        start, entry_start, end_excl = self._windows(data)
        years = tuple(y for y in data.collection_years if year_end(y) >= start)
        groups = data.codes.group_names
        bands = data.codes.age_bands
        cuts = _age_cuts(data.codes)
        n_g, n_ab = len(groups), len(bands)

        # ---- exits and moves: events over exposure in every cell, pooled (module docstring)
        ex = _exposure(data, start, end_excl, groups, cuts, by_cohort=self.cohort_trend)
        cohort = self._exit_cohort(data, ex, end_excl, groups, cuts, origin)
        if self.cohort_trend:
            ex = (ex.group_by("placement_group", "ab", "db", "g")
                  .agg(pl.col("days", "exits", "moves").sum())
                  .sort("placement_group", "ab", "db"))
        cells = _cell_grid(n_g, n_ab)
        idx = (ex["g"].to_numpy() * n_ab + ex["ab"].to_numpy()) * N_DB + ex["db"].to_numpy()
        n_cells = len(cells)
        days = np.bincount(idx, weights=ex["days"].to_numpy().astype(float), minlength=n_cells)
        exits = np.bincount(idx, weights=ex["exits"].to_numpy().astype(float), minlength=n_cells)
        moves = np.bincount(idx, weights=ex["moves"].to_numpy().astype(float), minlength=n_cells)
        X, blocks = _design(cells, n_g, n_ab)
        exit_fit = _hazard_fit(exits, days, X, blocks)
        move_fit = _hazard_fit(moves, days, X, blocks)

        # ---- entries by year and age band (for the trend); single ages and first placements
        # as proportions
        entry_years = tuple(y for y in data.collection_years if year_end(y) >= entry_start)
        per = derive.periods_of_care(data).filter(
            pl.col("start").is_between(entry_start, end_excl - timedelta(days=1)))
        per = per.with_columns(year=collection_year_of(pl.col("start")),
                               ab=_band_expr(pl.col("age_at_start"), cuts))
        counts = np.zeros((len(entry_years), n_ab))
        for y, b, n in per.group_by("year", "ab").agg(pl.len()).iter_rows():
            counts[entry_years.index(y), b] += n
        # who enters (single ages, first placements) from the recent window of exits and
        # moves: the mix of entrants shifts (e.g. towards residential) faster than their number
        recent = per.filter(pl.col("start") >= start)
        age_counts = np.zeros(N_AGES)
        for a, n in recent.group_by("age_at_start").agg(pl.len()).iter_rows():
            age_counts[min(max(a, 0), N_AGES - 1)] += n
        first = np.zeros((n_ab, n_g))
        gmap = {gg: i for i, gg in enumerate(groups)}
        for b, gg, n in recent.group_by("ab", "first_group").agg(pl.len()).iter_rows():
            first[b, gmap[gg]] += n
        dest = np.zeros((n_ab, n_g))
        moves_to = _move_destinations(data, start, end_excl, cuts)
        for b, gg, n in moves_to.iter_rows():
            dest[b, gmap[gg]] += n

        pop = self._population(entry_years, origin)
        # the share of each collection year inside the entry window (1 for whole years)
        frac = np.array([((min(year_end(y) + timedelta(days=1), end_excl)
                           - max(year_start(y), entry_start)).days)
                         / ((year_end(y) - year_start(y)).days + 1) for y in entry_years])
        t = np.array(entry_years, dtype=float) - origin
        trend = self.trend and len(entry_years) >= 3
        widths = np.array([b.max_age - b.min_age + 1 for b in bands], dtype=float)
        ent = _entry_fit(counts, pop * frac, t, widths, trend)
        share = widths / widths.sum()
        walk = _level_drift_fit(counts.sum(axis=1), pop * frac) if self.trend else None
        if walk is not None:
            ent = _with_level_drift(ent, walk)
        ent["population_mean"] = float((pop * frac).sum() / max(frac.sum(), 1e-12))
        ent["days"] = (end_excl - entry_start).days
        trend = ent["trend"] is not None
        # log entries a year per unit population at the origin, by band, and the trend
        if walk is not None:  # the bands' shares of the level at the origin
            w = np.maximum(ent["rate"] * share, 1e-300)
            level = np.log(w / w.sum()) + ent["level"]
        else:
            level = np.log(np.maximum(ent["rate"] * share, 1e-300)) + ent["trend_mean"] * (
                -ent["t0"])
        entry_beta = np.append(level, ent["trend_mean"] if trend else 0.0)

        stock = _initial_stock(data, groups)
        return FittedStockFlow(
            area=data.source, origin=origin, groups=groups, years=years,
            exit_beta=exit_fit["beta"], exit_cov=exit_fit["cov"],
            move_beta=move_fit["beta"], move_cov=move_fit["cov"],
            entry_beta=entry_beta, trend=trend,
            population=pop, future_population=self._future_population(origin),
            age_counts=age_counts, first_counts=first, dest_counts=dest, stock=stock,
            exposure=ex, age_bands=tuple(b.label for b in bands), age_cuts=cuts,
            age_ranges=tuple((b.min_age, b.max_age) for b in bands),
            cell_events={"exit": exits, "move": moves}, cell_days=days,
            cell_k={"exit": exit_fit["k"], "move": move_fit["k"]},
            cell_sigma={"exit": exit_fit["sigma"], "move": move_fit["sigma"]},
            entry=ent, windows=(start, entry_start, end_excl), exit_cohort=cohort,
        )

    def _exit_cohort(self, data: SSDA903, ex_c: pl.DataFrame, end_excl: date,
                     groups: tuple[str, ...], cuts: tuple[int, ...], origin: int) -> dict:
        """The exit hazards' cohort trend (:func:`_cohort_trend`) and ``centre``, the
        exposure-weighted mean cohort (relative to the origin) of each duration band in the
        fit window, which the fitted cell rates stand for; empty without ``cohort_trend``."""
        if not self.cohort_trend:
            return {}
        fit = _cohort_trend(data, end_excl, groups, cuts, origin, self.cohort_z)
        by_db = ex_c.group_by("db").agg(
            c=((pl.col("cohort") - origin) * pl.col("days")).sum() / pl.col("days").sum())
        centre = np.zeros(N_DB)
        for db, c in by_db.iter_rows():
            centre[db] = c if c is not None and math.isfinite(c) else 0.0
        return fit | {"centre": centre}

    def _population(self, years: tuple[int, ...], origin: int) -> np.ndarray:
        if self.population is None:
            return np.ones(len(years))
        pop = dict(self.population.select("year", "population").iter_rows())
        missing = [y for y in years if y not in pop]
        if missing:
            raise ValueError(f"population has no figure for years {missing}")
        return np.array([pop[y] for y in years], dtype=float)

    def _future_population(self, origin: int) -> dict[int, float]:
        if self.population is None:
            return {}
        return {int(y): float(p) for y, p in self.population.select("year", "population")
                .iter_rows() if y > origin}


def _move_destinations(data: SSDA903, start: date, end_excl: date,
                       age_cuts: tuple[int, ...] = AGE_CUTS) -> pl.DataFrame:
    eps = derive.episodes_in_scope(data)
    change = list(data.codes.placement_change_rne)
    first = pl.col("DECOM") == pl.col("DECOM").min().over("CHILD", "period")
    m = eps.filter(~first & pl.col("RNE").is_in(change)
                   & pl.col("DECOM").is_between(start, end_excl - timedelta(days=1)))
    m = m.with_columns(ab=_band_expr(age_on(pl.col("DOB"), pl.col("DECOM")), age_cuts))
    return m.group_by("ab", "placement_group").agg(pl.len()).select("ab", "placement_group",
                                                                     "len")


def _initial_stock(data: SSDA903, groups) -> dict[str, np.ndarray]:
    eps = derive.episodes_in_scope(data)
    d = data.extract_end
    pstart = pl.col("DECOM").min().over("CHILD", "period")
    cover = eps.with_columns(pstart=pstart).filter(
        (pl.col("DECOM") <= d) & (pl.col("end") > d))
    gmap = {g: i for i, g in enumerate(groups)}
    dob = cover["DOB"].to_numpy().astype("datetime64[D]")
    return {
        "group": cover["placement_group"].replace_strict(gmap, return_dtype=pl.Int32).to_numpy(),
        "dob": (dob - np.datetime64("1970-01-01", "D")).astype(np.int64),
        "pstart": (cover["pstart"].to_numpy().astype("datetime64[D]")
                   - np.datetime64("1970-01-01", "D")).astype(np.int64),
    }


@dataclass(frozen=True)
class FittedStockFlow:
    """Fitted rates and the stock at the origin; ``simulate`` draws futures."""

    area: str
    origin: int
    groups: tuple[str, ...]
    years: tuple[int, ...]
    exit_beta: np.ndarray
    exit_cov: np.ndarray
    move_beta: np.ndarray
    move_cov: np.ndarray
    entry_beta: np.ndarray
    trend: bool
    population: np.ndarray
    future_population: dict[int, float]
    age_counts: np.ndarray
    first_counts: np.ndarray
    dest_counts: np.ndarray
    stock: dict[str, np.ndarray]
    exposure: pl.DataFrame
    age_bands: tuple[str, ...] = tuple(b.label for b in default_codes().age_bands)
    age_cuts: tuple[int, ...] = AGE_CUTS
    age_ranges: tuple[tuple[int, int], ...] = tuple(
        (b.min_age, b.max_age) for b in default_codes().age_bands)
    cell_events: dict[str, np.ndarray] = field(default_factory=dict)
    cell_days: np.ndarray | None = None
    cell_k: dict[str, float] = field(default_factory=dict)
    cell_sigma: dict[str, np.ndarray] = field(default_factory=dict)
    entry: dict = field(default_factory=dict)
    windows: tuple[date, date, date] | None = None
    exit_cohort: dict = field(default_factory=dict)
    scenario: object = None
    scenario_name: str = "baseline"
    area_name: str | None = None

    # ------------------------------------------------------------ readable estimates
    def entry_rate(self) -> float:
        """Fitted entries per year (per 10,000 children when a population was given)."""
        lam = np.exp(self.entry_beta[:len(self.age_bands)]).sum()
        return float(lam * (1e4 if self.population.max() > 1 else 1.0))

    def rates(self) -> dict[str, pl.DataFrame]:
        """The fitted rates as tables: ``entries`` by age band, ``exits`` and ``moves`` by
        placement group x age band x time in care.

        Columns: ``events`` and ``exposure_days`` in the fit window; ``raw_rate_per_year``
        (events over exposure; null without exposure), ``prior_rate_per_year`` (what the cell
        is pooled towards: the main effects for exits and moves, the pooled rate for entries),
        ``prior_events`` (the prior's weight in events, 1 / k; infinite when the cells show no
        variation beyond Poisson) and ``rate_per_year`` (the shrunk posterior mean). Exit and
        move rates are per child looked after per year; entry rates are entries a year at the
        window's average population and its centre year (trend-adjusted), with
        ``rate_at_origin_per_year`` the level the simulation starts from.
        """
        e = self.entry
        n_ab = len(self.age_bands)
        share = np.array([hi - lo + 1 for lo, hi in self.age_ranges], dtype=float)
        share = share / share.sum()
        # band population-years -> entries a year at the window's average population
        per_year = share * e["population_mean"]
        raw = np.where(e["exposure"] > 0, e["events"] / np.maximum(e["exposure"], 1e-300),
                       np.nan)
        prior_events = 1.0 / e["k"] if e["k"] > 0 else math.inf
        pop_origin = float(self.population[-1])
        entries = pl.DataFrame({
            "age_band": list(self.age_bands),
            "events": e["events"].astype(np.int64),
            "exposure_days": np.full(n_ab, float(e["days"])),
            "raw_rate_per_year": raw * per_year,
            "prior_rate_per_year": e["pooled"] * per_year,
            "prior_events": np.full(n_ab, prior_events),
            "rate_per_year": e["rate"] * per_year,
            "rate_at_origin_per_year": np.exp(self.entry_beta[:n_ab]) * pop_origin,
        }).with_columns(pl.col("raw_rate_per_year").fill_nan(None))
        out = {"entries": entries}
        cells = _cell_grid(len(self.groups), n_ab)
        X, _ = _design(cells, len(self.groups), n_ab)
        days = self.cell_days
        for kind, beta in (("exit", self.exit_beta), ("move", self.move_beta)):
            y, k = self.cell_events[kind], self.cell_k[kind]
            prior = np.exp(X @ beta)
            rate = _gamma_posterior_mean(y, days, prior, k)
            out[f"{kind}s"] = pl.DataFrame({
                "placement_group": [self.groups[g] for g in cells[:, 0]],
                "age_band": [self.age_bands[a] for a in cells[:, 1]],
                "duration_band": [DURATION_LABELS[d] for d in cells[:, 2]],
                "events": y.astype(np.int64),
                "exposure_days": days,
                "raw_rate_per_year": np.where(days > 0, y / np.maximum(days, 1e-300)
                                              * _DAYS_PER_YEAR, np.nan),
                "prior_rate_per_year": prior * _DAYS_PER_YEAR,
                "prior_events": np.full(len(y), 1.0 / k if k > 0 else math.inf),
                "rate_per_year": rate * _DAYS_PER_YEAR,
            }).with_columns(pl.col("raw_rate_per_year").fill_nan(None))
        return out

    def with_scenario(self, scenario, name: str | None = None) -> FittedStockFlow:
        return replace(self, scenario=scenario,
                       scenario_name=name or getattr(scenario, "name", "scenario"))

    # ------------------------------------------------------------ simulation
    def simulate(self, horizon: int, n_paths: int, seed: int,
                 checkpoints: Checkpoints | None = None) -> Paths:
        """``n_paths`` paths of ``horizon`` years from the origin, reproducible by ``seed``.

        ``checkpoints`` (one object for this fitted model and its scenarios): the first
        run given it saves its state at the start of each year; a later run resumes from
        the latest year whose inputs so far are the same (the same paths as a fresh run,
        in less time when a scenario changes only later years).
        """
        if horizon < 1 or n_paths < 1:
            raise ValueError(f"horizon and n_paths must be >= 1, got {horizon}, {n_paths}")
        rng = np.random.default_rng(seed)
        n_g = len(self.groups)
        P = n_paths
        sc = self.scenario

        n_ab = len(self.age_bands)
        # ---- parameter draws (uncertainty) -> per-path rate tables: main effects from their
        # normal posterior, then each cell's rate from its gamma posterior given them
        Xc, _ = _design(_cell_grid(n_g, n_ab), n_g, n_ab)
        eb = rng.multivariate_normal(self.exit_beta, self.exit_cov, size=P, method="eigh")
        mb = rng.multivariate_normal(self.move_beta, self.move_cov, size=P, method="eigh")
        # hazards per day, kept within 1e-6 and 20 a year so thin data cannot overflow
        lo, hi = 1e-6 / 365.25, 20.0 / 365.25
        h = {}
        for kind, b in (("exit", eb), ("move", mb)):
            prior = np.exp(np.clip(b @ Xc.T, np.log(lo), np.log(hi)))
            h[kind] = np.clip(_gamma_draws(rng, self.cell_events[kind], self.cell_days, prior,
                                           self.cell_k[kind]), lo, hi)
        h_exit = h["exit"].reshape(P, n_g, n_ab, N_DB)
        h_move = h["move"].astype(np.float32).reshape(-1)
        ent = self._entry_draws(rng, P)
        walk = self._entry_walk(rng, P, horizon)
        age_p = rng.dirichlet(self.age_counts + 0.5, size=P)  # [P, 18]
        first_p = np.stack([rng.dirichlet(self.first_counts[b] + 0.1, size=P)
                            for b in range(n_ab)], axis=1)  # [P, band, g]
        dest_p = np.stack([rng.dirichlet(self.dest_counts[b] + 0.1, size=P)
                           for b in range(n_ab)], axis=1)
        if sc is not None:
            h_exit = h_exit * sc.exit_multiplier
            first_p = sc.shift_mix(first_p, self.groups)
            dest_p = sc.shift_mix(dest_p, self.groups)
        first_cum, dest_cum = _cumulative(first_p), _cumulative(dest_p)
        age_within = _age_within_band(age_p, self.age_ranges)

        tables = {
            **self._cohort_draws(seed, P),
            "h_exit": h_exit.astype(np.float32).reshape(P, -1),
            "h_move": h_move.reshape(P, -1),
            "ent": ent, "walk": walk, "age_within": age_within,
            "first_cum": first_cum.reshape(P, n_ab, -1), "dest_cum": dest_cum.reshape(P, n_ab, -1),
        }
        # chunks of paths, two at a time on two threads (numpy releases the GIL in its
        # loops): small enough that memory stays flat however many paths are asked for. The
        # chunking depends only on the inputs, so the same seed gives the same paths anywhere.
        chunks = _path_chunks(P, self._children_per_path(ent, horizon))
        rngs = [np.random.default_rng(ss)
                for ss in np.random.SeedSequence(seed).spawn(max(2, len(chunks)))]
        parts_in = [(a, b, rngs[i]) for i, (a, b) in enumerate(chunks)]

        record = checkpoints is not None and checkpoints.claim()

        def run(part):
            a, b, r = part
            return self._run_paths(horizon, {k: v[a:b] for k, v in tables.items()}, r,
                                   checkpoints, record)

        with ThreadPoolExecutor(max_workers=min(2, len(parts_in))) as pool:
            parts = list(pool.map(run, parts_in))
        res = {k: np.concatenate([pt[k] for pt in parts], axis=1) for k in parts[0]}
        periods = tuple(self.origin + h for h in range(1, horizon + 1))
        band_names = self.age_bands
        return Paths(model="stockflow", areas=(self.area_name or self.area,), origin=self.origin,
                     periods=periods, groups=self.groups, values=res["stock"],
                     scenario=self.scenario_name,
                     extra={"child_days": res["child_days"], "entries": res["entries"],
                            "exits": res["exits"], "moves": res["moves"],
                            "days_by_duration": res["days_by_duration"]},
                     age_bands={b: res[b] for b in band_names})

    def _entry_draws(self, rng: np.random.Generator, P: int) -> np.ndarray:
        """``[path, band + 1]``: entry rates per unit population at the origin by band, and
        the trend (0 without one).

        The pooled rate is drawn from its gamma posterior, each band's rate from its gamma
        posterior given it, and the trend from its (shrunk) normal posterior; the level is
        taken at the window's centre ``t0``, so a drawn trend also moves the level at the
        origin. All relative to ``entry_beta`` (the posterior means), which scenarios and
        tests may replace.
        """
        e = self.entry
        n_ab = len(self.age_bands)
        y, E = e["events"], e["exposure"]
        total = float(y.sum())
        pooled = rng.standard_gamma(total if total > 0 else 0.5, size=P) / max(E.sum(), 1e-300)
        lam = _gamma_draws(rng, y, E, np.repeat(pooled[:, None], n_ab, axis=1), e["k"])
        if e.get("model") == "level_drift":
            # band shares from their posterior; the level at the origin and the drift jointly
            # from the filter's (drift-shrunk) normal posterior
            shares = lam / np.maximum(lam.sum(axis=1, keepdims=True), 1e-300)
            mean_share = e["rate"] / max(float(e["rate"].sum()), 1e-300)
            b_mean = float(self.entry_beta[n_ab])
            vl, vd = e["level_var"], e["trend_var"]
            c = float(np.clip(e["level_drift_cov"], -0.999 * math.sqrt(vl * vd),
                              0.999 * math.sqrt(vl * vd)))
            z = rng.multivariate_normal([0.0, 0.0], [[vl, c], [c, vd]], size=P, method="eigh")
            rel = shares / mean_share[None, :] * np.exp(z[:, :1])
            b = b_mean + z[:, 1]
            return np.column_stack([np.exp(self.entry_beta[:n_ab])[None, :] * rel, b])
        rel = lam / e["rate"][None, :]
        if self.trend:
            b_mean = float(self.entry_beta[n_ab])
            b = b_mean + math.sqrt(e["trend_var"]) * rng.standard_normal(P)
            rel = rel * np.exp((b - b_mean) * -e["t0"])[:, None]
        else:
            b = np.zeros(P)
        return np.column_stack([np.exp(self.entry_beta[:n_ab])[None, :] * rel, b])

    def _cohort_draws(self, seed: int, P: int) -> dict[str, np.ndarray]:
        """``{"cohort_gamma": [path]}``: the exit hazards' change per entry cohort on each path,
        from its normal posterior around the carried point (0 unless clear), on a stream of
        its own; empty without a cohort trend."""
        c = self.exit_cohort
        if not c or not math.isfinite(c["se"]):
            return {}
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
        mean = c["gamma"] if c["used"] else 0.0
        gam = np.clip(mean + c["se"] * rng.standard_normal(P), -0.3, 0.3)
        return {"cohort_gamma": gam.astype(np.float32)}

    def _children_per_path(self, ent: np.ndarray, horizon: int) -> float:
        """Children one path follows: those in care at the origin and the expected entrants
        over the horizon (at the mean of the drawn entry rates)."""
        lam = float(self._entry_lambda(ent.mean(axis=0, keepdims=True),
                                       self.origin + horizon).sum())
        return len(self.stock["group"]) + horizon * max(lam, 0.0)

    def _entry_walk(self, rng: np.random.Generator, P: int, horizon: int) -> np.ndarray:
        """``[path, year]`` log multipliers of the entry level after the origin: the level's
        random shocks (cumulative) and the year's irregular variation; zero without a
        level-with-drift fit."""
        e = self.entry
        if e.get("model") != "level_drift":
            return np.zeros((P, horizon))
        shocks = np.cumsum(rng.normal(0.0, math.sqrt(e["s_eta2"]), (P, horizon)), axis=1)
        return shocks + rng.normal(0.0, math.sqrt(e["s_eps2"]), (P, horizon))

    def _run_paths(self, horizon: int, tables: dict[str, np.ndarray],
                   rng: np.random.Generator, checkpoints: Checkpoints | None = None,
                   record: bool = False) -> dict[str, np.ndarray]:
        """Simulate the paths whose parameter tables are given (one chunk), resuming from
        the latest year ``checkpoints`` holds for the same inputs, and saving each year's
        starting state there when ``record``."""
        sc = self.scenario
        P = tables["ent"].shape[0]
        periods = tuple(self.origin + h for h in range(1, horizon + 1))
        year_entries = [self._year_entry_rates(tables, year, hi)
                        for hi, year in enumerate(periods)]
        extra_uasc = sc.extra_uasc if sc is not None else 0.0
        start, snap, keys = 0, None, None
        if checkpoints is not None:
            prefix = (self.origin, horizon, P, extra_uasc, self.age_cuts,
                      self._stock_digest())
            keys = checkpoints.keys(prefix, tables, rng, year_entries)
            start, snap = checkpoints.latest(keys)
        if snap is None:
            st = self._initial_state(P)
            totals = _zero_totals(P, horizon, len(self.groups), self.age_bands)
            followed = float(P * len(self.stock["group"]))
        else:
            st, totals, followed = checkpoints.restore(snap, rng, start)
        for hi in range(start, horizon):
            if record:
                checkpoints.save(keys[hi], st, totals, followed, rng)
            lam_band = year_entries[hi]
            followed += float(lam_band.sum())
            _check_entrants(lam_band, followed, P, periods[hi])
            st = self._simulate_year(periods[hi], hi, st, totals, tables, lam_band, rng)
        return totals

    def _stock_digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for k in sorted(self.stock):
            h.update(k.encode() + np.ascontiguousarray(self.stock[k]).tobytes())
        return h.hexdigest()

    def _year_entry_rates(self, tables: dict[str, np.ndarray], year: int,
                          hi: int) -> np.ndarray:
        """``[path, band]`` expected entrants in ``year`` (the ``hi``-th forecast year),
        with the entry level's random walk and the scenario's change."""
        lam_band = self._entry_lambda(tables["ent"], year) * np.exp(
            tables["walk"][:, hi:hi + 1])
        if self.scenario is not None:
            lam_band = self.scenario.adjust_entries(lam_band, year, self.origin)
        return lam_band

    def _initial_state(self, P: int) -> dict[str, np.ndarray]:
        """The stock at the origin, replicated per path (day numbers as int32)."""
        s0 = self.stock
        n0 = len(s0["group"])
        st = {
            "path": np.repeat(np.arange(P, dtype=np.int32), n0),
            "group": np.tile(s0["group"], P).astype(np.int32),
            "pstart": np.tile(s0["pstart"], P).astype(np.int32),
            # the birthdays at which the age band changes (1, 5, 10, 16) and the 18th
            "bdays": np.tile(_birthdays(s0["dob"], self.age_cuts), (P, 1)).astype(np.int32),
            "active_from": np.full(P * n0, day_number(year_end(self.origin)) + 1, np.int32),
        }
        st.update(_bands_at(st["bdays"], st["pstart"], st["active_from"]))
        return st

    def _simulate_year(self, year: int, hi: int, st: dict[str, np.ndarray],
                       totals: dict[str, np.ndarray], tables: dict[str, np.ndarray],
                       lam_band: np.ndarray, rng: np.random.Generator
                       ) -> dict[str, np.ndarray]:
        """One forecast year: its entrants, four quarters of exits and moves, and the stock
        on 31 March (adds to ``totals[...][0, :, hi]``; returns the children still in care)."""
        n_ab = len(self.age_bands)
        P = tables["ent"].shape[0]
        ys, ye = day_number(year_start(year)), day_number(year_end(year)) + 1
        st = self._add_entrants(st, totals["entries"][0, :, hi], tables, lam_band, ys, ye, rng)
        # ---- four quarters; entrants not yet in care have no exposure (tau = 0)
        q_edges = [ys, day_number(date(year - 1, 7, 1)), day_number(date(year - 1, 10, 1)),
                   day_number(date(year, 1, 1)), ye]
        for qs, qe in zip(q_edges[:-1], q_edges[1:], strict=True):
            self._simulate_quarter(qs, qe, st, {k: v[0, :, hi] for k, v in totals.items()
                                                 if k in _QUARTER_TOTALS}, tables, rng)
        # ---- stock on 31 March; drop those who left
        idx = np.flatnonzero(st["active_from"] < _NEVER)
        st = {k: v.take(idx, axis=0) for k, v in st.items()}
        path, group, bd = st["path"], st["group"], st["bdays"]
        _accumulate(totals["stock"][0, :, hi], path, group, 1.0)
        age_end = (bd[:, :n_ab - 1] <= ye - 1).sum(axis=1)
        for b_i, name in enumerate(self.age_bands):
            totals[name][0, :, hi] = np.bincount(path[age_end == b_i], minlength=P)
        return st

    def _add_entrants(self, st: dict[str, np.ndarray], entries: np.ndarray,
                      tables: dict[str, np.ndarray], lam_band: np.ndarray, ys: int, ye: int,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The year's entrants drawn and added to the state (and counted in ``entries``)."""
        sc = self.scenario
        n_ab = len(self.age_bands)
        P = lam_band.shape[0]
        n_new = rng.poisson(lam_band)  # [P, band]
        if sc is not None and sc.extra_uasc:
            n_new[:, n_ab - 1] += rng.poisson(sc.extra_uasc * np.ones(P))
        tot = int(n_new.sum())
        if not tot:
            return st
        offsets = np.floor(_DAYS_PER_YEAR * np.array([*self.age_cuts, 18])).astype(
            np.int64)[None, :]
        npath = np.repeat(np.repeat(np.arange(P), n_ab), n_new.reshape(-1))
        nband = np.repeat(np.tile(np.arange(n_ab), P), n_new.reshape(-1))
        # single ages: multinomial counts per path and band, laid out in the same
        # (path, band) blocks as npath and nband
        by_age = rng.multinomial(n_new, tables["age_within"])  # [P, band, 18]
        ages = np.repeat(np.tile(np.arange(N_AGES), P * n_ab), by_age.reshape(-1))
        day = ys + rng.integers(0, ye - ys, size=tot)
        ndob = day - np.floor(365.25 * ages + rng.random(tot) * 362.25).astype(np.int64)
        g0 = _categorical(rng, tables["first_cum"].reshape(P * n_ab, -1), npath * n_ab + nband)
        new = {"path": npath, "group": g0, "pstart": day,
               # future entrants: birthdays as whole days of 365.25 (within a day)
               "bdays": ndob[:, None] + offsets, "active_from": day}
        new.update(_bands_at(new["bdays"], day, day))
        _accumulate(entries, npath, g0, 1.0)
        return {k: np.concatenate([v, new[k].astype(np.int32)]) for k, v in st.items()}

    def _simulate_quarter(self, qs: int, qe: int, st: dict[str, np.ndarray],
                          totals: dict[str, np.ndarray], tables: dict[str, np.ndarray],
                          rng: np.random.Generator) -> None:
        """Exits and moves over the quarter [qs, qe), in place on ``st`` and ``totals``
        (this year's slices)."""
        n_g, n_ab = len(self.groups), len(self.age_bands)
        n_cut = n_ab - 1
        P = tables["ent"].shape[0]
        h_exit_f, h_move_f = tables["h_exit"].reshape(-1), tables["h_move"].reshape(-1)
        path, group, bd = st["path"], st["group"], st["bdays"]
        s = np.maximum(st["active_from"], np.int32(qs))
        tau = np.maximum(np.int64(qe) - s, 0).astype(np.float32)
        ab, db = st["ab"], st["db"]
        pg = path * n_g + group
        cell = (pg * n_ab + ab) * N_DB + db
        lam_exit = h_exit_f[cell] * tau
        lam_move = h_move_f[cell] * tau
        gam = tables.get("cohort_gamma")
        if gam is not None:  # the entry cohort relative to the origin, and the bands' centres
            centre = self.exit_cohort["centre"].astype(np.float32)
            crel = np.floor((st["pstart"] - day_number(year_start(self.origin + 1)))
                            / _DAYS_PER_YEAR) + 1.0
            cm = np.exp(gam[path] * (crel - centre[db])).astype(np.float32)
        # where the age or duration band changes inside the quarter, integrate the
        # hazards over the pieces (each band changes at most once) and move the bands on
        ch = np.flatnonzero((np.minimum(st["next_age"], st["next_dur"]) < qe) & (tau > 0))
        if ch.size:
            na, nd = st["next_age"][ch], st["next_dur"][ch]
            lam_exit[ch], lam_move[ch] = _piecewise_hazard(
                h_exit_f, h_move_f, pg[ch], ab[ch], db[ch], s[ch], na, nd, qe, n_ab)
            _advance_bands(st, ch, na, nd, qe, n_cut)
        if gam is not None:
            lam_exit *= cm
        p_exit = 1.0 - np.exp(-lam_exit)
        p_move = (1.0 - p_exit) * (1.0 - np.exp(-lam_move))
        u = rng.random(len(s), dtype=np.float32)
        t_ev = s + (rng.random(len(s), dtype=np.float32) * tau).astype(np.int32)
        b = bd[:, n_cut]
        before18 = t_ev < b
        haz_exit = (u < p_exit) & before18
        is_move = (u >= p_exit) & (u < p_exit + p_move) & before18
        # the 18th birthday ends care: events after it in the quarter do not happen
        exit_now = haz_exit | (b < qe)
        end_care = np.where(haz_exit, t_ev, np.minimum(b, np.int32(qe)))
        end_old = np.where(is_move, t_ev, np.where(exit_now, end_care, np.int32(qe)))
        days = np.maximum(end_old - s, 0)
        totals["child_days"] += np.bincount(pg, weights=days,
                                            minlength=P * n_g).reshape(P, n_g)
        mv = np.flatnonzero(is_move)
        if mv.size:
            dest_cum = tables["dest_cum"].reshape(P * n_ab, -1)
            new_g = _categorical(rng, dest_cum, path[mv] * n_ab + ab[mv])
            _accumulate(totals["child_days"], path[mv], new_g, end_care[mv] - t_ev[mv])
            _accumulate(totals["moves"], path[mv], new_g, 1.0)
            days[mv] += end_care[mv] - t_ev[mv]
            group[mv] = new_g
        # days by time in care at the start of the quarter (for case-rate payments)
        dur_now = s - st["pstart"]
        dcls = (dur_now >= 182).astype(np.int32) + (dur_now >= 365)
        totals["days_by_duration"] += np.bincount(path * 3 + dcls, weights=days,
                                                  minlength=P * 3).reshape(P, 3)
        xi = np.flatnonzero(exit_now)
        _accumulate(totals["exits"], path[xi], group[xi], 1.0)
        # out of care: no exposure from now on (removed at the year end)
        st["active_from"][xi] = _NEVER
        bd[xi, n_cut] = _NEVER

    def _entry_lambda(self, ent: np.ndarray, year: int) -> np.ndarray:
        """Expected entries per path and age band in ``year``."""
        n_ab = len(self.age_bands)
        lam = ent[:, :n_ab]
        if self.trend:
            lam = lam * np.exp(ent[:, n_ab:n_ab + 1] * (year - self.origin))
        pop = self.future_population.get(year, float(self.population[-1]))
        return lam * pop


def _path_chunks(n_paths: int, children_per_path: float) -> list[tuple[int, int]]:
    """``(start, stop)`` ranges of paths: at least 2 (one per thread) and as many as keep each
    under ``LIMITS.stockflow_chunk_child_paths`` children x paths (about 100 MB), so a
    forecast's peak memory is about two chunks whatever its number of paths."""
    per = max(1, int(LIMITS.stockflow_chunk_child_paths // max(children_per_path, 1.0)))
    n = max(2 if n_paths > 1 else 1, math.ceil(n_paths / per))
    edges = np.linspace(0, n_paths, n + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _check_entrants(lam_band: np.ndarray, followed: float, n_paths: int, year: int) -> None:
    """Refuse, before allocating them, entrants whose number would pass the memory budget
    (an entry rate fitted on too little data can imply millions of children a year)."""
    est = LIMITS.base_bytes + followed * LIMITS.stockflow_bytes_per_child_path
    if not np.isfinite(lam_band).all() or est > LIMITS.memory_budget_bytes:
        per_path = lam_band.sum(axis=1) if lam_band.size else np.zeros(1)
        top = float(np.nanmax(per_path)) if np.isfinite(per_path).any() else math.inf
        raise ResourceLimitError(
            f"stockflow: the fitted entry rates imply up to {top:,.0f} entrants a year on some "
            f"paths by {year} (median {float(np.nanmedian(per_path)):,.0f}; the simulation "
            f"would need over {format_bytes(est)}): the "
            "returns hold too little history to fit entries reliably (thin age bands or very "
            "few children); try a series model (--model naive or drift) or fewer paths")


_NEVER = np.iinfo(np.int32).max
_QUARTER_TOTALS = ("child_days", "moves", "days_by_duration", "exits")
_DUR_NEXT = np.array([*DURATION_CUTS, 10**8], dtype=np.int64)  # next duration cut by band


def _bands_at(bd: np.ndarray, pstart: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
    """Age band and duration band on ``day``, and the next day either changes.

    ``bd`` holds the birthdays at which the age band changes and, last, the 18th."""
    n_cut = bd.shape[1] - 1
    ab = np.zeros(bd.shape[0], dtype=np.int32)
    for k in range(n_cut):
        ab += bd[:, k] <= day
    dur = day - pstart
    db = (dur >= DURATION_CUTS[0]).astype(np.int32)
    for c in DURATION_CUTS[1:]:
        db += dur >= c
    at = np.minimum(ab, max(n_cut - 1, 0))[:, None]
    next_age = np.where(ab < n_cut, np.take_along_axis(bd, at, axis=1)[:, 0], _NEVER)
    next_dur = np.minimum(pstart + _DUR_NEXT[db], _NEVER)
    return {"ab": ab, "db": db, "next_age": next_age.astype(np.int32),
            "next_dur": next_dur.astype(np.int32)}


def _zero_totals(P: int, horizon: int, n_g: int,
                 age_bands: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The simulation's totals ``[1, path, year, ...]``, all zero."""
    out = {k: np.zeros((1, P, horizon, n_g))
           for k in ("stock", "child_days", "entries", "exits", "moves")}
    out["days_by_duration"] = np.zeros((1, P, horizon, 3))  # under 6 months, 6-12, 12+
    out.update({b: np.zeros((1, P, horizon)) for b in age_bands})
    return out


def _advance_bands(st: dict[str, np.ndarray], ch: np.ndarray, next_age: np.ndarray,
                   next_dur: np.ndarray, qe: int, n_cut: int) -> None:
    """Move the age and duration bands of rows ``ch`` on past change points before ``qe``."""
    up_a = ch[next_age < qe]
    st["ab"][up_a] += 1
    a_new = st["ab"][up_a]
    st["next_age"][up_a] = np.where(
        a_new < n_cut, st["bdays"][up_a, np.minimum(a_new, max(n_cut - 1, 0))], _NEVER)
    up_d = ch[next_dur < qe]
    st["db"][up_d] += 1
    st["next_dur"][up_d] = np.minimum(st["pstart"][up_d] + _DUR_NEXT[st["db"][up_d]], _NEVER)


def _piecewise_hazard(h_exit, h_move, pg, ab, db, s, next_age, next_dur, qe, n_ab):
    """Integrated exit and move hazards over [s, qe) for rows whose age or duration band
    changes inside the interval: split at the (at most two) change points."""
    c1 = np.clip(np.minimum(next_dur, next_age), s, qe)
    c2 = np.clip(np.maximum(next_dur, next_age), s, qe)
    lam_exit = np.zeros(len(s), dtype=np.float32)
    lam_move = np.zeros(len(s), dtype=np.float32)
    for lo, hi, at in ((s, c1, s), (c1, c2, c1), (c2, np.int64(qe), c2)):
        span = (hi - lo).astype(np.float32)
        a_k = np.minimum(ab + (next_age <= at), n_ab - 1)
        d_k = np.minimum(db + (next_dur <= at), N_DB - 1)
        cell = (pg * n_ab + a_k) * N_DB + d_k
        lam_exit += h_exit[cell] * span
        lam_move += h_move[cell] * span
    return lam_exit, lam_move


def _birthdays(dob: np.ndarray, age_cuts: tuple[int, ...] = AGE_CUTS) -> np.ndarray:
    """``[child, cuts + 1]`` day numbers of the birthdays ``age_cuts`` (1, 5, 10, 16) and 18."""
    return np.stack([birthday_days(dob, k) for k in (*age_cuts, 18)], axis=1)


def _accumulate(target: np.ndarray, path: np.ndarray, group: np.ndarray, weight) -> None:
    """target[path, group] += weight, for arrays of (path, group) pairs (fast bincount)."""
    n_p, n_g = target.shape
    w = np.broadcast_to(np.asarray(weight, dtype=float), path.shape)
    target += np.bincount(path.astype(np.int64) * n_g + group, weights=w,
                          minlength=n_p * n_g).reshape(n_p, n_g)


def _cumulative(probs: np.ndarray) -> np.ndarray:
    """Rows of ``probs`` (any leading shape, last axis categories) as normalised cumulative
    tables ``[rows, categories]`` for :func:`_categorical`."""
    c = np.cumsum(probs.reshape(-1, probs.shape[-1]), axis=1)
    return c / np.where(c[:, -1:] > 0, c[:, -1:], 1.0)


def _categorical(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element of ``rows``, drawn from the cumulative table ``cum[row]``."""
    u = rng.random(len(rows))
    out = np.zeros(len(rows), dtype=np.int32)
    for k in range(cum.shape[1] - 1):
        out += cum[rows, k] < u
    return out


def _age_within_band(age_p: np.ndarray,
                     ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """``[path, band, 18]`` probabilities of each single age within each age band
    (``ranges``: the bands' first and last ages)."""
    mask = np.zeros((len(ranges), N_AGES))
    for b, (lo, hi) in enumerate(ranges):
        mask[b, lo:hi + 1] = 1.0
    p = age_p[:, None, :] * mask[None, :, :]
    return p / p.sum(axis=2, keepdims=True)
