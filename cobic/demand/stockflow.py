"""``stockflow``: a multi-state model of children looked after, fitted on SSDA903 episodes.

Fit (on the last ``fit_years`` collection years before the origin):

* **entries**: a Poisson GLM of entries per year by age band, with the 0-17 population as
  exposure when one is given (rates per 10,000) and an optional linear trend; single years of
  age within a band and the first placement group by age band are empirical proportions;
* **exits**: a Poisson GLM of exits over days looked after, with main effects of placement
  group, age band and time in care (<3 months, <1 year, <2, <5, 5+ years), so that small
  cells borrow strength and never get zero or absurd rates; the exit on the 18th birthday is
  not a hazard but certain;
* **placement moves**: the same GLM for moves, and destinations by age band (proportions).

Simulate (per path): draw the GLM coefficients from their estimated normal distribution and
the proportions from Dirichlet distributions (parameter uncertainty), then simulate every child
in care at the origin and every new entrant in quarterly steps: exits, moves, single-year
ageing with exit on the 18th birthday, child-days per financial year by placement group.
Everything is vectorised over paths x children with numpy.

Scenarios (:class:`cobic.demand.scenarios.Scenario`) change the fitted rates before simulation.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import ClassVar

import numpy as np
import polars as pl

from cobic.data import derive
from cobic.data.dates import (
    age_on,
    birthday,
    birthday_days,
    collection_year_of,
    day_number,
    year_end,
    year_start,
)
from cobic.data.ssda903 import SSDA903
from cobic.demand.base import Capabilities, Paths, register
from cobic.demand.limits import LIMITS, ResourceLimitError, format_bytes

__all__ = ["StockFlow", "FittedStockFlow", "truncate", "AGE_CUTS", "DURATION_CUTS"]

AGE_CUTS = (1, 5, 10, 16)  # birthdays at which the DfE age band changes
DURATION_CUTS = (91, 365, 730, 1826)  # days in care at which the duration band changes
N_AB, N_DB = 5, 5


def truncate(data: SSDA903, year: int) -> SSDA903:
    """The data as known at the end of collection year ``year`` (for backtests).

    Episodes starting later are removed; ends after 31 March ``year`` become open.
    """
    if year not in data.collection_years:
        raise ValueError(f"year {year} is not one of the collection years "
                         f"{data.collection_years}")
    end = year_end(year)
    eps = data.episodes.filter(pl.col("DECOM") <= end).with_columns(
        REC=pl.when(pl.col("DEC") > end).then(None).otherwise(pl.col("REC")),
        DEC=pl.when(pl.col("DEC") > end).then(None).otherwise(pl.col("DEC")),
    )
    hdr = data.header.join(eps.select("CHILD").unique(), on="CHILD", how="semi")
    years = tuple(y for y in data.collection_years if y <= year)
    return replace(data, episodes=eps, header=hdr, collection_years=years, extract_end=end,
                   _cache={})


def _band_expr(values: pl.Expr, cuts: tuple[int, ...]) -> pl.Expr:
    out = pl.lit(0, dtype=pl.Int32)
    for c in cuts:
        out = out + (values >= c).cast(pl.Int32)
    return out


def _exposure(data: SSDA903, start: date, end_excl: date, groups: tuple[str, ...]
              ) -> pl.DataFrame:
    """Days looked after, exits and moves by (group, age band, duration band) in a window."""
    eps = derive.episodes_in_scope(data)
    pstart = pl.col("DECOM").min().over("CHILD", "period")
    change = list(data.codes.placement_change_rne)
    eps = eps.with_columns(
        pstart=pstart,
        b18=birthday(pl.col("DOB"), 18),
        last_in_period=pl.col("DECOM") == pl.col("DECOM").max().over("CHILD", "period"),
        next_is_move=(pl.col("RNE").shift(-1).over("CHILD").is_in(change)
                      & (pl.col("period").shift(-1).over("CHILD") == pl.col("period"))),
    )
    eps = eps.with_columns(
        s=pl.max_horizontal(pl.col("DECOM"), pl.lit(start)),
        e=pl.min_horizontal(pl.col("end"), pl.lit(end_excl)),
    ).filter(pl.col("e") > pl.col("s"))
    exit_event = (pl.col("last_in_period") & pl.col("DEC").is_not_null()
                  & (pl.col("DEC") < pl.lit(end_excl)) & (pl.col("DEC") < pl.col("b18")))
    move_event = pl.col("next_is_move") & (pl.col("end") < pl.lit(end_excl))
    eps = eps.with_columns(exit_event=exit_event, move_event=move_event)
    cuts = [birthday(pl.col("DOB"), k) for k in AGE_CUTS] + [
        pl.col("pstart") + timedelta(days=d) for d in DURATION_CUTS]
    seg = eps.select(
        "CHILD", "DOB", "pstart", "placement_group", "exit_event", "move_event", "s", "e",
        cut=pl.concat_list([pl.col("s"), *cuts]),
    ).explode("cut").filter((pl.col("cut") >= pl.col("s")) & (pl.col("cut") < pl.col("e")))
    seg = seg.sort("CHILD", "s", "cut").with_columns(
        seg_end=pl.col("cut").shift(-1).over("CHILD", "s").fill_null(pl.col("e")))
    seg = seg.with_columns(
        days=(pl.col("seg_end") - pl.col("cut")).dt.total_days(),
        is_last=pl.col("seg_end") == pl.col("e"),
        age=age_on(pl.col("DOB"), pl.col("cut")),
        dur=(pl.col("cut") - pl.col("pstart")).dt.total_days(),
    ).with_columns(ab=_band_expr(pl.col("age"), AGE_CUTS), db=_band_expr(pl.col("dur"),
                                                                          DURATION_CUTS))
    gmap = {g: i for i, g in enumerate(groups)}
    return (seg.group_by("placement_group", "ab", "db")
            .agg(days=pl.col("days").sum(),
                 exits=(pl.col("is_last") & pl.col("exit_event")).sum(),
                 moves=(pl.col("is_last") & pl.col("move_event")).sum())
            .filter(pl.col("placement_group").is_in(list(groups)))
            .with_columns(g=pl.col("placement_group").replace_strict(gmap, return_dtype=pl.Int32)))


def _design(g: np.ndarray, ab: np.ndarray, db: np.ndarray, n_g: int) -> np.ndarray:
    """Main-effects design: intercept, group (first is reference), age band, duration band."""
    cols = [np.ones(len(g))]
    cols += [(g == k).astype(float) for k in range(1, n_g)]
    cols += [(ab == k).astype(float) for k in range(1, N_AB)]
    cols += [(db == k).astype(float) for k in range(1, N_DB)]
    return np.column_stack(cols)


def _poisson_glm(y: np.ndarray, X: np.ndarray, exposure: np.ndarray, prior_days: float = 10.0):
    """Poisson GLM of events over exposure, with a weak prior: each cell also gets
    ``prior_days`` of exposure with events at the overall rate, so thin cells shrink towards
    the overall rate instead of getting zero or absurd hazards."""
    import statsmodels.api as sm

    # with no events at all, half an event keeps the rate small but positive
    overall = max(y.sum(), 0.5) / max(exposure.sum(), 1.0)
    y = y + overall * prior_days
    exposure = exposure + prior_days
    keep = exposure > 0
    # drop columns with no exposure at all (e.g. an age band the data never has)
    used = np.array([X[keep, j].any() for j in range(X.shape[1])])
    beta = np.zeros(X.shape[1])
    cov = np.zeros((X.shape[1], X.shape[1]))
    params = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(y[keep], X[keep][:, used], family=sm.families.Poisson(),
                         offset=np.log(exposure[keep])).fit()
        params, pcov = np.asarray(res.params), np.asarray(res.cov_params())
    except (ValueError, np.linalg.LinAlgError):
        pass
    if params is None or not (np.isfinite(params).all() and np.isfinite(pcov).all()):
        # a fit that diverges (e.g. cells with no events) falls back, deterministically, to
        # the overall rate in every cell, with the overall rate's Poisson uncertainty
        beta[0] = np.log(overall)
        cov[0, 0] = 1.0 / max(y.sum(), 1.0)
        return beta, cov
    beta[used] = params
    cov[np.ix_(used, used)] = pcov
    return beta, cov


@register
@dataclass(frozen=True)
class StockFlow:
    """Multi-state stock-flow model from SSDA903 episodes (see the module docstring).

    Parameters
    ----------
    fit_years
        Collection years up to the origin used to estimate exit and move hazards.
    entry_years
        Collection years up to the origin used to estimate the entry rate and its trend.
    trend
        Fit a log-linear trend in the entry rate (needs 3+ entry years) and carry it forward;
        its uncertainty is drawn with the other parameters, so intervals widen with the horizon.
    population
        Optional ``year, population`` (0-17, the denominator for each collection year): entry
        rates are then per 10,000 children and follow the population forward (held at its last
        value unless ``population`` extends beyond the origin).
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        published_tables=False, child_level=True, placement_groups=True)


    name: str = "stockflow"
    fit_years: int = 3
    entry_years: int = 6
    trend: bool = True
    population: pl.DataFrame | None = None

    def fit(self, data: SSDA903) -> FittedStockFlow:
        if not isinstance(data, SSDA903):
            raise TypeError("stockflow is fitted on SSDA903 episodes (cobic.data.read_ssda903)")
        origin = data.collection_years[-1]
        k = min(self.fit_years, len(data.collection_years))
        years = data.collection_years[-k:]
        start, end_excl = year_start(years[0]), year_end(origin) + timedelta(days=1)
        groups = data.codes.group_names
        n_g = len(groups)

        # ---- exits and moves: events over exposure, Poisson GLMs with main effects
        ex = _exposure(data, start, end_excl, groups)
        g, ab, db = (ex[c].to_numpy() for c in ("g", "ab", "db"))
        days = ex["days"].to_numpy().astype(float)
        X = _design(g, ab, db, n_g)
        exit_beta, exit_cov = _poisson_glm(ex["exits"].to_numpy().astype(float), X, days)
        move_beta, move_cov = _poisson_glm(ex["moves"].to_numpy().astype(float), X, days)

        # ---- entries by year and age band (over ``entry_years``, for the trend); single ages
        # and first placements as proportions
        ke = min(self.entry_years, len(data.collection_years))
        entry_years = data.collection_years[-ke:]
        per = derive.periods_of_care(data).filter(
            pl.col("start").is_between(year_start(entry_years[0]), year_end(origin)))
        per = per.with_columns(year=collection_year_of(pl.col("start")),
                               ab=_band_expr(pl.col("age_at_start"), AGE_CUTS))
        counts = np.zeros((len(entry_years), N_AB))
        for y, b, n in per.group_by("year", "ab").agg(pl.len()).iter_rows():
            counts[entry_years.index(y), b] += n
        age_counts = np.zeros(18)
        for a, n in per.group_by("age_at_start").agg(pl.len()).iter_rows():
            age_counts[min(max(a, 0), 17)] += n
        first = np.zeros((N_AB, n_g))
        gmap = {gg: i for i, gg in enumerate(groups)}
        for b, gg, n in per.group_by("ab", "first_group").agg(pl.len()).iter_rows():
            first[b, gmap[gg]] += n
        dest = np.zeros((N_AB, n_g))
        moves_to = _move_destinations(data, start, end_excl)
        for b, gg, n in moves_to.iter_rows():
            dest[b, gmap[gg]] += n

        pop = self._population(entry_years, origin)
        trend = self.trend and len(entry_years) >= 3
        entry_beta, entry_cov = _entry_glm(counts, pop, entry_years, origin, trend)
        if trend:
            # shrink the trend by its reliability b^2 / (b^2 + se^2): a trend that is mostly
            # noise is carried forward only in part (its full uncertainty stays in the draws)
            b, se2 = entry_beta[N_AB], entry_cov[N_AB, N_AB]
            entry_beta = entry_beta.copy()
            entry_beta[N_AB] = b * b**2 / (b**2 + se2) if b**2 + se2 > 0 else 0.0

        stock = _initial_stock(data, groups)
        return FittedStockFlow(
            area=data.source, origin=origin, groups=groups, years=years,
            exit_beta=exit_beta, exit_cov=exit_cov, move_beta=move_beta, move_cov=move_cov,
            entry_beta=entry_beta, entry_cov=entry_cov, trend=trend,
            population=pop, future_population=self._future_population(origin),
            age_counts=age_counts, first_counts=first, dest_counts=dest, stock=stock,
            exposure=ex,
        )

    def _population(self, years: tuple[int, ...], origin: int) -> np.ndarray:
        if self.population is None:
            return np.ones(len(years))
        pop = dict(self.population.select("year", "population").iter_rows())
        missing = [y for y in years if y not in pop]
        if missing:
            raise ValueError(f"population has no figure for years {missing}")
        return np.array([pop[y] for y in years], dtype=float)

    def _future_population(self, origin: int) -> dict[int, float]:
        if self.population is None:
            return {}
        return {int(y): float(p) for y, p in self.population.select("year", "population")
                .iter_rows() if y > origin}


