"""The capitation calculator: contract values per year and per path, and their summaries.

For contract year ``y`` (1..L) and path ``p``:

* capitation ``C_y``: the chosen point (e.g. P50, P80) of the simulated cost distribution
  (``forecast``), the cost of expected demand at unit costs plus the expected high-cost tail
  (``zero_based``), or a historic outturn indexed forward (``historic``);
* capitated payment ``T[p,y]``: ``C_y`` (basis ``population``: the provider takes volume risk),
  ``C_y / E[days_y] x days[p,y]`` (``child_day``: the commissioner keeps it), or ``C_y`` plus a
  marginal rate on child-days outside a corridor around ``E[days_y]`` (``hybrid``);
* at-risk pot ``I_y = w_y C_y``: withheld from the payment and earned back (``withhold``) or paid
  on top (``bonus``) in proportion to the indicator composite; a quality gate below which the
  provider keeps no saving;
* variance ``D = A - T``; provider share ``pi`` by the bands; commissioner share ``D - pi``;
* net to provider ``R = T - (withheld) + earned + (D - pi)``; provider margin ``R - A``;
  commissioner outlay ``R`` (split between funders by their shares);
* real values deflated by ``(1 + inflation)^y``; present values discounted at the real rate
  with year 1 undiscounted (Green Book).

Multi-year terms (indexation, a reopener, cumulative caps, an end-of-contract reconciliation)
are :func:`cobic.contract.rules.apply_contract`: the capitation paid may then differ by path
(``Priced.paid_capitation``) and the last year carries the end-of-contract adjustment
(``Priced.end``).

Everything is array maths over (paths x years); :func:`apply_terms` re-prices a contract on
costs already simulated, which is what keeps the notebooks instant. The money rules are in
:mod:`cobic.contract.rules`, which settlement uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cobic.contract.rules import EndOfContract, apply_contract, indexed_capitation
from cobic.contract.terms import ContractTerms
from cobic.costs import (
    CostPaths,
    CostSpec,
    DemandPaths,
    expected_high_cost,
    growth_paths,
    simulate_costs,
)

__all__ = ["Priced", "price", "apply_terms", "SimulatedCosts", "simulate_contract_costs",
           "discount_factors", "QUANTILE_COLUMNS", "cost_scores", "indicator_cost_note"]

QUANTILE_COLUMNS = {"p10": 0.10, "p50": 0.50, "p80": 0.80, "p90": 0.90}


def discount_factors(rate: float, n_years: int) -> np.ndarray:
    """Green Book: year 1 undiscounted, then 1 / (1 + rate)^t for t = 1.. ."""
    return 1.0 / (1.0 + rate) ** np.arange(n_years)


@dataclass(frozen=True)
class SimulatedCosts:
    """What re-pricing needs, simulated once: costs with and without uncertainty, demand."""

    years: tuple[int, ...]
    cost: np.ndarray  # [path, year] actual cost A (with unit-cost uncertainty and tail)
    cost_expected_prices: np.ndarray  # [path, year] cost at unit costs (no price noise)
    child_days: np.ndarray  # [path, year] all groups
    components: CostPaths
    indicator_noise: np.ndarray  # [path, year, k] standard normal draws for the indicators
    days_by_duration: np.ndarray | None = None  # [path, year, 3]: <6 months, 6-12, 12+
    expected_tail: np.ndarray | None = None  # [path, year] expected high-cost tail
    # [path, year] realised over assumed cost growth (the price factor of ``cost`` over that of
    # ``cost_expected_prices``): fitted growth's path over its median path; 1 with fixed uplifts
    cost_growth: np.ndarray | None = None
    groups: tuple[str, ...] = ()  # the placement groups of components.placements

    def cost_band(self, quantiles=(0.1, 0.5, 0.9)) -> pl.DataFrame:
        """``financial_year`` and the ``quantiles`` (columns ``p10 p50 p90``) of each contract
        year's simulated cost over the paths."""
        q = np.quantile(self.cost, quantiles, axis=0)
        return pl.DataFrame({"financial_year": [f"{y - 1}-{y % 100:02d}" for y in self.years],
                             **{f"p{round(p * 100)}": v
                                for p, v in zip(quantiles, q, strict=True)}})

    def first_years(self, n: int) -> SimulatedCosts:
        """The first ``n`` contract years (to try shorter contracts without re-simulating)."""
        if not 1 <= n <= len(self.years):
            raise ValueError(f"n must be 1..{len(self.years)}, got {n}")
        c = self.components
        comp = CostPaths(self.years[:n], c.placements[:, :n], c.case_management[:, :n],
                         c.overheads[:, :n], c.startup[:n], c.high_cost[:, :n])
        dur = None if self.days_by_duration is None else self.days_by_duration[:, :n]
        tail = None if self.expected_tail is None else self.expected_tail[:, :n]
        growth = None if self.cost_growth is None else self.cost_growth[:, :n]
        return SimulatedCosts(self.years[:n], self.cost[:, :n],
                              self.cost_expected_prices[:, :n], self.child_days[:, :n], comp,
                              self.indicator_noise[:, :n], dur, tail, growth, self.groups)


