"""Contract design: goal-seek terms that meet a commissioner's targets, and flag terms a
provider could not sustain.

A commissioner's question is "what capitation and bands keep the provider's chance of a loss
at most X% and our P90 outlay within budget Y?". :func:`design` answers it by pricing many
candidate terms on costs simulated once (:func:`cobic.contract.apply_terms`, a few ms each):
a coarse grid over the capitation point, the share of the capitation at risk on the
indicators, the width of the risk-share bands and the caps, then a finer grid around the best
candidates. Among the candidates that meet every target it keeps the one with the lowest
expected commissioner outlay; when none does it says which targets cannot be met, the best
value of each measure found, and the candidate closest to meeting them all.

Measures (whole contract, per path totals over the contract years, GBP nominal unless marked
``pv``; the same figures as :meth:`Priced.summary` and :meth:`Priced.risk`):

* ``commissioner_mean``, ``commissioner_p50``, ``commissioner_p80``, ``commissioner_p90``:
  the commissioner's outlay (net to the provider);
  ``commissioner_pv_mean``, ``commissioner_pv_p90``: the same in present value;
* ``provider_margin_mean``, ``provider_margin_p10``: the provider's margin (net to provider
  minus actual cost);
* ``provider_loss_prob``: P(the provider's margin over the contract is below zero);
* ``reserve_breach_prob``: P(the provider's cumulative margin, year by year, falls below minus
  its reserve). The reserve is ``finance.provider_reserve``; a contract without one is given
  the loss cap times the mean annual capitation (one year's largest capped risk-share loss),
  and a contract with neither has no reserve measure (``nan``);
* ``loss_cap_prob``, ``gain_cap_prob``: P(the provider hits the loss / gain cap in some year);
* ``unearned_withhold_mean``: expected incentive withheld but not earned back (GBP);
  ``unearned_withhold_share``: that as a share of the expected amount withheld;
* ``capitation_total``: the sum of the yearly capitations.

Targets are written ``measure<=value`` or ``measure>=value`` (also ``<`` and ``>``); values
may end in ``%`` (probabilities and shares), ``k``, ``m`` or ``bn`` (money).
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from cobic.contract.calculator import Priced, SimulatedCosts, apply_terms
from cobic.contract.risk_share import band_share
from cobic.contract.terms import BASES, Band, ContractTerms, Indicator, RiskShare
from cobic.costs import CostSpec
from cobic.units import money_m, pounds

__all__ = ["MEASURES", "Target", "parse_target", "measures", "provider_reserve", "Space",
           "payment_rule_bounds",
           "candidate_terms", "DesignResult", "design", "terms_toml",
           "sustainability_warnings"]


# ------------------------------------------------------------------------------ measures
@dataclass(frozen=True)
class Measure:
    """A whole-contract figure of a priced contract.

    Attributes
    ----------
    name : str
        The name used in targets.
    description : str
        What it is, in words.
    kind : str
        ``"money"`` (GBP) or ``"share"`` (a probability or fraction in 0-1).
    better : str
        ``"lower"`` or ``"higher"``: which way is better for the party it concerns (used to
        pick the best value found; a target's operator decides what "meets" means).
    """

    name: str
    description: str
    kind: str
    better: str


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("commissioner_mean", "expected commissioner outlay over the contract", "money",
            "lower"),
    Measure("commissioner_p50", "median commissioner outlay", "money", "lower"),
    Measure("commissioner_p80", "P80 commissioner outlay", "money", "lower"),
    Measure("commissioner_p90", "P90 commissioner outlay", "money", "lower"),
    Measure("commissioner_pv_mean", "expected commissioner outlay, present value", "money",
            "lower"),
    Measure("commissioner_pv_p90", "P90 commissioner outlay, present value", "money",
            "lower"),
    Measure("provider_margin_mean", "expected provider margin over the contract", "money",
            "higher"),
    Measure("provider_margin_p10", "P10 (bad case) provider margin", "money", "higher"),
    Measure("provider_loss_prob", "P(provider makes a loss over the contract)", "share",
            "lower"),
    Measure("reserve_breach_prob", "P(provider's cumulative loss exceeds its reserve)",
            "share", "lower"),
    Measure("loss_cap_prob", "P(provider hits the loss cap in some year)", "share", "lower"),
    Measure("gain_cap_prob", "P(provider hits the gain cap in some year)", "share", "lower"),
    Measure("unearned_withhold_mean", "expected incentive withheld and not earned back",
            "money", "lower"),
    Measure("unearned_withhold_share", "expected unearned withhold / expected withheld",
            "share", "lower"),
    Measure("capitation_total", "sum of the yearly capitations", "money", "lower"),
)}


def provider_reserve(terms: ContractTerms, capitation: np.ndarray) -> tuple[float | None, str]:
    """The provider's reserve for ``reserve_breach_prob`` and where it comes from.

    Parameters
    ----------
    terms : ContractTerms
        The contract; ``terms.provider_reserve`` is used when given.
    capitation : numpy.ndarray
        The yearly capitations ``C_y`` of the priced contract.

    Returns
    -------
    tuple of (float or None, str)
        The reserve in GBP (``None`` when the contract has neither a reserve nor a loss cap)
        and a phrase saying how it was set.
    """
    if terms.provider_reserve is not None:
        return terms.provider_reserve, "the contract's provider reserve"
    cap = terms.risk_share.loss_cap
    if cap is None:
        return None, "no reserve: the contract gives neither a provider reserve nor a loss cap"
    value = cap * float(np.mean(capitation))
    return value, (f"no reserve in the contract: taken as the loss cap ({cap:.0%}) x the mean "
                   "annual capitation, one year's largest capped risk-share loss")


def measures(priced: Priced) -> dict[str, float]:
    """Every measure of :data:`MEASURES` for a priced contract.

    Parameters
    ----------
    priced : Priced
        From :func:`cobic.contract.apply_terms`.

    Returns
    -------
    dict of str to float
        Keyed by measure name, in the order of :data:`MEASURES`.
    """
    out = priced.net_to_provider.sum(axis=1)
    pv = priced.present(priced.net_to_provider).sum(axis=1)
    margin = priced.provider_margin
    total_margin = margin.sum(axis=1)
    q50, q80, q90 = np.quantile(out, [0.5, 0.8, 0.9])
    withheld = float(np.broadcast_to(priced.withheld, margin.shape).sum(axis=1).mean())
    unearned = _unearned(priced)
    return {
        "commissioner_mean": float(out.mean()), "commissioner_p50": float(q50),
        "commissioner_p80": float(q80), "commissioner_p90": float(q90),
        "commissioner_pv_mean": float(pv.mean()),
        "commissioner_pv_p90": float(np.quantile(pv, 0.9)),
        "provider_margin_mean": float(total_margin.mean()),
        "provider_margin_p10": float(np.quantile(total_margin, 0.1)),
        "provider_loss_prob": float((total_margin < 0).mean()),
        "reserve_breach_prob": _breach_prob(priced, margin),
        "loss_cap_prob": float(priced.hit_loss_cap.any(axis=1).mean()),
        "gain_cap_prob": float(priced.hit_gain_cap.any(axis=1).mean()),
        "unearned_withhold_mean": unearned,
        "unearned_withhold_share": unearned / withheld if withheld > 0 else 0.0,
        "capitation_total": float(np.sum(priced.capitation)),
    }


def _unearned(priced: Priced) -> float:
    """Expected withheld minus earned, summed over the years (0 in bonus mode)."""
    if not np.any(priced.withheld):
        return 0.0
    withheld = np.broadcast_to(priced.withheld, priced.incentive_earned.shape)  # [Y] or [P, Y]
    return float((withheld - priced.incentive_earned).sum(axis=1).mean())


def _breach_prob(priced: Priced, margin: np.ndarray) -> float:
    """P(cumulative margin below minus the reserve in some year); ``nan`` with no reserve."""
    reserve, _ = provider_reserve(priced.terms, priced.capitation)
    if reserve is None:
        return math.nan
    return float((np.cumsum(margin, axis=1).min(axis=1) < -reserve).mean())


# ------------------------------------------------------------------------------- targets
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda x, v: x <= v, ">=": lambda x, v: x >= v,
    "<": lambda x, v: x < v, ">": lambda x, v: x > v,
}
_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*([<>=!]+)\s*(.*?)\s*$")
_SUFFIX = {"%": 0.01, "k": 1e3, "m": 1e6, "bn": 1e9}


@dataclass(frozen=True)
class Target:
    """A condition on one measure, e.g. ``provider_loss_prob <= 0.3``.

    Attributes
    ----------
    measure : str
        A key of :data:`MEASURES`.
    op : str
        ``"<="``, ``">="``, ``"<"`` or ``">"``.
    value : float
        The bound (finite).
    """

    measure: str
    op: str
    value: float

    def __post_init__(self) -> None:
        _check_measure(self.measure)
        if self.op not in _OPS:
            raise ValueError(f"unknown operator {self.op!r} in a target on {self.measure}: "
                             f"use one of {', '.join(_OPS)}")
        if isinstance(self.value, bool) or not math.isfinite(float(self.value)):
            raise ValueError(f"the bound of a target on {self.measure} must be a finite "
                             f"number, got {self.value!r}")
        _check_range(self.measure, float(self.value))

    @classmethod
    def parse(cls, text: str) -> Target:
        """Read ``"measure<=value"``; see :func:`parse_target`."""
        return parse_target(text)

    @property
    def upper(self) -> bool:
        """True for an upper bound (``<=`` or ``<``)."""
        return self.op.startswith("<")

    def met(self, x: float) -> bool:
        """Whether a measure value ``x`` meets the target (``nan`` never does)."""
        return bool(not math.isnan(x) and _OPS[self.op](x, self.value))

    def shortfall(self, x: float, scale: float) -> float:
        """How far ``x`` is from meeting the target, in units of ``scale`` (0 when met)."""
        if math.isnan(x):
            return math.inf
        gap = x - self.value if self.upper else self.value - x
        return max(gap, 0.0) / scale if not self.met(x) else 0.0

    def __str__(self) -> str:
        return f"{self.measure} {self.op} {_fmt(self.measure, self.value)}"


def _check_measure(name: str) -> None:
    if name in MEASURES:
        return
    close = difflib.get_close_matches(name, MEASURES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(f"unknown measure {name!r}{hint}; known measures: {', '.join(MEASURES)}")


def _check_range(name: str, value: float) -> None:
    if MEASURES[name].kind == "share" and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a probability or share: give a bound between 0 and 1 "
                         f"(or a percentage such as 30%), got {value:g}")


def _number(measure: str, raw: str) -> float:
    """The bound of a target: a number, optionally ending in %, k, m or bn."""
    s = raw.strip().lower().replace(",", "").replace("_", "")
    s = s[3:] if s.startswith("gbp") else s
    mult = 1.0
    for suffix, m in _SUFFIX.items():
        if s.endswith(suffix) and s != suffix:
            s, mult = s[: -len(suffix)].strip(), m
            break
    try:
        x = float(s) * mult
    except ValueError:
        raise ValueError(f"the bound of the target on {measure} is not a number: {raw!r} "
                         "(write e.g. 0.3, 30%, 520e6 or 520m)") from None
    if not math.isfinite(x):
        raise ValueError(f"the bound of the target on {measure} must be a finite number, got "
                         f"{raw!r}")
    return x


def parse_target(text: str) -> Target:
    """Parse a target such as ``"provider_loss_prob<=0.3"`` or ``"commissioner_p90<=520e6"``.

    Parameters
    ----------
    text : str
        ``measure``, an operator (``<=``, ``>=``, ``<``, ``>``) and a finite number, which may
        end in ``%``, ``k``, ``m`` or ``bn``. Spaces are allowed.

    Returns
    -------
    Target

    Raises
    ------
    ValueError
        Naming the problem: not of the form ``measure<=value``, an unknown measure (with the
        closest known name), an unknown operator, a bound that is not a finite number, or a
        probability bound outside 0-1.
    """
    if not isinstance(text, str):
        raise ValueError(f"a target must be text like 'provider_loss_prob<=0.3', got {text!r}")
    m = _TARGET.match(text)
    if m is None:
        raise ValueError(f"cannot read target {text!r}: write measure<=value or "
                         "measure>=value, e.g. provider_loss_prob<=0.3")
    name, op, raw = m.groups()
    _check_measure(name)
    if op not in _OPS:
        raise ValueError(f"unknown operator {op!r} in target {text!r}: use one of "
                         f"{', '.join(_OPS)}")
    if not raw:
        raise ValueError(f"target {text!r} has no bound after {op}")
    return Target(name, op, _number(name, raw))


def _targets(targets: Iterable[Target | str]) -> tuple[Target, ...]:
    out = tuple(t if isinstance(t, Target) else parse_target(t) for t in targets)
    if not out:
        raise ValueError("give at least one target, e.g. provider_loss_prob<=0.3")
    return out


def _fmt(measure: str, x: float) -> str:
    """A measure value for a message: GBP millions or a percentage."""
    if math.isnan(x):
        return "n/a"
    if MEASURES[measure].kind == "share":
        return f"{x:.1%}"
    return money_m(x, 2) if abs(x) >= 1e5 else pounds(x)


# ------------------------------------------------------------------------ search space
@dataclass(frozen=True)
class Space:
    """The coarse grid of candidate terms.

    Attributes
    ----------
    point : tuple of float
        Capitation points (quantiles of the simulated cost) for ``method = "forecast"``.
    outturn_scale : tuple of float
        Multipliers of the historic outturn for ``method = "historic"``.
    at_risk : tuple of float
        The largest yearly share of the capitation at risk on the indicators; the base
        contract's profile over the years keeps its shape (a flat profile after one
        bedding-in year when the base has none). Ignored without indicators.
    band_scale : tuple of float
        Multipliers of every risk-share band edge (and first-dollar threshold): above 1 the
        provider bears its 100% deadband and each band for longer.
    cap : tuple of float or None
        The provider's loss cap (and gain cap when the base caps are equal) as a fraction of
        the capitated payment; ``None`` is no cap.
    basis : tuple of str or None
        Capitation bases to try; ``None`` keeps the base contract's.
    refine : int
        How many of the best candidates get a finer grid around them in each round.
    rounds : int
        Rounds of refinement; each halves the step around the best candidates so far
        (0: the coarse grid only).
    """

    point: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    outturn_scale: tuple[float, ...] = (0.9, 0.95, 1.0, 1.05, 1.1)
    at_risk: tuple[float, ...] = (0.0, 0.05, 0.10, 0.15)
    band_scale: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    cap: tuple[float | None, ...] = (0.03, 0.05, 0.10, None)
    basis: tuple[str, ...] | None = None
    refine: int = 3
    rounds: int = 2


def _check_space(space: Space, base: ContractTerms) -> None:
    """Refuse knob values that would make terms the contract loader rejects."""
    widest = max((b.upper for b in base.risk_share.loss_bands + base.risk_share.gain_bands
                  if math.isfinite(b.upper)), default=0.0)
    rules = (("point", space.point, lambda v: 0.01 <= v <= 0.99, "between 0.01 and 0.99"),
             ("outturn_scale", space.outturn_scale, lambda v: v > 0, "above 0"),
             ("at_risk", space.at_risk, lambda v: 0 <= v <= 1, "between 0 and 1"),
             ("band_scale", space.band_scale, lambda v: v > 0 and v * widest <= 10,
              f"above 0 and at most {10 / widest if widest else math.inf:g} (band edges "
              "stay within 10x the capitated payment)"),
             ("cap", [c for c in space.cap if c is not None], lambda v: 0 <= v <= 10,
              "between 0 and 10, or None"))
    for name, values, ok, rule in rules:
        bad = [v for v in values if isinstance(v, bool) or not math.isfinite(v) or not ok(v)]
        if bad or (not values and name != "cap"):
            raise ValueError(f"Space.{name} must be a non-empty list of values {rule}, got "
                             f"{list(values)!r}")
    if not space.cap:
        raise ValueError("Space.cap must list at least one cap (None for no cap)")
    for name in ("refine", "rounds"):
        v = getattr(space, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"Space.{name} must be a whole number, 0 or more, got {v!r}")
    bad_basis = [b for b in (space.basis or ()) if b not in BASES]
    if bad_basis:
        raise ValueError(f"Space.basis: unknown basis {bad_basis}; use {BASES}")


def _capitation_knob(base: ContractTerms, space: Space) -> tuple[str, tuple[float, ...]]:
    if base.method == "forecast":
        return "point", space.point
    if base.method == "historic":
        return "outturn_scale", space.outturn_scale
    return "point", (base.point,)  # zero_based: the capitation is not a choice here


def _grid(base: ContractTerms, space: Space) -> list[dict]:
    """Every combination of the coarse knobs as a dict of knob values."""
    cap_name, cap_values = _capitation_knob(base, space)
    axes = {cap_name: cap_values,
            "at_risk": space.at_risk if base.indicators else (0.0,),
            "band_scale": space.band_scale, "cap": space.cap,
            "basis": space.basis or (base.basis,)}
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _profile(base: ContractTerms) -> np.ndarray:
    """The shape of the incentive profile over the years, peak 1."""
    s = np.array(base.incentive_share)
    if s.max() > 0:
        return s / s.max()
    return np.array([0.0] + [1.0] * (base.length - 1))


def _scaled_bands(bands: tuple[Band, ...], k: float) -> tuple[Band, ...]:
    return tuple(Band(b.lower * k, b.upper * k, b.provider_share) for b in bands)


def _scaled_fd(fd: tuple[float, float] | None, k: float) -> tuple[float, float] | None:
    return None if fd is None else (min(fd[0] * k, 1.0), fd[1])


def _risk_share(rs: RiskShare, band_scale: float, cap: float | None) -> RiskShare:
    gain_cap = cap if rs.gain_cap == rs.loss_cap else rs.gain_cap
    return RiskShare(_scaled_bands(rs.loss_bands, band_scale),
                     _scaled_bands(rs.gain_bands, band_scale), cap, gain_cap,
                     _scaled_fd(rs.first_dollar_loss, band_scale),
                     _scaled_fd(rs.first_dollar_gain, band_scale))


def candidate_terms(base: ContractTerms, knobs: dict) -> ContractTerms:
    """``base`` with the knobs of one candidate applied.

    Parameters
    ----------
    base : ContractTerms
        The contract being designed; everything not named by a knob is kept.
    knobs : dict
        Any of ``point``, ``outturn_scale``, ``at_risk``, ``band_scale``, ``cap`` and
        ``basis`` (see :class:`Space`).

    Returns
    -------
    ContractTerms
    """
    t = base
    if "point" in knobs and base.method == "forecast":
        t = replace(t, point=float(knobs["point"]))
    if "outturn_scale" in knobs and base.method == "historic":
        t = replace(t, historic_outturn=base.historic_outturn * knobs["outturn_scale"])
    if "at_risk" in knobs and base.indicators:
        shares = tuple(round(float(x), 6) for x in _profile(base) * knobs["at_risk"])
        t = replace(t, incentive_share=shares)
    if "band_scale" in knobs or "cap" in knobs:
        rs = base.risk_share
        t = replace(t, risk_share=_risk_share(rs, knobs.get("band_scale", 1.0),
                                              knobs.get("cap", rs.loss_cap)))
    if "basis" in knobs:
        t = replace(t, basis=knobs["basis"])
    return t


def _neighbours(seed: dict, tried: dict[str, set]) -> list[dict]:
    """A finer grid around one candidate: half-way to its nearest tried values, knob by knob."""
    axes = {k: (_between(v, tried[k]) if k != "basis" else (v,)) for k, v in seed.items()}
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _tried(rows: list) -> dict[str, set]:
    """Every value tried so far, knob by knob."""
    out: dict[str, set] = {}
    for knobs, _, _ in rows:
        for k, v in knobs.items():
            out.setdefault(k, set()).add(v)
    return out


def _between(value, grid: set) -> tuple:
    """``value`` and the mid-points to its neighbours in ``grid`` (``None`` caps kept)."""
    if value is None:
        return (None,)
    nums = sorted(v for v in set(grid) | {value} if v is not None)
    i = nums.index(value)
    out = [value]
    if i > 0:
        out.append((nums[i - 1] + value) / 2)
    if i < len(nums) - 1:
        out.append((nums[i + 1] + value) / 2)
    return tuple(round(v, 6) for v in out)


# ------------------------------------------------------------------------------ result
@dataclass(frozen=True)
class DesignResult:
    """The outcome of :func:`design`.

    Attributes
    ----------
    terms : ContractTerms
        The chosen terms: the feasible candidate with the lowest objective, or when none is
        feasible the candidate closest to feasibility.
    measures : dict of str to float
        Every measure of the chosen terms.
    feasible : bool
        Whether the chosen terms meet every target.
    targets : tuple of Target
    knobs : dict
        The knob values of the chosen terms.
    frontier : polars.DataFrame
        One row per candidate tried: its knobs, every measure, ``feasible``, ``shortfall``
        (0 when feasible) and ``pareto`` (no other candidate has both a lower or equal
        expected commissioner outlay and a lower or equal P(provider loss), one of them
        strictly), sorted by expected commissioner outlay.
    nearest : dict of str to float
        Per target measure, the best value over all candidates tried.
    best_given_others : dict of Target to float
        Per target, the best value of its measure among candidates meeting every *other*
        target (``nan`` when none does).
    unmet : tuple of Target
        The targets the chosen terms do not meet.
    unreachable : tuple of Target
        Targets no candidate meets even on its own.
    conflicts : tuple of tuple of Target
        Pairs of targets each reachable alone but never together.
    objective : str
    notes : tuple of str
    """

    terms: ContractTerms
    measures: dict[str, float]
    feasible: bool
    targets: tuple[Target, ...]
    knobs: dict
    frontier: pl.DataFrame
    nearest: dict[str, float]
    best_given_others: dict[Target, float]
    unmet: tuple[Target, ...]
    unreachable: tuple[Target, ...]
    conflicts: tuple[tuple[Target, Target], ...]
    objective: str = "commissioner_mean"
    notes: tuple[str, ...] = field(default=())

    @property
    def n_candidates(self) -> int:
        """How many candidate terms were priced."""
        return self.frontier.height

    def explain(self) -> list[str]:
        """Plain-English lines: what was found, or why the targets cannot all be met."""
        lines = [f"{self.n_candidates:,} candidate terms priced."]
        if self.feasible:
            lines.append(f"Every target is met; lowest {self.objective} among the feasible: "
                         f"{_fmt(self.objective, self.measures[self.objective])}.")
        else:
            lines.append("No candidate meets every target.")
            lines += [f"Cannot be met at all: {t} (best found "
                      f"{_fmt(t.measure, self.nearest[t.measure])})." for t in self.unreachable]
            lines += [f"Cannot be met together: {a} and {b}." for a, b in self.conflicts]
            lines += [f"With the other targets met, the best {t.measure} found is "
                      f"{_fmt(t.measure, self.best_given_others[t])} (target {t})."
                      for t in self.targets if not math.isnan(self.best_given_others[t])]
            lines.append("Closest candidate: " + ", ".join(
                f"{t.measure} {_fmt(t.measure, self.measures[t.measure])}"
                f"{'' if t.met(self.measures[t.measure]) else ' (misses ' + str(t) + ')'}"
                for t in self.targets) + ".")
        return lines + list(self.notes)


# ------------------------------------------------------------------------------ search
def _scales(sim: SimulatedCosts) -> dict[str, float]:
    """The unit in which to measure a shortfall: probabilities 1, money the mean cost."""
    money = float(sim.cost.sum(axis=1).mean()) or 1.0
    return {k: (1.0 if m.kind == "share" else money) for k, m in MEASURES.items()}


def _evaluate(sim, base, costs, grid: list[dict], seen: dict) -> None:
    """Price every candidate of ``grid`` not yet in ``seen`` (keyed by its knobs)."""
    for knobs in grid:
        key = tuple(sorted(knobs.items(), key=lambda kv: kv[0]))
        if key in seen:
            continue
        terms = candidate_terms(base, knobs)
        seen[key] = (knobs, terms, measures(apply_terms(sim, terms, costs)))


def _score(rows: list, targets, scales, objective: str) -> list[tuple[float, float]]:
    """(shortfall, objective) per candidate: lower is better on both."""
    sign = 1.0 if MEASURES[objective].better == "lower" else -1.0
    return [(sum(t.shortfall(m[t.measure], scales[t.measure]) for t in targets),
             sign * m[objective]) for _, _, m in rows]


def _best_seeds(rows, scores, n: int) -> list[dict]:
    order = sorted(range(len(rows)), key=lambda i: scores[i])
    return [rows[i][0] for i in order[:n]]


def design(sim: SimulatedCosts, base_terms: ContractTerms, costs: CostSpec | None,
           targets: Sequence[Target | str], *, space: Space | None = None,
           objective: str = "commissioner_mean") -> DesignResult:
    """Search candidate terms for ones meeting every target at the lowest ``objective``.

    Parameters
    ----------
    sim : SimulatedCosts
        Costs simulated once for the contract years (:func:`simulate_contract_costs`).
    base_terms : ContractTerms
        The starting contract; its indicators, funders, finance and band shapes are kept.
    costs : CostSpec or None
        The cost set (needed for ``method = "historic"``), passed to ``apply_terms``.
    targets : sequence of Target or str
        E.g. ``["provider_loss_prob<=0.3", "commissioner_p90<=520e6"]``.
    space : Space, optional
        The coarse grid and how many of its best candidates to refine around.
    objective : str
        The measure to optimise among feasible candidates (its :class:`Measure` ``better``
        says which way); default the expected commissioner outlay.

    Returns
    -------
    DesignResult

    Raises
    ------
    ValueError
        For an unreadable target, an unknown objective, or costs simulated for other years.
    """
    targets, space = _targets(targets), space or Space()
    _check_measure(objective)
    _check_space(space, base_terms)
    scales, seen = _scales(sim), {}
    _evaluate(sim, base_terms, costs, _grid(base_terms, space), seen)
    for _ in range(space.rounds if space.refine > 0 else 0):
        rows = list(seen.values())
        tried = _tried(rows)
        for s in _best_seeds(rows, _score(rows, targets, scales, objective), space.refine):
            _evaluate(sim, base_terms, costs, _neighbours(s, tried), seen)
    rows = list(seen.values())
    notes = _notes(base_terms) + tuple(payment_rule_bounds(sim, targets))
    return _result(rows, _score(rows, targets, scales, objective), targets, objective, notes)


_OUTLAY_POINTS = {"commissioner_p50": 0.5, "commissioner_p80": 0.8, "commissioner_p90": 0.9}


def payment_rule_bounds(sim: SimulatedCosts, targets: Sequence[Target | str]) -> list[str]:
    """Pairs of targets that *no* payment rule can meet together on these paths.

    The provider makes no loss on a path only where the commissioner pays at least its
    whole-contract cost ``A``. So a contract with P(provider loss) <= ``a`` and a commissioner
    outlay whose ``q`` quantile is at most ``x`` needs ``A <= x`` on at least
    ``k_q + ceil(P (1 - a)) - P`` of the ``P`` paths, ``k_q = floor(q (P - 1)) + 1`` being the
    paths at or below the (linearly interpolated) ``q`` quantile. When fewer paths have
    ``A <= x``, whatever the capitation, bands, caps or incentives, the pair is out of reach.

    Returns
    -------
    list of str
        One plain-English line per such pair (empty when the bound rules nothing out).
    """
    targets = _targets(targets)
    total = sim.cost.sum(axis=1)
    P = total.size
    loss = [t for t in targets if t.measure == "provider_loss_prob" and t.upper]
    outlay = [t for t in targets if t.measure in _OUTLAY_POINTS and t.upper]
    lines = []
    for a, x in itertools.product(loss, outlay):
        q = _OUTLAY_POINTS[x.measure]
        need = math.floor(q * (P - 1)) + 1 + math.ceil(P * (1 - a.value) - 1e-9) - P
        have = int((total <= x.value).sum())
        if have < need:
            lines.append(
                f"No payment rule can meet both {a} and {x} on these paths: the provider "
                f"makes no loss only where the commissioner pays at least the cost, so the "
                f"whole-contract cost would have to be at most {_fmt(x.measure, x.value)} on "
                f"at least {need / P:.1%} of the paths; it is on {have / P:.1%}.")
    return lines


def _notes(base: ContractTerms) -> tuple[str, ...]:
    notes = []
    if base.method == "zero_based":
        notes.append("The capitation is zero-based (expected cost at unit costs), so it was "
                     "not searched; only the incentive and risk-share terms were.")
    if not base.indicators:
        notes.append("The contract has no indicators, so nothing was put at risk on them.")
    if base.provider_reserve is None:
        notes.append(f"reserve_breach_prob: {provider_reserve(base, np.array([1.0]))[1]}.")
    return tuple(notes)


def _result(rows, scores, targets, objective, notes) -> DesignResult:
    i = min(range(len(rows)), key=lambda k: scores[k])
    knobs, terms, m = rows[i]
    ms = [r[2] for r in rows]
    unmet = tuple(t for t in targets if not t.met(m[t.measure]))
    unreachable = tuple(t for t in targets if not any(t.met(x[t.measure]) for x in ms))
    return DesignResult(
        terms=terms, measures=m, feasible=not unmet, targets=targets, knobs=knobs,
        frontier=_frontier(rows, scores), nearest=_nearest(targets, ms),
        best_given_others={t: _best_given_others(t, targets, ms) for t in targets},
        unmet=unmet, unreachable=unreachable,
        conflicts=_conflicts(targets, ms, unreachable), objective=objective, notes=notes)


def _best(measure: str, values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan
    return min(vals) if MEASURES[measure].better == "lower" else max(vals)


def _best_toward(t: Target, values: list[float]) -> float:
    """The value closest to meeting ``t`` (lowest for an upper bound, highest for a lower)."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan
    return min(vals) if t.upper else max(vals)


