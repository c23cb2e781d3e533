"""Lots and pooled budgets: one contract over several LAs, or over some placement groups.

A *lot* is what a commissioner lets as one contract:

* a regional or consortium contract over several LAs, each forecast and costed on its own
  (its own paths, its own cost set, e.g. calibrated to its own s251 outturn); the lot's cost on
  path ``p`` is the sum of the members' costs on their path ``p`` (the members' forecasts are
  independent, so pairing their paths by number pairs independent draws);
* a lot over a subset of placement groups (a residential-only lot): the members' demand is cut
  to those groups with :meth:`cobic.costs.DemandPaths.only_groups`, and the high-cost tail
  (placements dearer than residential care) belongs only to a lot that holds residential care.

The members share one market: with a fitted cost growth, the market-wide part of the growth
(its level's error and its yearly steps) is common to every member on a path, and each member
adds its own deviation. Unit-cost noise and demand are each member's own.

The contract is then priced on the lot's costs as on any LA's: the capitation is a point of the
*lot's* cost distribution (not the sum of the members' points: pooling narrows it). The outlay
is split between the members by their shares (stated in the lot file, or by default each
member's share of the lot's expected cost, fixed before the contract starts, as a pooled
budget's contributions are), and each member's part between the contract's funders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cobic.contract.calculator import Priced, SimulatedCosts, simulate_contract_costs
from cobic.contract.terms import ContractTerms
from cobic.costs import CostPaths, CostSpec, DemandPaths
from cobic.errors import SpecError
from cobic.specs import known, number, read_toml, shown, table_list, text

__all__ = ["LotMember", "MemberSpec", "LotSpec", "LotCosts", "load_lot", "parse_lot",
           "member_seed", "simulate_lot_costs", "combine_costs"]

SHARE_TOLERANCE = 1e-9  # stated shares must sum to 1 within this


@dataclass(frozen=True)
class MemberSpec:
    """One LA of a lot file: its forecast paths and cost set (``forecast``, ``costs``,
    optionally ``growth``), or an ``area`` of the lot's panel and s251 tables."""

    name: str
    forecast: Path | None = None
    costs: Path | None = None
    growth: Path | None = None
    area: str | None = None
    share: float | None = None


@dataclass(frozen=True)
class LotSpec:
    """A lot file (TOML) as read: its members, its placement groups and its data tables."""

    name: str
    members: tuple[MemberSpec, ...]
    groups: tuple[str, ...] | None = None
    panel: Path | None = None
    s251: Path | None = None
    source: str = ""

    @property
    def files(self) -> tuple[Path, ...]:
        """Every input file the lot names (so no output may overwrite one)."""
        fs = [self.panel, self.s251]
        for m in self.members:
            fs += [m.forecast, m.costs, m.growth]
        return tuple(f for f in fs if f is not None)


@dataclass(frozen=True)
class LotMember:
    """A member ready to price: its demand paths and its cost set."""

    name: str
    demand: DemandPaths
    costs: CostSpec
    share: float | None = None


def _path(src: str, base: Path, key: str, v) -> Path:
    p = Path(text(src, key, v))
    return p if p.is_absolute() else base / p


def _member(src: str, base: Path, i: int, raw: dict) -> MemberSpec:
    key = f"member[{i}]"
    known(src, key, raw, {"name", "forecast", "costs", "growth", "area", "share"})
    by_area = "area" in raw
    if by_area == ("forecast" in raw or "costs" in raw):
        raise SpecError(src, key, "give either forecast and costs (a paths file and a cost "
                        "set) or area (an area of the lot's panel and s251 tables)")
    if not by_area and not ("forecast" in raw and "costs" in raw):
        raise SpecError(src, f"{key}.{'costs' if 'forecast' in raw else 'forecast'}",
                        "is required with a paths file and a cost set")
    if by_area and "growth" in raw:
        raise SpecError(src, f"{key}.growth", "an area's costs grow as fitted on the s251 "
                        "table; growth goes with forecast and costs")
    name = text(src, f"{key}.name", raw.get("name", raw.get("area", f"member {i + 1}")))
    if not name.strip():
        raise SpecError(src, f"{key}.name", "must not be blank")
    get = {k: _path(src, base, f"{key}.{k}", raw[k]) for k in ("forecast", "costs", "growth")
           if k in raw}
    share = (number(src, f"{key}.share", raw["share"], 0.0, 1.0) if "share" in raw else None)
    if share == 0.0:
        raise SpecError(src, f"{key}.share", "must be above 0 (leave a member out instead)")
    return MemberSpec(name=name, area=text(src, f"{key}.area", raw["area"]) if by_area else None,
                      share=share, **get)