def simulate_contract_costs(demand: DemandPaths, costs: CostSpec, terms: ContractTerms,
                            seed: int = 0, market_seed: int | None = None) -> SimulatedCosts:
    """Simulate costs for the contract years (done once; terms can then change freely).

    ``market_seed`` seeds the market-wide part of a fitted cost growth (the LAs of a lot share
    it: :mod:`cobic.contract.lots`); by default it comes from ``seed`` with the rest.
    """
    window = demand.window(terms.first_year, terms.length)
    c = simulate_costs(window, costs, seed=seed, uncertain=True, market_seed=market_seed)
    c0 = simulate_costs(window, costs, seed=seed, uncertain=False)
    rng = np.random.default_rng(seed + 1)
    noise = rng.standard_normal((window.n_paths, terms.length, max(len(terms.indicators), 1)))
    return SimulatedCosts(window.years, c.total, c0.total, window.child_days.sum(axis=2), c,
                          noise, window.days_by_duration,
                          expected_high_cost(window, costs, seed=seed),
                          _cost_growth(costs, terms.first_year - 1, window.child_days.shape[:2],
                                       seed, market_seed), window.groups)


def _cost_growth(costs: CostSpec, year0: int, shape: tuple[int, int], seed: int,
                 market_seed: int | None = None) -> np.ndarray:
    """``[path, year]`` realised over assumed cost growth: the fitted growth path that
    :func:`cobic.costs.simulate_costs` drew (same seed) over its median path; 1 everywhere
    when the cost set has fixed uplifts (no growth risk)."""
    if costs.growth is None:
        return np.ones(shape)
    P, Y = shape
    return (growth_paths(costs, year0, Y, P, seed, uncertain=True, market_seed=market_seed)
            / growth_paths(costs, year0, Y, P, seed, uncertain=False))


