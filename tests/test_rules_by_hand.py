"""Money rules at further edges a mutation run of ``cobic/contract`` left untested, each
against a hand calculation: the cap flag of a band set, the first-dollar flag below its
threshold, band amounts on the other side, a cumulative cap on one side only, a reopener with
nothing paid to compare with, a tiny expected volume, activity-scaled mechanisms, the chance of
a loss of 50p, and a composite with no indicators."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cobic.contract import apply_terms, compare_mechanisms
from cobic.contract.incentives import composite
from cobic.contract.mechanisms import _scaled
from cobic.contract.rules import (
    _cumulative_caps,
    capitated_payment,
    rebased_capitation,
    share_variance,
)
from cobic.contract.terms import Band, Reopener, RiskShare
from tests.test_design import two_path_sim, two_path_terms

INF = float("inf")
# 100% of the first 3%, 50% from 3% to 8%, 20% beyond; provider's loss capped at 6%
ACA = (Band(0.0, 0.03, 1.0), Band(0.03, 0.08, 0.5), Band(0.08, INF, 0.2))


@pytest.mark.parametrize("x, share, hit", [(0.10, 0.059, False), (0.11, 0.06, True)])
def test_band_set_cap_flag_by_hand(x, share, hit):
    """An overspend of 10%: 3% + 50% x 5% + 20% x 2% = 5.9% of the target, under a 6% cap; of
    11%: 3% + 2.5% + 20% x 3% = 6.1%, capped at 6%, and the cap is hit."""
    rs = RiskShare(ACA, (), 0.06, None)
    s = share_variance(np.array([x * 1000.0]), np.array([1000.0]), rs)
    assert s.provider[0] == pytest.approx(share * 1000.0)
    assert bool(s.hit_loss_cap[0]) is hit
    np.testing.assert_allclose([a[0] for a in s.loss_band_amounts],
                               [30.0, 50.0, (x - 0.08) * 1000.0])


def test_first_dollar_below_its_threshold_shares_nothing_and_hits_no_cap():
    """Half the whole variance once it passes 2%, capped at 5%: a 1% overspend is below the
    threshold, so the provider bears nothing and no cap is hit."""
    rs = RiskShare((), (), 0.05, 0.05, first_dollar_loss=(0.02, 0.5),
                   first_dollar_gain=(0.02, 0.5))
    s = share_variance(np.array([10.0, -10.0]), np.array([1000.0, 1000.0]), rs)
    assert s.provider.tolist() == [0.0, 0.0]
    assert s.hit_loss_cap.tolist() == [False, False]
    assert s.hit_gain_cap.tolist() == [False, False]
    assert s.first_dollar_reached.tolist() == [False, False]


def test_band_amounts_are_zero_on_the_other_side():
    """A saving of 5% (gain) has no overspend in any loss band, and an overspend of 5% none in
    any gain band; the amounts of the side that applies are 30 and 20."""
    rs = RiskShare(ACA, ACA, None, None)
    s = share_variance(np.array([-50.0, 50.0]), np.array([1000.0, 1000.0]), rs)
    np.testing.assert_allclose(s.loss_band_amounts, [[0.0, 30.0], [0.0, 20.0], [0.0, 0.0]],
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(s.gain_band_amounts, [[30.0, 0.0], [20.0, 0.0], [0.0, 0.0]],
                               rtol=1e-12, atol=0)


def test_a_cumulative_cap_on_one_side_only_flags_that_side_only():
    """A cumulative gain cap of 4% and no cumulative loss cap: a provider share of +100 on a
    capitation of 1,000 is a loss, not clipped and no cap hit; -100 is clipped to -40, the gain
    cap hit."""
    terms = dataclasses.replace(two_path_terms(), cumulative_gain_cap=0.04,
                                cumulative_loss_cap=None)
    out, hit_loss, hit_gain = _cumulative_caps(terms, np.array([100.0, -100.0, -10.0]),
                                               np.array([1000.0, 1000.0, 1000.0]))
    assert out.tolist() == [100.0, -40.0, -10.0]  # a gain of 10 is within the cap of 40
    assert hit_loss.tolist() == [False, False, False]
    assert hit_gain.tolist() == [False, True, False]
    terms = dataclasses.replace(terms, cumulative_gain_cap=None, cumulative_loss_cap=0.04)
    out, hit_loss, hit_gain = _cumulative_caps(terms, np.array([100.0, -100.0]),
                                               np.array([1000.0, 1000.0]))
    assert out.tolist() == [40.0, -100.0]
    assert hit_loss.tolist() == [True, False]
    assert hit_gain.tolist() == [False, False]
    # nothing paid and nothing shared: a cap of 4% of nothing is not hit by a share of nothing
    out, hit_loss, _ = _cumulative_caps(terms, np.array([0.0]), np.array([0.0]))
    assert out.tolist() == [0.0] and hit_loss.tolist() == [False]
    # small sums: a loss of 50p on a capitation of GBP 10 is past a 4% cap (40p)
    out, hit_loss, _ = _cumulative_caps(terms, np.array([0.5]), np.array([10.0]))
    assert out.tolist() == [0.4] and hit_loss.tolist() == [True]
    both = dataclasses.replace(terms, cumulative_gain_cap=0.04)
    out, hit_loss, hit_gain = _cumulative_caps(both, np.array([0.0, -0.5]), np.array([0.0, 10.0]))
    assert out.tolist() == [0.0, -0.4]
    assert hit_loss.tolist() == [False, False] and hit_gain.tolist() == [False, True]


def test_a_reopener_with_nothing_paid_in_its_window_keeps_the_capitation_times_its_factor():
    """Re-based from year 3 on the 2 years before it: paid 100 and 100 against costs 120 and
    130 gives 0.5 x 1.2 + 0.5 x 1.3 = 1.25 (x factor 1); with nothing paid in those years
    there is no ratio to take, and the capitation is the factor (0.9) times its own."""
    ro = Reopener(year=3, factor=1.0, weights=(0.5, 0.5))
    cost = np.array([[120.0, 130.0, 140.0, 150.0]])
    cap = rebased_capitation(ro, np.array([[100.0, 100.0, 100.0, 100.0]]), cost)
    assert cap.tolist() == [[100.0, 100.0, 125.0, 125.0]]
    ro = Reopener(year=3, factor=0.9, weights=(0.5, 0.5))
    cap = rebased_capitation(ro, np.array([[0.0, 0.0, 100.0, 100.0]]), cost)
    assert cap.tolist() == [[0.0, 0.0, 90.0, 90.0]]
    # small sums: 50p paid against costs of GBP 1 a year is a ratio of 2
    cap = rebased_capitation(Reopener(3, 1.0, (0.5, 0.5)), np.array([[0.5, 0.5, 0.5, 0.5]]),
                             np.array([[1.0, 1.0, 1.0, 1.0]]))
    assert cap.tolist() == [[0.5, 0.5, 1.0, 1.0]]


def test_child_day_basis_with_an_expected_day_or_less():
    """GBP 100 for an expected 1 child-day (and GBP 50 for half a day) is GBP 100 a day: 2
    days pay 200; no expected days at all pay nothing a day."""
    terms = dataclasses.replace(two_path_terms(), basis="child_day")
    pay = capitated_payment(terms, np.array([100.0, 50.0, 100.0]), np.array([1.0, 0.5, 0.0]),
                            np.array([[2.0, 2.0, 2.0]]))
    assert pay.rate[0].tolist() == [100.0, 100.0, 0.0]
    assert pay.target[0].tolist() == [200.0, 200.0, 0.0]


def test_activity_scaled_payments_by_hand():
    """Each year's payment is split over paths in proportion to activity, with its mean at the
    capitation: activity 0.2 and 0.8 (mean 0.5) of a capitation of 110 pay 44 and 176; a year
    with no activity on any path pays nothing (not a division by zero)."""
    got = _scaled(np.array([110.0, 110.0]), np.array([[0.2, 0.0], [0.8, 0.0]]))
    np.testing.assert_allclose(got, [[44.0, 0.0], [176.0, 0.0]], rtol=1e-12)
    assert np.isfinite(got).all()


def test_chance_of_a_provider_loss_counts_every_loss_and_no_gain():
    """Two paths costing 100 and 100.2 a year: the P50 capitation is 100.1, so the block
    payment leaves margins of +0.5 and -0.5 over five years: a 50% chance of a loss (a loss of
    50p counts, a gain does not). The tariff pays each path its cost: margins 0, no loss."""
    sim = two_path_sim()
    cost = np.array([[100.0] * 5, [100.2] * 5])
    sim = dataclasses.replace(sim, cost=cost, cost_expected_prices=cost.copy())
    mech = compare_mechanisms(sim, apply_terms(sim, two_path_terms()))
    rows = {r["mechanism"]: r for r in mech.iter_rows(named=True)}
    assert rows["block"]["commissioner_mean"] == pytest.approx(500.5)
    assert rows["block"]["p_provider_loss"] == 0.5
    assert rows["tariff"]["provider_margin_mean"] == pytest.approx(0.0, abs=1e-9)
    assert rows["tariff"]["p_provider_loss"] == 0.0
    # a block of 101 a year (a historic outturn, no indexation) beats both paths' costs:
    # margins 5 and 4, gains on every path, so no chance of a loss
    rich = dataclasses.replace(two_path_terms(), method="historic", historic_outturn=101.0,
                               historic_year=2026)
    rows = {r["mechanism"]: r for r in compare_mechanisms(sim, apply_terms(sim, rich))
            .iter_rows(named=True)}
    assert rows["block"]["provider_margin_mean"] == pytest.approx(4.5)
    assert rows["block"]["p_provider_loss"] == 0.0


def test_a_composite_with_no_indicators_is_zero_for_every_path_and_year():
    assert composite((), np.ones((3, 4, 0))).shape == (3, 4)
    assert not composite((), np.ones((3, 4, 0))).any()


def test_a_composite_weights_each_contract_year_by_its_own_weight():
    """One indicator scored linearly from 0 to 10, weighted 0.2, 0.5 and 1.0 in contract
    years 1-3; values 10, 5 and 10 on one path, 0, 10, 2 on another: composites 0.2, 0.25,
    1.0 and 0, 0.5, 0.2. (Two paths, three years, one indicator: the year axis is the second.)
    """
    from cobic.contract.terms import Indicator

    ind = Indicator("visits", "higher", 0.0, 10.0, (0.2, 0.5, 1.0), "linear", (), 0.0, 0.0,
                    0.0)
    values = np.array([[[10.0], [5.0], [10.0]], [[0.0], [10.0], [2.0]]])
    np.testing.assert_allclose(composite((ind,), values), [[0.2, 0.25, 1.0], [0.0, 0.5, 0.2]],
                               rtol=1e-12)


def test_linear_scoring_is_zero_below_the_floor_and_one_above_the_target():
    """Floor 2, target 10 (higher is better): 0 scores 0 (not -0.25), 6 scores 0.5, 12 scores
    1; lower is better with floor 10 and target 2: 12 scores 0, 6 scores 0.5, 0 scores 1."""
    from cobic.contract.rules import achievement
    from cobic.contract.terms import Indicator

    up = Indicator("a", "higher", 2.0, 10.0, (1.0,), "linear", (), 0.0, 0.0, 0.0)
    down = Indicator("b", "lower", 10.0, 2.0, (1.0,), "linear", (), 0.0, 0.0, 0.0)
    np.testing.assert_allclose(achievement(up, np.array([0.0, 6.0, 12.0])), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(achievement(down, np.array([12.0, 6.0, 0.0])), [0.0, 0.5, 1.0])


def test_end_of_contract_cumulative_cap_by_hand():
    """Two years of GBP 1,000 capitation, a cumulative loss cap of 4% (GBP 80 over the
    contract) and no reconciliation: yearly shares of 60 and 40 (100 in all) are capped at 80,
    so the cap's adjustment is -20, booked in the last year, and the cap is hit."""
    from cobic.contract.rules import end_of_contract

    terms = dataclasses.replace(two_path_terms(), cumulative_loss_cap=0.04,
                                cumulative_gain_cap=None, reconciliation=None)
    cap = np.array([[1000.0, 1000.0]])
    end = end_of_contract(terms, cap, cap.copy(), np.array([[60.0, 40.0]]),
                          np.array([[60.0, 40.0]]), np.zeros((1, 2)))
    assert end.yearly.tolist() == [100.0] and end.reconciled.tolist() == [100.0]
    assert end.cap.tolist() == [-20.0] and end.provider.tolist() == [80.0]
    assert end.adjustment.tolist() == [-20.0] and end.hit_loss_cap.tolist() == [True]


