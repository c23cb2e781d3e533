"""One year's settlement (``cobic.contract.settlement``) against ledgers worked by hand: the
activity costed at unit costs, the working written beside each amount, the actuals file's
bounds at their edges, and which years multi-year terms refuse to settle alone."""

from __future__ import annotations

import dataclasses

import pytest

from cobic.contract.settlement import (
    MAX_CHILD_DAYS,
    MAX_EVENTS,
    Actuals,
    load_actuals,
    multi_year_refusal,
    settle,
    settlement_warnings,
)
from cobic.contract.terms import parse_contract
from cobic.costs import DAYS_PER_MONTH, CostSpec
from cobic.errors import SpecError

# prices of the financial year ending 2026, which is year 0 of a contract from 2026-27
SPEC = CostSpec(
    name="hand",
    base_price_year=2026,
    weekly={"fostering": 700.0, "residential": 7000.0},
    per_child_month=100.0,
    event_costs={"entry": 1000.0, "placement_move": 500.0, "exit": 200.0},
    overhead_rate=0.1,
    indexation={"default": 0.03, "residential": 0.05},
    efficiency=0.02,
    startup=(5000.0,),
)


# one indicator: the share of children in stable placements, paid from 60% to 80%
STABLE = {"name": "stable (%)", "direction": "higher", "floor": 60.0, "target": 80.0, "weight": 1.0}


def _terms(**over):
    return parse_contract({"first_year": "2026-27", "length": 5, "basis": "population"} | over)


def _ledger(df):
    return {r["item"]: (r["amount"], r["working"]) for r in df.iter_rows(named=True)}


def _year(y, **over):
    return Actuals(
        **(
            {
                "contract_year": y,
                "child_days": {"fostering": 3650.0, "residential": 365.0},
                "entries": 10.0,
                "exits": 3.0,
                "moves": 4.0,
            }
            | over
        )
    )


def test_activity_at_unit_costs_year_two_by_hand():
    led = _ledger(settle(_terms(), _year(2), 1e6, 4015.0, SPEC))
    fost = 3650 * 700 / 7 * (1.03 * 0.98) ** 2  # 350,000 x 1.0188...
    res = 365 * 7000 / 7 * (1.05 * 0.98) ** 2
    cm = (4015 / DAYS_PER_MONTH * 100 + 10 * 1000 + 4 * 500 + 3 * 200) * (1.03 * 0.98) ** 2
    oh = 0.1 * (fost + res + cm)
    assert led["cost: placements: fostering"][0] == round(fost, 2)
    assert led["cost: placements: residential"][0] == round(res, 2)
    assert led["cost: case management"][0] == round(cm, 2)
    assert led["cost: overheads"][0] == round(oh, 2)
    assert "cost: start-up and transition" not in led  # start-up only in year 1
    assert led["actual cost"][0] == round(fost + res + cm + oh, 2)
    assert led["variance"][0] == round(fost + res + cm + oh - 1e6, 2)
    # the working shows the year's weekly price
    assert (
        led["cost: placements: fostering"][1]
        == f"3,650 child-days x £{700 * (1.03 * 0.98) ** 2:,.2f} a week / 7"
    )
    assert (
        led["cost: placements: residential"][1]
        == f"365 child-days x £{7000 * (1.05 * 0.98) ** 2:,.2f} a week / 7"
    )


def test_start_up_costs_in_their_year():
    led = _ledger(settle(_terms(), _year(1), 1e6, 4015.0, SPEC))
    assert led["cost: start-up and transition"][0] == 5000.0
    fost = 3650 * 700 / 7 * 1.03 * 0.98
    res = 365 * 7000 / 7 * 1.05 * 0.98
    cm = (4015 / DAYS_PER_MONTH * 100 + 10 * 1000 + 4 * 500 + 3 * 200) * 1.03 * 0.98
    assert led["actual cost"][0] == round((fost + res + cm) * 1.1 + 5000, 2)
    # a start-up cost for the last of several years is paid in that year only
    spec = dataclasses.replace(SPEC, startup=(0.0, 0.0, 7000.0))
    got = {y: _ledger(settle(_terms(), _year(y), 1e6, 4015.0, spec)) for y in (2, 3, 4)}
    assert "cost: start-up and transition" not in got[2]
    assert got[3]["cost: start-up and transition"][0] == 7000.0
    assert "cost: start-up and transition" not in got[4]


