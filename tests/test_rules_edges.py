"""Money rules at the edges the mutation run found untested, each against a hand calculation:
CPI indexation over several years, the cap flag under first-dollar sharing, and a provider
margin of exactly zero in the mechanism comparison."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cobic.contract import apply_terms, compare_mechanisms
from cobic.contract.rules import indexed_capitation, share_variance
from cobic.contract.terms import Band, Indexation, RiskShare
from tests.test_design import two_path_sim, two_path_terms


def test_cpi_indexation_by_hand():
    """CPI 2%, 3%, 1%, 4%, 2% against an assumed 2%: year y is uprated by
    prod(1 + cpi_t, t <= y) / 1.02^y."""
    terms = dataclasses.replace(two_path_terms(), indexation=Indexation(
        "cpi", (0.02, 0.03, 0.01, 0.04, 0.02), 0.02))
    cap = np.array([100.0, 110.0, 120.0, 130.0, 140.0])
    want = [100.0 * 1.02 / 1.02,
            110.0 * 1.02 * 1.03 / 1.02 ** 2,
            120.0 * 1.02 * 1.03 * 1.01 / 1.02 ** 3,
            130.0 * 1.02 * 1.03 * 1.01 * 1.04 / 1.02 ** 4,
            140.0 * 1.02 * 1.03 * 1.01 * 1.04 * 1.02 / 1.02 ** 5]
    np.testing.assert_allclose(indexed_capitation(terms, cap)[0], want, rtol=1e-12)


@pytest.mark.parametrize("x, hit", [(0.08, False), (0.12, True)])
def test_first_dollar_cap_flag(x, hit):
    """First-dollar sharing of half the whole variance from 2%, capped at 5% of the target:
    an 8% overspend costs the provider 4% (under the cap), a 12% overspend 6% -> capped at 5%."""
    rs = RiskShare((), (), 0.05, 0.05, first_dollar_loss=(0.02, 0.5))
    s = share_variance(np.array([x * 1000.0]), np.array([1000.0]), rs)
    assert bool(s.hit_loss_cap[0]) is hit
    assert s.provider[0] == pytest.approx(min(0.5 * x, 0.05) * 1000.0)


def test_a_cap_of_zero_is_hit_by_any_variance_but_none():
    """A zero loss and gain cap: the provider bears nothing; it has hit its cap on a variance
    of GBP 1 either way, never on a variance of exactly 0."""
    bands = (Band(0.0, math.inf, 1.0),)
    rs = RiskShare(bands, bands, 0.0, 0.0)
    s = share_variance(np.array([0.0, 1.0, -1.0]), np.full(3, 1000.0), rs)
    assert s.provider.tolist() == [0.0, 0.0, 0.0]
    assert s.hit_loss_cap.tolist() == [False, True, False]
    assert s.hit_gain_cap.tolist() == [False, False, True]


def test_a_margin_of_exactly_zero_is_not_a_loss():
    """Both paths cost 100 a year: the block payment at P50 is exactly the cost, so every
    mechanism paying the cost leaves a margin of 0, which is no loss."""
    sim = two_path_sim()
    sim = dataclasses.replace(sim, cost=np.full_like(sim.cost, 100.0),
                              cost_expected_prices=np.full_like(sim.cost, 100.0))
    terms = two_path_terms()
    mech = compare_mechanisms(sim, apply_terms(sim, terms))
    block = mech.filter(mech["mechanism"] == "block").row(0, named=True)
    assert block["provider_margin_mean"] == pytest.approx(0.0, abs=1e-9)
    assert block["p_provider_loss"] == 0.0


@pytest.mark.parametrize("years", [4, 6])
def test_costs_for_other_years_than_the_contract_are_refused(years):
    from cobic.contract.rules import apply_contract

    terms = two_path_terms()  # 5 years
    cost = np.full((2, years), 100.0)
    with pytest.raises(ValueError, match=f"the contract runs 5 years, got {years}"):
        apply_contract(terms, np.full(5, 100.0), np.full(5, 1000.0), np.full((2, years), 1e3),
                       cost, np.zeros((2, years, 0)))


def test_no_indicators_score_nothing():
    from cobic.contract.rules import indicator_scores

    out = indicator_scores((), np.zeros((3, 5, 0)), np.arange(5))
    assert out.shape == (3, 5, 0)


def test_the_band_share_below_a_band_adds_nothing_from_it():
    """A 1% overspend with bands of 100% to 2%, 50% to 8% and 20% beyond: the provider's
    share is 1% (from the first band only); 5% is 2% + 0.5 x 3% = 3.5%."""
    from cobic.contract.rules import band_share

    bands = (Band(0.0, 0.02, 1.0), Band(0.02, 0.08, 0.5), Band(0.08, math.inf, 0.2))
    np.testing.assert_allclose(band_share(np.array([0.01, 0.05, 0.0]), bands),
                               [0.01, 0.035, 0.0], rtol=1e-12, atol=1e-15)


def test_the_multi_year_mechanism_is_compared_only_when_asked():
    from cobic.contract.mechanisms import payments

    sim = two_path_sim()
    priced = apply_terms(sim, two_path_terms())
    assert "cobic_multi_year" not in payments(sim, priced)
    assert "cobic_multi_year" in payments(sim, priced, multi_year=True)
