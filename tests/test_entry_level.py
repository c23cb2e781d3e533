"""stockflow's entry level: a local level with drift (averaged with no drift by Akaike
weights), checked on entry series whose answer is known by construction."""

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