@dataclass(frozen=True)
class Priced:
    """A priced contract: arrays ``[path, year]`` unless stated, and tables from them."""

    terms: ContractTerms
    years: tuple[int, ...]
    capitation: np.ndarray  # [year] C_y (the schedule, CPI-indexed if so; before path terms)
    expected_days: np.ndarray  # [year]
    target: np.ndarray  # capitated payment T
    cost: np.ndarray  # actual cost A
    variance: np.ndarray  # D = A - T
    provider_share: np.ndarray  # pi
    at_risk: np.ndarray  # [year] I_y ([path, year] when the capitation depends on the path)
    composite: np.ndarray  # indicator composite in [0, 1]
    incentive_earned: np.ndarray
    withheld: np.ndarray  # [year] (or [path, year]) withheld from T (withhold mode) else 0
    net_to_provider: np.ndarray  # R = commissioner outlay
    hit_loss_cap: np.ndarray  # bool
    hit_gain_cap: np.ndarray  # bool
    deflator: np.ndarray  # [year]
    discount: np.ndarray  # [year]
    indicator_values: np.ndarray | None = None  # [path, year, k]
    paid_capitation: np.ndarray | None = None  # [path, year] when it depends on the path
    end: EndOfContract | None = None  # the end-of-contract adjustment (in the last year)

    @property
    def capitation_by_path(self) -> np.ndarray:
        """``[path, year]``: the capitation paid on each path."""
        cap = self.capitation if self.paid_capitation is None else self.paid_capitation
        return np.broadcast_to(cap, self.cost.shape)

    @property
    def commissioner_share(self) -> np.ndarray:
        return self.variance - self.provider_share

    @property
    def provider_margin(self) -> np.ndarray:
        return self.net_to_provider - self.cost

    @property
    def n_paths(self) -> int:
        return self.cost.shape[0]

    def real(self, a: np.ndarray) -> np.ndarray:
        return a / self.deflator

    def present(self, a: np.ndarray) -> np.ndarray:
        return a / self.deflator * self.discount

    # ---------------------------------------------------------------- tables
    def by_path_year(self) -> pl.DataFrame:
        """One row per path and contract year with every ledger line (GBP, nominal)."""
        P, Y = self.cost.shape
        p, y = np.indices((P, Y)).reshape(2, -1)
        flat = {
            "capitation": self.capitation_by_path,
            "capitated_payment": self.target, "actual_cost": self.cost,
            "variance": self.variance, "provider_share": self.provider_share,
            "commissioner_share": self.commissioner_share,
            "at_risk": np.broadcast_to(self.at_risk, (P, Y)),
            "withheld": np.broadcast_to(self.withheld, (P, Y)),
            "indicator_composite": self.composite, "incentive_earned": self.incentive_earned,
            "net_to_provider": self.net_to_provider, "provider_margin": self.provider_margin,
            "net_to_provider_real": self.real(self.net_to_provider),
            "net_to_provider_pv": self.present(self.net_to_provider),
        }
        return pl.DataFrame({"path": p.astype(np.int32),
                             "contract_year": (y + 1).astype(np.int32),
                             "financial_year": np.array([_fy(v) for v in self.years])[y],
                             **{k: np.asarray(v).reshape(-1) for k, v in flat.items()}})

    def schedule(self) -> pl.DataFrame:
        """Per contract year: the capitation and the expected ledger, nominal, real and PV."""
        rows = []
        at_risk, withheld = (np.broadcast_to(a, (self.n_paths, len(self.years))).mean(axis=0)
                             for a in (self.at_risk, self.withheld))
        for j, year in enumerate(self.years):
            cap = float(self.capitation[j])
            exp_net = float(self.net_to_provider[:, j].mean())
            rows.append({
                "contract_year": j + 1, "financial_year": _fy(year),
                "capitation": cap, "fixed": cap - float(withheld[j]),
                "expected_child_days": float(self.expected_days[j]),
                "at_risk": float(at_risk[j]),
                "expected_incentive_earned": float(self.incentive_earned[:, j].mean()),
                "expected_cost": float(self.cost[:, j].mean()),
                "expected_provider_share": float(self.provider_share[:, j].mean()),
                "expected_commissioner_share": float(self.commissioner_share[:, j].mean()),
                "expected_net_to_provider": exp_net,
                "capitation_real": cap / float(self.deflator[j]),
                "discount_factor": float(self.discount[j]),
                "capitation_pv": cap / float(self.deflator[j]) * float(self.discount[j]),
                "expected_net_to_provider_pv": exp_net / float(self.deflator[j])
                * float(self.discount[j]),
                "p_hit_loss_cap": float(self.hit_loss_cap[:, j].mean()),
                "p_hit_gain_cap": float(self.hit_gain_cap[:, j].mean()),
                **({} if self.paid_capitation is None else
                   {"expected_capitation_paid": float(self.capitation_by_path[:, j].mean())}),
            })
        return pl.DataFrame(rows)

    def summary(self) -> pl.DataFrame:
        """Whole-contract totals per path, summarised: mean and P10/P50/P80/P90."""
        totals = {
            "actual_cost": self.cost, "capitated_payment": self.target,
            "commissioner_outlay": self.net_to_provider,
            "commissioner_outlay_real": self.real(self.net_to_provider),
            "commissioner_outlay_pv": self.present(self.net_to_provider),
            "provider_margin": self.provider_margin,
            "provider_margin_pv": self.present(self.provider_margin),
            "provider_share_of_variance": self.provider_share,
            "commissioner_share_of_variance": self.commissioner_share,
            "incentive_earned": self.incentive_earned,
        }
        for f in self.terms.funders:
            totals[f"outlay_{f.name}"] = self.net_to_provider * f.share
        rows = []
        for name, a in totals.items():
            t = a.sum(axis=1)
            rows.append({"measure": name, "mean": float(t.mean()),
                         **{k: float(np.quantile(t, q)) for k, q in QUANTILE_COLUMNS.items()}})
        return pl.DataFrame(rows)

    def risk(self) -> pl.DataFrame:
        """Risk figures a commissioner and a provider need, one row each."""
        total_cost = self.cost.sum(axis=1)
        cum = np.cumsum(self.provider_margin, axis=1)
        reserve = self.terms.provider_reserve
        rows = [
            ("P(provider hits the loss cap in some year)", float(self.hit_loss_cap.any(axis=1)
                                                                 .mean())),
            ("P(provider hits the gain cap in some year)", float(self.hit_gain_cap.any(axis=1)
                                                                 .mean())),
            ("expected risk-share cost to the provider (GBP)",
             float(self.provider_share.sum(axis=1).mean())),
            ("expected risk-share cost to the commissioner (GBP)",
             float(self.commissioner_share.sum(axis=1).mean())),
            ("risk margin to reach P80 cost: P80 - mean (GBP)",
             float(np.quantile(total_cost, 0.8) - total_cost.mean())),
            ("P(provider makes a loss over the contract)",
             float((self.provider_margin.sum(axis=1) < 0).mean())),
        ]
        if self.end is not None:
            rows += [("P(provider hits the cumulative loss cap)",
                      float(self.end.hit_loss_cap.mean())),
                     ("P(provider hits the cumulative gain cap)",
                      float(self.end.hit_gain_cap.mean())),
                     ("expected end-of-contract adjustment to the provider's share (GBP)",
                      float(self.end.adjustment.mean()))]
        if reserve is not None:
            rows.append((f"P(provider's cumulative loss exceeds its reserve of GBP {reserve:,.0f})",
                         float((cum.min(axis=1) < -reserve).mean())))
        return pl.DataFrame(rows, schema={"measure": pl.String, "value": pl.Float64},
                            orient="row")


