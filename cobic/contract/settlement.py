"""Year-end settlement: from one year's actual activity, costs and indicator values, the ledger
for that year with every step shown (capitated payment, risk-share transfer band by band,
incentive earned indicator by indicator, net to provider). The amounts come from
:func:`cobic.contract.rules.apply_rules`, the rules that price the contract, on one year;
money is rounded to pennies here, at settlement, and nowhere earlier (indicator scores are not
money and are not rounded). Risk-share rows carry the sign of the provider's share, so they add
up to it.

Multi-year terms: a year's ledger is exact whenever the year does not depend on other years.
CPI indexation is on a stated path, so the priced schedule's capitation is the one to settle.
:func:`settle` refuses, naming the term, the years that need other years' outturns: every year
under ``cost_index`` indexation (the capitation follows the realised cost index), the years
from a reopener on (re-based on earlier years' costs) and the last year under cumulative caps
or a reconciliation (it carries the end-of-contract true-up). Price those with
:func:`cobic.contract.apply_terms` or :func:`cobic.contract.rules.apply_contract` on the
contract's actual years.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cobic.codes import default_codes
from cobic.contract.rules import achievement, apply_rules
from cobic.contract.terms import ContractTerms, is_percent
from cobic.costs import DAYS_PER_MONTH, CostSpec, year_factors
from cobic.errors import SpecError
from cobic.specs import integer, known, number, read_toml, table
from cobic.units import money_m, pence

__all__ = ["Actuals", "load_actuals", "multi_year_refusal", "settle", "settlement_warnings"]

SETTLE_RATIO_LIMITS = (0.2, 5.0)  # actual cost or child-days this far from the plan: units?


@dataclass(frozen=True)
class Actuals:
    """One contract year's outturn."""

    contract_year: int
    child_days: dict[str, float]  # by placement group
    entries: float = 0.0
    exits: float = 0.0
    moves: float = 0.0
    actual_cost: float | None = None  # if absent: child-days and events at unit costs
    indicators: dict[str, float] | None = None


_ACTUALS = {"contract_year", "child_days", "entries", "exits", "moves", "actual_cost",
            "indicators"}


# Plausibility bounds on one LA's year (England has about 83,000 children in care: 30m
# child-days and 35,000 entries a year; spend GBP 9bn): anything above is a typo.
MAX_CHILD_DAYS = 366.0 * 200_000
MAX_EVENTS = 1_000_000.0
MAX_MONEY = 1e11


def load_actuals(path: Path | str, terms: ContractTerms) -> Actuals:
    """Read a year's actuals TOML (``contract_year``, ``[child_days]`` by group, ``entries``,
    ``exits``, ``moves``, optional ``actual_cost``, ``[indicators]`` by name).

    Raises
    ------
    SpecError
        Naming the file and key: an unreadable file, an unknown key, ``contract_year`` not an
        integer 1..length, counts or cost not finite numbers >= 0, indicator values not
        finite numbers, or indicators missing from or unknown to the contract.
    """
    src = str(path)
    raw = known(src, "", read_toml(path), _ACTUALS)
    y = integer(src, "contract_year", raw.get("contract_year"), 1, terms.length)
    cd = table(src, "child_days", raw.get("child_days"))
    if not cd:
        raise SpecError(src, "child_days", "needs child-days by placement group")
    groups = default_codes().group_names
    for g in cd:
        if g not in groups:
            raise SpecError(src, f"child_days.{g}", f"{g!r} is not a placement group "
                                                    f"({', '.join(groups)})")
    days = {g: number(src, f"child_days.{g}", v, 0.0, MAX_CHILD_DAYS) for g, v in cd.items()}
    inds = _indicator_values(src, table(src, "indicators", raw.get("indicators", {})), terms)
    counts = {k: number(src, k, raw.get(k, 0), 0.0, MAX_EVENTS)
              for k in ("entries", "exits", "moves")}
    cost = raw.get("actual_cost")
    cost = None if cost is None else number(src, "actual_cost", cost, 0.0, MAX_MONEY)
    return Actuals(y, days, counts["entries"], counts["exits"], counts["moves"], cost, inds)


