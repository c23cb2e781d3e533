"""A second, independent generator of SSDA903 returns with known truth (issue 10, part 2).

``cobic.data.synth`` simulates piecewise-constant hazards by time in care and age band, which is
exactly the structure ``stockflow`` fits. This generator uses different mechanics, closer to how
care careers actually look, so that a forecast has to *earn* its accuracy:

Entries
    Monthly negative-binomial counts with seasonality around an expected level that follows the
    LA's kind (constant, exponential trend, step, ...) times a latent AR(1) year effect
    (overdispersion and autocorrelation that a Poisson GLM does not know about). Before the
    ``switch_year`` the level was different (``burn_mult``), so the stock at the first return is
    not at the equilibrium of the later process. Unaccompanied asylum-seeking children (UASC,
    aged 14-17, mostly boys) arrive in bursts (their own AR(1) level).
Time in care
    Semi-Markov, not hazards by band: at entry a latent *care pathway* is drawn (short stay,
    medium stay - adoption, special guardianship -, long-term care) with weights by age at
    entry, and the whole length of the period of care is drawn from that pathway's lognormal
    (heavy tailed: many stays of weeks, many of years). Care ends on the 18th birthday at the
    latest. The mixture gives hazards that fall with time in care *within* duration bands and
    interact with age; the composition of the stock carries the history.
Placements
    A renewal process with Weibull (shape 0.65, hazard falling since the last move) times between
    moves, scale by placement group; destinations by age band at the move (so children drift into
    supported accommodation at 16-17) with group stickiness. ``mix_shift`` LAs drift from
    fostering to residential over calendar time. Legal-status-only changes split episodes.
Re-entries
    After a return home a child comes back with a probability, after a lognormal gap; a
    re-entrant's pathway is more likely to be long.

Kinds (:data:`KINDS`): ``steady``, ``growth``, ``decline``, ``step``, ``mix_shift``,
``duration`` (medium and long stays of new entrants lengthen or shorten year by year).

The truth
    The process is run on for ``horizon`` (6) years past the last return. Two truths are kept:

    * ``realised``: the future of the same seed (what a real backtest compares against: one draw
      from the conditional distribution given the state at the last return);
    * ``expected``: the mean and quantiles of ``reps`` fresh continuations *from the state at
      the last return* (the stock with its time in care, placement and time since the last move,
      the latent entry level, pending re-entries). Pathways and remaining durations of children
      in care are redrawn from their posterior given survival so far (a truncated mixture), so
      this is the forecast distribution an oracle who knew the process would give.

    The realised future is the right target for interval coverage (it is a draw from the oracle's
    distribution); the expected value is the noise-free target for bias and point error.

Everything is seeded: the same ``(kind, i)`` always gives byte-identical files and truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from cobic.data.dates import birthday_days

__all__ = ["KINDS", "GROUPS", "LASpec", "Truth", "LACase", "make_spec", "generate", "suite"]

KINDS = ("steady", "growth", "decline", "step", "mix_shift", "duration")
GROUPS = ("fostering", "residential", "secure", "supported", "placed_with_parents", "adoption",
          "residential_school", "other")
G = len(GROUPS)
_FOS, _RES, _SUP = GROUPS.index("fostering"), GROUPS.index("residential"), GROUPS.index("supported")
_EPOCH = np.datetime64("1970-01-01", "D")
_AGE_CUTS = (1, 5, 10, 16)
_DUR_CUTS = (91, 365, 730, 1826)
BURN_IN_YEARS = 20

# ----------------------------------------------------------------------------- process tables
# Share of entrants by single year of age 0..17 (non-UASC; England-like: a fifth under 1, a
# third aged 10-15).
_AGE_P = np.array([20.0] + [4.0] * 4 + [3.4] * 5 + [5.5] * 6 + [5.0] * 2)
# Care pathways by age band at entry: weights, median length (days) and lognormal sigma of
# (short, medium, long).
_PATH_W = np.array([[.30, .40, .30], [.40, .30, .30], [.40, .25, .35], [.45, .25, .30],
                    [.45, .25, .30]])
_PATH_MED = np.array([[90, 550, 3000], [70, 600, 2500], [60, 500, 2200], [45, 400, 1500],
                      [40, 250, 900]], dtype=float)
_PATH_SIG = np.array([[1.0, .6, .8], [1.1, .7, .9], [1.2, .8, .9], [1.3, .9, .9],
                      [1.2, .8, .7]])
_UASC_W, _UASC_MED, _UASC_SIG = (np.array([.10, .10, .80]), np.array([60.0, 300.0, 4000.0]),
                                 np.array([1.0, .7, .5]))
_REENTRY_W_MULT = np.array([.8, 1.0, 1.3])
# Placement group at entry and at a move, by age band (columns in GROUPS order).
_MIX = np.array([
    # fos  res  sec  sup  pwp  adop rsch oth
    [.78, .00, .00, .00, .08, .04, .00, .10],  # under 1 (other: mother and baby units)
    [.82, .00, .00, .00, .08, .06, .00, .04],  # 1-4
    [.86, .04, .00, .00, .07, .00, .00, .03],  # 5-9
    [.70, .17, .01, .00, .06, .00, .02, .04],  # 10-15
    [.42, .16, .01, .33, .03, .00, .00, .05],  # 16-17
])
_UASC_MIX = np.array([[.75, .20, 0, .05, 0, 0, 0, 0], [.30, .10, 0, .60, 0, 0, 0, 0]])
_MOVE_SCALE = np.array([1100, 600, 150, 700, 800, 3000, 1200, 250], dtype=float)  # days
_MOVE_SHAPE = 0.65
_STAY = np.array([.60, .45, .05, .60, .20, .30, .40, .10])  # P(a move stays in the group)
_SEASON = np.array([1.0, 1.02, .98, 1.05, .90, 1.08, 1.10, 1.05, .85, 1.0, 1.0, .97])  # Apr..Mar
_SEASON = _SEASON / _SEASON.sum()
_NB_SHAPE = 50.0  # gamma-Poisson monthly counts: mild overdispersion on top of the year effect

_CODES = {
    "fostering": ({"U1": .12, "U2": .04, "U3": .08, "U4": .45, "U5": .22, "U6": .09},
                  {"PR1": .55, "PR4": .40, "PR5": .05}),
    "residential": ({"K2": .92, "R1": .08}, {"PR1": .15, "PR4": .80, "PR5": .05}),
    "secure": ({"K1": 1.0}, {"PR1": .4, "PR2": .4, "PR3": .2}),
    "supported": ({"H5": .7, "P2": .3}, {"PR1": .25, "PR4": .65, "PR5": .10}),
    "placed_with_parents": ({"P1": 1.0}, {"PR0": 1.0}),
    "adoption": ({"A3": .3, "A4": .2, "A5": .3, "A6": .2}, {"PR1": .65, "PR5": .35}),
    "residential_school": ({"S1": 1.0}, {"PR4": .6, "PR5": .3, "PR1": .1}),
    "other": ({"R3": .25, "R2": .15, "Z1": .30, "T0": .10, "T4": .05, "R5": .10, "P3": .05},
              {"PR1": .5, "PR3": .2, "PR4": .3}),
}
_REC_18 = {"E17": .22, "E5": .35, "E6": .13, "E8": .28, "E7": .02}
_REC_SHORT = {"E4A": .50, "E13": .20, "E4B": .08, "E8": .12, "E14": .03, "E9": .02, "E16": .02,
              "E2": .005, "E3": .025}
_REC_YOUNG = {"E11": .35, "E12": .15, "E45": .15, "E46": .08, "E47": .04, "E48": .03, "E4A": .15,
              "E8": .05}
_REC_MID = {"E4A": .35, "E45": .20, "E46": .08, "E47": .04, "E48": .03, "E41": .05, "E13": .10,
            "E8": .10, "E9": .03, "E2": .02}
_REC_OLD = {"E5": .30, "E6": .10, "E4A": .25, "E13": .10, "E8": .15, "E3": .03, "E7": .02,
            "E9": .05}
_REC_UASC = {"E15": .30, "E8": .40, "E16": .10, "E6": .20}
_HOME = ("E4A", "E4B", "E13")
_LS_YOUNG = {"V2": .37, "C2": .30, "L2": .08, "C1": .22, "E1": .03}
_LS_OLD = {"V2": .40, "C2": .22, "L2": .05, "L1": .02, "C1": .21, "J1": .04, "J2": .03, "J3": .03}
_LS_NEXT = {"V2": {"C2": .4, "C1": .5, "D1": .1}, "C2": {"C1": .8, "E1": .15, "D1": .05},
            "L1": {"C2": .6, "V2": .4}, "L2": {"C2": .6, "V2": .4}, "J1": {"V2": 1.0},
            "J2": {"V2": 1.0}, "J3": {"V2": 1.0}}
_CIN = {"N1": .62, "N2": .08, "N3": .04, "N4": .14, "N5": .06, "N6": .02, "N7": .01, "N8": .03}
_ETHNIC = {"WBRI": .68, "WOTH": .05, "MWBC": .04, "MOTH": .04, "AIND": .02, "APKN": .03,
           "BAFR": .04, "BCRB": .02, "OOTH": .03, "REFU": .05}
_PLACE_REASONS = ("CARPL", "CHILD", "LAREQ", "PLACE", "STAND", "APPRR", "CREQB", "CLOSE")


# ----------------------------------------------------------------------------- the LA spec

@dataclass(frozen=True)
class LASpec:
    """Known parameters of one generated local authority.

    Years are collection years named by the 31 March they end on. ``entries0`` is the expected
    number of non-UASC first entries a year at ``switch_year``; before it the level was
    ``entries0 * burn_mult``. The expected level in year ``y >= switch_year`` is
    ``entries0 * (1 + trend) ** (y - switch_year)``, times ``step_mult`` from ``step_year``.
    """

    kind: str
    index: int
    seed: int
    first_year: int
    n_years: int
    horizon: int
    entries0: float
    burn_mult: float
    switch_year: int
    trend: float = 0.0
    step_year: int | None = None
    step_mult: float = 1.0
    mix_slope: float = 0.0  # change per year in log odds of residential (mix_shift)
    stay_trend: float = 0.0  # change per entry year of medium/long stays' median (duration)
    stay_scale: float = 1.0
    move_scale: float = 1.0
    age_p: tuple[float, ...] = ()
    uasc0: float = 0.0  # expected UASC arrivals a year
    reentry_p: float = 0.15
    noise_sd: float = 0.07  # marginal sd of the AR(1) log year effect on entries
    noise_rho: float = 0.5
    target_stock: float = 0.0  # the equilibrium stock size entries0 was calibrated to

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.index:02d}"

    @property
    def years(self) -> tuple[int, ...]:
        """The collection years with a return."""
        return tuple(range(self.first_year, self.first_year + self.n_years))

    @property
    def last_year(self) -> int:
        return self.first_year + self.n_years - 1

    @property
    def future_years(self) -> tuple[int, ...]:
        return tuple(range(self.last_year + 1, self.last_year + 1 + self.horizon))

    def entry_level(self, year: int | np.ndarray) -> np.ndarray:
        """Expected non-UASC first entries in collection ``year`` (before the year effect)."""
        y = np.asarray(year, dtype=float)
        lvl = np.where(y < self.switch_year, self.burn_mult,
                       (1.0 + self.trend) ** np.maximum(y - self.switch_year, 0.0))
        if self.step_year is not None:
            lvl = lvl * np.where(y >= self.step_year, self.step_mult, 1.0)
        return self.entries0 * lvl

    def stay_mult(self, entry_year: np.ndarray) -> np.ndarray:
        """Multiplier of the medium and long pathways' median for entrants in ``entry_year``."""
        return (1.0 + self.stay_trend) ** np.maximum(
            np.asarray(entry_year, dtype=float) - self.first_year, 0.0)

    def residential_shift(self, year: np.ndarray) -> np.ndarray:
        """Log odds change of residential (and, at 16-17, supported) against fostering."""
        return self.mix_slope * (np.asarray(year, dtype=float) - self.first_year)


