"""Small parts of the goal-seek (``cobic.contract.design``) checked by hand or by a second
method: TOML strings read back by ``tomllib``, message formats, the margin warning's edge and
the Pareto front on a hand-made set of points."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from cobic.contract import load_contract, parse_contract
from cobic.contract.design import (
    Space,
    _between,
    _capitation_knob,
    _check_space,
    _fmt,
    _grid,
    _margin_warning,
    _notes,
    _pareto,
    _profile,
    _s,
    candidate_terms,
    parse_target,
    payment_rule_bounds,
    terms_toml,
)


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'a "quoted" name',
        "back\\slash",
        "tab\tnew\nline\r",
        "bell\x07 del\x7f nul\x00",
        "\x1f unit separator",
        "Ünïcödé £ – ok",
        "\x20space is printable",
    ],
)
def test_toml_strings_read_back_as_written(text):
    assert tomllib.loads(f"x = {_s(text)}")["x"] == text


def test_toml_strings_escape_only_what_they_must():
    assert _s("abc £ é") == '"abc £ é"'
    assert _s("a\x01b") == '"a\\u0001b"' and _s("a\x7fb") == '"a\\u007fb"'
    assert _s(" ~") == '" ~"'  # 0x20 and 0x7e are printable


@pytest.mark.parametrize(
    "measure, x, want",
    [
        ("commissioner_mean", 5e10, "£50,000.00m"),
        ("commissioner_mean", 1e5, "£0.10m"),
        ("commissioner_mean", 99_999.0, "£99,999"),
        ("provider_margin_mean", -2_345_678.0, "-£2.35m"),
        ("provider_margin_mean", -99_999.4, "-£99,999"),
        ("provider_loss_prob", 0.125, "12.5%"),
        ("commissioner_mean", float("nan"), "n/a"),
    ],
)
def test_measure_formats(measure, x, want):
    assert _fmt(measure, x) == want


def test_no_margin_warning_at_break_even():
    m = {"provider_margin_mean": 0.0, "provider_loss_prob": 0.5, "provider_margin_p10": -1e6}
    assert _margin_warning(m) is None
    assert _margin_warning(m | {"provider_margin_mean": 1e6}) is None
    w = _margin_warning(m | {"provider_margin_mean": -1.0})
    assert w == (
        "The provider is expected to lose money: mean margin -£1 over the "
        "contract, a loss on 50% of the paths (P10 margin -£1.0m)."
    )


def test_pareto_front_by_hand():
    # (cost, risk): a dominates c; b and a trade off; d ties a on cost with more risk; e = a
    cost = np.array([1.0, 2.0, 3.0, 1.0, 1.0])
    risk = np.array([2.0, 1.0, 3.0, 3.0, 2.0])
    assert _pareto(cost, risk).tolist() == [True, True, False, False, True]


def test_between_gives_the_midpoints_to_the_neighbours():
    assert _between(0.05, {0.02, 0.1}) == (0.05, 0.035, 0.075)
    assert _between(0.02, {0.02, 0.1}) == (0.02, 0.06)  # no lower neighbour
    assert _between(0.3, {0.02, 0.1}) == (0.3, 0.2)  # no upper neighbour
    assert _between(None, {0.02}) == (None,)


def _sim(totals):
    # payment_rule_bounds reads only the paths' costs
    return SimpleNamespace(cost=np.asarray(totals, dtype=float)[:, None])


@pytest.mark.parametrize("x, have", [(2.5e6, 2), (3e6, 3), (5e6, 5)])
def test_payment_rule_bound_by_hand(x, have):
    # 10 paths costing GBP 1m..10m. P(loss) <= 20% needs no loss on 8 paths, which needs the
    # outlay to cover the cost there; a median outlay <= x puts floor(0.5 x 9) + 1 = 5 paths at
    # or below x. So at least 5 + 8 - 10 = 3 paths must cost at most x.
    lines = payment_rule_bounds(
        _sim(np.arange(1, 11) * 1e6), ["provider_loss_prob<=0.2", f"commissioner_p50<={x}"]
    )
    if have >= 3:
        assert lines == []
    else:
        (line,) = lines
        assert line.endswith("on at least 30.0% of the paths; it is on 20.0%.")
        assert "No payment rule can meet both" in line


def test_payment_rule_bound_ignores_other_targets():
    sim = _sim(np.arange(1, 11) * 1e6)
    assert payment_rule_bounds(sim, ["provider_margin_p10>=0", "commissioner_p50<=2.5e6"]) == []
    assert payment_rule_bounds(sim, ["provider_loss_prob<=0.2", "commissioner_mean<=2.5e6"]) == []


def _base(**over):
    raw = {
        "name": "base",
        "first_year": "2026-27",
        "length": 5,
        "basis": "population",
        "risk_share": {
            "loss_bands": [{"upto": 0.1, "provider_share": 1.0}, {"provider_share": 0.5}],
            "loss_cap": 0.05,
            "first_dollar_loss": {"threshold": 0.02, "share": 0.6},
        },
    }
    return parse_contract(raw | over)


def test_candidate_terms_by_hand():
    hist = _base(
        capitation={"method": "historic", "historic_outturn": 1000.0, "historic_year": "2024-25"}
    )
    assert candidate_terms(hist, {"outturn_scale": 1.1}).historic_outturn == pytest.approx(1100.0)
    t = candidate_terms(_base(), {"band_scale": 2.0, "cap": 0.08})
    assert [(b.lower, b.upper) for b in t.risk_share.loss_bands] == [(0.0, 0.2), (0.2, math.inf)]
    assert (t.risk_share.loss_cap, t.risk_share.gain_cap) == (0.08, 0.08)  # symmetric kept
    assert t.risk_share.first_dollar_loss == pytest.approx((0.04, 0.6))  # threshold scaled
    big = candidate_terms(_base(), {"band_scale": 100.0})
    assert big.risk_share.first_dollar_loss == pytest.approx((1.0, 0.6))  # at most 1


def test_the_capitation_knob_follows_the_method():
    space = Space()
    hist = _base(
        capitation={"method": "historic", "historic_outturn": 1000.0, "historic_year": "2024-25"}
    )
    assert _capitation_knob(hist, space) == ("outturn_scale", space.outturn_scale)
    assert _capitation_knob(_base(), space) == ("point", space.point)
    zb = _base(capitation={"method": "zero_based"})
    assert _capitation_knob(zb, space) == ("point", (0.5,))  # the default, never used
    # no indicators: nothing can be put at risk, whatever the space lists
    assert {g["at_risk"] for g in _grid(_base(), space)} == {0.0}


def test_profile_by_hand():
    t = _base(
        incentive={"share_by_year": [0.0, 0.05, 0.1, 0.1, 0.1]},
        indicators=[{"name": "a", "direction": "higher", "floor": 0, "target": 1, "weight": 1.0}],
    )
    assert _profile(t).tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert _profile(_base()).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]  # none yet: after year 1
    c = candidate_terms(t, {"at_risk": 0.2})
    assert c.incentive_share == (0.0, 0.1, 0.2, 0.2, 0.2)


def test_space_edges():
    base = _base()  # widest finite band edge 0.1: scales up to 100 keep edges within 10
    _check_space(Space(band_scale=(100.0,)), base)
    with pytest.raises(ValueError, match="Space.band_scale"):
        _check_space(Space(band_scale=(100.5,)), base)
    for name in ("point", "outturn_scale", "at_risk", "band_scale"):
        with pytest.raises(ValueError, match=f"Space.{name} must be a non-empty list"):
            _check_space(Space(**{name: ()}), base)
    with pytest.raises(ValueError, match="Space.cap must list at least one cap"):
        _check_space(Space(cap=()), base)
    _check_space(Space(refine=0, rounds=0), base)  # the coarse grid only
    for name, bad in (("refine", -1), ("rounds", -2), ("refine", 1.5), ("rounds", True)):
        with pytest.raises(ValueError, match=f"Space.{name} must be a whole number"):
            _check_space(Space(**{name: bad}), base)


def test_cost_index_and_cpi_contracts_written_and_read_back(tmp_path):
    for ix in ({"method": "cost_index"}, {"method": "cpi", "cpi": 0.03, "assumed_cpi": 0.02}):
        t = _base(indexation=ix)
        p = tmp_path / "t.toml"
        p.write_text(terms_toml(t))
        assert replace(load_contract(p), source=t.source, name=t.name) == t


def test_target_suffixes_are_exact():
    assert parse_target("commissioner_p90<=GBP 520m").value == 520_000_000.0
    assert parse_target("commissioner_mean<1.2bn").value == 1_200_000_000.0
    assert parse_target("provider_margin_p10>=-750k").value == -750_000.0
    assert parse_target("provider_loss_prob<=30%").value == 0.3


def test_shares_at_risk_are_rounded_to_six_places():
    # profile (0, 1/3, 1, 1, 1) x 10%: 1/30 written as 0.033333, so the TOML stays short
    t = _base(
        incentive={"share_by_year": [0.0, 0.03, 0.09, 0.09, 0.09]},
        indicators=[{"name": "a", "direction": "higher", "floor": 0, "target": 1, "weight": 1.0}],
    )
    c = candidate_terms(t, {"at_risk": 0.1})
    assert c.incentive_share == (0.0, 0.033333, 0.1, 0.1, 0.1)


def test_notes_say_where_the_reserve_comes_from_only_when_none_is_given():
    assert any(n.startswith("reserve_breach_prob:") for n in _notes(_base()))
    with_reserve = _base(finance={"provider_reserve": 1e6})
    assert not any(n.startswith("reserve_breach_prob:") for n in _notes(with_reserve))


@pytest.mark.parametrize(
    "text, x, met",
    [
        ("provider_loss_prob<0.3", 0.3, False),
        ("provider_loss_prob<0.3", 0.2999, True),
        ("provider_loss_prob<=0.3", 0.3, True),
        ("provider_margin_p10>0", 0.0, False),
        ("provider_margin_p10>0", 1.0, True),
        ("provider_margin_p10>=0", 0.0, True),
        ("provider_loss_prob<=0.3", float("nan"), False),
    ],
)
def test_targets_strict_and_inclusive(text, x, met):
    assert parse_target(text).met(x) is met


def test_a_chance_above_one_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_target("provider_loss_prob<=1.5")
    assert parse_target("provider_loss_prob<=1").value == 1.0


def test_space_values_at_their_bounds():
    base = _base()
    _check_space(Space(at_risk=(0.0, 1.0), cap=(0.0, 10.0, None)), base)
    for bad in (
        {"at_risk": (1.5,)},
        {"at_risk": (True,)},
        {"cap": (10.5,)},
        {"band_scale": (-1.0,)},
        {"point": (float("nan"),)},
    ):
        with pytest.raises(ValueError, match="Space."):
            _check_space(Space(**bad), base)


def test_band_scale_rule_without_a_finite_band_edge():
    open_only = _base(risk_share={"loss_bands": [{"provider_share": 1.0}]})
    _check_space(Space(band_scale=(1000.0,)), open_only)  # nothing to push past 10
    with pytest.raises(ValueError, match="at most inf"):
        _check_space(Space(band_scale=(-1.0,)), open_only)


def test_nothing_put_at_risk_without_indicators():
    assert candidate_terms(_base(), {"at_risk": 0.1}).incentive_share == (0.0,) * 5


def test_midpoints_rounded_to_six_places():
    assert _between(1.2e-6, {0.1})[0] == 1e-6


def test_the_reserve_note_says_where_the_reserve_comes_from():
    (note,) = [n for n in _notes(_base()) if n.startswith("reserve_breach_prob:")]
    assert "loss cap" in note and "None" not in note


def test_zero_based_and_multi_year_contracts_written_and_read_back(tmp_path):
    for over in (
        {"capitation": {"method": "zero_based"}},
        {"cumulative": {"loss_cap": 0.1, "gain_cap": 0.2}},
        {
            "reconciliation": {
                "loss_bands": [{"upto": 0.05, "provider_share": 0.5}, {"provider_share": 0.1}]
            }
        },
        {"indexation": {"method": "fixed"}},
    ):
        t = _base(**over)
        p = tmp_path / "t.toml"
        p.write_text(terms_toml(t))
        assert replace(load_contract(p), source=t.source) == t, over


def test_the_zero_based_note_is_given_for_a_zero_based_capitation_only():
    said = "The capitation is zero-based"
    assert any(n.startswith(said) for n in _notes(_base(capitation={"method": "zero_based"})))
    for other in ({"method": "forecast", "point": 0.6},
                  {"method": "historic", "historic_outturn": 1e6, "historic_year": "2024-25"}):
        assert not any(n.startswith(said) for n in _notes(_base(capitation=other))), other


@pytest.mark.parametrize("text, x, met", [("provider_margin_mean>0", -1.0, False),
                                          ("provider_margin_mean>0", 0.0, False),
                                          ("provider_margin_mean>0", 1.0, True),
                                          ("provider_loss_prob<0.3", 0.3, False),
                                          ("provider_margin_mean>=0", 1.0, True),
                                          ("provider_margin_mean>=0", 0.0, True)])
def test_strict_targets_by_hand(text, x, met):
    assert parse_target(text).met(x) is met


def test_space_limits_name_their_values():
    base = _base()  # widest finite band edge 0.1: band scales up to 100
    with pytest.raises(ValueError, match=r"above 0 and at most 100 \(band edges"):
        _check_space(Space(band_scale=(100.5,)), base)
    with pytest.raises(ValueError, match="Space.outturn_scale"):
        _check_space(Space(outturn_scale=(0.0,)), base)
    with pytest.raises(ValueError, match="Space.at_risk"):
        _check_space(Space(at_risk=(-0.5,)), base)


def test_measures_are_read_only():
    import dataclasses

    from cobic.contract.design import MEASURES

    with pytest.raises(dataclasses.FrozenInstanceError):
        next(iter(MEASURES.values())).kind = "money"