def parse_lot(raw: dict, src: str = "lot", base: Path | None = None) -> LotSpec:
    """Validate a lot given as a dict (as read from TOML); relative file names are taken from
    ``base`` (the lot file's folder).

    Raises
    ------
    SpecError
        Naming the key: unknown keys, no members, a member with neither files nor an area,
        repeated names, shares given for some members only or not summing to 1, an area
        without the lot's ``panel`` and ``s251``, an empty or repeated placement group.
    """
    base = base or Path.cwd()
    known(src, "", raw, {"name", "groups", "member", "panel", "s251", "note"})
    rows = table_list(src, "member", raw.get("member", []))
    if not rows:
        raise SpecError(src, "member", "a lot needs at least one [[member]] (an LA)")
    members = tuple(_member(src, base, i, r) for i, r in enumerate(rows))
    names = [m.name for m in members]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(src, "member.name", f"each member needs its own name; repeated: {dup}")
    files = [m.forecast.resolve() for m in members if m.forecast is not None]
    if len(set(files)) < len(files):
        again = sorted({str(f) for f in files if files.count(f) > 1})
        raise SpecError(src, "member.forecast", f"two members use the same paths file {again}: "
                        "the lot would count the same children twice")
    _same_contents(src, members)
    shares = [m.share for m in members]
    if any(s is not None for s in shares):
        if any(s is None for s in shares):
            raise SpecError(src, "member.share", "give a share for every member or for none "
                            "(none: shares of the lot's expected cost)")
        if abs(sum(shares) - 1.0) > SHARE_TOLERANCE:
            raise SpecError(src, "member.share", f"shares must sum to 1, got {sum(shares):g}")
    groups = None
    if "groups" in raw:
        g = raw["groups"]
        if not isinstance(g, list) or not g or len(set(map(str, g))) != len(g):
            raise SpecError(src, "groups", f"must be a list of distinct placement groups, "
                            f"got {shown(g)}")
        groups = tuple(text(src, f"groups[{j}]", v) for j, v in enumerate(g))
    tables = {k: _path(src, base, k, raw[k]) for k in ("panel", "s251") if k in raw}
    need = [k for k in ("panel", "s251") if k not in tables]
    if any(m.area for m in members) and need:
        raise SpecError(src, need[0], "is required when a member is given by area")
    return LotSpec(name=text(src, "name", raw.get("name", "lot")), members=members,
                   groups=groups, source=src, **tables)


def _same_contents(src: str, members) -> None:
    """Two members' paths files with identical contents (a copy under another name) would
    count the same children twice, as one file named twice would."""
    import hashlib

    seen: dict[str, str] = {}
    for m in members:
        if m.forecast is None or not m.forecast.is_file():
            continue
        d = hashlib.sha256(m.forecast.read_bytes()).hexdigest()
        if d in seen:
            raise SpecError(src, "member.forecast", f"members {seen[d]!r} and {m.name!r} have "
                            f"paths files with identical contents ({m.forecast.name}): the "
                            "lot would count the same children twice")
        seen[d] = m.name


def load_lot(path: Path | str) -> LotSpec:
    """Read and validate a lot file (TOML); see :func:`parse_lot`."""
    path = Path(path)
    return parse_lot(read_toml(path), str(path), path.parent)


def member_seed(seed: int, i: int) -> int:
    """The seed of member ``i`` of a lot priced with ``seed`` (member 0: ``seed`` itself)."""
    return seed + 7919 * i


@dataclass(frozen=True)
class LotCosts:
    """A lot's costs simulated once: the lot's (``combined``, what the contract is priced on)
    and each member's, with the members' shares of the outlay."""

    names: tuple[str, ...]
    combined: SimulatedCosts
    members: tuple[SimulatedCosts, ...]
    shares: tuple[float, ...]
    shares_stated: bool
    groups: tuple[str, ...] | None = None

    def funding(self, priced: Priced) -> pl.DataFrame:
        """Who pays what: one row per member and contract funder, with the member's share of
        the outlay, the outlay's mean and P90 over the contract, and the member's own
        children's expected cost (GBP, nominal)."""
        funders = [(f.name, f.share) for f in priced.terms.funders] or [("", 1.0)]
        total = priced.net_to_provider.sum(axis=1)
        rows = []
        for name, share, sim in zip(self.names, self.shares, self.members, strict=True):
            own = float(sim.cost.sum(axis=1).mean())
            for f, fs in funders:
                t = total * share * fs
                rows.append({"member": name, "funder": f or name, "share_of_outlay": share * fs,
                             "expected_outlay": float(t.mean()),
                             "outlay_p90": float(np.quantile(t, 0.9)),
                             "expected_own_cost": own * fs})
        return pl.DataFrame(rows)

    def pooling(self) -> pl.DataFrame:
        """Risk pooled: each member's whole-contract cost alone (mean, P90, and the margin
        P90 - mean) beside the lot's; the last row is what pooling saves of that margin."""
        rows = []
        for name, sim in zip(self.names, self.members, strict=True):
            rows.append(_cost_row(name, sim.cost.sum(axis=1)))
        lot = _cost_row("the lot (pooled)", self.combined.cost.sum(axis=1))
        summed = sum(r["p90_minus_mean"] for r in rows)
        rows.append(lot)
        rows.append({"part": "pooling saves (sum of the members' margins - the lot's)",
                     "mean_cost": None, "p90_cost": None,
                     "p90_minus_mean": summed - lot["p90_minus_mean"]})
        return pl.DataFrame(rows, schema={"part": pl.String, "mean_cost": pl.Float64,
                                          "p90_cost": pl.Float64, "p90_minus_mean": pl.Float64})


