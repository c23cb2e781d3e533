"""Synthetic SSDA903 returns for a synthetic local authority with known parameters.

The generator simulates every child's time in care in continuous time (whole days) with
piecewise-constant hazards, vectorised over children with numpy:

* a child population aged 0-17 with a growth rate;
* entries: Poisson numbers per collection year and single year of age, at a rate per 10,000
  children, with an optional trend and a step shock from a given year;
* exits with a hazard by time in care (duration band) and age band, a stay multiplier, and a
  compulsory exit on the 18th birthday; exit reasons by age;
* placement choice by age band, placement moves (hazard by time in care) and legal-status-only
  changes; re-entries after some returns home.

It returns the episodes and the *truth* (stock on each 31 March, entries, exits, child-days
and moves per year, by placement group) computed here from the simulated spells with numpy,
independently of the reader in :mod:`cobic.data.ssda903` and :mod:`cobic.data.derive`. The
same spec and seed always give byte-identical files.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from cobic.data.dates import birthday_days

__all__ = ["SynthSpec", "SynthLA", "generate", "write_ssda903", "scenario", "SCENARIOS",
           "AGE_BANDS"]

AGE_BANDS = ("under 1", "1-4", "5-9", "10-15", "16-17")
_BAND_BIRTHDAYS = (1, 5, 10, 16)  # the birthdays on which the age band changes
_DUR_BOUNDS = (91, 365, 730, 1826)  # days in care at which the duration band changes
_EPOCH = np.datetime64("1970-01-01", "D")

# Placement choice: group probabilities by age band, then code and provider within the group.
_MIX = {
    "under 1": {"fostering": .80, "placed_with_parents": .10, "adoption": .08, "other": .02},
    "1-4": {"fostering": .78, "placed_with_parents": .10, "adoption": .10, "other": .02},
    "5-9": {"fostering": .85, "residential": .04, "placed_with_parents": .08, "other": .03},
    "10-15": {"fostering": .72, "residential": .16, "secure": .01, "placed_with_parents": .06,
              "residential_school": .02, "other": .03},
    "16-17": {"fostering": .45, "residential": .15, "secure": .01, "supported": .33,
              "placed_with_parents": .03, "other": .03},
}
_CODES = {
    "fostering": ({"U1": .15, "U2": .05, "U3": .10, "U4": .40, "U5": .20, "U6": .10},
                  {"PR1": .6, "PR4": .4}),
    "residential": ({"K2": .9, "R1": .1}, {"PR1": .2, "PR4": .8}),
    "secure": ({"K1": 1.0}, {"PR1": .5, "PR2": .5}),
    "supported": ({"H5": .6, "P2": .4}, {"PR1": .3, "PR4": .7}),
    "placed_with_parents": ({"P1": 1.0}, {"PR0": 1.0}),
    "adoption": ({"A3": .25, "A4": .25, "A5": .25, "A6": .25}, {"PR1": .7, "PR5": .3}),
    "residential_school": ({"S1": 1.0}, {"PR4": .6, "PR5": .4}),
    "other": ({"R2": .4, "Z1": .6}, {"PR1": 1.0}),
}
_REC = {
    "under 1": {"E11": .25, "E12": .10, "E13": .25, "E4A": .15, "E45": .10, "E41": .10, "E8": .05},
    "1-4": {"E11": .25, "E12": .10, "E4A": .30, "E13": .05, "E45": .10, "E46": .05, "E41": .10,
            "E8": .05},
    "5-9": {"E4A": .45, "E13": .10, "E45": .15, "E41": .15, "E8": .10, "E3": .05},
    "10-15": {"E4A": .55, "E4B": .10, "E45": .10, "E41": .05, "E8": .10, "E9": .05, "E3": .05},
    "16-17": {"E4A": .35, "E5": .25, "E6": .10, "E8": .15, "E14": .10, "E3": .05},
    "18": {"E17": .20, "E5": .35, "E6": .15, "E8": .30},
}
_RETURN_HOME = ("E4A", "E4B", "E13")
_LS_ENTRY = {"V2": .35, "C2": .25, "L2": .10, "C1": .15, "J1": .03, "E1": .02, "J2": .05, "J3": .05}
_LS_CHANGE = {"C1": .3, "C2": .5, "E1": .1, "D1": .1}
_CIN = {"N1": .60, "N2": .10, "N3": .04, "N4": .15, "N5": .06, "N6": .02, "N7": .01, "N8": .02}
_ETHNIC = {"WBRI": .70, "WOTH": .05, "MWBC": .04, "MOTH": .04, "AIND": .03, "APKN": .03,
           "BAFR": .04, "BCRB": .02, "OOTH": .03, "REFU": .02}


@dataclass(frozen=True)
class SynthSpec:
    """Known parameters of a synthetic local authority.

    Years are collection/financial years named by the 31 March they end on. Rates are per year.
    """

    name: str = "Synthetic LA"
    first_year: int = 2016
    n_years: int = 10
    burn_in_years: int = 18
    population_0_17: float = 60_000.0  # in the first collection year
    population_growth: float = 0.0  # per year, applied to every single year of age
    # entries per 10,000 children of each single year of age 0..17, per year
    entry_rate_per_10k: tuple[float, ...] = (
        110, 40, 35, 32, 30, 28, 26, 25, 25, 26, 28, 32, 38, 45, 52, 58, 62, 55)
    entry_trend: float = 0.0  # multiplicative change per year from first_year
    shock_year: int | None = None  # collection year from which entries are multiplied
    shock_multiplier: float = 1.0
    # exit hazard per year by time in care: <91 days, <1 year, <2, <5, 5+ years
    exit_rate_by_duration: tuple[float, ...] = (1.2, 0.55, 0.4, 0.25, 0.1)
    exit_age_multiplier: tuple[float, ...] = (1.0, 1.3, 0.7, 0.7, 1.2)  # by age band
    stay_multiplier: float = 1.0  # < 1 means longer stays
    move_rate_by_duration: tuple[float, ...] = (1.2, 0.6, 0.35, 0.25, 0.15)
    legal_change_rate: float = 0.3
    reentry_probability: float = 0.15  # after a return home
    reentry_mean_gap_days: float = 365.0
    seed: int = 1
    placement_mix: dict = field(default_factory=lambda: _MIX)

    def __post_init__(self):
        if len(self.entry_rate_per_10k) != 18:
            raise ValueError("entry_rate_per_10k needs 18 values (ages 0..17), got "
                             f"{len(self.entry_rate_per_10k)}")
        if len(self.exit_rate_by_duration) != 5 or len(self.move_rate_by_duration) != 5:
            raise ValueError("exit_rate_by_duration and move_rate_by_duration need 5 values")
        if len(self.exit_age_multiplier) != 5:
            raise ValueError("exit_age_multiplier needs 5 values (one per age band)")
        if self.n_years < 1 or self.burn_in_years < 0:
            raise ValueError("n_years must be >= 1 and burn_in_years >= 0")
        if self.population_0_17 <= 0:
            raise ValueError(f"population_0_17 must be positive, got {self.population_0_17}")

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.first_year, self.first_year + self.n_years))

    def entry_multiplier(self, year: int) -> float:
        m = (1.0 + self.entry_trend) ** max(0, year - self.first_year)
        if self.shock_year is not None and year >= self.shock_year:
            m *= self.shock_multiplier
        return m

    def population(self, year: int) -> float:
        return self.population_0_17 * (1.0 + self.population_growth) ** (year - self.first_year)


SCENARIOS = ("steady", "growth", "shock", "decline")


def scenario(name: str, seed: int = 1, **overrides) -> SynthSpec:
    """A named scenario: ``steady``, ``growth`` (+4%/yr entries, +0.5%/yr population),
    ``shock`` (+20% entries from the 6th year, as in Kansas) or ``decline`` (-4%/yr entries)."""
    base = SynthSpec(seed=seed)
    if name == "steady":
        spec = base
    elif name == "growth":
        spec = dataclasses.replace(base, entry_trend=0.04, population_growth=0.005)
    elif name == "shock":
        spec = dataclasses.replace(base, shock_year=base.first_year + 5, shock_multiplier=1.2)
    elif name == "decline":
        spec = dataclasses.replace(base, entry_trend=-0.04)
    else:
        raise ValueError(f"unknown scenario {name!r}; choose from {SCENARIOS}")
    return dataclasses.replace(spec, name=f"Synthetic LA ({name}, seed {seed})", **overrides)


@dataclass(frozen=True)
class SynthLA:
    """A generated local authority: its children, episodes (days since 1970) and truth."""

    spec: SynthSpec
    children: pl.DataFrame  # CHILD, SEX, DOB (date), ETHNIC, UPN, MOTHER
    episodes: pl.DataFrame  # CHILD, start, end (-1 = open), RNE, LS, CIN, PLACE, PROV, REC, group
    truth: pl.DataFrame  # measure, year, placement_group, value
    population: pl.DataFrame  # year, age, population


def _days(y: int, m: int, d: int) -> int:
    return int((np.datetime64(f"{y:04d}-{m:02d}-{d:02d}", "D") - _EPOCH).astype(int))


def _draw(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    p = np.array(list(table.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _draw_by_band(rng, tables: dict[str, dict[str, float]], bands: np.ndarray) -> np.ndarray:
    out = np.empty(len(bands), dtype=object)
    for i, b in enumerate(AGE_BANDS):
        sel = np.flatnonzero(bands == i)
        if sel.size:
            out[sel] = _draw(rng, tables[b], sel.size)
    return out


def _draw_placement(rng, mix, bands: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    groups = _draw_by_band(rng, mix, bands)
    codes = np.empty(len(bands), dtype=object)
    provs = np.empty(len(bands), dtype=object)
    for g, (code_t, prov_t) in _CODES.items():
        sel = np.flatnonzero(groups == g)
        if sel.size:
            codes[sel] = _draw(rng, code_t, sel.size)
            provs[sel] = _draw(rng, prov_t, sel.size)
    return groups, codes, provs


def generate(spec: SynthSpec) -> SynthLA:
    """Simulate the local authority described by ``spec`` (deterministic for ``spec.seed``)."""
    rng = np.random.default_rng(spec.seed)
    sim_first = spec.first_year - spec.burn_in_years
    last = spec.years[-1]
    sim_end = _days(last, 4, 1)  # the day after the extract end (31 March of the last year)

    # ---- entries: Poisson per collection year and single year of age
    e_day, e_dob = [], []
    pop_rows = []
    for y in range(sim_first, last + 1):
        ys = _days(y - 1, 4, 1)
        ndays = _days(y, 4, 1) - ys
        pop_a = spec.population(y) / 18.0
        for a in range(18):
            if y >= spec.first_year:
                pop_rows.append((y, a, pop_a))
            lam = spec.entry_rate_per_10k[a] / 1e4 * pop_a * spec.entry_multiplier(y)
            n = rng.poisson(lam)
            if n == 0:
                continue
            day = ys + rng.integers(0, ndays, size=n)
            age_days = np.floor(365.25 * a + rng.random(n) * (365.25 - 3.0)).astype(np.int64)
            e_day.append(day)
            e_dob.append(day - age_days)
    entry_day = np.concatenate(e_day)
    dob = np.concatenate(e_dob)
    order = np.lexsort((dob, entry_day))
    entry_day, dob = entry_day[order], dob[order]
    n_children = len(entry_day)
    bdays = np.stack([birthday_days(dob, k) for k in (*_BAND_BIRTHDAYS, 18)], axis=1)
    b18 = bdays[:, -1]

    # ---- state of every spell in the simulation
    child = np.arange(n_children)
    t = entry_day.copy()
    in_care = np.zeros(n_children, dtype=bool)  # False: waiting to (re-)enter at day t
    period_start = t.copy()
    ep_start = t.copy()
    ep_rne = np.full(n_children, "S", dtype=object)
    ep_ls = np.empty(n_children, dtype=object)
    ep_cin = np.empty(n_children, dtype=object)
    ep_place = np.empty(n_children, dtype=object)
    ep_prov = np.empty(n_children, dtype=object)
    ep_group = np.empty(n_children, dtype=object)
    records: list[tuple] = []

    def age_band(ix, day):
        return (bdays[ix, :4] <= day[:, None]).sum(axis=1)

    exit_rate = np.array(spec.exit_rate_by_duration) / 365.25
    move_rate = np.array(spec.move_rate_by_duration) / 365.25
    age_mult = np.array(spec.exit_age_multiplier) * spec.stay_multiplier
    legal_rate = spec.legal_change_rate / 365.25
    dur_bounds = np.array(_DUR_BOUNDS)

    def record(sel, end, rec):
        records.append((child[sel], ep_start[sel], end, ep_rne[sel], ep_ls[sel], ep_cin[sel],
                        ep_place[sel], ep_prov[sel], rec, ep_group[sel]))

    alive = np.ones(n_children, dtype=bool)
    while alive.any():
        # ---- waiting spells (new entries and re-entries) start a period of care at day t
        idx = np.flatnonzero(alive & ~in_care)
        if idx.size:
            ok = (t[idx] < b18[child[idx]]) & (t[idx] < sim_end)
            alive[idx[~ok]] = False
            idx = idx[ok]
            bands = age_band(child[idx], t[idx])
            g, c, p = _draw_placement(rng, spec.placement_mix, bands)
            ep_group[idx], ep_place[idx], ep_prov[idx] = g, c, p
            ep_ls[idx] = _draw(rng, _LS_ENTRY, idx.size)
            ep_cin[idx] = _draw(rng, _CIN, idx.size)
            ep_rne[idx] = "S"
            ep_start[idx] = t[idx]
            period_start[idx] = t[idx]
            in_care[idx] = True
        idx = np.flatnonzero(alive & in_care)
        if not idx.size:
            continue
        ci = child[idx]
        ti = t[idx]
        bands = age_band(ci, ti)
        dur = ti - period_start[idx]
        dband = (dur_bounds <= dur[:, None]).sum(axis=1)
        next_age = np.where(bdays[ci] > ti[:, None], bdays[ci], np.iinfo(np.int64).max).min(axis=1)
        next_dur = np.where(dband < 4, period_start[idx] + dur_bounds[np.minimum(dband, 3)],
                            np.iinfo(np.int64).max)
        boundary = np.minimum(np.minimum(next_age, next_dur), sim_end)
        h_exit = exit_rate[dband] * age_mult[bands]
        h_move = move_rate[dband]
        h_total = h_exit + h_move + legal_rate
        te = ti + np.ceil(rng.exponential(1.0 / h_total)).astype(np.int64)
        u = rng.random(idx.size) * h_total
        event = te < boundary

        # no event before the boundary: move to it; at 18 or at the extract end, the spell ends
        quiet = idx[~event]
        t[quiet] = boundary[~event]
        at18 = quiet[t[quiet] == b18[child[quiet]]]
        if at18.size:
            record(at18, t[at18], _draw(rng, _REC["18"], at18.size))
            alive[at18] = False
        at_end = quiet[(t[quiet] >= sim_end) & (t[quiet] != b18[child[quiet]])]
        if at_end.size:
            record(at_end, np.full(at_end.size, -1), np.full(at_end.size, None, dtype=object))
            alive[at_end] = False

        ev = idx[event]
        tev = te[event]
        kind = np.where(u[event] < h_exit[event], 0, np.where(u[event] < (h_exit + h_move)[event],
                                                               1, 2))
        # exits
        ex = ev[kind == 0]
        if ex.size:
            tex = tev[kind == 0]
            rec = _draw_by_band(rng, _REC, age_band(child[ex], tex))
            record(ex, tex, rec)
            home = np.isin(rec, _RETURN_HOME)
            again = home & (rng.random(ex.size) < spec.reentry_probability)
            gap = np.ceil(rng.exponential(spec.reentry_mean_gap_days, size=ex.size)).astype(np.int64)
            t[ex] = tex + np.maximum(gap, 1)
            in_care[ex] = False
            alive[ex[~again]] = False
        # placement moves and legal-status changes: close the episode, open the next
        for k, rne in ((1, "P"), (2, "L")):
            sel = ev[kind == k]
            if not sel.size:
                continue
            tk = tev[kind == k]
            record(sel, tk, np.full(sel.size, "X1", dtype=object))
            if rne == "P":
                g, c, p = _draw_placement(rng, spec.placement_mix, age_band(child[sel], tk))
                ep_group[sel], ep_place[sel], ep_prov[sel] = g, c, p
            else:
                ep_ls[sel] = _draw(rng, _LS_CHANGE, sel.size)
            ep_rne[sel] = rne
            ep_start[sel] = tk
            t[sel] = tk

    cols = list(zip(*records, strict=True))
    eps = pl.DataFrame({
        "child": np.concatenate(cols[0]),
        "start": np.concatenate(cols[1]).astype(np.int64),
        "end": np.concatenate(cols[2]).astype(np.int64),
        "RNE": np.concatenate(cols[3]).astype(str),
        "LS": np.concatenate(cols[4]).astype(str),
        "CIN": np.concatenate(cols[5]).astype(str),
        "PLACE": np.concatenate(cols[6]).astype(str),
        "PLACE_PROVIDER": np.concatenate(cols[7]).astype(str),
        "REC": pl.Series(np.concatenate(cols[8]), dtype=pl.String, strict=False),
        "placement_group": np.concatenate(cols[9]).astype(str),
    })
    window_start = _days(spec.first_year - 1, 4, 1)
    # keep children with any episode in the window; give them ids
    eps = eps.filter((pl.col("end") == -1) | (pl.col("end") >= window_start)).sort("child", "start")
    keep = np.unique(eps["child"].to_numpy())
    ids = {int(c): f"{100000 + i}" for i, c in enumerate(keep)}
    n_keep = len(keep)
    sex = rng.choice(np.array(["1", "2"]), size=n_keep, p=[0.56, 0.44])
    children = pl.DataFrame({
        "child": keep,
        "CHILD": [ids[int(c)] for c in keep],
        "SEX": sex,
        "DOB": (_EPOCH + dob[keep]).astype("datetime64[D]"),
        "ETHNIC": _draw(rng, _ETHNIC, n_keep).astype(str),
        "UPN": [f"Z{v:012d}" for v in rng.integers(0, 10**12, size=n_keep)],
        "b18": b18[keep],
    })
    eps = eps.join(children.select("child", "CHILD"), on="child")
    truth = _truth(spec, eps)
    population = pl.DataFrame(pop_rows, schema={"year": pl.Int32, "age": pl.Int32,
                                                 "population": pl.Float64}, orient="row")
    return SynthLA(spec=spec, children=children, episodes=eps, truth=truth,
                   population=population)


def _truth(spec: SynthSpec, eps: pl.DataFrame) -> pl.DataFrame:
    """Stock, entries, exits, child-days and moves per year from the simulated spells (numpy)."""
    start = eps["start"].to_numpy()
    end = eps["end"].to_numpy()
    sim_end = _days(spec.years[-1], 4, 1)
    end_c = np.where(end == -1, sim_end, end)
    group = eps["placement_group"].to_numpy()
    rne = eps["RNE"].to_numpy()
    rec = eps["REC"].to_numpy()
    groups = list(_CODES)
    rows = []
    for y in (spec.first_year - 1, *spec.years):
        d = _days(y, 3, 31)
        cover = (start <= d) & (end_c > d)
        for g in groups:
            rows.append(("stock", y, g, float(np.sum(cover & (group == g)))))
    for y in spec.years:
        ys, ye = _days(y - 1, 4, 1), _days(y, 4, 1)
        rows.append(("entries", y, "all", float(np.sum((rne == "S") & (start >= ys) & (start < ye)))))
        ended = (end != -1) & (end >= ys) & (end < ye) & (rec != "X1")
        rows.append(("exits", y, "all", float(np.sum(ended))))
        rows.append(("moves", y, "all", float(np.sum((rne == "P") & (start >= ys) & (start < ye)))))
        days = np.clip(np.minimum(end_c, ye) - np.maximum(start, ys), 0, None)
        for g in groups:
            rows.append(("child_days", y, g, float(days[group == g].sum())))
    return pl.DataFrame(rows, schema={"measure": pl.String, "year": pl.Int32,
                                      "placement_group": pl.String, "value": pl.Float64},
                        orient="row")


def _fmt(days: pl.Expr) -> pl.Expr:
    return (pl.lit(date(1970, 1, 1)) + pl.duration(days=days)).dt.strftime("%d/%m/%Y")


def write_ssda903(la: SynthLA, folder: Path | str) -> list[Path]:
    """Write yearly ``YYYY-header.csv`` / ``YYYY-episodes.csv`` (``YYYY`` = year ending 31 March).

    An episode appears in every return whose collection year it overlaps; in a return before
    the one in which it ends, its DEC and REC are blank.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    eps = la.episodes
    kids = la.children.with_columns(
        DOB=pl.col("DOB").dt.strftime("%d/%m/%Y"),
        MOTHER=pl.lit(None, dtype=pl.String), MC_DOB=pl.lit(None, dtype=pl.String),
    )
    written = []
    for y in la.spec.years:
        ys, ye = _days(y - 1, 4, 1), _days(y, 3, 31)
        part = eps.filter((pl.col("start") <= ye) & ((pl.col("end") == -1) | (pl.col("end") >= ys)))
        closed = (pl.col("end") != -1) & (pl.col("end") <= ye)
        out = part.sort("CHILD", "start").select(
            "CHILD",
            DECOM=_fmt(pl.col("start")),
            RNE="RNE", LS="LS", CIN="CIN", PLACE="PLACE", PLACE_PROVIDER="PLACE_PROVIDER",
            DEC=pl.when(closed).then(_fmt(pl.col("end"))),
            REC=pl.when(closed).then(pl.col("REC")),
            REASON_PLACE_CHANGE=pl.when(pl.col("RNE") == "P").then(pl.lit("CARPL")),
            HOME_POST=pl.lit(None, dtype=pl.String), PL_POST=pl.lit(None, dtype=pl.String),
            URN=pl.lit(None, dtype=pl.String),
        )
        hdr = kids.join(part.select("CHILD").unique(), on="CHILD").sort("CHILD").select(
            "CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
        for kind, df in (("header", hdr), ("episodes", out)):
            p = folder / f"{y}-{kind}.csv"
            df.write_csv(p, line_terminator="\n")
            written.append(p)
    return written
