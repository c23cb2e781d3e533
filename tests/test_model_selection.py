"""Honest model selection (``auto``) and the model capability table.

The selection is checked on series whose right answer is known by construction (a flat
series with noise: naive; an exact 6% a year growth: drift), and for honesty: what it sees
after the origin cannot change what it chooses or forecasts.
"""

from __future__ import annotations

import numpy as np
import pytest

from cobic.demand.api import DEFAULT_SERIES_MODEL, SERIES_MODELS
from cobic.demand.base import SeriesHistory, capabilities, capability_table, get_model, models_with


def _history(stock: np.ndarray, first_year: int = 2012) -> SeriesHistory:
    n_a, n_y = stock.shape
    years = tuple(range(first_year, first_year + n_y))
    exits = 0.4 * stock
    starts = np.diff(stock, axis=1, prepend=stock[:, :1]) + exits
    return SeriesHistory(tuple(f"LA{i:02d}" for i in range(n_a)), years, stock,
                         np.maximum(starts, 1.0), exits, np.full_like(stock, 50_000.0))


def test_auto_chooses_drift_when_every_area_grows_exactly_6pc_a_year():
    rng = np.random.default_rng(0)
    base = rng.uniform(200, 2000, 40)[:, None]
    stock = base * 1.06 ** np.arange(9)[None, :]
    fitted = get_model("auto").fit(_history(stock))
    # drift's medians are exact here (no noise), so its inner error is the smallest
    assert fitted.chosen == "drift", fitted.selection
    assert fitted.selection["drift"] < 0.5
    med = np.median(fitted.simulate(3, 400, 1).total()[:, :, 2], axis=1)
    assert np.allclose(med, stock[:, -1] * 1.06 ** 3, rtol=0.02)


def test_auto_never_extrapolates_noise_on_flat_series():
    """Independent noise around a fixed level: a trend fitted to noise is worse than the last
    value, and pooled mean reversion (panel's flow-equilibrium gap) is better still; auto
    must not pick drift, and its pick must beat naive where it sees that."""
    rng = np.random.default_rng(1)
    level = rng.uniform(200, 2000, 60)[:, None]
    stock = np.round(level * np.exp(rng.normal(0, 0.06, (60, 9))))
    fitted = get_model("auto").fit(_history(stock))
    assert fitted.selection["drift"] > fitted.selection["naive"]
    assert fitted.chosen != "drift"
    assert fitted.selection[fitted.chosen] < fitted.selection["naive"]


def test_auto_never_sees_past_its_origin():
    """Changing every year after the origin leaves the origin's choice and paths unchanged."""
    rng = np.random.default_rng(2)
    stock = np.round(rng.uniform(300, 900, 30)[:, None] * np.exp(
        np.cumsum(rng.normal(0.02, 0.05, (30, 10)), axis=1)))
    changed = stock.copy()
    changed[:, 7:] *= 3.0
    a = get_model("auto").fit(_history(stock).until(2018))
    b = get_model("auto").fit(_history(changed).until(2018))
    assert a.chosen == b.chosen and a.selection == b.selection
    assert np.array_equal(a.simulate(2, 200, 5).values, b.simulate(2, 200, 5).values)


def test_auto_falls_back_to_naive_when_too_short_to_score():
    stock = np.array([[100.0, 110.0, 120.0], [200.0, 190.0, 210.0]])
    fitted = get_model("auto").fit(_history(stock))
    assert fitted.chosen == "naive"
    expect = get_model("naive").fit(_history(stock)).simulate(2, 100, 3).values
    assert np.array_equal(fitted.simulate(2, 100, 3).values, expect)


def test_a_mixture_draws_equal_shares_from_its_members():
    """naive+drift on exact 6% growth: half the paths stay flat-ish (naive), half grow."""
    from cobic.demand.series import _mixture

    stock = 1000.0 * 1.06 ** np.arange(8)[None, :].repeat(20, axis=0)
    v = _mixture(("naive", "drift"), _history(stock), 3, 400, seed=1)
    last = stock[0, -1]
    naive_half, drift_half = v[:, :200, 2], v[:, 200:, 2]
    assert np.median(naive_half) == pytest.approx(last, rel=0.03)
    assert np.median(drift_half) == pytest.approx(last * 1.06 ** 3, rel=0.03)


def test_capabilities_replace_name_checks():
    assert DEFAULT_SERIES_MODEL in SERIES_MODELS
    assert "stockflow" not in SERIES_MODELS and capabilities("stockflow").child_level
    assert set(models_with(episodes=True, pooled=False)) >= {"naive", "drift", "stockflow"}
    assert "panel" not in models_with(episodes=True)
    assert capabilities("rate").needs_population
    t = capability_table()
    assert set(t["model"]) == set(SERIES_MODELS) | {"stockflow"}
    with pytest.raises(KeyError, match="unknown model"):
        capabilities("nope")


def test_beats_benchmark_is_a_one_sided_paired_t_test_by_hand():
    """Three areas, one inner origin each. Gains 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3)
    = 3.46 > 2.92 (Student t, 2 df, 95th percentile): beaten. Gains 1, 2, 6: mean 3,
    sd 2.65, t = 1.96 < 2.92: not beaten. A mean gain of zero or below never beats it."""
    from cobic.demand.series import beats_benchmark

    assert beats_benchmark(np.array([[1.0], [2.0], [3.0]]), 0.05)
    assert not beats_benchmark(np.array([[1.0], [2.0], [6.0]]), 0.05)
    assert not beats_benchmark(np.array([[-1.0], [-2.0], [-3.0]]), 0.05)
    # an area's gains at successive origins count once (as their mean): 1.5, 2, 2.5 -> t 6.93
    assert beats_benchmark(np.array([[1.0, 2.0], [2.0, 2.0], [2.0, 3.0]]), 0.05)
    # one area: each inner origin is an observation
    assert beats_benchmark(np.array([[1.0, 2.0, 3.0]]), 0.05)
    assert not beats_benchmark(np.array([[1.0]]), 0.05)


def test_beats_benchmark_agrees_with_scipys_one_sample_test():
    from scipy import stats

    from cobic.demand.series import beats_benchmark

    rng = np.random.default_rng(4)
    for _ in range(200):
        gain = rng.normal(0.2, 1.0, (12, 3))
        p = stats.ttest_1samp(gain.mean(axis=1), 0.0, alternative="greater").pvalue
        assert beats_benchmark(gain, 0.05) == (p < 0.05)


def test_auto_keeps_naive_when_its_rivals_gain_by_chance():
    """Independent random walks: nothing beats the last value but chance. Picking the lowest
    inner error alone chooses another candidate on 4 of these 6 panels; the paired test
    keeps naive on at least 5 (a 5% test may still be fooled once)."""
    picks = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        stock = np.round(rng.uniform(300, 2000, 80)[:, None] * np.exp(
            np.cumsum(rng.normal(0, 0.07, (80, 10)), axis=1)))
        picks.append(get_model("auto").fit(_history(stock)).chosen)
    assert picks.count("naive") >= 5, picks
