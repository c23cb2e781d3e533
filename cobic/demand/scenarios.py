"""Named, composable scenarios, stated in natural units and applied before simulation.

``NAME=VALUE`` pieces (as on the command line, ``--scenario`` repeated to combine them):

============================  ===========================================================
``entry_step=+20%@2027``      entries change by +20% from collection year 2027 on (Kansas)
``entry_trend=+3%``           entries grow 3% a year (compounding) after the origin
``prevention=10%@2028``       entries fall by 10% from 2028 on (a prevention effect)
``stay=+10%``                 stays 10% longer on average (exit hazards / 1.10)
``mix=residential>fostering:25%``  25% of new residential placements go to fostering instead
``uasc=30``                   30 more unaccompanied asylum-seeking children a year (aged 16-17)
============================  ===========================================================

Entries and stays never go in as daily per-child probabilities. The ``stockflow`` model takes
every piece; annual series models take the entry pieces (step, trend, prevention, uasc) through
a flow adjustment and refuse ``stay`` and ``mix`` with an error saying so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Scenario", "parse_scenarios", "apply_to_series", "entry_step", "prevention",
           "entry_trend", "stay", "mix", "uasc"]

_PCT = r"([+-]?\d+(?:\.\d+)?)%"


@dataclass(frozen=True)
class Scenario:
    name: str = "baseline"
    entry_steps: tuple[tuple[int, float], ...] = ()  # (from year, fractional change)
    entry_trend: float = 0.0
    prevention: tuple[tuple[int, float], ...] = ()  # (from year, fractional reduction)
    stay_change: float = 0.0
    mix_shift: tuple[tuple[str, str, float], ...] = ()
    extra_uasc: float = 0.0
    pieces: tuple[str, ...] = field(default=())

    @property
    def exit_multiplier(self) -> float:
        return 1.0 / (1.0 + self.stay_change)

    def entry_multiplier(self, year: int, origin: int) -> float:
        m = (1.0 + self.entry_trend) ** max(0, year - origin)
        for y, c in self.entry_steps:
            if year >= y:
                m *= 1.0 + c
        for y, c in self.prevention:
            if year >= y:
                m *= 1.0 - c
        return m

    def adjust_entries(self, lam: np.ndarray, year: int, origin: int) -> np.ndarray:
        return lam * self.entry_multiplier(year, origin)

    def shift_mix(self, probs: np.ndarray, groups: tuple[str, ...]) -> np.ndarray:
        out = probs.copy()
        for src, dst, share in self.mix_shift:
            i, j = groups.index(src), groups.index(dst)
            moved = out[..., i] * share
            out[..., i] -= moved
            out[..., j] += moved
        return out


# Stated limits (a scenario beyond them is a typo, not a plan): steps and trends in
# percent, UASC in children a year, years as collection years.
MAX_ENTRY_STEP = 5.0  # +500%
MAX_ENTRY_TREND = 0.5  # +-50% a year
STAY_RANGE = (-0.9, 3.0)  # -90% .. +300%
MAX_UASC = 5_000.0
YEAR_RANGE = (2000, 2100)


def _pct(x: float) -> str:
    return f"{x * 100:+g}%"


def _check_year(year: int, piece: str) -> int:
    if isinstance(year, bool) or not isinstance(year, int | np.integer):
        raise ValueError(f"scenario {piece!r}: the year must be a whole number")
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise ValueError(f"scenario {piece!r}: the year must be {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
    return int(year)


def _within(piece: str, value: float, lo: float, hi: float, unit: str = "%") -> float:
    if not math.isfinite(value):
        raise ValueError(f"scenario {piece!r}: must be a finite number")
    if not lo <= value <= hi:
        shown = (f"{lo:+.0%} to {hi:+.0%}" if unit == "%" else f"{lo:,.0f} to {hi:,.0f} {unit}")
        raise ValueError(f"scenario {piece!r}: must be within {shown}")
    return value


def _added(sc: Scenario, piece: str, **changes) -> Scenario:
    sc = replace(sc, **changes, pieces=(*sc.pieces, piece))
    return replace(sc, name=" + ".join(sc.pieces))


# The one place each lever is checked and applied: builders on Scenario objects (the CLI's
# NAME=VALUE text is parsed into calls of these, never the other way round).

def entry_step(sc: Scenario, change: float, year: int) -> Scenario:
    """Entries change by ``change`` (a fraction: 0.2 = +20%) from collection ``year`` on."""
    piece = f"entry_step={_pct(change)}@{year}"
    _check_year(year, piece)
    if change < -1:  # -100%: no new entrants from that year on
        raise ValueError(f"scenario {piece!r}: a step below -100% is impossible")
    _within(piece, change, -1.0, MAX_ENTRY_STEP)
    return _added(sc, piece, entry_steps=(*sc.entry_steps, (int(year), float(change))))


def prevention(sc: Scenario, reduction: float, year: int) -> Scenario:
    """Entries fall by ``reduction`` (0.1 = 10%) from collection ``year`` on."""
    reduction = abs(reduction)
    piece = f"prevention={reduction * 100:g}%@{year}"
    _check_year(year, piece)
    if not math.isfinite(reduction) or reduction > 1:
        raise ValueError(f"scenario {piece!r}: prevention cannot remove over 100%")
    return _added(sc, piece, prevention=(*sc.prevention, (int(year), float(reduction))))


def entry_trend(sc: Scenario, rate: float) -> Scenario:
    """Entries grow by ``rate`` a year (compounding) after the origin."""
    piece = f"entry_trend={_pct(rate)}"
    if rate <= -1:
        raise ValueError(f"scenario {piece!r}: must be above -100%")
    _within(piece, rate, -MAX_ENTRY_TREND, MAX_ENTRY_TREND)
    return _added(sc, piece, entry_trend=float(rate))


def stay(sc: Scenario, change: float) -> Scenario:
    """Stays ``change`` longer on average (exit hazards divided by ``1 + change``)."""
    piece = f"stay={_pct(change)}"
    if change <= -1:
        raise ValueError(f"scenario {piece!r}: must be above -100%")
    _within(piece, change, *STAY_RANGE)
    return _added(sc, piece, stay_change=float(change))


def mix(sc: Scenario, source: str, target: str, share: float,
        groups: tuple[str, ...] | None = None) -> Scenario:
    """A ``share`` of new ``source`` placements go to ``target`` instead."""
    piece = f"mix={source}>{target}:{share * 100:g}%"
    if groups is not None:
        for g in (source, target):
            if g not in groups:
                raise ValueError(f"scenario {piece!r}: {g!r} is not a placement group "
                                 f"({', '.join(groups)})")
    if source == target:
        raise ValueError(f"scenario {piece!r}: moving placements from {source} to {source} "
                         "changes nothing; name two different groups")
    if not (math.isfinite(share) and 0 <= share <= 1):
        raise ValueError(f"scenario {piece!r}: the share must be between 0% and 100%")
    return _added(sc, piece, mix_shift=(*sc.mix_shift, (source, target, float(share))))


def uasc(sc: Scenario, children: float) -> Scenario:
    """``children`` more unaccompanied asylum-seeking children a year (aged 16-17)."""
    piece = f"uasc={children:g}"
    if not math.isfinite(children) or children < 0:
        raise ValueError(f"scenario {piece!r}: must be a number of children, not negative")
    if children != round(children):
        raise ValueError(f"scenario {piece!r}: must be a whole number of children a year")
    _within(piece, sc.extra_uasc + children, 0.0, MAX_UASC, "children a year")
    return _added(sc, piece, extra_uasc=sc.extra_uasc + float(children))


def _percent(piece: str, value: str, with_year: bool) -> tuple[float, int | None]:
    m = re.fullmatch(_PCT + (r"(?:@(\d{4}))?" if with_year else ""), value)
    if not m:
        raise ValueError(f"scenario {piece!r}: expected " + (
            "a percentage and a year, e.g. +20%@2027" if with_year else
            "a percentage such as +3%"))
    if with_year and m.group(2) is None:
        name = piece.split("=", 1)[0].strip()
        raise ValueError(f"scenario {piece!r}: give the year it starts, e.g. {name}=...@2027")
    return float(m.group(1)) / 100, (int(m.group(2)) if with_year else None)


def parse_scenarios(pieces: list[str], groups: tuple[str, ...] | None = None) -> Scenario:
    """Combine ``NAME=VALUE`` pieces into one Scenario (through the builders above); errors
    name the piece and the rule."""
    sc = Scenario()
    for piece in pieces:
        if "=" not in piece:
            raise ValueError(f"scenario {piece!r}: expected NAME=VALUE, e.g. entry_step=+20%@2027")
        name, value = (x.strip() for x in piece.split("=", 1))
        if name in ("entry_step", "prevention"):
            pct, year = _percent(piece, value, True)
            sc = entry_step(sc, pct, year) if name == "entry_step" else prevention(sc, pct, year)
        elif name in ("entry_trend", "stay"):
            pct, _ = _percent(piece, value, False)
            sc = entry_trend(sc, pct) if name == "entry_trend" else stay(sc, pct)
        elif name == "mix":
            m = re.fullmatch(r"(\w+)>(\w+):" + _PCT, value)
            if not m:
                raise ValueError(f"scenario {piece!r}: expected FROM>TO:SHARE%, e.g. "
                                 "residential>fostering:25%")
            sc = mix(sc, m.group(1), m.group(2), float(m.group(3)) / 100, groups)
        elif name == "uasc":
            try:
                n = float(value)
            except ValueError:
                raise ValueError(f"scenario {piece!r}: expected children per year, e.g. uasc=30"
                                 ) from None
            sc = uasc(sc, n)
        else:
            raise ValueError(f"scenario {piece!r}: unknown name {name!r} (entry_step, "
                             "entry_trend, prevention, stay, mix, uasc)")
    return sc


def apply_to_series(values: np.ndarray, scenario: Scenario, starts: np.ndarray,
                    exit_rate: np.ndarray, origin: int) -> np.ndarray:
    """Add a scenario's extra entries to series-model stock paths ``[area, path, h]``.

    Extra entrants in year s are ``starts x (multiplier - 1) + uasc``; of them a share
    ``(1 - exit_rate) ** (y - s + 0.5)`` is still looked after on 31 March of year y (entries
    arrive mid-year on average). ``starts`` and ``exit_rate`` are per area (recent means).
    """
    if scenario.stay_change or scenario.mix_shift:
        raise ValueError("scenarios 'stay' and 'mix' need the stockflow model (they change "
                         "how long children stay and where they are placed)")
    horizon = values.shape[2]
    extra = np.zeros((values.shape[0], horizon))
    for k in range(horizon):
        year = origin + 1 + k
        d = starts * (scenario.entry_multiplier(year, origin) - 1.0) + scenario.extra_uasc
        for y in range(k, horizon):
            extra[:, y] += d * (1.0 - exit_rate) ** (y - k + 0.5)
    return np.maximum(values + extra[:, None, :], 0.0)
