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

__all__ = ["Scenario", "parse_scenarios", "apply_to_series"]

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


def _year(text: str | None, piece: str) -> int:
    if text is None:
        raise ValueError(f"scenario {piece!r}: give the year it starts, e.g. {piece}@2027")
    year = int(text)
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise ValueError(f"scenario {piece!r}: the year must be {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
    return year


def _within(piece: str, value: float, lo: float, hi: float, unit: str = "%") -> float:
    if not lo <= value <= hi:
        shown = (f"{lo:+.0%} to {hi:+.0%}" if unit == "%" else f"{lo:,.0f} to {hi:,.0f} {unit}")
        raise ValueError(f"scenario {piece!r}: must be within {shown}")
    return value


def parse_scenarios(pieces: list[str], groups: tuple[str, ...] | None = None) -> Scenario:
    """Combine ``NAME=VALUE`` pieces into one Scenario; errors name the piece and the rule."""
    sc = Scenario()
    for piece in pieces:
        if "=" not in piece:
            raise ValueError(f"scenario {piece!r}: expected NAME=VALUE, e.g. entry_step=+20%@2027")
        name, value = (x.strip() for x in piece.split("=", 1))
        if name in ("entry_step", "prevention"):
            m = re.fullmatch(_PCT + r"(?:@(\d{4}))?", value)
            if not m:
                raise ValueError(f"scenario {piece!r}: expected a percentage and a year, "
                                 "e.g. +20%@2027")
            pct, year = float(m.group(1)) / 100, _year(m.group(2), name)
            if name == "entry_step":
                if pct <= -1:
                    raise ValueError(f"scenario {piece!r}: a step below -100% is impossible")
                _within(piece, pct, -1.0, MAX_ENTRY_STEP)
                sc = replace(sc, entry_steps=(*sc.entry_steps, (year, pct)))
            else:
                pct = abs(pct)
                if pct > 1:
                    raise ValueError(f"scenario {piece!r}: prevention cannot remove over 100%")
                sc = replace(sc, prevention=(*sc.prevention, (year, pct)))
        elif name in ("entry_trend", "stay"):
            m = re.fullmatch(_PCT, value)
            if not m:
                raise ValueError(f"scenario {piece!r}: expected a percentage such as +3%")
            pct = float(m.group(1)) / 100
            if pct <= -1:
                raise ValueError(f"scenario {piece!r}: must be above -100%")
            if name == "entry_trend":
                _within(piece, pct, -MAX_ENTRY_TREND, MAX_ENTRY_TREND)
            else:
                _within(piece, pct, *STAY_RANGE)
            sc = replace(sc, **({"entry_trend": pct} if name == "entry_trend"
                                else {"stay_change": pct}))
        elif name == "mix":
            m = re.fullmatch(r"(\w+)>(\w+):" + _PCT, value)
            if not m:
                raise ValueError(f"scenario {piece!r}: expected FROM>TO:SHARE%, e.g. "
                                 "residential>fostering:25%")
            src, dst, share = m.group(1), m.group(2), float(m.group(3)) / 100
            if groups is not None:
                for g in (src, dst):
                    if g not in groups:
                        raise ValueError(f"scenario {piece!r}: {g!r} is not a placement group "
                                         f"({', '.join(groups)})")
            if not 0 <= share <= 1:
                raise ValueError(f"scenario {piece!r}: the share must be between 0% and 100%")
            sc = replace(sc, mix_shift=(*sc.mix_shift, (src, dst, share)))
        elif name == "uasc":
            try:
                n = float(value)
            except ValueError:
                raise ValueError(f"scenario {piece!r}: expected children per year, e.g. uasc=30"
                                 ) from None
            if not math.isfinite(n) or n < 0:
                raise ValueError(f"scenario {piece!r}: must be a number of children, not "
                                 "negative")
            _within(piece, sc.extra_uasc + n, 0.0, MAX_UASC, "children a year")
            sc = replace(sc, extra_uasc=sc.extra_uasc + n)
        else:
            raise ValueError(f"scenario {piece!r}: unknown name {name!r} (entry_step, "
                             "entry_trend, prevention, stay, mix, uasc)")
        sc = replace(sc, pieces=(*sc.pieces, piece))
    return replace(sc, name=" + ".join(sc.pieces) if sc.pieces else "baseline")


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