def _nearest(targets, ms: list[dict]) -> dict[str, float]:
    out = {k: _best(k, [m[k] for m in ms]) for k in MEASURES}
    out.update({t.measure: _best_toward(t, [m[t.measure] for m in ms]) for t in targets})
    return out


def _best_given_others(t: Target, targets, ms: list[dict]) -> float:
    ok = [m for m in ms if all(o.met(m[o.measure]) for o in targets if o is not t)]
    return _best_toward(t, [m[t.measure] for m in ok])


def _conflicts(targets, ms, unreachable) -> tuple[tuple[Target, Target], ...]:
    live = [t for t in targets if t not in unreachable]
    return tuple((a, b) for a, b in itertools.combinations(live, 2)
                 if not any(a.met(m[a.measure]) and b.met(m[b.measure]) for m in ms))


def _frontier(rows, scores) -> pl.DataFrame:
    knob_names = sorted({k for knobs, _, _ in rows for k in knobs})
    data = {k: [knobs.get(k) for knobs, _, _ in rows] for k in knob_names}
    data |= {k: [m[k] for _, _, m in rows] for k in MEASURES}
    df = pl.DataFrame(data, strict=False).with_columns(
        shortfall=pl.Series([s for s, _ in scores], dtype=pl.Float64))
    df = df.with_columns(feasible=pl.col("shortfall") == 0.0,
                         pareto=pl.Series(_pareto(df["commissioner_mean"].to_numpy(),
                                                  df["provider_loss_prob"].to_numpy())))
    return df.sort(["commissioner_mean", "provider_loss_prob"])


