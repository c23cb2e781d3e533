"""Contract terms (``models/contracts/*.toml``) loaded into frozen, validated dataclasses.

Every invalid value raises :class:`cobic.errors.SpecError` naming the key: unknown keys,
lengths outside 5-7 years, unordered or overlapping bands, shares outside 0-1, indicator
weights that do not sum to 1, unknown directions or scoring rules, and so on. Every number is
read through :func:`cobic.specs.number`: never a boolean, always finite (no ``nan``/``inf``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from cobic.costs import fy_end_year
from cobic.errors import SpecError
from cobic.specs import known as _known
from cobic.specs import number as _num
from cobic.specs import read_toml, shown, table_list, text

__all__ = ["Band", "RiskShare", "Indicator", "Funder", "Reopener", "Indexation",
           "ContractTerms", "load_contract", "parse_contract"]

BASES = ("population", "child_day", "hybrid")
METHODS = ("forecast", "zero_based", "historic")
DIRECTIONS = ("higher", "lower")
SCORINGS = ("linear", "stepped", "binary")
INDEXATIONS = ("fixed", "cpi", "cost_index")
REOPENER_FACTOR = (0.5, 2.0)  # the re-based capitation scaled by at least half, at most twice


@dataclass(frozen=True)
class Band:
    """Variance between ``lower`` and ``upper`` (fractions of the capitation) is shared with the
    provider bearing ``provider_share`` of it."""

    lower: float
    upper: float
    provider_share: float


@dataclass(frozen=True)
class RiskShare:
    loss_bands: tuple[Band, ...]  # overspend (actual cost above capitation)
    gain_bands: tuple[Band, ...]  # underspend
    loss_cap: float | None  # provider's loss at most this fraction of the capitation
    gain_cap: float | None
    first_dollar_loss: tuple[float, float] | None = None  # (threshold, share of whole variance)
    first_dollar_gain: tuple[float, float] | None = None


@dataclass(frozen=True)
class Indicator:
    name: str
    direction: str
    floor: float
    target: float
    weights: tuple[float, ...]  # by contract year
    scoring: str
    steps: tuple[tuple[float, float], ...]  # (threshold, payout) for stepped scoring
    baseline: float
    improvement: float  # expected change per year
    sd: float  # year-to-year noise of the observed value
    # correlation of the observed value's noise with the contract year's cost on a path (0:
    # independent of cost, the default; > 0: the value is higher when cost is higher)
    cost_correlation: float = 0.0


@dataclass(frozen=True)
class Funder:
    name: str
    share: float


@dataclass(frozen=True)
class Reopener:
    """From contract year ``year`` (1-based) on, the capitation is re-based: multiplied by
    ``factor x sum_j w_j A_j / sum_j w_j C_j`` over the ``len(weights)`` years before ``year``
    (``weights`` oldest first, summing to 1; ``A`` actual cost, ``C`` capitation paid)."""

    year: int
    factor: float
    weights: tuple[float, ...]


@dataclass(frozen=True)
class Indexation:
    """How the capitation schedule is uprated. ``fixed``: as set (with the uplift assumed when
    it was set); ``cpi``: times ``prod_{t<=y} (1 + cpi_t) / (1 + assumed_cpi)`` in contract
    year ``y``; ``cost_index``: times the realised over the assumed cost growth on each path."""

    method: str = "fixed"
    cpi: tuple[float, ...] = ()  # by contract year (method cpi)
    assumed_cpi: float = 0.0  # the CPI the schedule assumed (method cpi)


@dataclass(frozen=True)
class ContractTerms:
    name: str
    first_year: int  # financial year, named by the year it ends
    length: int
    basis: str
    corridor: float
    marginal_rate: float
    method: str
    point: float  # quantile of the cost distribution for method "forecast"
    historic_outturn: float | None
    historic_year: int | None
    incentive_share: tuple[float, ...]
    incentive_mode: str
    quality_gate: float | None
    risk_share: RiskShare
    indicators: tuple[Indicator, ...]
    discount_rate: float
    inflation: float
    provider_reserve: float | None
    funders: tuple[Funder, ...]
    source: str = ""
    # multi-year terms (absent: each year settled on its own, the schedule fixed)
    cumulative_loss_cap: float | None = None  # provider's total loss <= this x total capitation
    cumulative_gain_cap: float | None = None
    reconciliation: RiskShare | None = None  # shares the cumulative variance at the end
    reopener: Reopener | None = None
    indexation: Indexation = Indexation()
    # plain-English notes of the defaults taken for tables the file left out (for the reader)
    assumed: tuple[str, ...] = field(default=(), compare=False)

    @property
    def multi_year_end(self) -> bool:
        """Whether the last year carries an end-of-contract adjustment (cumulative caps or
        a reconciliation)."""
        return (self.reconciliation is not None or self.cumulative_loss_cap is not None
                or self.cumulative_gain_cap is not None)

    @property
    def path_capitation(self) -> bool:
        """Whether the capitation paid depends on the path (cost indexation, a reopener)."""
        return self.reopener is not None or self.indexation.method == "cost_index"

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.first_year, self.first_year + self.length))


_TOP = {"name", "first_year", "length", "basis", "capitation", "hybrid", "incentive",
        "risk_share", "indicators", "finance", "funders", "note", "cumulative",
        "reconciliation", "reopener", "indexation"}
_RISK_KEYS = {"symmetric", "loss_bands", "gain_bands", "loss_cap", "gain_cap",
              "first_dollar_loss", "first_dollar_gain"}


def _bands(src: str, key: str, raw) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(src, key, "must be a non-empty list of {upto, provider_share}, got "
                        f"{shown(raw)}")
    bands, lower = [], 0.0
    for i, b in enumerate(raw):
        k = f"{key}[{i}]"
        _known(src, k, b, {"upto", "provider_share"})
        if "provider_share" not in b:
            raise SpecError(src, f"{k}.provider_share", "is required")
        share = _num(src, f"{k}.provider_share", b["provider_share"], 0.0, 1.0)
        if "upto" in b:
            upper = _num(src, f"{k}.upto", b["upto"], 0.0, 10.0)
            if upper <= lower:
                raise SpecError(src, f"{k}.upto", f"bands must be in increasing order without "
                                f"overlap: {upper} is not above the previous band's {lower}")
        elif i != len(raw) - 1:
            raise SpecError(src, f"{k}.upto", "only the last band may be open-ended")
        else:
            upper = math.inf
        bands.append(Band(lower, upper, share))
        lower = upper
    return tuple(bands)


def _first_dollar(src, key, raw):
    if raw is None:
        return None
    _known(src, key, raw, {"threshold", "share"})
    return (_num(src, f"{key}.threshold", raw.get("threshold", 0.0), 0.0, 1.0),
            _num(src, f"{key}.share", raw.get("share", 0.0), 0.0, 1.0))


def _risk_share(src: str, key: str, rs) -> RiskShare:
    """Bands, caps and first-dollar rules of the table ``key`` (``risk_share`` or
    ``reconciliation``): symmetric by default, the gain cap then mirroring the loss cap."""
    _known(src, key, rs, _RISK_KEYS)
    loss = _bands(src, f"{key}.loss_bands", rs.get("loss_bands", [{"provider_share": 1.0}]))
    symmetric = rs.get("symmetric", True)
    if not isinstance(symmetric, bool):
        raise SpecError(src, f"{key}.symmetric", f"must be true or false, got "
                                                 f"{shown(symmetric)}")
    if symmetric:
        if "gain_bands" in rs:
            raise SpecError(src, f"{key}.gain_bands", "give gain_bands only with "
                                                      "symmetric = false")
        gain = loss
    else:
        if "gain_bands" not in rs:
            raise SpecError(src, f"{key}.gain_bands", "symmetric = false needs gain_bands "
                            "(the provider's shares of an underspend), or symmetric = true")
        gain = _bands(src, f"{key}.gain_bands", rs.get("gain_bands"))
    caps = {}
    for k in ("loss_cap", "gain_cap"):
        v = rs.get(k, rs.get("loss_cap") if (symmetric and k == "gain_cap") else None)
        caps[k] = None if v is None else _num(src, f"{key}.{k}", v, 0.0, 10.0)
    return RiskShare(loss, gain, caps["loss_cap"], caps["gain_cap"],
                     _first_dollar(src, f"{key}.first_dollar_loss", rs.get("first_dollar_loss")),
                     _first_dollar(src, f"{key}.first_dollar_gain", rs.get("first_dollar_gain")))


def _step(src: str, key: str, raw, pct: bool = False) -> tuple[float, float]:
    _known(src, key, raw, {"at", "payout"})
    return (_num(src, f"{key}.at", raw.get("at"), *_PCT_RANGE[pct]),
            _num(src, f"{key}.payout", raw.get("payout"), 0.0, 1.0))


_PCT_RANGE = {True: (0.0, 100.0), False: (None, None)}


def is_percent(name: str) -> bool:
    """An indicator named as a percentage ("... (%)") lies in 0-100 (one rule for the
    contract's values and the settlement's outturns)."""
    return name.rstrip().endswith("(%)")


def _steps(src: str, key: str, rs, direction: str, pct: bool) -> tuple[tuple[float, float], ...]:
    """Stepped scoring's (threshold, payout) pairs: thresholds in the direction of better
    (rising for 'higher', falling for 'lower'), payouts never falling as they are passed."""
    if not isinstance(rs, list) or not rs:
        raise SpecError(src, f"{key}.steps", "stepped scoring needs steps = "
                                             "[{at = value, payout = share}, ...], got "
                                             f"{shown(rs)}")
    steps = tuple(_step(src, f"{key}.steps[{j}]", s, pct) for j, s in enumerate(rs))
    sign = 1 if direction == "higher" else -1
    for j in range(1, len(steps)):
        (a0, p0), (a1, p1) = steps[j - 1], steps[j]
        if not sign * (a1 - a0) > 0 or p1 < p0:
            raise SpecError(src, f"{key}.steps[{j}]", f"steps must go from worse to better "
                            f"({'rising' if sign > 0 else 'falling'} 'at') with payouts that "
                            f"never fall: {a0} -> {a1}, payout {p0} -> {p1}")
    return steps


def _indicator(src: str, i: int, raw: dict, length: int) -> Indicator:
    key = f"indicators[{i}]"
    _known(src, key, raw, {"name", "direction", "floor", "target", "weight", "weights",
                           "scoring", "steps", "baseline", "improvement", "sd",
                           "cost_correlation"})
    for req in ("name", "direction", "floor", "target"):
        if req not in raw:
            raise SpecError(src, f"{key}.{req}", "is required")
    direction = raw["direction"]
    if direction not in DIRECTIONS:
        raise SpecError(src, f"{key}.direction", f"must be one of {DIRECTIONS}, got "
                                                 f"{direction!r}")
    name = text(src, f"{key}.name", raw["name"])
    pct = is_percent(name)
    lo, hi = _PCT_RANGE[pct]
    floor = _num(src, f"{key}.floor", raw["floor"], lo, hi)
    target = _num(src, f"{key}.target", raw["target"], lo, hi)
    if (direction == "higher" and not target > floor) or (direction == "lower"
                                                         and not target < floor):
        raise SpecError(src, f"{key}.target", f"with direction {direction!r} the target "
                        f"({target}) must be {'above' if direction == 'higher' else 'below'} "
                        f"the floor ({floor})")
    if "weights" in raw:
        ws = raw["weights"]
        if not isinstance(ws, list) or len(ws) != length:
            raise SpecError(src, f"{key}.weights", f"needs one weight per contract year "
                                                   f"({length}), got {shown(ws)}")
        weights = tuple(_num(src, f"{key}.weights[{j}]", w, 0.0, 1.0) for j, w in enumerate(ws))
    else:
        w = _num(src, f"{key}.weight", raw.get("weight", 0.0), 0.0, 1.0)
        weights = (w,) * length
    scoring = raw.get("scoring", "linear")
    if scoring not in SCORINGS:
        raise SpecError(src, f"{key}.scoring", f"must be one of {SCORINGS}, got {scoring!r}")
    steps = ()
    if scoring == "stepped":
        steps = _steps(src, key, raw.get("steps"), direction, pct)
    elif "steps" in raw:
        raise SpecError(src, f"{key}.steps", f"only stepped scoring has steps (scoring is "
                                             f"{scoring!r}): remove them or set scoring = "
                                             "'stepped'")
    return Indicator(
        name=name, direction=direction, floor=floor,
        target=target, weights=weights, scoring=scoring, steps=steps,
        baseline=_num(src, f"{key}.baseline", raw.get("baseline", floor), lo, hi),
        improvement=_num(src, f"{key}.improvement", raw.get("improvement", 0.0),
                         *((-100.0, 100.0) if pct else (None, None))),
        sd=_num(src, f"{key}.sd", raw.get("sd", 0.0), 0.0, 100.0 if pct else None),
        cost_correlation=_num(src, f"{key}.cost_correlation", raw.get("cost_correlation", 0.0),
                              -1.0, 1.0),
    )


def _fy(year: int) -> str:
    return f"{year - 1}-{year % 100:02d}"


_CAPITATION_KEYS = {"point": ("forecast",), "historic_outturn": ("historic",),
                    "historic_year": ("historic",)}


def _applies(src: str, cap: dict, method: str) -> None:
    """Refuse a capitation key that the method does not use (it would be ignored)."""
    for k, methods in _CAPITATION_KEYS.items():
        if k in cap and method not in methods:
            raise SpecError(src, f"capitation.{k}", f"applies to method "
                            f"{' or '.join(repr(m) for m in methods)} only, and the method is "
                            f"{method!r}: remove it, or change the method")


def _point(src: str, point) -> float:
    """The capitation point: ``P80`` or ``0.8``, from P1 to P99."""
    if isinstance(point, str) and point.upper().startswith("P"):
        try:
            value = float(point[1:]) / 100
        except ValueError:
            raise SpecError(src, "capitation.point", f"expected P50, P80 or 0.8; got {point!r}"
                            ) from None
        if not 0.01 <= value <= 0.99:
            raise SpecError(src, "capitation.point", f"must be P1 to P99 (or 0.01 to 0.99), "
                            f"got {point!r}")
        point = value
    return _num(src, "capitation.point", point, 0.01, 0.99)


def parse_contract(raw: dict, src: str = "contract") -> ContractTerms:
    """Validate a contract given as a dict (as read from TOML)."""
    if "placement" in raw and "first_year" not in raw:
        raise SpecError(src, "placement", "this looks like a cost set ([[placement]] rows, no "
                        "first_year), not a contract: give it with --costs")
    _known(src, "", raw, _TOP)
    for req in ("first_year", "length", "basis"):
        if req not in raw:
            raise SpecError(src, req, "is required")
    first_year = fy_end_year(str(raw["first_year"]), "first_year", src)
    length = int(_num(src, "length", raw["length"], whole=True))
    if not 5 <= length <= 7:
        raise SpecError(src, "length", f"COBIC contracts run 5 to 7 years, got {length}")
    basis = raw["basis"]
    if basis not in BASES:
        raise SpecError(src, "basis", f"must be one of {BASES}, got {basis!r}")
    hy = raw.get("hybrid", {})
    _known(src, "hybrid", hy, {"corridor", "marginal_rate"})
    corridor = _num(src, "hybrid.corridor", hy.get("corridor", 0.03), 0.0, 1.0)
    marginal = _num(src, "hybrid.marginal_rate", hy.get("marginal_rate", 0.25), 0.0, 1.0)

    cap = raw.get("capitation", {})
    _known(src, "capitation", cap, {"method", "point", "historic_outturn", "historic_year"})
    method = cap.get("method", "forecast")
    if method not in METHODS:
        raise SpecError(src, "capitation.method", f"must be one of {METHODS}, got {method!r}")
    _applies(src, cap, method)
    point = _point(src, cap.get("point", 0.5))
    hist_out = hist_year = None
    if method == "historic":
        if "historic_outturn" not in cap or "historic_year" not in cap:
            raise SpecError(src, "capitation.historic_outturn", "method 'historic' needs "
                            "historic_outturn (GBP) and historic_year (e.g. 2024-25)")
        hist_out = _num(src, "capitation.historic_outturn", cap["historic_outturn"], 0.0)
        hist_year = fy_end_year(str(cap["historic_year"]), "capitation.historic_year", src)
        if hist_year >= first_year:
            raise SpecError(src, "capitation.historic_year", f"must be a year before the "
                            f"contract's first year ({_fy(first_year)}): an outturn is spent, "
                            f"not forecast; got {_fy(hist_year)}")

    inc = raw.get("incentive", {})
    _known(src, "incentive", inc, {"share_by_year", "mode", "quality_gate"})
    shares = inc.get("share_by_year", [0.0] * length)
    if not isinstance(shares, list) or len(shares) != length:
        raise SpecError(src, "incentive.share_by_year",
                        f"needs one share per contract year ({length}), got {shown(shares)}")
    shares = tuple(_num(src, f"incentive.share_by_year[{i}]", s, 0.0, 1.0)
                   for i, s in enumerate(shares))
    mode = inc.get("mode", "withhold")
    if mode not in ("withhold", "bonus"):
        raise SpecError(src, "incentive.mode", f"must be 'withhold' or 'bonus', got {mode!r}")
    gate = inc.get("quality_gate")
    gate = None if gate is None else _num(src, "incentive.quality_gate", gate, 0.0, 1.0)

    risk = _risk_share(src, "risk_share", raw.get("risk_share", {}))

    inds = tuple(_indicator(src, i, r, length)
                 for i, r in enumerate(table_list(src, "indicators", raw.get("indicators", []))))
    names = [ind.name for ind in inds]
    for j, n in enumerate(names):
        if n in names[:j]:
            raise SpecError(src, f"indicators[{j}].name", f"{n!r} is also indicators"
                            f"[{names.index(n)}]: each indicator needs its own name")
    if inds:
        for y in range(length):
            total = sum(ind.weights[y] for ind in inds)
            if abs(total - 1.0) > 1e-9:
                raise SpecError(src, "indicators.weight", f"weights must sum to 1 in every "
                                f"year; contract year {y + 1} sums to {total:.4g}")
    elif any(shares):
        raise SpecError(src, "indicators", "an incentive share needs at least one indicator")

    fin = raw.get("finance", {})
    _known(src, "finance", fin, {"discount_rate", "inflation", "provider_reserve"})
    reserve = fin.get("provider_reserve")
    funders_raw = table_list(src, "funders", raw.get("funders", [{"name": "Local authority",
                                                                   "share": 1.0}]))
    funders = []
    for i, f in enumerate(funders_raw):
        _known(src, f"funders[{i}]", f, {"name", "share"})
        funders.append(Funder(text(src, f"funders[{i}].name", f.get("name", f"funder {i + 1}")),
                              _num(src, f"funders[{i}].share", f.get("share"), 0.0, 1.0)))
    if abs(sum(f.share for f in funders) - 1.0) > 1e-9:
        raise SpecError(src, "funders", f"shares must sum to 1, got "
                                        f"{sum(f.share for f in funders):.4g}")
    inflation = _num(src, "finance.inflation", fin.get("inflation", 0.02), -0.1, 0.3)
    return ContractTerms(
        name=text(src, "name", raw.get("name", src)), first_year=first_year, length=length,
        basis=basis,
        corridor=corridor, marginal_rate=marginal, method=method, point=point,
        historic_outturn=hist_out, historic_year=hist_year, incentive_share=shares,
        incentive_mode=mode, quality_gate=gate, risk_share=risk, indicators=inds,
        discount_rate=_num(src, "finance.discount_rate", fin.get("discount_rate", 0.035),
                           0.0, 0.2),
        inflation=inflation,
        provider_reserve=None if reserve is None else _num(src, "finance.provider_reserve",
                                                           reserve, 0.0),
        funders=tuple(funders), source=src, **_multi_year(src, raw, length, inflation),
        assumed=_contract_defaults(raw),
    )


def _contract_defaults(raw: dict) -> tuple[str, ...]:
    """What the contract pays by default where its file is silent, in plain words."""
    cap, rs, fin = raw.get("capitation", {}), raw.get("risk_share", {}), raw.get("finance", {})
    inc, ro = raw.get("incentive", {}), raw.get("reopener")
    said = [
        ("method" not in cap, "no capitation method given: the capitation is the cost forecast"),
        (cap.get("method", "forecast") == "forecast" and "point" not in cap,
         "no capitation point given: the forecast's median (P50) is paid"),
        ("loss_bands" not in rs, "no risk-share bands given: the provider bears all of any "
                                 "overspend and keeps all of any underspend"),
        ("loss_cap" not in rs, "no loss cap given: the provider's losses are not capped"),
        ("gain_cap" not in rs and ("loss_cap" not in rs or rs.get("symmetric") is False),
         "no gain cap given: the provider's gains are not capped"),
        ("share_by_year" not in inc, "no incentive shares given: nothing is at risk on the "
                                     "outcome indicators"),
        ("share_by_year" in inc and "mode" not in inc,
         "no incentive mode given: the share at risk is withheld from the capitation and "
         "earned back"),
        ("share_by_year" in inc and "quality_gate" not in inc,
         "no quality gate given: the provider keeps its share of a saving whatever the "
         "indicators"),
        ("provider_reserve" not in fin, "no provider reserve given: the reserve is taken as "
                                        "the loss cap x the mean annual capitation, or none "
                                        "without a cap"),
        ("discount_rate" not in fin, "no discount rate given: 3.5% a year (HM Treasury Green "
                                     "Book)"),
        ("inflation" not in fin, "no inflation given: 2% a year"),
        ("funders" not in raw, "no funders given: the local authority pays it all"),
        ("indexation" not in raw, "no indexation given: the capitation schedule is fixed "
                                  "when the contract is signed"),
        (raw.get("basis") == "hybrid" and "hybrid" not in raw,
         "no [hybrid] table given: a corridor of 3% and a marginal rate of 25%"),
        (ro is not None and "factor" not in (ro or {}),
         "no reopener factor given: 1 (the capitation re-based to the cost ratio as it is)"),
        (ro is not None and "weights" not in (ro or {}),
         "no reopener weights given: the year before the reopener alone"),
    ]
    return tuple(note for missing, note in said if missing)


def _multi_year(src: str, raw: dict, length: int, inflation: float) -> dict:
    """The multi-year terms as :class:`ContractTerms` keywords (absent tables: none)."""
    cum = raw.get("cumulative", {})
    _known(src, "cumulative", cum, {"loss_cap", "gain_cap"})
    caps = {k: None if cum.get(k) is None else _num(src, f"cumulative.{k}", cum[k], 0.0, 10.0)
            for k in ("loss_cap", "gain_cap")}
    rec = raw.get("reconciliation")
    return {"cumulative_loss_cap": caps["loss_cap"], "cumulative_gain_cap": caps["gain_cap"],
            "reconciliation": None if rec is None else _risk_share(src, "reconciliation", rec),
            "reopener": _reopener(src, raw.get("reopener"), length),
            "indexation": _indexation(src, raw.get("indexation", {}), length, inflation)}


def _reopener(src: str, raw, length: int) -> Reopener | None:
    """``[reopener]``: ``year`` (2..length), ``factor`` (default 1), ``weights`` of the years
    before it, oldest first (default ``[1.0]``: the year before)."""
    if raw is None:
        return None
    _known(src, "reopener", raw, {"year", "factor", "weights"})
    if "year" not in raw:
        raise SpecError(src, "reopener.year", "is required (the contract year re-based first)")
    year = int(_num(src, "reopener.year", raw["year"], 2, length, whole=True))
    ws = raw.get("weights", [1.0])
    if not isinstance(ws, list) or not 1 <= len(ws) <= year - 1:
        many = "1 weight (the year" if year == 2 else f"1 to {year - 1} weights (the years"
        raise SpecError(src, "reopener.weights", f"needs {many} before year {year}, oldest "
                        f"first), got {shown(ws)}")
    weights = tuple(_num(src, f"reopener.weights[{j}]", w, 0.0, 1.0) for j, w in enumerate(ws))
    if abs(sum(weights) - 1.0) > 1e-9:
        raise SpecError(src, "reopener.weights", f"must sum to 1, got {sum(weights):.4g}")
    factor = _num(src, "reopener.factor", raw.get("factor", 1.0), -math.inf, math.inf)
    lo, hi = REOPENER_FACTOR
    if not lo <= factor <= hi:
        raise SpecError(src, "reopener.factor", f"must be between {lo:g} and {hi:g}, got "
                        f"{factor:g}: the factor scales the re-based capitation (0.98 takes "
                        "2% off it); one that halves or more than doubles it is a new "
                        "contract, not a reopener")
    return Reopener(year, factor, weights)


def _indexation(src: str, raw, length: int, inflation: float) -> Indexation:
    """``[indexation]``: ``method`` fixed / cpi / cost_index; for cpi, ``cpi`` (a rate or one
    per contract year) and ``assumed_cpi`` (default ``finance.inflation``)."""
    _known(src, "indexation", raw, {"method", "cpi", "assumed_cpi"})
    method = raw.get("method", "fixed")
    if method not in INDEXATIONS:
        raise SpecError(src, "indexation.method", f"must be one of {INDEXATIONS}, got "
                                                  f"{method!r}")
    if method != "cpi":
        for k in ("cpi", "assumed_cpi"):
            if k in raw:
                raise SpecError(src, f"indexation.{k}", "give it only with method = 'cpi'")
        return Indexation(method)
    if "cpi" not in raw:
        raise SpecError(src, "indexation.cpi", "method 'cpi' needs cpi: a rate or one per "
                                               "contract year")
    cpi = raw["cpi"] if isinstance(raw["cpi"], list) else [raw["cpi"]] * length
    if len(cpi) != length:
        raise SpecError(src, "indexation.cpi", f"needs one rate per contract year ({length}), "
                                               f"got {shown(raw['cpi'])}")
    return Indexation("cpi", tuple(_num(src, f"indexation.cpi[{j}]", c, -0.1, 0.3)
                                   for j, c in enumerate(cpi)),
                      _num(src, "indexation.assumed_cpi", raw.get("assumed_cpi", inflation),
                           -0.1, 0.3))


def load_contract(path: Path | str) -> ContractTerms:
    """Load and validate a contract TOML.

    Raises
    ------
    SpecError
        Naming the file and key; also for a missing, unreadable, non-UTF-8 or invalid TOML file.
    """
    return parse_contract(read_toml(path), str(path))