def _cost_row(name: str, total: np.ndarray) -> dict:
    p90, mean = float(np.quantile(total, 0.9)), float(total.mean())
    return {"part": name, "mean_cost": mean, "p90_cost": p90, "p90_minus_mean": p90 - mean}


def _lot_costs(spec: CostSpec, groups: tuple[str, ...] | None) -> CostSpec:
    """The member's cost set for the lot: without the high-cost tail (placements dearer than
    residential care) when the lot holds no residential care."""
    if groups is None or "residential" in groups:
        return spec
    return dataclasses.replace(spec, high_cost_per_year=0.0)


def simulate_lot_costs(members: Sequence[LotMember], terms: ContractTerms, seed: int = 0,
                       groups: tuple[str, ...] | None = None) -> LotCosts:
    """Simulate every member's contract costs and add them path by path.

    Parameters
    ----------
    members
        The LAs of the lot, each with its demand paths (the same number of paths each) and
        its own cost set.
    terms
        The contract (its years and indicators).
    seed
        Member ``i`` is simulated with :func:`member_seed` ``(seed, i)``; the market-wide part
        of fitted cost growth with ``seed`` for all; the lot's indicators with ``seed``.
    groups
        The lot's placement groups (``None``: all).

    Returns
    -------
    LotCosts
        ``combined`` is what :func:`cobic.contract.calculator.apply_terms` prices.
    """
    if not members:
        raise ValueError("a lot needs at least one member")
    n = {m.name: m.demand.n_paths for m in members}
    if len(set(n.values())) > 1:
        raise ValueError("the members' forecasts have different numbers of paths "
                         f"({', '.join(f'{k}: {v:,}' for k, v in n.items())}): forecast each "
                         "with the same --paths")
    sims = []
    for i, m in enumerate(members):
        try:
            demand = m.demand if groups is None else m.demand.only_groups(groups)
            sims.append(simulate_contract_costs(demand, _lot_costs(m.costs, groups), terms,
                                                member_seed(seed, i), market_seed=seed))
        except ValueError as e:
            raise ValueError(f"member {m.name!r}: {e}") from None
    stated = members[0].share is not None
    if stated:
        shares = tuple(float(m.share) for m in members)
    else:
        own = np.array([s.cost.sum(axis=1).mean() for s in sims])
        shares = tuple(float(v) for v in own / own.sum())
    return LotCosts(tuple(m.name for m in members), combine_costs(sims, terms, seed),
                    tuple(sims), shares, stated, groups)


def _union_groups(sims: Sequence[SimulatedCosts]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(g for s in sims for g in s.groups))


def combine_costs(sims: Sequence[SimulatedCosts], terms: ContractTerms, seed: int = 0
                  ) -> SimulatedCosts:
    """The lot's simulated costs: the members' added path by path (placements by the union
    of their placement groups); realised over assumed cost growth averaged with the weights
    of each member's cost at assumed prices; the lot's own indicator noise (drawn as for one
    LA priced with ``seed``)."""
    years = {s.years for s in sims}
    if len(years) > 1:
        raise ValueError(f"the members were simulated for different years: {sorted(years)}")
    groups = _union_groups(sims)
    P, Y = sims[0].cost.shape
    placements = np.zeros((P, Y, len(groups)))
    for s in sims:
        for j, g in enumerate(s.groups):
            placements[:, :, groups.index(g)] += s.components.placements[:, :, j]

    def add(get):
        return sum(get(s) for s in sims)

    comp = CostPaths(sims[0].years, placements, add(lambda s: s.components.case_management),
                     add(lambda s: s.components.overheads), add(lambda s: s.components.startup),
                     add(lambda s: s.components.high_cost))
    weights = add(lambda s: s.cost_expected_prices)
    growth = add(lambda s: s.cost_expected_prices * _growth(s)) / np.where(weights > 0, weights,
                                                                            1.0)
    dur = (None if any(s.days_by_duration is None for s in sims)
           else add(lambda s: s.days_by_duration))
    tail = add(lambda s: np.zeros((P, Y)) if s.expected_tail is None else s.expected_tail)
    rng = np.random.default_rng(seed + 1)
    noise = rng.standard_normal((P, terms.length, max(len(terms.indicators), 1)))
    return SimulatedCosts(sims[0].years, add(lambda s: s.cost), weights,
                          add(lambda s: s.child_days), comp, noise, dur, tail, growth,
                          groups=groups)


def _growth(s: SimulatedCosts) -> np.ndarray:
    return np.ones_like(s.cost) if s.cost_growth is None else s.cost_growth
