"""The contract's money rules, written once: pricing (:func:`cobic.contract.apply_terms`, arrays
``[path, year]``) and settlement (:func:`cobic.contract.settle`, one year: the same functions on
arrays of shape ``(1, 1)``) both call :func:`apply_rules`, and the settlement ledger's
explanation lines are read off its result.

For contract year ``y``, capitation ``C``, expected child-days ``E`` and actual child-days ``d``:

* capitated payment ``T``: ``C`` (``population``), ``C / E x d`` (``child_day``), or
  ``C + m x C / E x outside`` (``hybrid``: ``outside`` = child-days beyond ``E (1 +- c)``);
* at-risk pot ``I = w_y C``, withheld from ``T`` (``withhold``) or paid on top (``bonus``);
* indicator scores ``weight_k,y x a_k`` and their composite (summed in indicator order);
* variance ``D = A - T``, ``x = |D| / T``; the provider's share ``pi``: band by band
  (``s_i x clip(x - lower_i, 0, upper_i - lower_i) x T``) or first-dollar (``share x |D|`` once
  ``x`` reaches the threshold), at most ``cap x T``, signed as ``D``; no gain share when the
  composite is below the quality gate;
* net to provider ``R = T - withheld + earned + (D - pi)``; margin ``R - A``.

Multi-year terms (:func:`apply_contract`, the whole contract, columns = contract years 1..L):

* indexation: the capitation schedule ``C_y`` as set (``fixed``), times
  ``prod_{t<=y} (1 + cpi_t) / (1 + assumed_cpi)^y`` (``cpi``), or times the path's realised over
  assumed cost growth ``g[p, y]`` (``cost_index``);
* reopener at year ``r``: from ``r`` on, ``C[p, y] x factor x sum_j w_j A[p, j] /
  sum_j w_j C[p, j]`` over the years ``j`` before ``r``;
* end of contract (booked in the last year): the cumulative variance ``sum_y D`` shared once
  by the reconciliation's bands over the cumulative payment ``sum_y T`` (MSSP-style
  reconciliation, research/capitation.md 2.2 and 2.4), replacing the yearly shares already paid
  (the true-up is the difference); then the provider's total share clipped to
  ``[-gain x sum_y C, loss x sum_y C]`` (cumulative caps).

Thresholds (quality gate, first-dollar threshold, caps, binary and stepped indicator targets)
are compared with ONE tolerance, :data:`TOLERANCE`: ``x`` reaches ``t`` when
``x >= t - TOLERANCE x max(1, |t|)`` (absolute for fractions such as a composite or a share of
the payment, relative for larger values), so a composite of ``0.05 + 0.35 =
0.39999999999999997`` meets a gate of 0.40.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cobic.contract.terms import Band, ContractTerms, Indicator, Reopener, RiskShare

__all__ = ["TOLERANCE", "reaches", "achievement", "indicator_scores", "composite_of",
           "band_share", "Payment", "capitated_payment", "Sharing", "share_variance",
           "Outcome", "apply_rules", "indexed_capitation", "rebased_capitation",
           "EndOfContract", "end_of_contract", "ContractOutcome", "apply_contract"]

TOLERANCE = 1e-9


def reaches(x, threshold) -> np.ndarray:
    """``x >= threshold`` within :data:`TOLERANCE` (absolute up to 1, relative above).

    Parameters
    ----------
    x, threshold : array_like
        Broadcastable values.

    Returns
    -------
    numpy.ndarray
        Boolean, the broadcast shape.
    """
    t = np.asarray(threshold, dtype=float)
    return np.asarray(x, dtype=float) >= t - TOLERANCE * np.maximum(1.0, np.abs(t))


# ------------------------------------------------------------ indicators

def achievement(ind: Indicator, x: np.ndarray) -> np.ndarray:
    """Achievement in [0, 1] of indicator ``ind`` at values ``x`` (any shape).

    ``linear``: ``clip((x - floor) / (target - floor), 0, 1)``; ``binary``: 1 once the target
    is reached; ``stepped``: the payout of the furthest step reached. "Reached" is
    :func:`reaches` (on ``-x`` for lower-is-better indicators).
    """
    x = np.asarray(x, dtype=float)
    if ind.scoring == "linear":
        return np.clip((x - ind.floor) / (ind.target - ind.floor), 0.0, 1.0)
    sign = 1.0 if ind.direction == "higher" else -1.0

    def met(at: float) -> np.ndarray:
        return reaches(sign * x, sign * at)

    if ind.scoring == "binary":
        return met(ind.target).astype(float)
    out = np.zeros_like(x)
    for at, payout in ind.steps:
        out = np.where(met(at), np.maximum(out, payout), out)
    return out


def indicator_scores(indicators: tuple[Indicator, ...], values: np.ndarray,
                     year_index: np.ndarray) -> np.ndarray:
    """``weight x achievement`` per indicator: ``[..., year, k]`` from ``values[..., year, k]``.

    ``year_index[j]`` is the contract year (0-based) of column ``j``, picking the weights.
    """
    values = np.asarray(values, dtype=float)
    if not indicators:
        return np.zeros(values.shape[:-1] + (0,))
    w = np.array([ind.weights for ind in indicators]).T[np.asarray(year_index)]  # [year, k]
    return np.stack([w[:, k] * achievement(ind, values[..., k])
                     for k, ind in enumerate(indicators)], axis=-1)


def composite_of(scores: np.ndarray) -> np.ndarray:
    """The composite: the scores summed in indicator order (the ledger's order of rows)."""
    out = np.zeros(scores.shape[:-1])
    for k in range(scores.shape[-1]):
        out = out + scores[..., k]
    return out


# ------------------------------------------------------------ capitated payment

@dataclass(frozen=True)
class Payment:
    """The capitated payment ``target`` and its working (``rate`` per child-day, child-days
    ``outside`` the hybrid corridor), all of the shape of the child-days."""

    rate: np.ndarray
    outside: np.ndarray
    target: np.ndarray


def capitated_payment(terms: ContractTerms, capitation: np.ndarray,
                      expected_days: np.ndarray, days: np.ndarray) -> Payment:
    """The capitated payment on ``terms.basis`` (see the module docstring).

    Parameters
    ----------
    capitation, expected_days : numpy.ndarray
        ``[year]``.
    days : numpy.ndarray
        ``[path, year]`` actual child-days.
    """
    cap = np.asarray(capitation, dtype=float)
    exp = np.asarray(expected_days, dtype=float)
    days = np.asarray(days, dtype=float)
    rate = np.broadcast_to(np.divide(cap, exp, out=np.zeros(np.broadcast(cap, exp).shape),
                                     where=exp > 0), days.shape)
    outside = np.zeros(days.shape)
    if terms.basis == "population":
        target = np.broadcast_to(cap, days.shape).copy()
    elif terms.basis == "child_day":
        target = rate * days
    else:
        hi, lo = exp * (1 + terms.corridor), exp * (1 - terms.corridor)
        outside = np.maximum(days - hi, 0.0) + np.minimum(days - lo, 0.0)
        target = cap + terms.marginal_rate * rate * outside
    return Payment(rate, outside, target)


# ------------------------------------------------------------ risk share

def band_share(x: np.ndarray, bands: tuple[Band, ...]) -> np.ndarray:
    """Provider share of a variance of size ``x`` (fraction of the payment), before caps."""
    out = np.zeros_like(np.asarray(x, dtype=float))
    for b in bands:
        out = out + b.provider_share * np.clip(x - b.lower, 0.0, b.upper - b.lower)
    return out


@dataclass(frozen=True)
class Sharing:
    """The provider's share of the variance, step by step, signed as the variance (+ = the
    provider bears a loss, - = it keeps a gain); the steps add up to ``provider``.

    ``loss_bands`` / ``gain_bands``: the share in each band (zero on the other side or where
    first-dollar sharing applies); ``band_amounts``: the variance in each band (GBP);
    ``first_dollar``: the first-dollar share; ``cap`` and ``gate``: the adjustments of the cap
    and the quality gate. A gain blocked by the gate does not hit the gain cap.
    """

    x: np.ndarray
    loss: np.ndarray
    loss_bands: tuple[np.ndarray, ...]
    gain_bands: tuple[np.ndarray, ...]
    loss_band_amounts: tuple[np.ndarray, ...]
    gain_band_amounts: tuple[np.ndarray, ...]
    first_dollar: np.ndarray
    first_dollar_reached: np.ndarray
    cap: np.ndarray
    gate: np.ndarray
    provider: np.ndarray
    hit_loss_cap: np.ndarray
    hit_gain_cap: np.ndarray


def _side(mask, d, t, x, bands, fd, cap):
    """One side's (unsigned) share: band amounts, band shares, first-dollar, cap adjustment,
    capped total and cap hit, zero outside ``mask``."""
    zero = np.zeros(d.shape)
    amounts, shares, first, reached = (), (), zero, np.zeros(d.shape, dtype=bool)
    if fd is not None:
        reached = mask & reaches(x, fd[0])
        first = np.where(reached, fd[1] * np.abs(d), 0.0)
        raw, raw_x = first, np.where(reached, fd[1] * x, 0.0)
    else:
        amounts = tuple(np.where(mask, np.clip(x - b.lower, 0.0, b.upper - b.lower) * t, 0.0)
                        for b in bands)
        shares = tuple(b.provider_share * a for b, a in zip(bands, amounts, strict=True))
        raw = sum(shares, zero)
        raw_x = np.where(mask, band_share(x, bands), 0.0)
    if cap is None:
        return amounts, shares, first, reached, zero, raw, np.zeros(d.shape, dtype=bool)
    capped = np.minimum(raw, cap * t)
    hit = mask & (d != 0) & reaches(raw_x, cap)
    return amounts, shares, first, reached, capped - raw, capped, hit


def share_variance(variance: np.ndarray, target: np.ndarray, rs: RiskShare,
                   blocked: np.ndarray | bool = False) -> Sharing:
    """The provider's share of ``variance = cost - target`` under ``rs`` (any shape);
    ``blocked`` marks where the quality gate stops the provider keeping a saving."""
    d, t = np.broadcast_arrays(np.asarray(variance, dtype=float),
                               np.asarray(target, dtype=float))
    x = np.divide(np.abs(d), t, out=np.zeros(d.shape), where=t > 0)
    loss = d > 0
    lo = _side(loss, d, t, x, rs.loss_bands, rs.first_dollar_loss, rs.loss_cap)
    ga = _side(~loss, d, t, x, rs.gain_bands, rs.first_dollar_gain, rs.gain_cap)
    signed = np.where(loss, lo[5], -ga[5])
    gate = np.where(~loss & np.asarray(blocked), -signed, 0.0)
    return Sharing(x=x, loss=loss, loss_bands=lo[1], gain_bands=tuple(-s for s in ga[1]),
                   loss_band_amounts=lo[0], gain_band_amounts=ga[0],
                   first_dollar=lo[2] - ga[2], first_dollar_reached=lo[3] | ga[3],
                   cap=lo[4] - ga[4], gate=gate, provider=signed + gate,
                   hit_loss_cap=lo[6], hit_gain_cap=ga[6] & ~np.asarray(blocked))


# ------------------------------------------------------------ the whole year

@dataclass(frozen=True)
class Outcome:
    """Every amount of the contract rules (``[path, year]`` unless stated)."""

    payment: Payment
    pot: np.ndarray  # [year] at-risk pot I
    withheld: np.ndarray  # [year] withheld from the payment (withhold mode), else 0
    scores: np.ndarray  # [path, year, k] weight x achievement
    composite: np.ndarray
    earned: np.ndarray
    blocked: np.ndarray  # the quality gate blocks gain share
    cost: np.ndarray
    variance: np.ndarray
    sharing: Sharing
    net: np.ndarray  # net to provider = commissioner outlay

    @property
    def target(self) -> np.ndarray:
        return self.payment.target


def apply_rules(terms: ContractTerms, capitation: np.ndarray, expected_days: np.ndarray,
                days: np.ndarray, cost: np.ndarray, values: np.ndarray,
                year_index: np.ndarray) -> Outcome:
    """All the money rules of ``terms`` for given capitation, activity, cost and indicators.

    Parameters
    ----------
    capitation, expected_days : numpy.ndarray
        ``[year]``: the capitation and expected child-days.
    days, cost : numpy.ndarray
        ``[path, year]``: actual child-days and actual cost.
    values : numpy.ndarray
        ``[path, year, k]``: the indicators' values (``k`` may be 0).
    year_index : numpy.ndarray
        ``[year]``: each column's contract year, 0-based (picks shares and weights).
    """
    year_index = np.asarray(year_index)
    cap = np.asarray(capitation, dtype=float)
    pay = capitated_payment(terms, cap, expected_days, days)
    pot = np.array(terms.incentive_share)[year_index] * cap
    withheld = pot if terms.incentive_mode == "withhold" else np.zeros_like(pot)
    scores = indicator_scores(terms.indicators, values, year_index)
    comp = composite_of(scores)
    earned = pot * comp
    blocked = (~reaches(comp, terms.quality_gate) if terms.quality_gate is not None
               else np.zeros(comp.shape, dtype=bool))
    cost = np.asarray(cost, dtype=float)
    variance = cost - pay.target
    sh = share_variance(variance, pay.target, terms.risk_share, blocked)
    net = pay.target - withheld + earned + (variance - sh.provider)
    return Outcome(pay, pot, withheld, scores, comp, earned, blocked, cost, variance, sh, net)


# ------------------------------------------------------------ multi-year terms

def indexed_capitation(terms: ContractTerms, capitation: np.ndarray,
                       cost_growth: np.ndarray | None = None) -> np.ndarray:
    """The capitation schedule uprated by ``terms.indexation``.

    Parameters
    ----------
    capitation : numpy.ndarray
        ``[year]``: the schedule as set, contract years 1..L.
    cost_growth : numpy.ndarray, optional
        ``[path, year]``: realised over assumed cost growth (needed for ``cost_index``).

    Returns
    -------
    numpy.ndarray
        ``[1, year]`` (``fixed``, ``cpi``) or ``[path, year]`` (``cost_index``).
    """
    cap = np.asarray(capitation, dtype=float)[None, :]
    ix = terms.indexation
    if ix.method == "cpi":
        y = np.arange(1, cap.shape[1] + 1)
        return cap * np.cumprod(1 + np.array(ix.cpi[:cap.shape[1]])) / (1 + ix.assumed_cpi) ** y
    if ix.method == "cost_index":
        if cost_growth is None:
            raise ValueError("indexation 'cost_index' needs the realised cost growth on each "
                             "path (SimulatedCosts.cost_growth)")
        return cap * np.asarray(cost_growth, dtype=float)
    return cap


def rebased_capitation(reopener: Reopener, capitation: np.ndarray, cost: np.ndarray
                       ) -> np.ndarray:
    """The capitation re-based from the reopener's year on (see :class:`Reopener`).

    Parameters
    ----------
    capitation : numpy.ndarray
        ``[1 or path, year]``: the (indexed) capitation, columns contract years 1..L.
    cost : numpy.ndarray
        ``[path, year]``: actual cost.

    Returns
    -------
    numpy.ndarray
        ``[path, year]``; the years before ``reopener.year`` unchanged.
    """
    cost = np.asarray(cost, dtype=float)
    cap = np.broadcast_to(np.asarray(capitation, dtype=float), cost.shape).copy()
    r, w = reopener.year - 1, np.array(reopener.weights)
    window = slice(r - len(w), r)
    seen, paid = cost[:, window] @ w, cap[:, window] @ w
    ratio = reopener.factor * np.divide(seen, paid, out=np.ones_like(seen), where=paid > 0)
    cap[:, r:] *= ratio[:, None]
    return cap


@dataclass(frozen=True)
class EndOfContract:
    """The end-of-contract adjustment, per path (``[path]``), signed as the provider's share
    (+ = the provider bears a loss).

    ``yearly``: the yearly shares already settled, summed; ``reconciled``: the share of the
    cumulative variance (``yearly`` without a reconciliation); ``cap``: the cumulative caps'
    adjustment; ``provider``: the provider's final total share; ``sharing``: the
    reconciliation's steps (``None`` without one).
    """

    variance: np.ndarray
    target: np.ndarray
    capitation: np.ndarray
    yearly: np.ndarray
    reconciled: np.ndarray
    cap: np.ndarray
    provider: np.ndarray
    hit_loss_cap: np.ndarray
    hit_gain_cap: np.ndarray
    sharing: Sharing | None

    @property
    def true_up(self) -> np.ndarray:
        """The reconciliation's true-up of the yearly shares: ``reconciled - yearly``."""
        return self.reconciled - self.yearly

    @property
    def adjustment(self) -> np.ndarray:
        """Booked in the last year: ``provider - yearly`` (the true-up plus the cap's)."""
        return self.provider - self.yearly


def _cumulative_caps(terms: ContractTerms, share: np.ndarray, capitation: np.ndarray):
    """``share`` clipped to ``[-gain x capitation, loss x capitation]``, and the caps' hits."""
    inf = np.full(share.shape, np.inf)
    hi = inf if terms.cumulative_loss_cap is None else terms.cumulative_loss_cap * capitation
    lo = -inf if terms.cumulative_gain_cap is None else -terms.cumulative_gain_cap * capitation
    out = np.clip(share, lo, hi)
    finite_hi, finite_lo = np.isfinite(hi), np.isfinite(lo)
    return (out, finite_hi & (share > 0) & reaches(share, np.where(finite_hi, hi, 0.0)),
            finite_lo & (share < 0) & reaches(-share, np.where(finite_lo, -lo, 0.0)))


def end_of_contract(terms: ContractTerms, capitation: np.ndarray, target: np.ndarray,
                    variance: np.ndarray, provider_share: np.ndarray,
                    composite: np.ndarray) -> EndOfContract:
    """Reconciliation and cumulative caps over the whole contract.

    Parameters
    ----------
    capitation : numpy.ndarray
        ``[1 or path, year]``: the capitation paid.
    target, variance, provider_share, composite : numpy.ndarray
        ``[path, year]``: the yearly rules' capitated payment, variance, provider share and
        indicator composite (all the contract's years).

    Returns
    -------
    EndOfContract
        The reconciliation shares ``sum D`` over ``sum T`` by ``terms.reconciliation``; no gain
        share when the composite averaged over the years is below the quality gate.
    """
    v, t, yearly = variance.sum(axis=1), target.sum(axis=1), provider_share.sum(axis=1)
    c = np.broadcast_to(capitation, target.shape).sum(axis=1)
    sh, reconciled = None, yearly
    if terms.reconciliation is not None:
        blocked = (~reaches(composite.mean(axis=1), terms.quality_gate)
                   if terms.quality_gate is not None else False)
        sh = share_variance(v, t, terms.reconciliation, blocked)
        reconciled = sh.provider
    final, hit_loss, hit_gain = _cumulative_caps(terms, reconciled, c)
    return EndOfContract(v, t, c, yearly, reconciled, final - reconciled, final, hit_loss,
                         hit_gain, sh)


@dataclass(frozen=True)
class ContractOutcome:
    """The whole contract: the yearly rules on the capitation paid, and the end of contract.

    ``provider`` and ``net`` (``[path, year]``) include the end-of-contract adjustment in the
    last year; ``yearly`` holds the yearly rules' amounts without it.
    """

    yearly: Outcome
    capitation: np.ndarray  # [1 or path, year] paid (indexed, re-based)
    end: EndOfContract | None
    provider: np.ndarray
    net: np.ndarray


def apply_contract(terms: ContractTerms, capitation: np.ndarray, expected_days: np.ndarray,
                   days: np.ndarray, cost: np.ndarray, values: np.ndarray,
                   cost_growth: np.ndarray | None = None) -> ContractOutcome:
    """All the money rules of ``terms`` over the whole contract (columns = years 1..L).

    Indexation, then the reopener, set the capitation paid; :func:`apply_rules` settles each
    year on it; :func:`end_of_contract` adjusts the last year. Without multi-year terms this is
    :func:`apply_rules` exactly.

    Parameters
    ----------
    capitation, expected_days : numpy.ndarray
        ``[year]``: the schedule as set and the expected child-days.
    days, cost : numpy.ndarray
        ``[path, year]``.
    values : numpy.ndarray
        ``[path, year, k]``: indicator values.
    cost_growth : numpy.ndarray, optional
        ``[path, year]``: realised over assumed cost growth (indexation ``cost_index``).
    """
    cost = np.asarray(cost, dtype=float)
    if cost.shape[1] != terms.length:
        raise ValueError(f"the contract runs {terms.length} years, got {cost.shape[1]}")
    cap = indexed_capitation(terms, capitation, cost_growth)
    if terms.reopener is not None:
        cap = rebased_capitation(terms.reopener, cap, cost)
    paid = cap if terms.path_capitation else cap[0]
    out = apply_rules(terms, paid, expected_days, days, cost, values, np.arange(terms.length))
    if not terms.multi_year_end:
        return ContractOutcome(out, cap, None, out.sharing.provider, out.net)
    end = end_of_contract(terms, cap, out.target, out.variance, out.sharing.provider,
                          out.composite)
    adj = np.zeros(cost.shape)
    adj[:, -1] = end.adjustment
    return ContractOutcome(out, cap, end, out.sharing.provider + adj, out.net - adj)
