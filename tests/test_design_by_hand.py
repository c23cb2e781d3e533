"""Small parts of the goal-seek (``cobic.contract.design``) checked by hand or by a second
method: TOML strings read back by ``tomllib``, message formats, the margin warning's edge and
the Pareto front on a hand-made set of points."""

from __future__ import annotations

import tomllib
from types import SimpleNamespace

import numpy as np
import pytest

from cobic.contract.design import _between, _fmt, _margin_warning, _pareto, _s, payment_rule_bounds


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
        ("commissioner_mean", 5e10, "GBP 50,000.00m"),
        ("commissioner_mean", 1e5, "GBP 0.10m"),
        ("commissioner_mean", 99_999.0, "GBP 99,999"),
        ("provider_margin_mean", -2_345_678.0, "GBP -2.35m"),
        ("provider_margin_mean", -99_999.4, "GBP -99,999"),
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
        "The provider is expected to lose money: mean margin GBP -0.0m over the "
        "contract, a loss on 50% of the paths (P10 margin GBP -1.0m)."
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
