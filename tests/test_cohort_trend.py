"""The exit hazards' cohort trend (``StockFlow(cohort_trend=True)``): its estimator against a
closed form and a second method (a Poisson GLM with stratum effects), and its effect on the
simulation in the direction and only where it should act."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import statsmodels.api as sm

from cobic.data.ssda903 import read_ssda903
from cobic.demand.stockflow import StockFlow, _conditional_cohort_slope

FIXTURE = "fixtures/synthetic_la"


def test_two_cohorts_in_one_stratum_closed_form():
    # rates 30 / 1,000 and 45 / 1,500 days: a hazard ratio of 1 (gamma 0)...
    s = np.zeros(2, dtype=np.int64)
    g, se, _ = _conditional_cohort_slope(s, np.array([0.0, 1.0]), np.array([30.0, 45.0]),
                                         np.array([1000.0, 1500.0]))
    assert g == pytest.approx(0.0, abs=1e-9)
    assert se == pytest.approx(math.sqrt(1 / 30 + 1 / 45))
    # ... and 20 / 1,000 against 60 / 1,000 two cohort years apart: log(3) / 2 a year
    g, se, _ = _conditional_cohort_slope(s, np.array([-1.0, 1.0]), np.array([20.0, 60.0]),
                                         np.array([1000.0, 1000.0]))
    assert g == pytest.approx(math.log(3) / 2)
    assert se == pytest.approx(math.sqrt(1 / 20 + 1 / 60) / 2)


def test_a_stratum_rate_does_not_move_the_slope():
    # conditioning removes each stratum's own rate: scaling one stratum's days changes nothing
    s = np.array([0, 0, 1, 1])
    c = np.array([0.0, 1.0, 0.0, 1.0])
    y = np.array([10.0, 14.0, 40.0, 35.0])
    d = np.array([100.0, 120.0, 500.0, 400.0])
    a = _conditional_cohort_slope(s, c, y, d)
    b = _conditional_cohort_slope(s, c, y, d * np.array([1.0, 1.0, 7.0, 7.0]))
    assert a[:2] == pytest.approx(b[:2])


def test_no_contrast_gives_no_slope():
    # every stratum seen at one cohort only: nothing to compare
    g, se, rob = _conditional_cohort_slope(np.array([0, 1]), np.array([0.0, 1.0]),
                                           np.array([5.0, 9.0]), np.array([100.0, 100.0]))
    assert (g, se, rob) == (0.0, math.inf, math.inf)


def test_against_a_poisson_glm_with_stratum_effects():
    rng = np.random.default_rng(5)
    n_s, cohorts = 12, np.arange(-6, 1, dtype=float)
    s = np.repeat(np.arange(n_s), len(cohorts))
    c = np.tile(cohorts, n_s)
    d = rng.uniform(200, 2000, size=s.size)
    rate = np.exp(rng.normal(-5, 0.5, n_s))[s] * np.exp(-0.04 * c)
    y = rng.poisson(d * rate).astype(float)
    g, se, rob = _conditional_cohort_slope(s, c, y, d)
    X = np.column_stack([c, (s[:, None] == np.arange(n_s)[None, :]).astype(float)])
    glm = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(d))
    fit = glm.fit()
    assert g == pytest.approx(fit.params[0], abs=1e-6)
    assert se == pytest.approx(fit.bse[0], rel=1e-4)
    # the cohort-clustered sandwich: statsmodels' without its correction, times G / (G - 1)
    cl = glm.fit(cov_type="cluster", cov_kwds={"groups": np.searchsorted(cohorts, c),
                                               "use_correction": False})
    G = len(cohorts)
    assert rob == pytest.approx(cl.bse[0] * math.sqrt(G / (G - 1)), rel=1e-4)


@pytest.fixture(scope="module")
def fitted():
    return StockFlow(cohort_trend=True).fit(read_ssda903(FIXTURE))


def test_the_fit_carries_a_finite_trend_and_band_centres(fitted):
    c = fitted.exit_cohort
    assert math.isfinite(c["gamma"]) and 0 < c["se"] < 0.1
    assert c["z"] == pytest.approx(c["gamma"] / c["se"])
    assert c["used"] == (abs(c["z"]) >= 1.96)
    # children longer in care began earlier: the bands' mean cohorts fall with time in care
    assert np.all(np.diff(c["centre"]) < 0) and c["centre"][0] <= 0
    assert StockFlow().fit(read_ssda903(FIXTURE)).exit_cohort == {}


def _with_gamma(fitted, g):
    return replace(fitted, exit_cohort=fitted.exit_cohort | {"gamma": g, "used": True,
                                                             "se": 1e-12})


def test_a_zero_trend_changes_no_path(fitted):
    plain = replace(fitted, exit_cohort={})
    a = plain.simulate(3, 60, 4).values
    b = _with_gamma(fitted, 0.0).simulate(3, 60, 4).values
    assert np.array_equal(a, b)


def test_longer_stays_of_later_cohorts_raise_the_stock(fitted):
    base = np.median(_with_gamma(fitted, 0.0).simulate(5, 200, 4).total()[0], axis=0)
    longer = np.median(_with_gamma(fitted, -0.2).simulate(5, 200, 4).total()[0], axis=0)
    shorter = np.median(_with_gamma(fitted, 0.2).simulate(5, 200, 4).total()[0], axis=0)
    assert np.all(longer[1:] > base[1:]) and np.all(shorter[1:] < base[1:])
    # and more so as later cohorts make up more of the stock
    assert longer[-1] / base[-1] > longer[0] / base[0]