def _indicator_values(src: str, inds: dict, terms: ContractTerms) -> dict[str, float]:
    """The contract's indicators' values: every one given, each a finite number."""
    names = {i.name for i in terms.indicators}
    for k in inds:
        if k not in names:
            raise SpecError(src, f"indicators.{k}", f"not an indicator of the contract "
                                                    f"({sorted(names)})")
    missing = names - set(inds)
    if missing:
        raise SpecError(src, "indicators", f"no value for {sorted(missing)}")
    return {k: number(src, f"indicators.{k}", v, *((0.0, 100.0) if is_percent(k)
                                                   else (None, None)))
            for k, v in inds.items()}


def _cost_at_unit_costs(a: Actuals, costs: CostSpec, terms: ContractTerms) -> tuple[float, list]:
    y = a.contract_year
    year0 = terms.first_year - 1
    groups = tuple(a.child_days)
    unknown = [g for g in groups if g not in costs.weekly]
    if unknown:
        raise ValueError(f"no unit cost for placement groups {unknown}")
    f = year_factors(costs, groups, year0, y)[y - 1]
    steps, placements = [], 0.0
    for g, factor in zip(groups, f, strict=True):
        amount = a.child_days[g] * costs.weekly_in_year0(g, year0) / 7 * factor
        placements += amount
        steps.append((f"placements: {g}", amount,
                      f"{a.child_days[g]:,.0f} child-days x "
                      f"{pence(costs.weekly_in_year0(g, year0) * factor)} a week / 7"))
    fd = float(costs.case_management_factor(year0, y))  # at its own index
    months = sum(a.child_days.values()) / DAYS_PER_MONTH
    cm = (months * costs.per_child_month + a.entries * costs.event_costs["entry"]
          + a.moves * costs.event_costs["placement_move"]
          + a.exits * costs.event_costs["exit"]) * fd
    steps.append(("case management", cm, f"{months:,.1f} child-months and {a.entries:,.0f} "
                  f"entries, {a.moves:,.0f} moves, {a.exits:,.0f} exits at process costs"))
    oh = (placements + cm) * costs.overhead_rate
    steps.append(("overheads", oh, f"{costs.overhead_rate:.1%} of direct costs"))
    startup = costs.startup[y - 1] if y - 1 < len(costs.startup) else 0.0
    if startup:
        steps.append(("start-up and transition", startup, "from the cost set"))
    return placements + cm + oh + startup, steps


def _cost_rows(actual: Actuals, terms: ContractTerms, costs: CostSpec | None
               ) -> tuple[float, list[tuple[str, float, str]]]:
    """The year's actual cost: as reported, or the activity at unit costs (with its rows)."""
    if actual.actual_cost is not None:
        return actual.actual_cost, [("actual cost", actual.actual_cost, "as reported")]
    if costs is None:
        raise ValueError("give actual_cost, or a cost set to cost the activity")
    cost, steps = _cost_at_unit_costs(actual, costs, terms)
    return cost, [*((f"cost: {n}", a, w) for n, a, w in steps),
                  ("actual cost", cost, "activity at unit costs")]


def _payment_rows(terms: ContractTerms, out, y: int, capitation: float, expected_days: float,
                  days: float) -> list[tuple[str, float, str]]:
    """Capitation, capitated payment, at-risk pot and withheld, with their working."""
    rate, outside = float(out.payment.rate[0, 0]), float(out.payment.outside[0, 0])
    if terms.basis == "population":
        why = "basis population: the capitation is paid whatever the volume"
    elif terms.basis == "child_day":
        why = f"{days:,.0f} child-days x {pence(rate)} (capitation / {expected_days:,.0f})"
    else:
        why = (f"capitation + {terms.marginal_rate:.0%} x {pence(rate)} x {outside:,.0f} "
               f"child-days outside the {terms.corridor:.0%} corridor")
    pot, withheld = float(out.pot[0]), float(out.withheld[0])
    rows = [("capitation", capitation, f"contract year {y} capitation"),
            ("capitated payment", float(out.target[0, 0]), why),
            ("at-risk pot", pot, f"{terms.incentive_share[y - 1]:.0%} of the capitation "
                                 f"({terms.incentive_mode})")]
    if withheld:
        rows.append(("withheld", -withheld, "withheld from the capitated payment, to be earned"))
    return rows