def test_a_reported_cost_is_used_as_it_stands():
    led = _ledger(settle(_terms(), _year(2, actual_cost=1.2e6), 1e6, 4015.0, SPEC))
    assert led["actual cost"] == (1.2e6, "as reported")
    assert not any(k.startswith("cost:") for k in led)
    with pytest.raises(ValueError, match="give actual_cost, or a cost set"):
        settle(_terms(), _year(2), 1e6, 4015.0)
    with pytest.raises(ValueError, match=r"no unit cost for placement groups \['secure'\]"):
        settle(_terms(), _year(2, child_days={"secure": 1.0}), 1e6, 4015.0, SPEC)


@pytest.mark.parametrize(
    "basis, want",
    [
        ("population", "basis population: the capitation is paid whatever the volume"),
        # 1,000,000 / 5,000 = GBP 200 a child-day
        ("child_day", "4,015 child-days x £200.00 (capitation / 5,000)"),
        # corridor 3% of 5,000 = 150: 4,015 is 835 below 4,850 (signed: - below, + above)
        ("hybrid", "capitation + 25% x £200.00 x -835 child-days outside the 3% corridor"),
    ],
)
def test_capitated_payment_working_by_basis(basis, want):
    over = {"basis": basis}
    if basis == "hybrid":
        over["hybrid"] = {"corridor": 0.03, "marginal_rate": 0.25}
    led = _ledger(settle(_terms(**over), _year(2, actual_cost=1e6), 1e6, 5000.0))
    assert led["capitated payment"][1] == want
    pay = {"population": 1e6, "child_day": 4015 * 200.0, "hybrid": 1e6 - 0.25 * 200 * 835}
    assert led["capitated payment"][0] == pytest.approx(pay[basis])


def test_at_risk_pot_working_names_the_years_share():
    t = _terms_with_indicator(
        incentive={"share_by_year": [0.0, 0.1, 0.2, 0.2, 0.2], "mode": "withhold"}
    )
    led = _ledger(
        settle(t, _year(3, actual_cost=1e6, indicators={"stable (%)": 70.0}), 1e6, 4015.0)
    )
    assert led["at-risk pot"] == (2e5, "20% of the capitation (withhold)")
    assert led["withheld"][0] == -2e5


# ------------------------------------------------------------ the actuals file's bounds


def _write(tmp_path, body: str):
    p = tmp_path / "actuals.toml"
    p.write_text(body)
    return p


def _terms_with_indicator(**over):
    return _terms(indicators=[STABLE], **over)


def test_zero_activity_and_zero_cost_are_valid(tmp_path):
    a = load_actuals(
        _write(tmp_path, "contract_year = 1\nactual_cost = 0\n[child_days]\nfostering = 0\n"),
        _terms(),
    )
    assert (a.child_days, a.actual_cost) == ({"fostering": 0.0}, 0.0)
    assert (a.entries, a.exits, a.moves) == (0.0, 0.0, 0.0)  # absent counts are none


@pytest.mark.parametrize(
    "line, key",
    [
        ("actual_cost = -0.5", "actual_cost"),
        ("entries = -1", "entries"),
        ("moves = -0.5", "moves"),
        (f"exits = {MAX_EVENTS + 1:.0f}", "exits"),
    ],
)
def test_counts_and_cost_out_of_bounds_are_refused(tmp_path, line, key):
    p = _write(tmp_path, f"contract_year = 1\n{line}\n[child_days]\nfostering = 1\n")
    with pytest.raises(SpecError, match=key):
        load_actuals(p, _terms())


