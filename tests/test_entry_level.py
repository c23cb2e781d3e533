"""stockflow's entry level: a local level with drift (averaged with no drift by their
predictive likelihoods), checked on entry series whose answer is known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cobic.demand.stockflow import MIN_LEVEL_YEARS, _level_drift_fit


def _poisson(mean: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(mean).astype(float)


def test_steady_growth_is_carried_forward():
    """12 years of entries growing 6% a year from 400: the drift model wins and its drift is
    the growth rate; the level at the origin is the last year's expected entries."""
    expected = 400.0 * 1.06 ** np.arange(12)
    fit = _level_drift_fit(_poisson(expected, 1), np.ones(12))
    assert fit["drift_weight"] > 0.8
    assert fit["drift"] == pytest.approx(math.log(1.06), abs=0.015)
    assert math.exp(fit["mu"]) == pytest.approx(expected[-1], rel=0.05)


def test_a_step_is_a_new_level_not_a_trend():
    """Flat at 300, then +40% three years before the origin and flat again: no trend to
    carry forward (weight and drift small), the level is the new one (420)."""
    expected = np.r_[np.full(8, 300.0), np.full(4, 420.0)]
    fit = _level_drift_fit(_poisson(expected, 2), np.ones(12))
    assert fit["drift_weight"] < 0.5
    assert abs(fit["drift"]) < 0.02
    assert math.exp(fit["mu"]) == pytest.approx(420.0, rel=0.06)


def test_noise_around_a_flat_level_carries_no_trend():
    rng = np.random.default_rng(3)
    expected = 250.0 * np.exp(rng.normal(0, 0.08, 12))  # year-to-year variation, no trend
    fit = _level_drift_fit(_poisson(expected, 4), np.ones(12))
    assert abs(fit["drift"]) < 0.02
    assert fit["s_eps2"] + fit["s_eta2"] > 0.002  # the variation is seen, not ignored
    assert math.exp(fit["mu"]) == pytest.approx(250.0, rel=0.12)


def test_exposure_makes_it_a_rate():
    """Doubling the population every year and the entries with it: a flat rate."""
    pop = 1000.0 * 2.0 ** np.arange(8)
    fit = _level_drift_fit(_poisson(pop * 0.3, 5), pop)
    assert abs(fit["drift"]) < 0.03
    assert math.exp(fit["mu"]) == pytest.approx(0.3, rel=0.05)


def test_too_few_years_fall_back():
    assert _level_drift_fit(np.array([10.0, 12.0, 11.0]), np.ones(3)) is None
    assert MIN_LEVEL_YEARS == 4


def _predictive_loglik(y: np.ndarray, h: np.ndarray, s_eta2: float, drift: bool) -> float:
    """log p(y[2:] | y[:2]) of the local level (with drift) by a second method: the joint
    normal of all years under a very wide prior on the start level and drift, conditioned
    on the first two years (no Kalman filter)."""
    n, v = len(y), 1e5
    t = np.arange(n, dtype=float)
    cov = s_eta2 * np.minimum.outer(t, t) + np.diag(h) + v  # start level: variance v
    if drift:
        cov = cov + v * np.outer(t, t)
    mean = np.full(n, y[0])

    def logpdf(idx):
        c, r = cov[np.ix_(idx, idx)], y[idx] - mean[idx]
        return -0.5 * (len(idx) * math.log(2 * math.pi) + np.linalg.slogdet(c)[1]
                       + r @ np.linalg.solve(c, r))

    return logpdf(np.arange(n)) - logpdf(np.arange(2))


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_drift_weight_is_the_posterior_chance_of_the_drift_model(seed):
    """With even prior odds, the drift's weight is L1 / (L0 + L1), the two models' likelihoods
    of the years after the first two given the years before (each at its own fitted
    variances), computed here without the filter; no further penalty for the drift."""
    from cobic.demand.stockflow import _ml_level

    rng = np.random.default_rng(seed)
    y_counts = _poisson(200.0 * np.exp(0.03 * np.arange(11) + rng.normal(0, 0.06, 11)), seed)
    fit = _level_drift_fit(y_counts, np.ones(11))
    y, pois = np.log(y_counts), 1.0 / y_counts
    ll = {}
    for m in (True, False):
        f = _ml_level(y, pois, m)
        ll[m] = _predictive_loglik(y, pois + f["s_eps2"], f["s_eta2"], m)
        assert f["ll"] == pytest.approx(ll[m], abs=1e-3)
    expected = 1.0 / (1.0 + math.exp(ll[False] - ll[True]))
    assert fit["drift_weight"] == pytest.approx(expected, abs=1e-3)
    assert 0.02 < expected < 0.98  # a case where the rule matters


def test_a_real_trend_under_year_to_year_noise_is_mostly_carried():
    """40 LAs' entries: 11 years growing 5% a year with AR(1) year effects (sd 7%): on
    average at least half the trend is carried forward (it is shrunk, not dropped), while
    the same noise with no trend carries none on average."""
    def mean_drift(trend: float) -> float:
        drifts = []
        for r in range(40):
            rng = np.random.default_rng([11, r])
            e = np.zeros(11)
            for t in range(1, 11):
                e[t] = 0.5 * e[t - 1] + rng.normal(0, 0.07)
            y = rng.poisson(200 * np.exp(trend * np.arange(11) + e)).astype(float)
            drifts.append(_level_drift_fit(y, np.ones(11))["drift"])
        return float(np.mean(drifts))

    assert mean_drift(math.log(1.05)) > 0.5 * math.log(1.05)
    assert abs(mean_drift(0.0)) < 0.01