def _fy(year: int) -> str:
    return f"{year - 1}-{year % 100:02d}"


def _capitation(sim: SimulatedCosts, terms: ContractTerms, costs: CostSpec | None) -> np.ndarray:
    if terms.method == "forecast":
        return np.quantile(sim.cost, terms.point, axis=0)
    if terms.method == "zero_based":  # expected demand at unit costs, with the expected tail
        tail = 0.0 if sim.expected_tail is None else sim.expected_tail.mean(axis=0)
        return sim.cost_expected_prices.mean(axis=0) + tail
    # historic outturn indexed forward from its year, with efficiency from year 1
    u = costs.indexation["default"] if costs is not None else 0.0
    e = costs.efficiency if costs is not None else 0.0
    ys = np.array(sim.years)
    k = np.arange(1, len(ys) + 1)
    return terms.historic_outturn * (1 + u) ** (ys - terms.historic_year) * (1 - e) ** k


def cost_scores(cost: np.ndarray) -> np.ndarray:
    """``[path, year]`` normal scores of each path's cost within its year:
    ``Phi^-1((rank + 1/2) / P)``, standard normal across paths whatever the cost's shape."""
    from scipy.special import ndtri

    ranks = np.argsort(np.argsort(cost, axis=0, kind="stable"), axis=0, kind="stable")
    return ndtri((ranks + 0.5) / cost.shape[0])