def test_expected_band_payment_of_an_open_band_by_hand():
    """D standard normal: the expected overspend above 0 with no upper edge is
    E[D+] = 1 / sqrt(2 pi) = 0.398942; above 1, phi(1) - (1 - Phi(1)) = 0.083332."""
    import math

    from cobic.contract.risk_share import expected_band_payment

    assert expected_band_payment(0.0, 1.0, 0.0, math.inf) == pytest.approx(
        1 / math.sqrt(2 * math.pi), rel=1e-12)
    phi1 = math.exp(-0.5) / math.sqrt(2 * math.pi)
    tail1 = 0.5 * math.erfc(1 / math.sqrt(2))
    assert expected_band_payment(0.0, 1.0, 1.0, math.inf) == pytest.approx(phi1 - tail1,
                                                                           rel=1e-12)


def test_a_loss_cap_of_zero_is_hit_by_losses_only():
    """A loss cap of 0% (the provider bears no overspend): a 5% overspend costs the provider
    nothing and hits the cap; a 5% saving is no loss and hits no loss cap."""
    rs = RiskShare(ACA, (), 0.0, None)
    s = share_variance(np.array([50.0, -50.0]), np.array([1000.0, 1000.0]), rs)
    assert s.provider.tolist() == [0.0, 0.0]
    assert s.hit_loss_cap.tolist() == [True, False]


def test_a_reconciled_saving_is_shared_when_there_is_no_quality_gate():
    """Reconciliation with the provider keeping 100% of a saving up to 3% and no quality gate:
    a saving of 20 on a target of 2,000 (1%) is the provider's, -20 (a gain)."""
    from cobic.contract.rules import end_of_contract

    rs = RiskShare((Band(0.0, INF, 1.0),), (Band(0.0, 0.03, 1.0), Band(0.03, INF, 0.5)),
                   None, None)
    terms = dataclasses.replace(two_path_terms(), reconciliation=rs, quality_gate=None,
                                cumulative_loss_cap=None, cumulative_gain_cap=None)
    cap = np.array([[1000.0, 1000.0]])
    end = end_of_contract(terms, cap, cap.copy(), np.array([[-10.0, -10.0]]),
                          np.zeros((1, 2)), np.zeros((1, 2)))
    assert end.reconciled.tolist() == [-20.0] and end.provider.tolist() == [-20.0]