def make_spec(kind: str, i: int) -> LASpec:
    """The spec of LA number ``i`` of ``kind`` (deterministic).

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    i
        Index within the kind (any non-negative integer).

    Returns
    -------
    LASpec
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")
    seed = 20_000 + 1_000 * KINDS.index(kind) + i
    r = np.random.default_rng([seed, 0])
    first = int(r.integers(2012, 2015))
    n_years = int(r.integers(10, 13))
    last = first + n_years - 1
    lo, hi = {"growth": (120, 550), "decline": (300, 1300)}.get(kind, (150, 1200))
    target = float(np.exp(r.uniform(np.log(lo), np.log(hi))))
    sign = 1.0 if i % 2 == 0 else -1.0
    # steady: near, not at, equilibrium (entries 5-12% different before the switch)
    burn = 1.0 + sign * r.uniform(0.05, 0.12) if kind == "steady" else r.uniform(0.88, 1.12)
    kw: dict = {}
    if kind == "growth":
        kw["trend"] = r.uniform(0.03, 0.07)
    elif kind == "decline":
        kw["trend"] = -r.uniform(0.03, 0.07)
    elif kind == "step":
        kw["step_year"] = last - int(r.integers(1, 5))  # 2-5 returns after the step
        kw["step_mult"] = r.uniform(1.2, 1.45) if sign > 0 else r.uniform(0.70, 0.82)
    elif kind == "mix_shift":
        kw["mix_slope"] = r.uniform(0.08, 0.15)
    elif kind == "duration":
        kw["stay_trend"] = sign * r.uniform(0.03, 0.06)
    age_p = r.dirichlet(_AGE_P / _AGE_P.sum() * 300.0)
    spec = LASpec(
        kind=kind, index=i, seed=seed, first_year=first, n_years=n_years, horizon=6,
        entries0=1.0, burn_mult=float(burn), switch_year=first - int(r.integers(0, 4)),
        stay_scale=float(np.exp(r.normal(0, 0.12))), move_scale=float(np.exp(r.normal(0, 0.2))),
        age_p=tuple(float(a) for a in age_p), uasc0=0.0,
        reentry_p=float(r.uniform(0.10, 0.25)), noise_sd=float(r.uniform(0.04, 0.10)),
        noise_rho=float(r.uniform(0.3, 0.7)), target_stock=target,
        **{k: (float(v) if not isinstance(v, int) else v) for k, v in kw.items()})
    # calibrate the entry level to the target equilibrium stock (UASC a share of entries)
    uasc_share = float(r.choice([0.0, 0.02, 0.05, 0.10], p=[.2, .35, .3, .15]))
    stay = _mean_stay_years(spec, np.random.default_rng([seed, 1]))
    e0 = target / stay
    return _replace(spec, entries0=e0 * (1 - uasc_share), uasc0=e0 * uasc_share)


def _replace(spec: LASpec, **kw) -> LASpec:
    d = asdict(spec)
    d.update(kw)
    return LASpec(**d)


def _mean_stay_years(spec: LASpec, rng: np.random.Generator, n: int = 40_000) -> float:
    """Expected years in care per entrant (with re-entries, roughly), for the calibration."""
    age = rng.choice(18, size=n, p=np.array(spec.age_p) / sum(spec.age_p))
    age_days = 365.25 * age + rng.random(n) * 362.0
    band = np.searchsorted(np.array(_AGE_CUTS), age, side="right")
    w, med, sig = _pathways(spec, band, np.zeros(n, bool), np.zeros(n, bool),
                            np.full(n, spec.first_year))
    _, t = _draw_length(rng, w, med, sig, None)
    stay = np.minimum(t, 6574.0 - age_days)
    return float(stay.mean() / 365.25 * (1 + 0.5 * spec.reentry_p))


# ----------------------------------------------------------------------------- small helpers

def _days(y: int, m: int, d: int) -> int:
    return int((np.datetime64(f"{y:04d}-{m:02d}-{d:02d}", "D") - _EPOCH).astype(int))


def _cyear(day: np.ndarray) -> np.ndarray:
    """Collection year (named by its 31 March) of day numbers."""
    d = _EPOCH + np.asarray(day).astype("timedelta64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return y + (m >= 4)


def _cat(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One category per row of the probability matrix ``p`` (rows need not be normalised)."""
    c = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * c[:, -1]
    return np.minimum((c < u[:, None]).sum(axis=1), p.shape[1] - 1)