def test_the_bounds_themselves_are_valid(tmp_path):
    p = _write(
        tmp_path,
        f"contract_year = 1\nentries = {MAX_EVENTS:.0f}\n"
        f"[child_days]\nfostering = {MAX_CHILD_DAYS:.0f}\n",
    )
    a = load_actuals(p, _terms())
    assert (a.entries, a.child_days["fostering"]) == (1_000_000.0, 366.0 * 200_000)
    p = _write(tmp_path, f"contract_year = 1\n[child_days]\nfostering = {MAX_CHILD_DAYS + 1:.0f}\n")
    with pytest.raises(SpecError, match="child_days.fostering"):
        load_actuals(p, _terms())


@pytest.mark.parametrize("value, ok", [(0.0, True), (100.0, True), (-0.5, False), (100.5, False)])
def test_percentage_indicators_lie_in_0_to_100(tmp_path, value, ok):
    p = _write(
        tmp_path,
        f'contract_year = 1\n[child_days]\nfostering = 1\n[indicators]\n"stable (%)" = {value}\n',
    )
    if ok:
        assert load_actuals(p, _terms_with_indicator()).indicators == {"stable (%)": value}
    else:
        with pytest.raises(SpecError, match="stable"):
            load_actuals(p, _terms_with_indicator())


def test_an_indicator_the_contract_does_not_have_is_refused(tmp_path):
    p = _write(
        tmp_path,
        "contract_year = 1\n[child_days]\nfostering = 1\n"
        '[indicators]\n"stable (%)" = 70\n"other" = 3\n',
    )
    with pytest.raises(SpecError, match="indicators.other.*not an indicator of the contract"):
        load_actuals(p, _terms_with_indicator())


# ------------------------------------------------------------ multi-year terms


def test_every_year_from_the_reopener_on_is_refused():
    t = _terms(reopener={"year": 3})
    assert multi_year_refusal(t, 2) is None
    assert "reopener" in multi_year_refusal(t, 3)
    assert "reopener" in multi_year_refusal(t, 4)
    assert "reopener" in multi_year_refusal(t, 5)


def test_only_the_last_year_carries_cumulative_caps():
    t = _terms(cumulative={"loss_cap": 0.02})
    assert [multi_year_refusal(t, y) is None for y in range(1, 6)] == [True] * 4 + [False]
    assert "cumulative caps" in multi_year_refusal(t, 5)


def test_first_dollar_working_names_threshold_and_share():
    # a 5% overspend (GBP 50,000 on GBP 1m) reaches a 2% first-dollar threshold: the provider
    # bears 60% of all of it, GBP 30,000
    t = _terms(risk_share={"first_dollar_loss": {"threshold": 0.02, "share": 0.6}})
    led = _ledger(settle(t, _year(1, actual_cost=1.05e6), 1e6, 4015.0))
    amount, working = led["risk share: first dollar"]
    assert amount == pytest.approx(3e4)
    assert working == (
        "5.00% of the capitated payment reaches the 2.0% threshold; provider bears 60% of all of it"
    )


@pytest.mark.parametrize("cost, side, adjustment", [(1.05e6, "loss", -4e4), (0.95e6, "gain", 4e4)])
def test_cap_working_names_the_side_capped(cost, side, adjustment):
    # the provider bears all of a 5% variance (GBP 50,000), capped at 1% (GBP 10,000) either way
    t = _terms(risk_share={"loss_cap": 0.01})
    led = _ledger(settle(t, _year(1, actual_cost=cost), 1e6, 4015.0))
    amount, working = led["risk share: cap"]
    assert amount == pytest.approx(adjustment)
    assert working == f"provider's {side} capped at 1% of the capitated payment"


def test_the_money_bound_itself_is_valid(tmp_path):
    p = _write(tmp_path, "contract_year = 1\nactual_cost = 1e11\n[child_days]\nfostering = 1\n")
    assert load_actuals(p, _terms()).actual_cost == 1e11
    p = _write(
        tmp_path, "contract_year = 1\nactual_cost = 1.0001e11\n[child_days]\nfostering = 1\n"
    )
    with pytest.raises(SpecError, match="actual_cost"):
        load_actuals(p, _terms())


