"""Year-end settlement: from one year's actual activity, costs and indicator values, the ledger
for that year with every step shown (capitated payment, risk-share transfer band by band,
incentive earned indicator by indicator, net to provider). Amounts are rounded to pennies
here, at settlement, and nowhere earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cobic.contract.incentives import achievement
from cobic.contract.terms import ContractTerms
from cobic.costs import DAYS_PER_MONTH, CostSpec, year_factors
from cobic.errors import SpecError
from cobic.specs import integer, known, number, read_toml, table

__all__ = ["Actuals", "load_actuals", "settle"]


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
    # an indicator named as a percentage "(%)" lies in 0-100
    return {k: number(src, f"indicators.{k}", v, *((0.0, 100.0) if k.rstrip().endswith("(%)")
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
                      f"{a.child_days[g]:,.0f} child-days x GBP "
                      f"{costs.weekly_in_year0(g, year0) * factor:,.2f} a week / 7"))
    fd = ((1 + costs.indexation["default"]) ** y * (1 - costs.efficiency) ** y
          * (1 + costs.indexation["default"]) ** (year0 - costs.base_price_year))
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


def settle(terms: ContractTerms, actual: Actuals, capitation: float, expected_days: float,
           costs: CostSpec | None = None) -> pl.DataFrame:
    """The settlement ledger for one contract year.

    ``capitation`` and ``expected_days`` are that year's figures from the priced contract
    (``schedule.csv`` of ``cobic price``). Returns ``step, item, amount, working``.
    """
    y = actual.contract_year
    rows: list[tuple[str, float, str]] = []
    days = sum(actual.child_days.values())
    rate = capitation / expected_days if expected_days > 0 else 0.0
    rows.append(("capitation", capitation, f"contract year {y} capitation"))
    if terms.basis == "population":
        target = capitation
        why = "basis population: the capitation is paid whatever the volume"
    elif terms.basis == "child_day":
        target = rate * days
        why = f"{days:,.0f} child-days x GBP {rate:,.2f} (capitation / {expected_days:,.0f})"
    else:
        hi, lo = expected_days * (1 + terms.corridor), expected_days * (1 - terms.corridor)
        outside = max(days - hi, 0.0) + min(days - lo, 0.0)
        target = capitation + terms.marginal_rate * rate * outside
        why = (f"capitation + {terms.marginal_rate:.0%} x GBP {rate:,.2f} x {outside:,.0f} "
               f"child-days outside the {terms.corridor:.0%} corridor")
    rows.append(("capitated payment", target, why))
    pot = terms.incentive_share[y - 1] * capitation
    withheld = pot if terms.incentive_mode == "withhold" else 0.0
    rows.append(("at-risk pot", pot, f"{terms.incentive_share[y - 1]:.0%} of the capitation "
                                     f"({terms.incentive_mode})"))
    if withheld:
        rows.append(("withheld", -withheld, "withheld from the capitated payment, to be earned"))

    if actual.actual_cost is not None:
        cost = actual.actual_cost
        rows.append(("actual cost", cost, "as reported"))
    else:
        if costs is None:
            raise ValueError("give actual_cost, or a cost set to cost the activity")
        cost, steps = _cost_at_unit_costs(actual, costs, terms)
        rows += [(f"cost: {n}", a, w) for n, a, w in steps]
        rows.append(("actual cost", cost, "activity at unit costs"))
    variance = cost - target
    rows.append(("variance", variance, "actual cost - capitated payment (+ = overspend)"))

    # indicators first: a quality gate can block gain share
    comp = 0.0
    for ind in terms.indicators:
        x = actual.indicators[ind.name]
        a = float(achievement(ind, np.array([x]))[0])
        w = ind.weights[y - 1]
        comp += w * a
        rows.append((f"indicator: {ind.name}", w * a,
                     f"value {x:g}, floor {ind.floor:g}, target {ind.target:g} "
                     f"({ind.scoring}): achievement {a:.3f} x weight {w:g}"))
    blocked = terms.quality_gate is not None and comp < terms.quality_gate

    rs = terms.risk_share
    x = abs(variance) / target if target > 0 else 0.0
    loss = variance > 0
    bands = rs.loss_bands if loss else rs.gain_bands
    fd = rs.first_dollar_loss if loss else rs.first_dollar_gain
    cap = rs.loss_cap if loss else rs.gain_cap
    share = 0.0
    if fd is not None:
        share = fd[1] * abs(variance) if x >= fd[0] else 0.0
        rows.append(("risk share: first dollar", share, f"{x:.2%} of the capitated payment "
                     f"{'reaches' if x >= fd[0] else 'is below'} the {fd[0]:.1%} threshold; "
                     f"provider bears {fd[1]:.0%} of all of it"))
    else:
        for b in bands:
            part = max(0.0, min(x, b.upper) - b.lower) * target
            if part == 0:
                continue
            upper = "and above" if np.isinf(b.upper) else f"to {b.upper:.0%}"
            rows.append((f"risk share: band {b.lower:.0%} {upper}", b.provider_share * part,
                         f"GBP {part:,.2f} of variance in the band x provider share "
                         f"{b.provider_share:.0%}"))
            share += b.provider_share * part
    if cap is not None and share > cap * target:
        rows.append(("risk share: cap", cap * target - share,
                     f"provider's {'loss' if loss else 'gain'} capped at {cap:.0%} of the "
                     "capitated payment"))
        share = cap * target
    pi = share if loss else -share
    if not loss and blocked:
        rows.append(("risk share: quality gate", -pi, f"composite {comp:.3f} is below the "
                     f"quality gate {terms.quality_gate:g}: no gain share"))
        pi = 0.0
    rows.append(("provider share of variance", pi, "+ = provider bears a loss, - = keeps a gain"))
    rows.append(("commissioner share of variance", variance - pi, "paid to (+) or recovered "
                                                                  "from (-) the provider"))
    earned = pot * comp
    rows.append(("incentive earned", earned, f"pot GBP {pot:,.2f} x composite {comp:.3f}"))
    net = target - withheld + earned + (variance - pi)
    rows.append(("net to provider", net, "capitated payment - withheld + incentive earned + "
                                         "commissioner share of variance"))
    rows.append(("provider margin", net - cost, "net to provider - actual cost"))
    return pl.DataFrame({
        "step": list(range(1, len(rows) + 1)),
        "item": [r[0] for r in rows],
        "amount": [round(float(r[1]), 2) for r in rows],
        "working": [r[2] for r in rows],
    })