def _draw(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    p = np.array(list(table.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _band(bd: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Age band 0..4 on ``day`` from the birthdays 1, 5, 10, 16 (``bd[:, :4]``)."""
    return (bd[:, :4] <= np.asarray(day)[:, None]).sum(axis=1)


def _birthdays(dob: np.ndarray) -> np.ndarray:
    """``[n, 5]``: day numbers of the 1st, 5th, 10th, 16th and 18th birthdays."""
    return np.stack([birthday_days(dob, k) for k in (*_AGE_CUTS, 18)], axis=1)


def _pathways(spec: LASpec, band, uasc, reentry, entry_year):
    """Weights, medians and sigmas ``[n, 3]`` of the care pathways for each period."""
    w = _PATH_W[band].copy()
    med = _PATH_MED[band] * spec.stay_scale
    sig = _PATH_SIG[band].copy()
    w[reentry] *= _REENTRY_W_MULT
    w[uasc], med[uasc], sig[uasc] = _UASC_W, _UASC_MED * spec.stay_scale, _UASC_SIG
    med[:, 1:] *= spec.stay_mult(entry_year)[:, None]
    return w, med, sig


def _draw_length(rng, w, med, sig, survived):
    """Pathway and length of stay (days, continuous); ``survived``: lengths known to exceed it
    (pathway from its posterior, length from the truncated lognormal)."""
    n = len(w)
    mu = np.log(med)
    if survived is None:
        k = _cat(rng, w)
        z = rng.standard_normal(n)
    else:
        x = np.maximum(np.asarray(survived, dtype=float), 1e-9)
        zx = (np.log(x)[:, None] - mu) / sig
        tail = ndtr(-zx)  # P(length > x) per pathway
        k = _cat(rng, w * tail + 1e-300)
        tk = np.maximum(tail[np.arange(n), k], 1e-300)
        z = -ndtri(rng.random(n) * tk)  # a standard normal beyond zx[k]
    return k, np.exp(mu[np.arange(n), k] + sig[np.arange(n), k] * z)


def _mix(spec: LASpec, band: np.ndarray, year: np.ndarray, uasc: np.ndarray) -> np.ndarray:
    """Placement-group probabilities ``[n, G]`` at entry or a move."""
    p = _MIX[band].copy()
    if uasc.any():
        p[uasc] = _UASC_MIX[(band[uasc] >= 4).astype(int)]
    if spec.mix_slope:
        f = np.exp(spec.residential_shift(year))
        old = band >= 2
        p[old, _RES] *= f[old]
        p[band == 4, _SUP] *= f[band == 4]
    return p / p.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- the engine

@dataclass
class _Periods:
    """Periods of care (one row each) as numpy arrays; ``rep`` is the replication."""

    child: np.ndarray
    rep: np.ndarray
    start: np.ndarray
    end: np.ndarray  # exclusive; == t_end when still open at the end of the run
    is_open: np.ndarray
    bd: np.ndarray  # [n, 5] birthdays 1, 5, 10, 16, 18
    dob: np.ndarray
    uasc: np.ndarray
    reentry: np.ndarray
    pathway: np.ndarray
    rec: np.ndarray  # object, None when open


@dataclass
class _Episodes:
    """Placement spells (before legal-status splits): period index, start, end, group, and
    whether the spell started the period (entry) rather than by a move."""

    period: np.ndarray
    start: np.ndarray
    end: np.ndarray
    group: np.ndarray
    entry: np.ndarray


@dataclass
class _State:
    """What the process knows at the start of ``t0`` (the day after the last return)."""

    t0: int
    year_effect: float
    uasc_effect: float
    # children in care: their period start, birthdays, flags, group and last placement start
    child: np.ndarray
    start: np.ndarray
    dob: np.ndarray
    uasc: np.ndarray
    reentry: np.ndarray
    group: np.ndarray
    last_move: np.ndarray
    # children who went home before t0 and have not come back: when they left
    left_child: np.ndarray
    left_end: np.ndarray
    left_dob: np.ndarray
    left_uasc: np.ndarray


def _latent(rng, spec: LASpec, years: np.ndarray, n_rep: int, eta0, w0):
    """AR(1) log year effects on entries ``[rep, year]`` and on UASC arrivals."""
    sd, rho = spec.noise_sd, spec.noise_rho
    eta = np.empty((n_rep, len(years)))
    w = np.empty((n_rep, len(years)))
    e_prev = np.full(n_rep, eta0) if eta0 is not None else rng.normal(0, sd, n_rep)
    w_prev = np.full(n_rep, w0) if w0 is not None else rng.normal(0, 0.5, n_rep)
    for j in range(len(years)):
        if j == 0 and eta0 is None:
            e, ww = e_prev, w_prev
        else:
            e = rho * e_prev + np.sqrt(1 - rho**2) * sd * rng.standard_normal(n_rep)
            ww = 0.8 * w_prev + 0.6 * 0.5 * rng.standard_normal(n_rep)
        eta[:, j], w[:, j] = e, ww
        e_prev, w_prev = e, ww
    return eta, w


def _new_entrants(rng, spec: LASpec, years: np.ndarray, eta, w):
    """Entry day, DOB and UASC flag of new entrants per replication."""
    n_rep = eta.shape[0]
    out_rep, out_day, out_age, out_uasc = [], [], [], []
    age_p = np.array(spec.age_p) / sum(spec.age_p)
    for j, y in enumerate(years):
        mu = spec.entry_level(y) * np.exp(eta[:, j] - spec.noise_sd**2 / 2)  # [rep]
        for m in range(12):
            mm = (3 + m) % 12 + 1  # April first
            yy = y - 1 if mm >= 4 else y
            ms = _days(yy, mm, 1)
            me = _days(yy + (mm == 12), mm % 12 + 1, 1)
            lam = rng.gamma(_NB_SHAPE, mu * _SEASON[m] / _NB_SHAPE)
            n = rng.poisson(lam)
            tot = int(n.sum())
            if tot:
                out_rep.append(np.repeat(np.arange(n_rep), n))
                out_day.append(rng.integers(ms, me, size=tot))
                out_age.append(rng.choice(18, size=tot, p=age_p))
                out_uasc.append(np.zeros(tot, bool))
        if spec.uasc0 > 0:
            n = rng.poisson(spec.uasc0 * np.exp(w[:, j] - 0.125))
            tot = int(n.sum())
            if tot:
                out_rep.append(np.repeat(np.arange(n_rep), n))
                out_day.append(rng.integers(_days(y - 1, 4, 1), _days(y, 4, 1), size=tot))
                out_age.append(rng.choice([14, 15, 16, 17], size=tot, p=[.1, .2, .35, .35]))
                out_uasc.append(np.ones(tot, bool))
    if not out_rep:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0, bool)
    rep = np.concatenate(out_rep)
    day = np.concatenate(out_day).astype(np.int64)
    age = np.concatenate(out_age)
    dob = day - np.floor(365.25 * age + rng.random(len(day)) * 362.0).astype(np.int64)
    return rep, day, dob, np.concatenate(out_uasc)


def _placements(rng, spec: LASpec, start, end, bd, uasc, g0, last, survived, entry):
    """Placement spells of periods ``[start, end)``: the current spell began on ``last`` in
    group ``g0`` (``survived``: days it is known to have lasted without a move; 0 for new)."""
    n = len(start)
    parts = []
    active = np.arange(n)
    cur_s, cur_g = last.astype(np.int64).copy(), g0.astype(np.int64).copy()
    x = survived.astype(float).copy()
    first = entry.copy()
    while active.size:
        lam = spec.move_scale * _MOVE_SCALE[cur_g[active]]
        wgap = lam * ((x[active] / lam) ** _MOVE_SHAPE
                      + rng.exponential(size=active.size)) ** (1 / _MOVE_SHAPE)
        t_next = cur_s[active] + np.maximum(1, np.ceil(wgap)).astype(np.int64)
        done = t_next >= end[active]
        parts.append((active, cur_s[active].copy(), np.where(done, end[active], t_next),
                      cur_g[active].copy(), first[active].copy()))
        mv, tm = active[~done], t_next[~done]
        if mv.size:
            band = _band(bd[mv], tm)
            p = _mix(spec, band, _cyear(tm), uasc[mv])
            stay = _STAY[cur_g[mv]]
            p = p * (1 - stay)[:, None]
            p[np.arange(mv.size), cur_g[mv]] += stay
            cur_g[mv] = _cat(rng, p)
            cur_s[mv] = tm
            x[mv] = 0.0
            first[mv] = False
        active = mv
    per = np.concatenate([p[0] for p in parts])
    order = np.lexsort((np.concatenate([p[1] for p in parts]), per))
    return _Episodes(per[order], *(np.concatenate([p[k] for p in parts])[order]
                                   for k in (1, 2, 3, 4)))


def _recs(rng, pathway, bd, end, uasc, at18):
    """Reason care ended, by pathway, age on leaving and UASC."""
    n = len(end)
    rec = np.empty(n, dtype=object)
    band = _band(bd, end)
    cases = [
        (at18, _REC_18),
        (~at18 & uasc & (pathway < 2), _REC_UASC),
        (~at18 & ~(uasc & (pathway < 2)) & (pathway == 0), _REC_SHORT),
        (~at18 & ~(uasc & (pathway < 2)) & (pathway > 0) & (band <= 1), _REC_YOUNG),
        (~at18 & ~(uasc & (pathway < 2)) & (pathway > 0) & (band >= 2) & (band <= 3), _REC_MID),
        (~at18 & ~(uasc & (pathway < 2)) & (pathway > 0) & (band == 4), _REC_OLD),
    ]
    for sel, table in cases:
        if sel.any():
            rec[sel] = _draw(rng, table, int(sel.sum()))
    return rec


def _run(rng, spec: LASpec, t_from: int, t_end: int, n_rep: int, state: _State | None):
    """Simulate periods of care and placement spells over ``[t_from, t_end)``.

    Without ``state`` the run starts empty (a burn-in); with it, ``n_rep`` continuations start
    from the state (children in care continue, those who went home may come back).
    """
    years = np.arange(_cyear(np.array([t_from]))[0], _cyear(np.array([t_end - 1]))[0] + 1)
    eta, w = _latent(rng, spec, years, n_rep, None if state is None else state.year_effect,
                     None if state is None else state.uasc_effect)
    rep, day, dob, uasc = _new_entrants(rng, spec, years, eta, w)
    n_new = len(day)
    child_base = 0 if state is None else int(max(state.child.max(initial=-1),
                                                 state.left_child.max(initial=-1))) + 1
    batch = {"child": child_base + np.arange(n_new), "rep": rep, "start": day, "dob": dob,
             "uasc": uasc, "reentry": np.zeros(n_new, bool), "survived": np.zeros(n_new),
             "g0": None, "last": None, "ms": np.zeros(n_new)}
    cont = None
    if state is not None:
        nc = len(state.child)
        cont = {"child": np.tile(state.child, n_rep), "rep": np.repeat(np.arange(n_rep), nc),
                "start": np.tile(state.start, n_rep), "dob": np.tile(state.dob, n_rep),
                "uasc": np.tile(state.uasc, n_rep), "reentry": np.tile(state.reentry, n_rep),
                "survived": np.tile(state.t0 - 1 - state.start, n_rep).astype(float),
                "g0": np.tile(state.group, n_rep), "last": np.tile(state.last_move, n_rep),
                "ms": np.tile(state.t0 - 1 - state.last_move, n_rep).astype(float)}
        # pending re-entries: posterior that a re-entry is still to come
        nl = len(state.left_child)
        if nl:
            gap_x = np.maximum(state.t0 - 1 - state.left_end, 0).astype(float)
            s_gap = np.where(gap_x < 7, 1.0, ndtr(-(np.log(np.maximum(gap_x, 1e-9))
                                                     - np.log(240.0)) / 1.0))
            p_post = spec.reentry_p * s_gap / (spec.reentry_p * s_gap + 1 - spec.reentry_p)
            lc = np.tile(np.arange(nl), n_rep)
            lrep = np.repeat(np.arange(n_rep), nl)
            go = rng.random(lc.size) < p_post[lc]
            lc, lrep = lc[go], lrep[go]
            gx = gap_x[lc]
            tail = np.where(gx < 7, 1.0, ndtr(-(np.log(np.maximum(gx, 1e-9)) - np.log(240.0))))
            zg = np.where(gx < 7, rng.standard_normal(lc.size),
                          -ndtri(rng.random(lc.size) * np.maximum(tail, 1e-300)))
            r = state.left_end[lc] + np.maximum(7, np.ceil(240.0 * np.exp(zg))).astype(np.int64)
            ok = (r >= state.t0) & (r < birthday_days(state.left_dob[lc], 18) - 1)
            batch = _append(batch, {
                "child": state.left_child[lc][ok], "rep": lrep[ok], "start": r[ok],
                "dob": state.left_dob[lc][ok], "uasc": state.left_uasc[lc][ok],
                "reentry": np.ones(int(ok.sum()), bool), "survived": np.zeros(int(ok.sum())),
                "ms": np.zeros(int(ok.sum()))})
    periods, spells = [], []
    n_done = 0
    todo = [b for b in (cont, batch) if b is not None]
    while todo:
        b = todo.pop(0)
        bd = _birthdays(b["dob"])
        ok = (b["start"] < bd[:, 4]) & (b["start"] < t_end)
        b = {k: (v[ok] if v is not None else None) for k, v in b.items()}
        bd = bd[ok]
        n = len(b["start"])
        if n == 0:
            continue
        band0 = _band(bd, b["start"])
        wts, med, sig = _pathways(spec, band0, b["uasc"], b["reentry"], _cyear(b["start"]))
        survived = b["survived"] if b["g0"] is not None else None
        k, length = _draw_length(rng, wts, med, sig, survived)
        planned = b["start"] + np.maximum(1, np.ceil(length)).astype(np.int64)
        at18 = planned >= bd[:, 4]
        end = np.minimum(planned, bd[:, 4])
        is_open = end >= t_end
        end = np.minimum(end, t_end)
        rec = _recs(rng, k, bd, end, b["uasc"], at18)
        rec[is_open] = None
        if b["g0"] is None:
            g0 = _cat(rng, _mix(spec, band0, _cyear(b["start"]), b["uasc"]))
            last, entry = b["start"], np.ones(n, bool)
        else:
            g0, last, entry = b["g0"], b["last"], np.zeros(n, bool)
        sp = _placements(rng, spec, b["start"], end, bd, b["uasc"], g0, last, b["ms"], entry)
        sp.period = sp.period + n_done
        spells.append(sp)
        periods.append(_Periods(b["child"], b["rep"], b["start"], end, is_open, bd, b["dob"],
                                b["uasc"], b["reentry"], k, rec))
        n_done += n
        # re-entries after a return home
        home = np.isin(rec.astype(str), _HOME) & ~is_open
        again = home & (rng.random(n) < spec.reentry_p)
        gap = np.maximum(7, np.ceil(240.0 * np.exp(rng.standard_normal(n)))).astype(np.int64)
        r = end + gap
        again &= (r < bd[:, 4] - 1) & (r < t_end)
        if again.any():
            todo.append({"child": b["child"][again], "rep": b["rep"][again], "start": r[again],
                         "dob": b["dob"][again], "uasc": b["uasc"][again],
                         "reentry": np.ones(int(again.sum()), bool),
                         "survived": np.zeros(int(again.sum())), "g0": None, "last": None,
                         "ms": np.zeros(int(again.sum()))})
    P = _Periods(*(np.concatenate([getattr(p, f) for p in periods])
                   for f in _Periods.__dataclass_fields__))
    E = _Episodes(*(np.concatenate([getattr(s, f) for s in spells])
                    for f in _Episodes.__dataclass_fields__))
    return P, E, years, eta, w


def _append(a: dict, b: dict) -> dict:
    return {k: (np.concatenate([v, b[k]]) if v is not None else None) for k, v in a.items()}


def _state_at(P: _Periods, E: _Episodes, t0: int, years, eta, w) -> _State:
    """The process state at the start of day ``t0`` from a (single-replication) run."""
    d0 = t0 - 1
    inc = (P.start <= d0) & (P.end > d0)
    idx = np.flatnonzero(inc)
    # the placement spell covering d0, and the start of the current placement
    cover = (E.start <= d0) & (E.end > d0) & inc[E.period]
    pos = np.full(len(P.start), -1)
    pos[E.period[cover]] = np.flatnonzero(cover)
    j = pos[idx]
    # those who went home before t0 and whose child has no later period starting before t0
    ended = (P.end <= d0) & ~P.is_open
    # (a child's periods are created in time order, so the last by index is the latest)
    key_last = np.full(int(P.child.max()) + 1, -1, dtype=np.int64)
    started = np.flatnonzero(P.start <= d0)
    np.maximum.at(key_last, P.child[started], started)
    home = ended & np.isin(P.rec.astype(str), _HOME)
    home &= key_last[P.child] == np.arange(len(P.start))
    home &= P.bd[:, 4] - 1 > d0  # still under 18 at the origin (could still come back)
    li = np.flatnonzero(home)
    yi = int(np.flatnonzero(years == _cyear(np.array([d0]))[0])[0])
    return _State(t0=t0, year_effect=float(eta[0, yi]), uasc_effect=float(w[0, yi]),
                  child=P.child[idx], start=P.start[idx], dob=P.dob[idx], uasc=P.uasc[idx],
                  reentry=P.reentry[idx], group=E.group[j], last_move=E.start[j],
                  left_child=P.child[li], left_end=P.end[li], left_dob=P.dob[li],
                  left_uasc=P.uasc[li])


def _measures(P: _Periods, E: _Episodes, years, n_rep: int, t0: int | None = None):
    """Stock on 31 March ``[rep, year, G]``, child-days ``[rep, year, G]``, entries and exits
    ``[rep, year]`` for collection ``years``, and ``[rep, year]`` the stock of periods that
    began before ``t0`` (the children in care at ``t0`` still in the same period of care)."""
    rep_e = P.rep[E.period]
    ny = len(years)
    stock = np.zeros((n_rep, ny, G))
    cdays = np.zeros((n_rep, ny, G))
    ent = np.zeros((n_rep, ny))
    ext = np.zeros((n_rep, ny))
    init = np.zeros((n_rep, ny))
    for j, y in enumerate(years):
        ys, ye = _days(int(y) - 1, 4, 1), _days(int(y), 4, 1)
        d = ye - 1
        cov = (E.start <= d) & (E.end > d)
        stock[:, j] = np.bincount(rep_e[cov] * G + E.group[cov], minlength=n_rep * G
                                  ).reshape(n_rep, G)
        if t0 is not None:
            old = cov & (P.start[E.period] < t0)
            init[:, j] = np.bincount(rep_e[old], minlength=n_rep)
        days = np.clip(np.minimum(E.end, ye) - np.maximum(E.start, ys), 0, None)
        cdays[:, j] = np.bincount(rep_e * G + E.group, weights=days, minlength=n_rep * G
                                  ).reshape(n_rep, G)
        ent[:, j] = np.bincount(P.rep[(P.start >= ys) & (P.start < ye)], minlength=n_rep)
        out = ~P.is_open & (P.end >= ys) & (P.end < ye)
        ext[:, j] = np.bincount(P.rep[out], minlength=n_rep)
    return stock, cdays, ent, ext, init


def _hazards(P: _Periods, lo: int, hi: int, n_rep: int) -> pl.DataFrame:
    """Exits before 18 over days in care by age band and time-in-care band in ``[lo, hi)``
    (the generator's realised hazards, in stockflow's cells but without placement group)."""
    s = np.maximum(P.start, lo)
    e = np.minimum(P.end, hi)
    keep = e > s
    s, e, st = s[keep], e[keep], P.start[keep]
    bd = P.bd[keep]
    exit_ev = (~P.is_open[keep]) & (P.end[keep] < bd[:, 4]) & (P.end[keep] < hi)
    cuts = np.concatenate([bd[:, :4], st[:, None] + np.array(_DUR_CUTS)[None, :]], axis=1)
    pts = np.sort(np.concatenate([s[:, None], np.clip(cuts, s[:, None], e[:, None]),
                                  e[:, None]], axis=1), axis=1)
    a, b = pts[:, :-1], pts[:, 1:]
    mid = a  # band of each piece from its first day
    ab = (bd[:, None, :4] <= mid[:, :, None]).sum(axis=2)
    db = (np.array(_DUR_CUTS)[None, None, :] <= (mid - st[:, None])[:, :, None]).sum(axis=2)
    days = (b - a).astype(float)
    last_piece = (b == e[:, None]) & (b > a)
    # the exit belongs to the last non-empty piece
    lastpos = np.where(last_piece, np.arange(pts.shape[1] - 1)[None, :], -1).max(axis=1)
    ev = np.zeros_like(days)
    ev[np.arange(len(s)), lastpos] = exit_ev
    cell = ab * 5 + db
    tot_days = np.bincount(cell.ravel(), weights=days.ravel(), minlength=25)
    tot_ev = np.bincount(cell.ravel(), weights=ev.ravel(), minlength=25)
    return pl.DataFrame({"age_band": np.repeat(np.arange(5), 5), "duration_band":
                         np.tile(np.arange(5), 5), "days": tot_days / n_rep,
                         "exits": tot_ev / n_rep}).with_columns(
        rate_per_year=pl.col("exits") / pl.col("days") * 365.25)


# ----------------------------------------------------------------------------- outputs

@dataclass(frozen=True)
class Truth:
    """The known truth of one generated LA.

    Attributes
    ----------
    spec
        The LA's parameters.
    folder
        Where its returns were written (one ``YYYY-header.csv`` / ``YYYY-episodes.csv`` per
        collection year, ``YYYY`` the year ending 31 March).
    realised
        ``measure, year, placement_group, value`` for the history and the ``horizon`` future
        years of the same run: ``stock`` (31 March), ``child_days``, ``entries`` and ``exits``
        (periods of care, ``placement_group`` ``"all"``); for future years also
        ``stock_initial``, the children in care at the last return still in the same period of
        care (the survival of the initial stock). ``placement_group`` ``"all"`` rows hold
        totals.
    expected
        ``measure, year, placement_group, mean, q025, q10, q50, q90, q975`` over ``reps``
        continuations from the state at the last return (future years only).
    hazards
        ``window, age_band, duration_band, days, exits, rate_per_year``: realised exit
        hazards (before 18) in the last 3 returns (``fit``) and, averaged over the
        continuations, in the future years (``future``).
    periods
        Every period of care the returns show, with its true start (also before the first
        return: left truncation), true end (also after the last return), latent ``pathway``
        (``short``, ``medium``, ``long``), ``uasc`` and ``reentry`` flags, by ``CHILD``.
    reps
        The number of continuations behind ``expected``.
    """

    spec: LASpec
    folder: Path
    realised: pl.DataFrame
    expected: pl.DataFrame
    hazards: pl.DataFrame
    periods: pl.DataFrame
    reps: int
    info: dict = field(default_factory=dict)

    @property
    def origin(self) -> int:
        """The last collection year with a return."""
        return self.spec.last_year

    def series(self, measure: str = "stock", group: str = "all", which: str = "realised",
               stat: str = "mean") -> dict[int, float]:
        """``year -> value`` of ``measure`` for ``group`` (``which`` ``realised`` or
        ``expected``; for ``expected`` ``stat`` is ``mean``, ``q50``, ``q10``, ...)."""
        if which == "realised":
            t = self.realised.filter((pl.col("measure") == measure)
                                     & (pl.col("placement_group") == group))
            return dict(t.select("year", "value").iter_rows())
        t = self.expected.filter((pl.col("measure") == measure)
                                 & (pl.col("placement_group") == group))
        return dict(t.select("year", stat).iter_rows())


@dataclass(frozen=True)
class LACase:
    """One LA of the suite: its kind, index, returns folder and truth."""

    kind: str
    index: int
    folder: Path
    truth: Truth


def _long(arr: np.ndarray, years, measure: str) -> list[tuple]:
    """Rows ``(measure, year, group, value)`` of a ``[year, G]`` array plus the total."""
    rows = []
    for j, y in enumerate(years):
        for g in range(G):
            rows.append((measure, int(y), GROUPS[g], float(arr[j, g])))
        rows.append((measure, int(y), "all", float(arr[j].sum())))
    return rows


def generate(kind: str, i: int, out_dir: Path | str, reps: int = 100) -> Truth:
    """Simulate LA number ``i`` of ``kind``, write its returns to ``out_dir`` and return its truth.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    i
        Index within the kind; the seed follows from ``(kind, i)``.
    out_dir
        Folder for the yearly files (created; existing yearly files are overwritten).
    reps
        Continuations from the state at the last return behind ``Truth.expected`` (0: skip).

    Returns
    -------
    Truth
    """
    spec = make_spec(kind, i)
    ss = np.random.SeedSequence(spec.seed)
    rng_sim, rng_rep, rng_out = (np.random.default_rng(s) for s in ss.spawn(3))
    t_from = _days(spec.first_year - 1 - BURN_IN_YEARS, 4, 1)
    t_origin = _days(spec.last_year, 4, 1)  # the day after the extract end
    t_end = _days(spec.last_year + spec.horizon, 4, 1)
    P, E, years, eta, w = _run(rng_sim, spec, t_from, t_end, 1, None)

    all_years = np.arange(spec.first_year - 1, spec.last_year + spec.horizon + 1)
    stock, cdays, ent, ext, init = _measures(P, E, all_years, 1, t_origin)
    rows = _long(stock[0], all_years, "stock")
    rows += [r for r in _long(cdays[0], all_years, "child_days") if r[1] >= spec.first_year]
    for j, y in enumerate(all_years):
        if y >= spec.first_year:
            rows += [("entries", int(y), "all", float(ent[0, j])),
                     ("exits", int(y), "all", float(ext[0, j]))]
        if y > spec.last_year:
            rows.append(("stock_initial", int(y), "all", float(init[0, j])))
    realised = pl.DataFrame(rows, schema={"measure": pl.String, "year": pl.Int32,
                                          "placement_group": pl.String, "value": pl.Float64},
                            orient="row")
    haz = [_hazards(P, _days(spec.last_year - 3, 4, 1), t_origin, 1).with_columns(
        window=pl.lit("fit"))]
    expected = pl.DataFrame(schema={"measure": pl.String, "year": pl.Int32,
                                    "placement_group": pl.String, **{
                                        c: pl.Float64 for c in ("mean", "q025", "q10", "q50",
                                                                "q90", "q975")}})
    state = _state_at(P, E, t_origin, years, eta, w)
    if reps:
        Pr, Er, _, _, _ = _run(rng_rep, spec, t_origin, t_end, reps, state)
        fy = np.array(spec.future_years)
        s_r, c_r, e_r, x_r, i_r = _measures(Pr, Er, fy, reps, t_origin)
        qs = (0.025, 0.10, 0.50, 0.90, 0.975)
        erow = []
        for name, arr in (("stock", s_r), ("child_days", c_r)):
            full = np.concatenate([arr, arr.sum(axis=2, keepdims=True)], axis=2)
            for gi, g in enumerate((*GROUPS, "all")):
                for j, y in enumerate(fy):
                    v = full[:, j, gi]
                    erow.append((name, int(y), g, float(v.mean()), *map(float, np.quantile(v, qs))))
        for name, arr in (("entries", e_r), ("exits", x_r), ("stock_initial", i_r)):
            for j, y in enumerate(fy):
                v = arr[:, j]
                erow.append((name, int(y), "all", float(v.mean()), *map(float, np.quantile(v, qs))))
        expected = pl.DataFrame(erow, schema=expected.schema, orient="row")
        haz.append(_hazards(Pr, t_origin, t_end, reps).with_columns(window=pl.lit("future")))
    hazards = pl.concat(haz).select("window", "age_band", "duration_band", "days", "exits",
                                    "rate_per_year")
    folder = Path(out_dir)
    cid = _write(rng_out, spec, P, E, t_origin, folder)
    seen = (P.end >= _days(spec.first_year - 1, 4, 1)) & (P.start < t_origin)
    periods = pl.DataFrame({
        "CHILD": [cid[int(c)] for c in P.child[seen]],
        "start": (_EPOCH + P.start[seen].astype("timedelta64[D]")).astype("datetime64[D]"),
        "end": (_EPOCH + P.end[seen].astype("timedelta64[D]")).astype("datetime64[D]"),
        "open_at_end_of_run": P.is_open[seen], "pathway": P.pathway[seen],
        "uasc": P.uasc[seen], "reentry": P.reentry[seen],
    }).with_columns(pl.col("pathway").replace_strict({0: "short", 1: "medium", 2: "long"},
                                                     return_dtype=pl.String)).sort("CHILD", "start")
    info = {"children_in_care_at_origin": int(len(state.child)),
            "uasc_in_care_at_origin": int(state.uasc.sum()),
            "periods_simulated": int(len(P.start))}
    return Truth(spec=spec, folder=folder, realised=realised, expected=expected,
                 hazards=hazards, periods=periods, reps=reps, info=info)


def _fmt(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(_EPOCH + days.astype("timedelta64[D]"), unit="D")


def _write(rng, spec: LASpec, P: _Periods, E: _Episodes, t_origin: int, folder: Path) -> dict:
    """Yearly SSDA903 files for the returns (everything after the last return is cut off);
    returns the CHILD id of each simulated child in the files."""
    folder.mkdir(parents=True, exist_ok=True)
    win = _days(spec.first_year - 1, 4, 1)
    # episodes seen by the returns: overlapping the window, starting by the extract end
    keep = (E.start < t_origin) & (E.end >= win)
    per, st, en, grp, ent = E.period[keep], E.start[keep], E.end[keep], E.group[keep], E.entry[keep]
    n = len(per)
    # legal-status changes: at most one per period, splitting the spell that contains it
    n_p = len(P.start)
    ls0 = np.empty(n_p, dtype=object)
    young = _band(P.bd, P.start) <= 2
    ls0[young] = _draw(rng, _LS_YOUNG, int(young.sum()))
    ls0[~young] = _draw(rng, _LS_OLD, int((~young).sum()))
    ls0[P.uasc] = "V2"
    ls1 = np.empty(n_p, dtype=object)
    for a, table in _LS_NEXT.items():
        sel = ls0 == a
        if sel.any():
            nxt = _draw(rng, table, int(sel.sum()))
            if a == "C2":
                nxt = np.where(young[sel] | (nxt != "E1"), nxt, "C1")
            ls1[sel] = nxt
    t_legal = P.start + np.ceil(150.0 * np.exp(0.7 * rng.standard_normal(n_p))).astype(np.int64)
    has_legal = (ls1 != None) & (rng.random(n_p) < 0.45)  # noqa: E711
    tl_p = np.where(has_legal, t_legal, -1)
    tl = tl_p[per]
    split = (st < tl) & (tl < en)
    rne = np.where(ent, "S", np.where(rng.random(n) < 0.93, "P", "B")).astype(object)
    rne[~ent & (st == tl)] = "T"  # a move on the day the legal status changes
    s_all = np.concatenate([st, tl[split]])
    e_all = np.concatenate([np.where(split, tl, en), en[split]])
    p_all = np.concatenate([per, per[split]])
    rne_all = np.concatenate([rne, np.full(int(split.sum()), "L", dtype=object)])
    is_last = np.concatenate([~split, np.ones(int(split.sum()), bool)])
    # is the spell the last of its period? (its end is the period's end)
    last_of_period = is_last & (e_all == P.end[p_all])
    rec = np.where(last_of_period, P.rec[p_all], "X1").astype(object)
    rec[last_of_period & P.is_open[p_all]] = None
    tl_all = tl_p[p_all]
    ls = np.where((tl_all >= 0) & (s_all >= tl_all) & (tl_all > P.start[p_all]), ls1[p_all],
                  ls0[p_all])
    # codes per spell; a split keeps the placement codes of the spell it split
    m = len(st)
    place = np.empty(m, dtype=object)
    prov = np.empty(m, dtype=object)
    for gi, g in enumerate(GROUPS):
        sel = grp == gi
        if sel.any():
            place[sel] = _draw(rng, _CODES[g][0], int(sel.sum()))
            prov[sel] = _draw(rng, _CODES[g][1], int(sel.sum()))
    place_all = np.concatenate([place, place[split]])
    prov_all = np.concatenate([prov, prov[split]])
    cin0 = _draw(rng, _CIN, n_p)
    cin0[P.uasc] = np.where(rng.random(int(P.uasc.sum())) < 0.6, "N8", "N4")
    reason = np.where(np.isin(rne_all, ["P", "B"]),
                      np.array(_PLACE_REASONS, dtype=object)[rng.integers(0, len(_PLACE_REASONS),
                                                                          len(s_all))], None)
    kids = np.unique(P.child[p_all])
    cid = {int(c): f"K{spec.seed % 1000:03d}{j:06d}" for j, c in enumerate(rng.permutation(kids))}
    first_p = np.full(int(P.child.max()) + 1, n_p)
    np.minimum.at(first_p, P.child, np.arange(n_p))
    kp = first_p[kids]
    male = np.where(P.uasc[kp], rng.random(kids.size) < 0.95, rng.random(kids.size) < 0.55)
    hdr_all = pl.DataFrame({
        "_k": kids,
        "CHILD": [cid[int(c)] for c in kids],
        "SEX": np.where(male, "1", "2"),
        "DOB": _fmt(P.dob[kp]),
        "ETHNIC": _draw(rng, _ETHNIC, kids.size).astype(str),
        "UPN": [f"{chr(65 + int(a))}{int(b):012d}"
                for a, b in zip(rng.integers(0, 26, kids.size), rng.integers(0, 10**12, kids.size),
                                strict=True)],
    }).with_columns(
        pl.col("DOB").str.strptime(pl.Date, "%Y-%m-%d").dt.strftime("%d/%m/%Y"),
        MOTHER=pl.lit(None, dtype=pl.String), MC_DOB=pl.lit(None, dtype=pl.String))
    eps = pl.DataFrame({
        "_k": P.child[p_all], "s": s_all, "e": e_all,
        "RNE": rne_all.astype(str), "LS": ls.astype(str), "CIN": cin0[p_all].astype(str),
        "PLACE": place_all.astype(str), "PLACE_PROVIDER": prov_all.astype(str),
        "REC": pl.Series(rec.tolist(), dtype=pl.String),
        "REASON_PLACE_CHANGE": pl.Series(reason.tolist(), dtype=pl.String),
    }).join(hdr_all.select("_k", "CHILD"), on="_k")
    epoch = pl.lit(np.datetime64("1970-01-01", "D")).cast(pl.Date)
    for y in spec.years:
        ys, ye = _days(y - 1, 4, 1), _days(y, 3, 31)
        part = eps.filter((pl.col("s") <= ye) & (pl.col("e") >= ys))
        closed = pl.col("e") <= ye
        out = part.sort("CHILD", "s").select(
            "CHILD",
            DECOM=(epoch + pl.duration(days=pl.col("s"))).dt.strftime("%d/%m/%Y"),
            RNE="RNE", LS="LS", CIN="CIN", PLACE="PLACE", PLACE_PROVIDER="PLACE_PROVIDER",
            DEC=pl.when(closed).then((epoch + pl.duration(days=pl.col("e"))).dt.strftime(
                "%d/%m/%Y")),
            REC=pl.when(closed).then(pl.col("REC")),
            REASON_PLACE_CHANGE="REASON_PLACE_CHANGE",
            HOME_POST=pl.lit(None, dtype=pl.String), PL_POST=pl.lit(None, dtype=pl.String),
            URN=pl.lit(None, dtype=pl.String))
        hdr = hdr_all.join(part.select("_k").unique(), on="_k").sort("CHILD").select(
            "CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
        hdr.write_csv(folder / f"{y}-header.csv", line_terminator="\n")
        out.write_csv(folder / f"{y}-episodes.csv", line_terminator="\n")
    return cid


def suite(out_root: Path | str, per_kind: int = 8, kinds: tuple[str, ...] = KINDS,
          reps: int = 100, progress=None) -> list[LACase]:
    """Generate ``per_kind`` LAs of every kind under ``out_root/<kind>_<i>/``.

    Parameters
    ----------
    out_root
        Folder for the LAs' return folders (created).
    per_kind
        LAs per kind (default 8: 48 LAs for the six kinds).
    kinds
        Which kinds.
    reps
        Continuations behind each ``Truth.expected``.
    progress
        Optional callable taking a message per LA.

    Returns
    -------
    list[LACase]
    """
    out_root = Path(out_root)
    cases = []
    for kind in kinds:
        for i in range(per_kind):
            folder = out_root / f"{kind}_{i:02d}"
            truth = generate(kind, i, folder, reps=reps)
            cases.append(LACase(kind, i, folder, truth))
            if progress is not None:
                progress(f"generated {folder.name}: "
                         f"{truth.info['children_in_care_at_origin']} in care at "
                         f"31/03/{truth.origin}")
    return cases