def _entry_glm(counts: np.ndarray, pop: np.ndarray, years, origin: int, trend: bool):
    """log E[entries(year, band)] = log pop(year) + alpha_band (+ beta (year - origin))."""
    n_y = len(years)
    y = counts.reshape(-1)
    band = np.tile(np.arange(N_AB), n_y)
    t = np.repeat(np.array(years, dtype=float) - origin, N_AB)
    X = np.column_stack([(band == b).astype(float) for b in range(N_AB)] + ([t] if trend else []))
    expo = np.repeat(pop, N_AB)
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a band with no entries at all gets a tiny pseudo-count so its rate is ~0, not -inf
        zero_band = counts.sum(axis=0) == 0
        y_adj = y + 0.01 * zero_band[band]
        res = sm.GLM(y_adj, X, family=sm.families.Poisson(), offset=np.log(expo)).fit()
    return np.asarray(res.params), np.asarray(res.cov_params())


def _move_destinations(data: SSDA903, start: date, end_excl: date) -> pl.DataFrame:
    eps = derive.episodes_in_scope(data)
    change = list(data.codes.placement_change_rne)
    first = pl.col("DECOM") == pl.col("DECOM").min().over("CHILD", "period")
    m = eps.filter(~first & pl.col("RNE").is_in(change)
                   & pl.col("DECOM").is_between(start, end_excl - timedelta(days=1)))
    m = m.with_columns(ab=_band_expr(age_on(pl.col("DOB"), pl.col("DECOM")), AGE_CUTS))
    return m.group_by("ab", "placement_group").agg(pl.len()).select("ab", "placement_group",
                                                                     "len")