def test_actuals_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _year(1).entries = 3.0


def test_negative_child_days_are_refused(tmp_path):
    p = _write(tmp_path, "contract_year = 1\n[child_days]\nfostering = -1\n")
    with pytest.raises(SpecError, match="child_days.fostering"):
        load_actuals(p, _terms())


def test_a_placement_group_typo_in_the_actuals_is_named(tmp_path):
    p = _write(tmp_path, "contract_year = 1\n[child_days]\nfostering = 10\nresidentail = 5\n")
    with pytest.raises(SpecError) as e:
        load_actuals(p, _terms())
    assert e.value.key == "child_days.residentail" and str(p) in str(e.value)
    assert "'residentail' is not a placement group" in str(e.value)


@pytest.mark.parametrize("cost, days, value, said", [
    (1.0e6, 4015.0, 70.0, []),                                   # all in order
    (64.1, 4015.0, 70.0, ["The actual cost (£64) is under 1% of the year's capitation"]),
    (5.1e6, 4015.0, 70.0, ["The actual cost (£5.1m) is 510% of the year's capitation"]),
    (1.0e6, 4015.0 * 6, 70.0, ["The child-days (24,090) are 6 times the 4,015 expected"]),
    (1.0e6, 4015.0, 0.7, ["Indicator 'stable (%)' is 0.7, while its floor and target are "
                          "60 and 80: a percentage is written 0-100 (70 for 70%)."]),
])
def test_actuals_that_look_like_a_slip_of_units_are_warned(cost, days, value, said):
    # capitation GBP 1m for 4,015 expected child-days; a warning below a fifth or above five
    # times either
    terms = _terms(indicators=[STABLE])
    act = _year(1, actual_cost=cost, child_days={"fostering": days},
                indicators={"stable (%)": value})
    got = settlement_warnings(terms, act, 1.0e6, 4015.0)
    assert len(got) == len(said) and all(g.startswith(w) for g, w in zip(got, said, strict=True))


def test_actuals_warnings_at_their_edges():
    """Exactly five times or a fifth of the plan: no warning; a plan of nothing warns of
    nothing (no division by zero); a floor of exactly 1 is no percentage; 0 is no fraction."""
    terms = _terms(indicators=[STABLE])
    for cost, days in ((5.0e6, 4015.0 * 5), (0.2e6, 4015.0 * 0.2)):
        act = _year(1, actual_cost=cost, child_days={"fostering": days},
                    indicators={"stable (%)": 70.0})
        assert settlement_warnings(terms, act, 1.0e6, 4015.0) == []
    act = _year(1, actual_cost=1.0, child_days={"fostering": 1.0},
                indicators={"stable (%)": 0.0})
    assert settlement_warnings(terms, act, 0.0, 0.0) == []
    low = dict(STABLE, name="low", floor=1.0, target=3.0)
    act = _year(1, actual_cost=1.0e6, indicators={"low": 0.5})
    assert settlement_warnings(_terms(indicators=[low]), act, 1.0e6, 4015.0) == []
    share = dict(STABLE, name="share", floor=0.2, target=0.5)  # an indicator of fractions
    act = _year(1, actual_cost=1.0e6, indicators={"share": 0.3})
    assert settlement_warnings(_terms(indicators=[share]), act, 1.0e6, 4015.0) == []
    moves = dict(STABLE, name="moves", direction="lower", floor=12.0, target=8.0)
    act = _year(1, actual_cost=1.0e6, indicators={"moves": -0.5})  # below 0: not a fraction
    assert settlement_warnings(_terms(indicators=[moves]), act, 1.0e6, 4015.0) == []
    act = _year(1, actual_cost=2.0e4)  # 2% of the capitation: shown as a percentage
    assert "is 2% of the year's capitation" in settlement_warnings(terms, act, 1.0e6, 4015.0)[0]