def _pareto(cost: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """True where no other point is <= on both and < on one (lower is better on both)."""
    le = (cost[None, :] <= cost[:, None]) & (risk[None, :] <= risk[:, None])
    lt = (cost[None, :] < cost[:, None]) | (risk[None, :] < risk[:, None])
    return ~(le & lt).any(axis=1)


# ------------------------------------------------------------------------------- TOML
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _s(text: str) -> str:
    """A TOML basic string."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _f(x: float) -> str:
    """A TOML float that reads back to the same value."""
    return repr(float(x))


def _floats(xs: Iterable[float]) -> str:
    return "[" + ", ".join(_f(x) for x in xs) + "]"


def _band_list(key: str, bands: tuple[Band, ...]) -> list[str]:
    lines = [f"{key} = ["]
    for b in bands:
        upto = "" if math.isinf(b.upper) else f"upto = {_f(b.upper)}, "
        lines.append(f"  {{ {upto}provider_share = {_f(b.provider_share)} }},")
    return lines + ["]"]


def _fy(year: int) -> str:
    return f"{year - 1}-{year % 100:02d}"


def _head(t: ContractTerms) -> list[str]:
    lines = [f"name = {_s(t.name)}", f"first_year = {_s(_fy(t.first_year))}",
             f"length = {t.length}", f"basis = {_s(t.basis)}", "", "[capitation]",
             f"method = {_s(t.method)}"]
    if t.method == "forecast":  # the point applies to a forecast capitation only
        lines.append(f"point = {_f(t.point)}")
    if t.method == "historic":
        lines += [f"historic_outturn = {_f(t.historic_outturn)}",
                  f"historic_year = {_s(_fy(t.historic_year))}"]
    lines += ["", "[hybrid]", f"corridor = {_f(t.corridor)}",
              f"marginal_rate = {_f(t.marginal_rate)}", "", "[incentive]",
              f"share_by_year = {_floats(t.incentive_share)}", f"mode = {_s(t.incentive_mode)}"]
    if t.quality_gate is not None:
        lines.append(f"quality_gate = {_f(t.quality_gate)}")
    return lines


def _risk_lines(rs: RiskShare) -> list[str]:
    symmetric = rs.gain_bands == rs.loss_bands and (rs.gain_cap == rs.loss_cap
                                                    or rs.loss_cap is None)
    lines = ["", "[risk_share]", f"symmetric = {'true' if symmetric else 'false'}"]
    lines += _band_list("loss_bands", rs.loss_bands)
    if not symmetric:
        lines += _band_list("gain_bands", rs.gain_bands)
    for key, cap in (("loss_cap", rs.loss_cap), ("gain_cap", rs.gain_cap)):
        if cap is not None:
            lines.append(f"{key} = {_f(cap)}")
    for key, fd in (("first_dollar_loss", rs.first_dollar_loss),
                    ("first_dollar_gain", rs.first_dollar_gain)):
        if fd is not None:
            lines.append(f"{key} = {{ threshold = {_f(fd[0])}, share = {_f(fd[1])} }}")
    return lines


def _indicator_lines(ind: Indicator) -> list[str]:
    lines = ["", "[[indicators]]", f"name = {_s(ind.name)}", f"direction = {_s(ind.direction)}",
             f"floor = {_f(ind.floor)}", f"target = {_f(ind.target)}",
             f"weights = {_floats(ind.weights)}", f"scoring = {_s(ind.scoring)}"]
    if ind.steps:
        steps = ", ".join(f"{{ at = {_f(a)}, payout = {_f(p)} }}" for a, p in ind.steps)
        lines.append(f"steps = [ {steps} ]")
    return lines + [f"baseline = {_f(ind.baseline)}", f"improvement = {_f(ind.improvement)}",
                    f"sd = {_f(ind.sd)}", f"cost_correlation = {_f(ind.cost_correlation)}"]


def _multi_year_lines(t: ContractTerms) -> list[str]:
    """``[cumulative]``, ``[reconciliation]``, ``[reopener]`` and ``[indexation]``, each only
    when the contract has it (absent: the yearly terms alone, a fixed schedule)."""
    lines = []
    caps = [(k, v) for k, v in (("loss_cap", t.cumulative_loss_cap),
                                ("gain_cap", t.cumulative_gain_cap)) if v is not None]
    if caps:
        lines += ["", "[cumulative]", *(f"{k} = {_f(v)}" for k, v in caps)]
    if t.reconciliation is not None:
        lines += ["", "[reconciliation]", *_risk_lines(t.reconciliation)[2:]]
    if t.reopener is not None:
        r = t.reopener
        lines += ["", "[reopener]", f"year = {r.year}", f"factor = {_f(r.factor)}",
                  f"weights = {_floats(r.weights)}"]
    ix = t.indexation
    if ix.method != "fixed":
        lines += ["", "[indexation]", f"method = {_s(ix.method)}"]
        if ix.method == "cpi":
            lines += [f"cpi = {_floats(ix.cpi)}", f"assumed_cpi = {_f(ix.assumed_cpi)}"]
    return lines


def _tail(t: ContractTerms) -> list[str]:
    lines = ["", "[finance]", f"discount_rate = {_f(t.discount_rate)}",
             f"inflation = {_f(t.inflation)}"]
    if t.provider_reserve is not None:
        lines.append(f"provider_reserve = {_f(t.provider_reserve)}")
    for f in t.funders:
        lines += ["", "[[funders]]", f"name = {_s(f.name)}", f"share = {_f(f.share)}"]
    return lines


def terms_toml(terms: ContractTerms, comment: str | None = None) -> str:
    """A complete contract TOML for ``terms`` that :func:`load_contract` reads back equal.

    Parameters
    ----------
    terms : ContractTerms
    comment : str, optional
        Written as ``#`` comment lines at the top (e.g. how the terms were designed).

    Returns
    -------
    str
        TOML text; every key is written explicitly (no defaults relied on), floats in their
        shortest round-trip form. Only ``terms.source`` (the file it came from) is not kept.
    """
    head = [f"# {line}".rstrip() for line in (comment or "").splitlines()]
    body = _head(terms) + _risk_lines(terms.risk_share)
    for ind in terms.indicators:
        body += _indicator_lines(ind)
    return "\n".join(head + body + _multi_year_lines(terms) + _tail(terms)) + "\n"


# ---------------------------------------------------------------------- sustainability
def sustainability_warnings(priced: Priced, terms: ContractTerms | None = None, *,
                            breach_limit: float = 0.10,
                            unearned_limit: float = 0.25) -> list[str]:
    """Plain-English warnings that a provider may not be able to sustain the contract.

    Parameters
    ----------
    priced : Priced
        The contract priced on simulated costs.
    terms : ContractTerms, optional
        The terms (default ``priced.terms``).
    breach_limit : float
        Warn when P(the provider's cumulative loss exceeds its reserve) is above this.
    unearned_limit : float
        Warn when the expected unearned withhold is above this share of the amount withheld.

    Returns
    -------
    list of str
        Empty when nothing is of concern. Checks: expected provider margin below zero;
        reserve breached too often (the reserve as :func:`provider_reserve` defines it);
        much of the withheld incentive not earned back; a loss or gain cap that binds
        before the last band can pay anything.
    """
    terms = terms or priced.terms
    m = measures(priced)
    out = [_scale_warning(priced, terms), _margin_warning(m),
           _reserve_warning(priced, terms, m, breach_limit),
           _withhold_warning(priced, m, unearned_limit)]
    out += _cap_warnings(terms.risk_share) + _percent_warnings(terms.risk_share)
    return [w for w in out if w]


def _percent_warnings(rs: RiskShare) -> list[str]:
    """A cap or a band edge above 100% of the capitated payment: more often a percentage
    written as a whole number (5 for 5%) than a term anyone means."""
    out = []
    for side, bands, cap in (("loss", rs.loss_bands, rs.loss_cap),
                             ("gain", rs.gain_bands, rs.gain_cap)):
        edges = [b.upper for b in bands if math.isfinite(b.upper) and b.upper > 1]
        if cap is not None and cap > 1:
            out.append(f"The {side} cap is {cap:.0%} of the capitated payment: caps are "
                       f"fractions (0.05 for 5%).")
        if edges:
            out.append(f"A {side} band ends at {edges[0]:.0%} of the capitated payment: band "
                       f"edges are fractions (0.08 for 8%).")
    return out


def _m(x: float) -> str:
    return money_m(x)


SCALE_LIMITS = (0.5, 2.0)  # capitation over expected cost outside these: a units slip?


def _scale_warning(priced: Priced, terms: ContractTerms) -> str | None:
    """The capitation far from the expected cost (below half or above twice it), which is
    more often a slip of units (pounds for millions) or a wrong cost set than a price."""
    cap = float(np.sum(priced.capitation))
    cost = float(np.asarray(priced.cost).sum(axis=-1).mean())
    if cost <= 0 or SCALE_LIMITS[0] <= cap / cost <= SCALE_LIMITS[1]:
        return None
    low = cap / cost < SCALE_LIMITS[0]
    hint = ""
    if terms.method == "historic":
        hint = (" A historic outturn is in pounds (60,500,000 for £60.5m), not millions."
                if low else " Check the historic outturn for an extra zero.")
    share = "under 1%" if cap / cost < 0.01 else f"{cap / cost:.0%}"
    return (f"The capitation ({_m(cap)} over the contract) is {share} of the expected "
            f"cost ({_m(cost)}): check the units of the inputs and that the cost set is this "
            f"area's.{hint}")


def _margin_warning(m: dict) -> str | None:
    if m["provider_margin_mean"] >= 0:
        return None
    return (f"The provider is expected to lose money: mean margin {_m(m['provider_margin_mean'])}"
            f" over the contract, a loss on {m['provider_loss_prob']:.0%} of the paths "
            f"(P10 margin {_m(m['provider_margin_p10'])}).")


def _reserve_warning(priced: Priced, terms: ContractTerms, m: dict, limit: float) -> str | None:
    reserve, how = provider_reserve(terms, priced.capitation)
    if reserve is None:
        return ("The provider's losses are not bounded: the contract has no provider reserve "
                "and no loss cap.") if m["provider_loss_prob"] > limit else None
    p = m["reserve_breach_prob"]
    if p <= limit:
        return None
    return (f"The provider's cumulative loss exceeds its reserve of {_m(reserve)} ({how}) on "
            f"{p:.0%} of the paths, above {limit:.0%}.")


def _withhold_warning(priced: Priced, m: dict, limit: float) -> str | None:
    share = m["unearned_withhold_share"]
    if share <= limit:
        return None
    cap = float(np.sum(priced.capitation))
    return (f"{share:.0%} of the withheld incentive is expected not to be earned back "
            f"({_m(m['unearned_withhold_mean'])}, {m['unearned_withhold_mean'] / cap:.1%} of "
            f"the capitation), above {limit:.0%}: the indicator targets may be out of reach.")


def _cap_warnings(rs: RiskShare) -> list[str]:
    out = []
    for side, bands, cap, fd in (("loss", rs.loss_bands, rs.loss_cap, rs.first_dollar_loss),
                                 ("gain", rs.gain_bands, rs.gain_cap, rs.first_dollar_gain)):
        if cap is None or fd is not None or len(bands) < 2:
            continue
        last = bands[-1]
        before = float(band_share(np.array([last.lower]), bands)[0])
        if before >= cap - 1e-12:
            out.append(_cap_text(side, bands, cap, last))
    return out


def _cap_text(side: str, bands: tuple[Band, ...], cap: float, last: Band) -> str:
    x = _cap_point(bands, cap)
    return (f"The {side} cap ({cap:.1%} of the capitated payment) binds at a variance of "
            f"{x:.1%}, before the last band (from {last.lower:.0%}, provider share "
            f"{last.provider_share:.0%}) can pay anything: that band is dead.")


def _cap_point(bands: tuple[Band, ...], cap: float) -> float:
    """The variance (fraction of the target) at which the provider's share reaches ``cap``."""
    acc = 0.0
    for b in bands:
        width = b.upper - b.lower
        if b.provider_share > 0 and acc + b.provider_share * width >= cap:
            return b.lower + (cap - acc) / b.provider_share
        acc += b.provider_share * width
    return math.inf