def _initial_stock(data: SSDA903, groups) -> dict[str, np.ndarray]:
    eps = derive.episodes_in_scope(data)
    d = data.extract_end
    pstart = pl.col("DECOM").min().over("CHILD", "period")
    cover = eps.with_columns(pstart=pstart).filter(
        (pl.col("DECOM") <= d) & (pl.col("end") > d))
    gmap = {g: i for i, g in enumerate(groups)}
    dob = cover["DOB"].to_numpy().astype("datetime64[D]")
    return {
        "group": cover["placement_group"].replace_strict(gmap, return_dtype=pl.Int32).to_numpy(),
        "dob": (dob - np.datetime64("1970-01-01", "D")).astype(np.int64),
        "pstart": (cover["pstart"].to_numpy().astype("datetime64[D]")
                   - np.datetime64("1970-01-01", "D")).astype(np.int64),
    }


@dataclass(frozen=True)
class FittedStockFlow:
    """Fitted rates and the stock at the origin; ``simulate`` draws futures."""

    area: str
    origin: int
    groups: tuple[str, ...]
    years: tuple[int, ...]
    exit_beta: np.ndarray
    exit_cov: np.ndarray
    move_beta: np.ndarray
    move_cov: np.ndarray
    entry_beta: np.ndarray
    entry_cov: np.ndarray
    trend: bool
    population: np.ndarray
    future_population: dict[int, float]
    age_counts: np.ndarray
    first_counts: np.ndarray
    dest_counts: np.ndarray
    stock: dict[str, np.ndarray]
    exposure: pl.DataFrame
    scenario: object = None
    scenario_name: str = "baseline"
    area_name: str | None = None

    # ------------------------------------------------------------ readable estimates
    def entry_rate(self) -> float:
        """Fitted entries per year (per 10,000 children when a population was given)."""
        lam = np.exp(self.entry_beta[:N_AB]).sum()
        return float(lam * (1e4 if self.population.max() > 1 else 1.0))

    def with_scenario(self, scenario, name: str | None = None) -> FittedStockFlow:
        return replace(self, scenario=scenario,
                       scenario_name=name or getattr(scenario, "name", "scenario"))

    # ------------------------------------------------------------ simulation
    def simulate(self, horizon: int, n_paths: int, seed: int) -> Paths:
        if horizon < 1 or n_paths < 1:
            raise ValueError(f"horizon and n_paths must be >= 1, got {horizon}, {n_paths}")
        rng = np.random.default_rng(seed)
        n_g = len(self.groups)
        P = n_paths
        sc = self.scenario

        # ---- parameter draws (uncertainty) -> per-path rate tables
        cells = np.array([(g, a, d) for g in range(n_g) for a in range(N_AB) for d in range(N_DB)])
        Xc = _design(cells[:, 0], cells[:, 1], cells[:, 2], n_g)
        eb = rng.multivariate_normal(self.exit_beta, self.exit_cov, size=P, method="eigh")
        mb = rng.multivariate_normal(self.move_beta, self.move_cov, size=P, method="eigh")
        # hazards per day, kept within 1e-6 and 20 a year so thin data cannot overflow
        lo, hi = np.log(1e-6 / 365.25), np.log(20.0 / 365.25)
        h_exit = np.exp(np.clip(eb @ Xc.T, lo, hi)).reshape(P, n_g, N_AB, N_DB)
        h_move = np.exp(np.clip(mb @ Xc.T, lo, hi)).astype(np.float32).reshape(-1)
        # unseen groups keep hazards from the reference effects; zero-exposure cells are fine
        ent = rng.multivariate_normal(self.entry_beta, self.entry_cov, size=P, method="eigh")
        age_p = rng.dirichlet(self.age_counts + 0.5, size=P)  # [P, 18]
        first_p = np.stack([rng.dirichlet(self.first_counts[b] + 0.1, size=P)
                            for b in range(N_AB)], axis=1)  # [P, band, g]
        dest_p = np.stack([rng.dirichlet(self.dest_counts[b] + 0.1, size=P)
                           for b in range(N_AB)], axis=1)
        if sc is not None:
            h_exit = h_exit * sc.exit_multiplier
            first_p = sc.shift_mix(first_p, self.groups)
            dest_p = sc.shift_mix(dest_p, self.groups)
        first_cum, dest_cum = _cumulative(first_p), _cumulative(dest_p)
        age_within = _age_within_band(age_p)

        tables = {
            "h_exit": h_exit.astype(np.float32).reshape(P, -1),
            "h_move": h_move.reshape(P, -1),
            "ent": ent, "age_within": age_within,
            "first_cum": first_cum.reshape(P, N_AB, -1), "dest_cum": dest_cum.reshape(P, N_AB, -1),
        }
        # two independent chunks of paths on two threads (numpy releases the GIL in its
        # loops); the chunking is fixed, so the same seed gives the same paths on any machine
        cut = (P + 1) // 2
        chunks = [(0, cut), (cut, P)] if P > 1 else [(0, P)]
        rngs = [np.random.default_rng(ss) for ss in np.random.SeedSequence(seed).spawn(2)]
        parts_in = [({k: v[a:b] for k, v in tables.items()}, rngs[i])
                    for i, (a, b) in enumerate(chunks)]
        with ThreadPoolExecutor(max_workers=len(parts_in)) as pool:
            parts = list(pool.map(lambda x: self._run_paths(horizon, *x), parts_in))
        res = {k: np.concatenate([pt[k] for pt in parts], axis=1) for k in parts[0]}
        periods = tuple(self.origin + h for h in range(1, horizon + 1))
        band_names = ("under 1", "1-4", "5-9", "10-15", "16-17")
        return Paths(model="stockflow", areas=(self.area_name or self.area,), origin=self.origin,
                     periods=periods, groups=self.groups, values=res["stock"],
                     scenario=self.scenario_name,
                     extra={"child_days": res["child_days"], "entries": res["entries"],
                            "exits": res["exits"], "moves": res["moves"],
                            "days_by_duration": res["days_by_duration"]},
                     age_bands={b: res[b] for b in band_names})

    def _run_paths(self, horizon: int, tables: dict[str, np.ndarray],
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Simulate the paths whose parameter tables are given (one chunk)."""
        sc = self.scenario
        n_g = len(self.groups)
        P = tables["ent"].shape[0]
        h_exit_f = tables["h_exit"].reshape(-1)
        h_move_f = tables["h_move"].reshape(-1)
        ent, age_within = tables["ent"], tables["age_within"]
        first_cum = tables["first_cum"].reshape(P * N_AB, -1)
        dest_cum = tables["dest_cum"].reshape(P * N_AB, -1)
        # ---- state: the stock at the origin, replicated per path (day numbers as int32)
        s0 = self.stock
        n0 = len(s0["group"])
        st = {
            "path": np.repeat(np.arange(P, dtype=np.int32), n0),
            "group": np.tile(s0["group"], P).astype(np.int32),
            "pstart": np.tile(s0["pstart"], P).astype(np.int32),
            # the birthdays at which the age band changes (1, 5, 10, 16) and the 18th
            "bdays": np.tile(_birthdays(s0["dob"]), (P, 1)).astype(np.int32),
            "active_from": np.full(P * n0, day_number(year_end(self.origin)) + 1, np.int32),
        }
        st.update(_bands_at(st["bdays"], st["pstart"], st["active_from"]))

        periods = tuple(self.origin + h for h in range(1, horizon + 1))
        stock = np.zeros((1, P, horizon, n_g))
        cdays = np.zeros((1, P, horizon, n_g))
        entries = np.zeros((1, P, horizon, n_g))
        exits = np.zeros((1, P, horizon, n_g))
        moves = np.zeros((1, P, horizon, n_g))
        by_dur = np.zeros((1, P, horizon, 3))  # days under 6 months, 6-12 months, 12+ in care
        band_names = ("under 1", "1-4", "5-9", "10-15", "16-17")
        bands = {b: np.zeros((1, P, horizon)) for b in band_names}
        followed = float(P * n0)
        for hi, year in enumerate(periods):
            ys, ye = day_number(year_start(year)), day_number(year_end(year)) + 1
            # ---- entrants this year
            lam_band = self._entry_lambda(ent, year)  # [P, band]
            if sc is not None:
                lam_band = sc.adjust_entries(lam_band, year, self.origin)
            followed += float(lam_band.sum())
            _check_entrants(lam_band, followed, P, year)
            n_new = rng.poisson(lam_band)  # [P, band]
            if sc is not None and sc.extra_uasc:
                n_new[:, 4] += rng.poisson(sc.extra_uasc * np.ones(P))
            tot = int(n_new.sum())
            if tot:
                npath = np.repeat(np.repeat(np.arange(P), N_AB), n_new.reshape(-1))
                nband = np.repeat(np.tile(np.arange(N_AB), P), n_new.reshape(-1))
                # single ages: multinomial counts per path and band, laid out in the same
                # (path, band) blocks as npath and nband
                by_age = rng.multinomial(n_new, age_within)  # [P, band, 18]
                ages = np.repeat(np.tile(np.arange(18), P * N_AB), by_age.reshape(-1))
                day = ys + rng.integers(0, ye - ys, size=tot)
                ndob = day - np.floor(365.25 * ages + rng.random(tot) * 362.25).astype(np.int64)
                g0 = _categorical(rng, first_cum, npath * N_AB + nband)
                new = {"path": npath, "group": g0, "pstart": day,
                       # future entrants: birthdays as whole days of 365.25 (within a day)
                       "bdays": ndob[:, None] + _BIRTHDAY_OFFSETS, "active_from": day}
                new.update(_bands_at(new["bdays"], day, day))
                st = {k: np.concatenate([v, new[k].astype(np.int32)]) for k, v in st.items()}
                _accumulate(entries[0, :, hi], npath, g0, 1.0)
            # ---- four quarters; entrants not yet in care have no exposure (tau = 0)
            q_edges = [ys, day_number(date(year - 1, 7, 1)), day_number(date(year - 1, 10, 1)),
                       day_number(date(year, 1, 1)), ye]
            for qs, qe in zip(q_edges[:-1], q_edges[1:], strict=True):
                path, group, bd = st["path"], st["group"], st["bdays"]
                s = np.maximum(st["active_from"], np.int32(qs))
                tau = np.maximum(np.int64(qe) - s, 0).astype(np.float32)
                ab, db = st["ab"], st["db"]
                pg = path * n_g + group
                cell = (pg * N_AB + ab) * N_DB + db
                lam_exit = h_exit_f[cell] * tau
                lam_move = h_move_f[cell] * tau
                # where the age or duration band changes inside the quarter, integrate the
                # hazards over the pieces (each band changes at most once) and move the bands on
                ch = np.flatnonzero((np.minimum(st["next_age"], st["next_dur"]) < qe) & (tau > 0))
                if ch.size:
                    na, nd = st["next_age"][ch], st["next_dur"][ch]
                    lam_exit[ch], lam_move[ch] = _piecewise_hazard(
                        h_exit_f, h_move_f, pg[ch], ab[ch], db[ch], s[ch], na, nd, qe)
                    # move the bands on past the change points inside the quarter
                    up_a = ch[na < qe]
                    st["ab"][up_a] += 1
                    a_new = st["ab"][up_a]
                    st["next_age"][up_a] = np.where(
                        a_new < 4, bd[up_a, np.minimum(a_new, 3)], _NEVER)
                    up_d = ch[nd < qe]
                    st["db"][up_d] += 1
                    st["next_dur"][up_d] = np.minimum(
                        st["pstart"][up_d] + _DUR_NEXT[st["db"][up_d]], _NEVER)
                p_exit = 1.0 - np.exp(-lam_exit)
                p_move = (1.0 - p_exit) * (1.0 - np.exp(-lam_move))
                u = rng.random(len(s), dtype=np.float32)
                t_ev = s + (rng.random(len(s), dtype=np.float32) * tau).astype(np.int32)
                b = bd[:, 4]
                before18 = t_ev < b
                haz_exit = (u < p_exit) & before18
                is_move = (u >= p_exit) & (u < p_exit + p_move) & before18
                # the 18th birthday ends care: events after it in the quarter do not happen
                forced = b < qe
                exit_now = haz_exit | forced
                end_care = np.where(haz_exit, t_ev, np.minimum(b, np.int32(qe)))
                end_old = np.where(is_move, t_ev, np.where(exit_now, end_care, np.int32(qe)))
                days = np.maximum(end_old - s, 0)
                cdays[0, :, hi] += np.bincount(pg, weights=days,
                                               minlength=P * n_g).reshape(P, n_g)
                mv = np.flatnonzero(is_move)
                if mv.size:
                    new_g = _categorical(rng, dest_cum, path[mv] * N_AB + ab[mv])
                    _accumulate(cdays[0, :, hi], path[mv], new_g, end_care[mv] - t_ev[mv])
                    _accumulate(moves[0, :, hi], path[mv], new_g, 1.0)
                    days[mv] += end_care[mv] - t_ev[mv]
                    group[mv] = new_g
                # days by time in care at the start of the quarter (for case-rate payments)
                dur_now = s - st["pstart"]
                dcls = (dur_now >= 182).astype(np.int32) + (dur_now >= 365)
                by_dur[0, :, hi] += np.bincount(path * 3 + dcls, weights=days,
                                                minlength=P * 3).reshape(P, 3)
                xi = np.flatnonzero(exit_now)
                _accumulate(exits[0, :, hi], path[xi], group[xi], 1.0)
                # out of care: no exposure from now on (removed at the year end)
                st["active_from"][xi] = _NEVER
                bd[xi, 4] = _NEVER
            # ---- stock on 31 March; drop those who left
            idx = np.flatnonzero(st["active_from"] < _NEVER)
            st = {k: v.take(idx, axis=0) for k, v in st.items()}
            path, group, bd = st["path"], st["group"], st["bdays"]
            _accumulate(stock[0, :, hi], path, group, 1.0)
            age_end = (bd[:, :4] <= ye - 1).sum(axis=1)
            for b_i, name in enumerate(band_names):
                bands[name][0, :, hi] = np.bincount(path[age_end == b_i], minlength=P)
        out = {"stock": stock, "child_days": cdays, "entries": entries, "exits": exits,
               "moves": moves, "days_by_duration": by_dur}
        out.update(bands)
        return out

    def _entry_lambda(self, ent: np.ndarray, year: int) -> np.ndarray:
        """Expected entries per path and age band in ``year``."""
        lam = np.exp(ent[:, :N_AB])
        if self.trend:
            lam = lam * np.exp(ent[:, N_AB:N_AB + 1] * (year - self.origin))
        pop = self.future_population.get(year, float(self.population[-1]))
        return lam * pop


def _check_entrants(lam_band: np.ndarray, followed: float, n_paths: int, year: int) -> None:
    """Refuse, before allocating them, entrants whose number would pass the memory budget
    (an entry rate fitted on too little data can imply millions of children a year)."""
    est = LIMITS.base_bytes + followed * LIMITS.stockflow_bytes_per_child_path
    if not np.isfinite(lam_band).all() or est > LIMITS.memory_budget_bytes:
        per_path = lam_band.sum(axis=1) if lam_band.size else np.zeros(1)
        top = float(np.nanmax(per_path)) if np.isfinite(per_path).any() else math.inf
        raise ResourceLimitError(
            f"stockflow: the fitted entry rates imply up to {top:,.0f} entrants a year on some "
            f"paths by {year} (median {float(np.nanmedian(per_path)):,.0f}; the simulation "
            f"would need over {format_bytes(est)}): the "
            "returns hold too little history to fit entries reliably (thin age bands or very "
            "few children); try a series model (--model naive or drift) or fewer paths")


_NEVER = np.iinfo(np.int32).max
_DUR_NEXT = np.array([*DURATION_CUTS, 10**8], dtype=np.int64)  # next duration cut by band
_BIRTHDAY_OFFSETS = np.floor(365.25 * np.array([*AGE_CUTS, 18])).astype(np.int64)[None, :]


def _bands_at(bd: np.ndarray, pstart: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
    """Age band and duration band on ``day``, and the next day either changes."""
    ab = (bd[:, 0] <= day).astype(np.int32)
    for k in (1, 2, 3):
        ab += bd[:, k] <= day
    dur = day - pstart
    db = (dur >= DURATION_CUTS[0]).astype(np.int32)
    for c in DURATION_CUTS[1:]:
        db += dur >= c
    next_age = np.where(ab < 4, np.take_along_axis(bd, np.minimum(ab, 3)[:, None], axis=1)[:, 0],
                        _NEVER)
    next_dur = np.minimum(pstart + _DUR_NEXT[db], _NEVER)
    return {"ab": ab, "db": db, "next_age": next_age.astype(np.int32),
            "next_dur": next_dur.astype(np.int32)}


def _piecewise_hazard(h_exit, h_move, pg, ab, db, s, next_age, next_dur, qe):
    """Integrated exit and move hazards over [s, qe) for rows whose age or duration band
    changes inside the interval: split at the (at most two) change points."""
    c1 = np.clip(np.minimum(next_dur, next_age), s, qe)
    c2 = np.clip(np.maximum(next_dur, next_age), s, qe)
    lam_exit = np.zeros(len(s), dtype=np.float32)
    lam_move = np.zeros(len(s), dtype=np.float32)
    for lo, hi, at in ((s, c1, s), (c1, c2, c1), (c2, np.int64(qe), c2)):
        span = (hi - lo).astype(np.float32)
        a_k = np.minimum(ab + (next_age <= at), 4)
        d_k = np.minimum(db + (next_dur <= at), 4)
        cell = (pg * N_AB + a_k) * N_DB + d_k
        lam_exit += h_exit[cell] * span
        lam_move += h_move[cell] * span
    return lam_exit, lam_move


def _birthdays(dob: np.ndarray) -> np.ndarray:
    """``[child, 5]`` day numbers of the birthdays 1, 5, 10, 16 and 18."""
    return np.stack([birthday_days(dob, k) for k in (*AGE_CUTS, 18)], axis=1)


def _accumulate(target: np.ndarray, path: np.ndarray, group: np.ndarray, weight) -> None:
    """target[path, group] += weight, for arrays of (path, group) pairs (fast bincount)."""
    n_p, n_g = target.shape
    w = np.broadcast_to(np.asarray(weight, dtype=float), path.shape)
    target += np.bincount(path.astype(np.int64) * n_g + group, weights=w,
                          minlength=n_p * n_g).reshape(n_p, n_g)


def _cumulative(probs: np.ndarray) -> np.ndarray:
    """Rows of ``probs`` (any leading shape, last axis categories) as normalised cumulative
    tables ``[rows, categories]`` for :func:`_categorical`."""
    c = np.cumsum(probs.reshape(-1, probs.shape[-1]), axis=1)
    return c / np.where(c[:, -1:] > 0, c[:, -1:], 1.0)


def _categorical(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element of ``rows``, drawn from the cumulative table ``cum[row]``."""
    u = rng.random(len(rows))
    out = np.zeros(len(rows), dtype=np.int32)
    for k in range(cum.shape[1] - 1):
        out += cum[rows, k] < u
    return out


_BAND_AGES = [range(0, 1), range(1, 5), range(5, 10), range(10, 16), range(16, 18)]


def _age_within_band(age_p: np.ndarray) -> np.ndarray:
    """``[path, band, 18]`` probabilities of each single age within each age band."""
    mask = np.zeros((N_AB, 18))
    for b, r in enumerate(_BAND_AGES):
        mask[b, list(r)] = 1.0
    p = age_p[:, None, :] * mask[None, :, :]
    return p / p.sum(axis=2, keepdims=True)