def _indicator_values(sim: SimulatedCosts, terms: ContractTerms) -> np.ndarray:
    """``[path, year, k]``: baseline + improvement x year + sd x noise.

    The noise of indicator ``k`` is ``r_k z + sqrt(1 - r_k^2) e_k``: ``e_k`` its own standard
    normal draws, ``z`` the normal score of the path's cost in that year
    (:func:`cost_scores`) and ``r_k`` its ``cost_correlation`` (0 by default: independent of
    cost, the noise is ``e_k`` alone).
    """
    ind = terms.indicators
    if not ind:
        return np.zeros(sim.cost.shape + (0,))
    base = np.array([[i.baseline + i.improvement * (y + 1) for i in ind]
                     for y in range(terms.length)])
    sd = np.array([i.sd for i in ind])
    noise = sim.indicator_noise[:, :, :len(ind)]
    r = np.array([i.cost_correlation for i in ind])
    if np.any(r != 0):
        noise = (r[None, None, :] * cost_scores(sim.cost)[:, :, None]
                 + np.sqrt(1 - r * r)[None, None, :] * noise)
    return base[None, :, :] + sd[None, None, :] * noise


def indicator_cost_note(terms: ContractTerms) -> str:
    """How the indicators' simulated outcomes relate to cost, in words (for every report)."""
    moved = [i for i in terms.indicators if i.cost_correlation != 0]
    if not terms.indicators:
        return "no outcome indicators"
    if not moved:
        return ("indicator outcomes are simulated independently of cost on each path (the "
                "default; set cost_correlation on an indicator to make it move with cost)")
    return "indicator outcomes move with cost on each path: " + "; ".join(
        f"{i.name} correlation {i.cost_correlation:+.2f}" for i in moved) + \
        " (the others independent of cost)"


def apply_terms(sim: SimulatedCosts, terms: ContractTerms, costs: CostSpec | None = None
                ) -> Priced:
    """Price ``terms`` on costs already simulated (vectorised; no randomness of its own).

    The money rules are :func:`cobic.contract.rules.apply_rules`, the same that settle a year.
    """
    if sim.years != terms.years:
        raise ValueError(f"costs were simulated for {sim.years}, the contract runs "
                         f"{terms.years}")
    exp_days = sim.child_days.mean(axis=0)
    values = _indicator_values(sim, terms)
    cap = _capitation(sim, terms, costs)
    c = apply_contract(terms, cap, exp_days, sim.child_days, sim.cost, values, sim.cost_growth)
    out, k = c.yearly, np.arange(1, terms.length + 1)
    # the schedule as signed: CPI-indexed on the stated path, before any path-dependent terms
    schedule = c.capitation[0] if not terms.path_capitation else \
        indexed_capitation(terms, cap)[0] if terms.indexation.method == "cpi" else cap
    return Priced(terms=terms, years=sim.years, capitation=schedule, expected_days=exp_days,
                  target=out.target, cost=sim.cost, variance=out.variance,
                  provider_share=c.provider, at_risk=out.pot,
                  composite=out.composite, incentive_earned=out.earned, withheld=out.withheld,
                  net_to_provider=c.net, hit_loss_cap=out.sharing.hit_loss_cap,
                  hit_gain_cap=out.sharing.hit_gain_cap, deflator=(1 + terms.inflation) ** k,
                  discount=discount_factors(terms.discount_rate, terms.length),
                  indicator_values=values,
                  paid_capitation=c.capitation if terms.path_capitation else None, end=c.end)


def price(demand: DemandPaths, costs: CostSpec, terms: ContractTerms, seed: int = 0) -> Priced:
    """Simulate the contract years' costs for every demand path and price the contract."""
    return apply_terms(simulate_contract_costs(demand, costs, terms, seed), terms, costs)