def _indicator_rows(terms: ContractTerms, actual: Actuals, out, y: int
                    ) -> list[tuple[str, float, str]]:
    """One row per indicator: its score (weight x achievement, not money) and working."""
    rows = []
    for k, ind in enumerate(terms.indicators):
        w, score = ind.weights[y - 1], float(out.scores[0, 0, k])
        a = float(achievement(ind, np.array([actual.indicators[ind.name]]))[0])
        rows.append((f"indicator: {ind.name}", score,
                     f"value {actual.indicators[ind.name]:g}, floor {ind.floor:g}, target "
                     f"{ind.target:g} ({ind.scoring}): achievement {a:.4g} x weight {w:g} "
                     "(a score, not money)"))
    if terms.indicators:
        rows.append(("indicator composite", float(out.composite[0, 0]),
                     "sum of the scores (a score, not money)"))
    return rows


def _share_rows(terms: ContractTerms, out) -> list[tuple[str, float, str]]:
    """The risk share step by step, each row signed as the provider's share (+ = the provider
    bears a loss, - = it keeps a gain), so the rows add up to it."""
    rs, sh = terms.risk_share, out.sharing
    loss = bool(sh.loss[0, 0])
    x = float(sh.x[0, 0])
    fd = rs.first_dollar_loss if loss else rs.first_dollar_gain
    cap = rs.loss_cap if loss else rs.gain_cap
    rows = []
    if fd is not None:
        reached = bool(sh.first_dollar_reached[0, 0])
        rows.append(("risk share: first dollar", float(sh.first_dollar[0, 0]),
                     f"{x:.2%} of the capitated payment "
                     f"{'reaches' if reached else 'is below'} the {fd[0]:.1%} threshold; "
                     f"provider bears {fd[1]:.0%} of all of it"))
    else:
        bands = rs.loss_bands if loss else rs.gain_bands
        shares = sh.loss_bands if loss else sh.gain_bands
        amounts = sh.loss_band_amounts if loss else sh.gain_band_amounts
        for b, share, part in zip(bands, shares, amounts, strict=True):
            if part[0, 0] == 0:
                continue
            upper = "and above" if np.isinf(b.upper) else f"to {b.upper:.0%}"
            rows.append((f"risk share: band {b.lower:.0%} {upper}", float(share[0, 0]),
                         f"{pence(float(part[0, 0]))} of variance in the band x provider "
                         f"share {b.provider_share:.0%}"))
    if sh.cap[0, 0] != 0:
        rows.append(("risk share: cap", float(sh.cap[0, 0]),
                     f"provider's {'loss' if loss else 'gain'} capped at {cap:.0%} of the "
                     "capitated payment"))
    if sh.gate[0, 0] != 0:
        rows.append(("risk share: quality gate", float(sh.gate[0, 0]),
                     f"composite {float(out.composite[0, 0]):.4g} is below the quality gate "
                     f"{terms.quality_gate:g}: no gain share"))
    return rows


def multi_year_refusal(terms: ContractTerms, year: int) -> str | None:
    """Why contract year ``year`` cannot be settled on its own under ``terms`` (``None``: it
    can)."""
    if terms.indexation.method == "cost_index":
        return ("indexation 'cost_index': each year's capitation follows the realised cost "
                "index, which a one-year settlement does not have")
    if terms.reopener is not None and year >= terms.reopener.year:
        return (f"the reopener re-bases the capitation from contract year "
                f"{terms.reopener.year} on the costs of the years before it")
    if terms.multi_year_end and year == terms.length:
        what = " and ".join(n for n, on in (
            ("cumulative caps", terms.cumulative_loss_cap is not None
             or terms.cumulative_gain_cap is not None),
            ("an end-of-contract reconciliation", terms.reconciliation is not None)) if on)
        return (f"the last year carries the end-of-contract adjustment ({what}), which needs "
                "every year's outturn")
    return None


