"""Small parts of the goal-seek (``cobic.contract.design``) checked by hand or by a second
method: TOML strings read back by ``tomllib``, message formats, the margin warning's edge and
the Pareto front on a hand-made set of points."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from cobic.contract.design import _fmt, _margin_warning, _pareto, _s


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