def settle(terms: ContractTerms, actual: Actuals, capitation: float, expected_days: float,
           costs: CostSpec | None = None) -> pl.DataFrame:
    """The settlement ledger for one contract year.

    The amounts are :func:`cobic.contract.rules.apply_rules` on arrays of shape ``(1, 1)``:
    the rules that price the contract. Money is rounded to pennies here and nowhere earlier;
    indicator scores and the composite (not money) are not rounded.

    Parameters
    ----------
    capitation, expected_days : float
        That year's figures from the priced contract (``schedule.csv`` of ``cobic price``).

    Returns
    -------
    polars.DataFrame
        ``step, item, amount, working``.

    Raises
    ------
    ValueError
        For a year that multi-year terms make depend on other years (see
        :func:`multi_year_refusal`): it is not settled wrongly on its own.
    """
    y = actual.contract_year
    why = multi_year_refusal(terms, y)
    if why is not None:
        raise ValueError(f"cannot settle contract year {y} on its own: {why}; price the "
                         "contract on the actual years (apply_contract) instead")
    days = sum(actual.child_days.values())
    cost, cost_rows = _cost_rows(actual, terms, costs)
    values = np.array([[[actual.indicators[i.name] for i in terms.indicators]]], dtype=float) \
        if terms.indicators else np.zeros((1, 1, 0))
    out = apply_rules(terms, np.array([capitation], dtype=float),
                      np.array([expected_days], dtype=float), np.array([[days]], dtype=float),
                      np.array([[cost]], dtype=float), values, np.array([y - 1]))
    variance, pi = float(out.variance[0, 0]), float(out.sharing.provider[0, 0])
    net = float(out.net[0, 0])
    rows = _payment_rows(terms, out, y, capitation, expected_days, days) + cost_rows
    rows.append(("variance", variance, "actual cost - capitated payment (+ = overspend)"))
    rows += _indicator_rows(terms, actual, out, y)  # first: a quality gate can block gain share
    rows += _share_rows(terms, out)
    rows.append(("provider share of variance", pi, "+ = provider bears a loss, - = keeps a gain"))
    rows.append(("commissioner share of variance", variance - pi, "paid to (+) or recovered "
                                                                  "from (-) the provider"))
    rows.append(("incentive earned", float(out.earned[0, 0]),
                 f"pot {pence(float(out.pot[0]))} x composite {float(out.composite[0, 0]):.4g}"))
    rows.append(("net to provider", net, "capitated payment - withheld + incentive earned + "
                                         "commissioner share of variance"))
    rows.append(("provider margin", net - cost, "net to provider - actual cost"))
    scores = {r[0] for r in rows if r[0].startswith("indicator")}
    return pl.DataFrame({
        "step": list(range(1, len(rows) + 1)),
        "item": [r[0] for r in rows],
        "amount": [float(r[1]) if r[0] in scores else round(float(r[1]), 2) for r in rows],
        "working": [r[2] for r in rows],
    })


def settlement_warnings(terms: ContractTerms, actual: Actuals, capitation: float,
                        expected_days: float) -> list[str]:
    """Plain-English warnings that a year's actuals look like a slip of units: the actual cost
    or the child-days below a fifth or above five times the year's capitation or expected
    child-days, or an indicator written as a fraction where its floor and target are
    percentages (0.1 for 10)."""
    out = []
    lo, hi = SETTLE_RATIO_LIMITS
    if actual.actual_cost is not None and capitation > 0:
        r = actual.actual_cost / capitation
        if not lo <= r <= hi:
            out.append(f"The actual cost ({money_m(actual.actual_cost)}) is "
                       f"{'under 1%' if r < 0.01 else f'{r:.0%}'} of the year's capitation "
                       f"({money_m(capitation)}): check its units (pounds, not millions).")
    days = sum(actual.child_days.values())
    if expected_days > 0 and not lo <= days / expected_days <= hi:
        out.append(f"The child-days ({days:,.0f}) are {days / expected_days:.2g} times the "
                   f"{expected_days:,.0f} expected: child-days are children x days in care.")
    for ind in terms.indicators:
        v = (actual.indicators or {}).get(ind.name)
        if v is not None and 0 < v <= 1 < min(ind.floor, ind.target):
            out.append(f"Indicator {ind.name!r} is {v:g}, while its floor and target are "
                       f"{ind.floor:g} and {ind.target:g}: a percentage is written 0-100 "
                       f"({v * 100:g} for {v:.0%}).")
    return out
