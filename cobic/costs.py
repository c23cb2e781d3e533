"""Costs of children looked after: placements, case management, overheads, indexation,
efficiency, start-up, unit-cost uncertainty and a high-cost placement tail.

A cost set is a TOML in ``models/costs/`` (see ``england_2024_25.toml``). The cost of a demand
path in contract year ``y`` (1 = the first year; year 0 is the financial year before) is::

    placements  = sum over groups  child_days[g] x weekly[g] / 7 x m[g] x (1 + u_g)^y x (1 - e)^y
    case mgmt   = child_months x per_child_month + entries x c_entry + moves x c_move
                  + exits x c_exit            (x (1 + u_cm)^(y0 - base + y) x (1 - e)^y)
    total       = (placements + case mgmt) x (1 + overhead) + start-up[y] + high-cost tail
    tail        = sum over N ~ Poisson(rate) placements of
                  (W x (1 + u_res)^(y0 - base) - weekly[residential]) x weeks x (1 + u_res)^y
                  x (1 - e)^y

where ``weekly[g]`` is each group's cost uprated from its price year to year 0, ``m[g]`` a
lognormal unit-cost multiplier per path (mean 1), ``u_g`` the group's annual uplift, ``u_cm``
case management's own ``index`` (from its price year all the way; the default uplift when not
given), ``W`` a high-cost placement's lognormal weekly cost (in the base price year, uprated
like the residential cost it is netted against) and ``e`` the efficiency factor. Everything is
array maths over paths x years x groups.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from cobic.calibration import CostGrowth
from cobic.codes import CodeSets, default_codes
from cobic.errors import SpecError
from cobic.paths import models_dir
from cobic.schemas import PROVIDERS, UnitCostSchema
from cobic.specs import known as _known
from cobic.specs import number, read_toml, shown, table, table_list, text
from cobic.units import pounds

__all__ = ["CostSpec", "DemandPaths", "CostPaths", "load_cost_spec", "load_unit_costs",
           "cost_per_year", "growth_paths", "LINES", "parse_cost_spec",
           "default_unit_costs_path", "simulate_costs", "fy_end_year", "DAYS_PER_MONTH",
           "load_growth", "with_growth", "default_growth_path", "mix_weekly_costs",
           "expected_high_cost"]

DAYS_PER_MONTH = 365.25 / 12
MAX_WEEKLY = 100_000.0  # GBP a week: the dearest placements reported cost under half this
# other stated limits (a value beyond them is a typo, not a cost): a child-month of case
# management at most a month of the dearest placement; an event at most a year of one; a
# start-up cost at most GBP 1bn a year; high-cost placements at most 1,000 a year (an LA
# reports about 10), each at most a year long
MAX_PER_CHILD_MONTH = MAX_WEEKLY * 52 / 12
MAX_EVENT = MAX_WEEKLY * 52
MAX_STARTUP = 1e9
MAX_HIGH_COST_PER_YEAR = 1_000.0
MAX_HIGH_COST_WEEKS = 52.0
_TOP = {"name", "currency", "note", "base_price_year", "placement", "provider_mix",
        "case_management", "overheads", "indexation", "efficiency", "uncertainty", "startup",
        "includes", "growth"}
LINES = ("placements", "case_management", "overheads")
_GROWTH = {"area", "origin", "level", "level_se", "step_sd", "noise_sd", "theta", "deviation",
           "deviation_se", "last_innovation", "source"}
_ROW = {"placement_group", "provider", "weekly_cost", "price_year", "source"}


def cost_per_year(total: float, years: float) -> float:
    """A care journey's cost per year, rounded to pennies (money is rounded only when shown)."""
    if years <= 0:
        raise ValueError(f"years must be positive, got {years}")
    return round(total / years, 2)


def default_unit_costs_path() -> Path:
    return models_dir() / "costs" / "england_2024_25.toml"


def default_growth_path() -> Path:
    """The shipped cost-growth model: fitted by ``cobic costs --growth-out`` on the s251
    history of England and 15 LAs to 2024-25 (the growth of England's spend per child-day)."""
    return models_dir() / "costs" / "growth_england_2024_25.toml"


def fy_end_year(price_year: str, key: str = "price_year", src: str = "") -> int:
    """'2024-25' -> 2025 (financial years are named by the year they end in, 1901-2200)."""
    try:
        a, b = price_year.split("-")
        start = int(a)
        if (len(a) != 4 or len(b) != 2 or (start + 1) % 100 != int(b)
                or not 1900 <= start < 2200):
            raise ValueError
    except (ValueError, AttributeError):
        raise SpecError(src, key, f"must be a financial year such as 2024-25, got "
                                  f"{shown(price_year)}") from None
    return start + 1


@dataclass(frozen=True)
class CostSpec:
    """A validated cost set. Weekly costs are by placement group (provider ``all``)."""

    name: str
    base_price_year: int  # financial year (ending) the costs are expressed in
    weekly: dict[str, float]  # group -> weekly cost in the base price year
    per_child_month: float
    event_costs: dict[str, float]  # entry, placement_move, exit (base price year)
    overhead_rate: float
    indexation: dict[str, float]  # group -> annual uplift (and "default")
    efficiency: float
    unit_cost_cv: float = 0.0
    high_cost_per_year: float = 0.0
    high_cost_mean_weekly: float = 0.0
    high_cost_sd_weekly: float = 0.0
    high_cost_weeks: float = 0.0
    startup: tuple[float, ...] = ()
    source: str = ""
    table: pl.DataFrame = field(default=None, repr=False, compare=False)
    includes: tuple[str, ...] = ("placements",)
    growth: CostGrowth | None = field(default=None, compare=False)
    growth_area: str = ""
    case_management_index: float | None = None  # [case_management] index (None: default)
    # plain-English notes of the defaults taken for tables the file left out (for the reader)
    assumed: tuple[str, ...] = field(default=(), compare=False)

    def uplift(self, group: str) -> float:
        return self.indexation.get(group, self.indexation["default"])

    @property
    def case_management_uplift(self) -> float:
        """Case management's annual uplift: its own ``index`` from its price year all the way
        (to the base price year, to year 0 and through the contract), else the default."""
        if self.case_management_index is None:
            return self.indexation["default"]
        return self.case_management_index

    def case_management_factor(self, year0: int, y: np.ndarray | int) -> np.ndarray:
        """Case-management costs of the base price year to contract year ``y``: uprated from
        the base price year to year 0 and on, made efficient from year 1."""
        u = self.case_management_uplift
        y = np.asarray(y)
        return (1 + u) ** (year0 - self.base_price_year) * (1 + u) ** y \
            * (1 - self.efficiency) ** y

    def weekly_in_year0(self, group: str, year0: int) -> float:
        """Weekly cost uprated from the base price year to contract year 0 (FY ending); with
        a fitted growth model the uprating is on the paths instead (see :func:`growth_paths`).
        """
        if self.growth is not None:
            return self.weekly[group]
        return self.weekly[group] * (1 + self.uplift(group)) ** (year0 - self.base_price_year)


def _number(src, key, v, lo=0.0, hi=None) -> float:
    """A finite number, by default >= 0 (see :func:`cobic.specs.number`)."""
    return number(src, key, v, lo, hi)


def _placement_row(src: str, i: int, r, groups: tuple[str, ...]) -> dict:
    """One ``[[placement]]`` row, checked, with ``weekly_cost`` as a float."""
    key = f"placement[{i}]"
    unknown = set(table(src, key, r)) - _ROW
    if unknown:
        raise SpecError(src, f"{key}.{sorted(unknown)[0]}", "unknown key")
    missing = _ROW - set(r)
    if missing:
        raise SpecError(src, f"{key}.{sorted(missing)[0]}", "is required")
    for k in ("placement_group", "provider", "source"):
        text(src, f"{key}.{k}", r[k])
    if r["placement_group"] not in groups:
        raise SpecError(src, f"{key}.placement_group",
                        f"{r['placement_group']!r} is not one of {groups}")
    if r["provider"] not in PROVIDERS:
        raise SpecError(src, f"{key}.provider", f"{r['provider']!r} is not one of {PROVIDERS}")
    fy_end_year(r["price_year"], f"{key}.price_year", src)
    return {**r, "weekly_cost": _number(src, f"{key}.weekly_cost", r["weekly_cost"], 0.0,
                                        MAX_WEEKLY)}


def _not_after_base(src: str, key: str, price_year: str, base: int) -> None:
    """A cost is quoted at prices of its year; one after the base price year is a forecast,
    not a price, and uprating it back would deflate it: refused."""
    if fy_end_year(price_year, key, src) > base:
        raise SpecError(src, key, f"{price_year!r} is after the cost set's base price year "
                        f"{base - 1}-{base % 100:02d}: give the price year the cost was "
                        "quoted in (the base price year or earlier)")


def _uncertainty(src: str, raw) -> dict[str, float]:
    """The ``[uncertainty]`` table as CostSpec fields; a high-cost tail needs a mean > 0."""
    names = ("unit_cost_cv", "high_cost_per_year", "high_cost_mean_weekly",
             "high_cost_sd_weekly", "high_cost_weeks")
    _known(src, "uncertainty", raw, {*names, "source"})
    hi = {"unit_cost_cv": 1.0, "high_cost_per_year": MAX_HIGH_COST_PER_YEAR,
          "high_cost_mean_weekly": MAX_WEEKLY, "high_cost_sd_weekly": MAX_WEEKLY,
          "high_cost_weeks": MAX_HIGH_COST_WEEKS}
    out = {k: _number(src, f"uncertainty.{k}", raw.get(k, 0.0), 0.0, hi[k]) for k in names}
    if out["high_cost_per_year"] > 0 and out["high_cost_mean_weekly"] <= 0:
        raise SpecError(src, "uncertainty.high_cost_mean_weekly", "must be above 0 when "
                        f"high_cost_per_year is above 0, got {out['high_cost_mean_weekly']!r}")
    return out


def load_unit_costs(path: Path | str, codes: CodeSets | None = None) -> pl.DataFrame:
    """The ``[[placement]]`` rows of a cost set as a validated table."""
    return load_cost_spec(path, codes).table


def load_cost_spec(path: Path | str, codes: CodeSets | None = None) -> CostSpec:
    """Load and check a cost-set TOML; every error names the key (nothing is guessed).

    The small tables are checked before the ``[[placement]]`` rows are schema-validated, so
    a bad value anywhere is reported quickly.

    Raises
    ------
    SpecError
        Naming the file and key, echoing the value: unreadable file, unknown key, wrong type,
        a number that is not finite or out of range, inconsistent placement rows.
    """
    return parse_cost_spec(read_toml(path), str(path), codes)


def parse_cost_spec(raw: dict, src: str = "cost set", codes: CodeSets | None = None) -> CostSpec:
    """A cost set from its parsed TOML (``src`` names it in errors); see :func:`load_cost_spec`."""
    codes = codes or default_codes()
    if "first_year" in raw and "placement" not in raw:
        raise SpecError(src, "first_year", "this looks like a contract (first_year, no "
                        "[[placement]] rows), not a cost set: give it with --contract")
    raw = _known(src, "", raw, _TOP)
    groups = (*codes.group_names, "all")
    if raw.get("currency", "GBP") != "GBP":
        raise SpecError(src, "currency", f"must be 'GBP' (cobic prices in pounds), got "
                        f"{shown(raw['currency'])}")
    base = fy_end_year(raw.get("base_price_year", "2024-25"), "base_price_year", src)
    indexation = _indexation(src, raw.get("indexation", {"default": 0.0}), groups)
    per_month, events, cm_index = _case_management(src, raw.get("case_management", {}), base)
    oh = _known(src, "overheads", raw.get("overheads", {}), {"rate", "source"})
    eff = _known(src, "efficiency", raw.get("efficiency", {}), {"rate", "source"})
    rates = {"overhead_rate": _number(src, "overheads.rate", oh.get("rate", 0.0), 0.0, 1.0),
             "efficiency": _number(src, "efficiency.rate", eff.get("rate", 0.0), 0.0, 0.5)}
    unc = _uncertainty(src, raw.get("uncertainty", {}))
    startup = _startup(src, raw.get("startup", {}))
    df = _placement_table(src, raw.get("placement", []), groups, codes)
    for i, r in enumerate(raw.get("placement", [])):
        _not_after_base(src, f"placement[{i}].price_year", r["price_year"], base)
    if "price_year" in raw.get("case_management", {}):
        _not_after_base(src, "case_management.price_year",
                        raw["case_management"]["price_year"], base)
    weekly = _weekly(src, df, table(src, "provider_mix", raw.get("provider_mix", {})), groups,
                     indexation, base)
    includes = _includes(src, raw.get("includes", ["placements"]), per_month, events,
                         rates["overhead_rate"])
    growth, area = _growth(src, raw.get("growth"), base)
    return CostSpec(
        name=text(src, "name", raw.get("name", src)), base_price_year=base, weekly=weekly,
        per_child_month=per_month, event_costs=events, indexation=indexation, **rates,
        **unc, startup=startup, source=src, table=df, includes=includes, growth=growth,
        growth_area=area, case_management_index=cm_index, assumed=_cost_defaults(raw),
    )


_COST_DEFAULTS = (
    ("indexation", "no indexation table: unit costs do not rise (0% a year)"),
    ("case_management", "no case-management table: no social-work cost per child-month "
                        "or per entry, move and exit (zero)"),
    ("overheads", "no overheads table: no overheads (zero)"),
    ("uncertainty", "no uncertainty table: unit costs are certain and there is no high-cost "
                    "tail"),
    ("startup", "no start-up table: no start-up costs (zero)"),
)


def _cost_defaults(raw: dict) -> tuple[str, ...]:
    """What the cost set assumes where its file is silent, in plain words."""
    return tuple(note for key, note in _COST_DEFAULTS
                 if key not in raw and not (key == "indexation" and "growth" in raw))


WEEKLY_RATIO_LIMITS = (0.2, 5.0)  # a weekly cost this far from England's: a units slip?


def cost_warnings(spec: CostSpec, reference: CostSpec | None = None) -> list[str]:
    """Plain-English warnings that a cost set's weekly costs look like a slip of units: a
    group at zero, or below a fifth or above five times ``reference`` (default: the shipped
    England averages, ``models/costs/england_2024_25.toml``), both at their base price year."""
    ref = reference or load_cost_spec(default_unit_costs_path())
    out = []
    for g, w in spec.weekly.items():
        r = ref.weekly.get(g)
        if r is None or r <= 0:
            continue
        if w <= 0:
            out.append(f"{spec.name}: the weekly cost of {g} is {pounds(w)}: nothing is paid for "
                       "its child-days.")
        elif not WEEKLY_RATIO_LIMITS[0] <= w / r <= WEEKLY_RATIO_LIMITS[1]:
            out.append(f"{spec.name}: the weekly cost of {g} is {pounds(w)}, {w / r:.2g} times "
                       f"England's average ({pounds(r)}): check its units (pounds a week, not "
                       "thousands, nor a year's cost).")
    return out


def _includes(src: str, raw, per_month: float, events: dict[str, float],
              overhead_rate: float) -> tuple[str, ...]:
    """What the weekly costs already include; a line they include may not be added again."""
    if not isinstance(raw, list) or not raw:
        raise SpecError(src, "includes", f"must be a list from {list(LINES)}, got {shown(raw)}")
    for i, v in enumerate(raw):
        if v not in LINES:
            raise SpecError(src, f"includes[{i}]", f"must be one of {list(LINES)}, got "
                                                   f"{shown(v)}")
    if "placements" not in raw:
        raise SpecError(src, "includes", "weekly costs always include placements")
    if "case_management" in raw and (per_month > 0 or any(v > 0 for v in events.values())):
        raise SpecError(src, "case_management", "the weekly costs already include case "
                        "management (includes); adding [case_management] costs would count "
                        "it twice: remove them, or take case_management out of includes")
    if "overheads" in raw and overhead_rate > 0:
        raise SpecError(src, "overheads.rate", "the weekly costs already include overheads "
                        "(includes); an overhead rate would count them twice")
    return tuple(dict.fromkeys(raw))


def _growth(src: str, raw, base: int) -> tuple[CostGrowth | None, str]:
    """The optional ``[growth]`` table: a fitted cost-growth model (``cobic costs``)."""
    if raw is None:
        return None, ""
    _known(src, "growth", raw, _GROWTH)
    for k in ("area", "origin", "level", "level_se", "step_sd", "noise_sd"):
        if k not in raw:
            raise SpecError(src, f"growth.{k}", "is required")
    nums = {k: _number(src, f"growth.{k}", raw[k], -0.5 if k == "level" else 0.0, 1.0)
            for k in ("level", "level_se", "step_sd", "noise_sd")}
    theta = _number(src, "growth.theta", raw.get("theta", 0.0), -0.95, 0.95)
    origin = int(_number(src, "growth.origin", raw["origin"], 1990, 2200))
    if origin != base:
        raise SpecError(src, "growth.origin", f"must be the base price year's ending year "
                        f"({base}), got {origin}")
    area = text(src, "growth.area", raw["area"])
    maps = {k: {a: _number(src, f"growth.{k}.{a}", v, -1.0, 1.0)
                for a, v in table(src, f"growth.{k}", raw.get(k, {})).items()}
            for k in ("deviation", "deviation_se", "last_innovation")}
    fitted = sorted(maps["deviation"])
    if fitted and area not in maps["deviation"]:
        close = difflib.get_close_matches(area, fitted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(src, "growth.area", f"{area!r} is not one of the areas this growth was "
                        f"fitted to{hint}: {', '.join(fitted)}; fit it with cobic costs "
                        "--area on an s251 table holding it, or use England")
    model = CostGrowth(origin=origin, **nums, deviation=maps["deviation"],
                       deviation_se=maps["deviation_se"],
                       year_effects=pl.DataFrame({"year": [], "estimate": [], "se": []}),
                       theta=theta, last_innovation=maps["last_innovation"])
    return model, area


def load_growth(path: Path | str) -> tuple[CostGrowth, str]:
    """A fitted cost-growth model and the area it is for, from a TOML holding a ``[growth]``
    table (a calibrated cost set, or a file from ``cobic costs --growth-out``).

    Raises
    ------
    SpecError
        Naming the file and key: no ``[growth]`` table, unknown keys, values out of range.
    """
    src = str(path)
    raw = _known(src, "", read_toml(path), _TOP)
    if "growth" not in raw:
        raise SpecError(src, "growth", "is required: this file holds no fitted cost growth")
    g = table(src, "growth", raw["growth"])
    origin = int(_number(src, "growth.origin", g.get("origin", 0), 1990, 2200))
    model, area = _growth(src, g, origin)
    return model, area


def with_growth(spec: CostSpec, growth: CostGrowth, area: str,
                efficiency: float = 0.0) -> CostSpec:
    """``spec`` with its fixed uplifts replaced by the fitted, uncertain ``growth`` of
    ``area`` (see :func:`growth_paths`), and ``efficiency`` (default 0: the s251 history shows
    no fall in spend per child).

    Raises
    ------
    ValueError
        The growth model starts in another year than the cost set's base price year.
    """
    if growth.origin != spec.base_price_year:
        raise ValueError(f"cost growth fitted to {growth.origin - 1}-{growth.origin % 100:02d} "
                         f"cannot uprate {spec.name!r}, whose prices are "
                         f"{spec.base_price_year - 1}-{spec.base_price_year % 100:02d}")
    assumed = tuple(a for a in spec.assumed if a != dict(_COST_DEFAULTS)["indexation"])
    return replace(spec, growth=growth, growth_area=area, efficiency=efficiency, assumed=assumed,
                   name=f"{spec.name}, growth fitted to s251 history ({area})")


def _to_base(amount: float, price_year: int, rate: float, base: int) -> float:
    """``amount`` uprated at ``rate`` a year from ``price_year`` to ``base`` (FY ending)."""
    return amount * (1 + rate) ** (base - price_year)


def _indexation(src: str, raw, groups: tuple[str, ...]) -> dict[str, float]:
    _known(src, "indexation", raw, {*groups, "default", "source"})
    out = {k: _number(src, f"indexation.{k}", v, -0.5, 0.5)
           for k, v in raw.items() if k != "source"}
    out.setdefault("default", 0.0)
    return out


def _case_management(src: str, cm, base: int
                     ) -> tuple[float, dict[str, float], float | None]:
    """Per child-month and per-event process costs, uprated to the base price year, and the
    ``index`` they are uprated at (None when not given)."""
    _known(src, "case_management", cm, {"per_child_month", "entry", "placement_move", "exit",
                                        "price_year", "index", "source"})
    year = fy_end_year(cm.get("price_year", f"{base - 1}-{base % 100:02d}"),
                       "case_management.price_year", src)
    rate = _number(src, "case_management.index", cm.get("index", 0.0), -0.5, 0.5)
    per_month = _to_base(_number(src, "case_management.per_child_month",
                                 cm.get("per_child_month", 0.0), 0.0, MAX_PER_CHILD_MONTH),
                         year, rate, base)
    events = {k: _to_base(_number(src, f"case_management.{k}", cm.get(k, 0.0), 0.0, MAX_EVENT),
                          year, rate, base) for k in ("entry", "placement_move", "exit")}
    return per_month, events, (rate if "index" in cm else None)


def _startup(src: str, su) -> tuple[float, ...]:
    _known(src, "startup", su, {"by_year", "source"})
    by_year = su.get("by_year", [])
    if not isinstance(by_year, list):
        raise SpecError(src, "startup.by_year", f"must be a list of numbers, got "
                                                f"{shown(by_year)}")
    return tuple(_number(src, f"startup.by_year[{i}]", v, 0.0, MAX_STARTUP)
                 for i, v in enumerate(by_year))


def _placement_table(src: str, rows, groups: tuple[str, ...], codes: CodeSets
                     ) -> pl.DataFrame:
    """The ``[[placement]]`` rows, checked one by one and then against the schema."""
    rows = table_list(src, "placement", rows)
    if not rows:
        raise SpecError(src, "placement", "no [[placement]] rows")
    rows = [_placement_row(src, i, r, groups) for i, r in enumerate(rows)]
    first: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows):
        j = first.setdefault((r["placement_group"], r["provider"]), i)
        if j != i:
            raise SpecError(src, f"placement[{i}]", f"repeats placement_group "
                            f"{r['placement_group']!r} with provider {r['provider']!r} "
                            f"of entry {j + 1} (placement[{j}]): give each group and "
                            "provider one cost")
    df = pl.DataFrame(rows, schema={"placement_group": pl.String, "provider": pl.String,
                                    "weekly_cost": pl.Float64, "price_year": pl.String,
                                    "source": pl.String})
    try:
        df = UnitCostSchema.validate(df, lazy=True)
    except (SchemaErrors, SchemaError) as e:
        raise SpecError(src, "placement", " ".join(str(e).split())[:300]) from None
    have_all = set(df.filter(pl.col("provider") == "all")["placement_group"])
    missing_groups = [g for g in codes.group_names if g not in have_all]
    if missing_groups:
        raise SpecError(src, "placement", f"no provider = 'all' cost for {missing_groups}")
    return df


def _weekly(src: str, df: pl.DataFrame, mix: dict, groups: tuple[str, ...],
            indexation: dict[str, float], base: int) -> dict[str, float]:
    """Weekly cost by group in the base price year (provider 'all', or the provider mix)."""
    by_provider: dict[tuple[str, str], float] = {}
    for r in df.iter_rows(named=True):
        g = r["placement_group"]
        rate = indexation.get(g, indexation["default"])
        by_provider[(g, r["provider"])] = _to_base(r["weekly_cost"],
                                                   fy_end_year(r["price_year"]), rate, base)
    weekly = {g: v for (g, prov), v in by_provider.items() if prov == "all"}
    # optional: the share of each group's days with independent providers; the group's weekly
    # cost is then the blend of its in-house (else 'all') and independent costs
    for g, share in mix.items():
        if g == "source":
            continue
        key = f"provider_mix.{g}"
        if g not in groups:
            raise SpecError(src, key, f"{g!r} is not a placement group")
        share = _number(src, key, share, 0.0, 1.0)
        if (g, "independent") not in by_provider:
            raise SpecError(src, key, f"needs a [[placement]] row for {g!r} with provider "
                                      "'independent'")
        if (g, "in_house") not in by_provider and g not in weekly:
            raise SpecError(src, key, f"needs a [[placement]] row for {g!r} with provider "
                                      "'in_house' or 'all'")
        own = by_provider.get((g, "in_house"), weekly.get(g))
        weekly[g] = (1 - share) * own + share * by_provider[(g, "independent")]
    return weekly


@dataclass(frozen=True)
class DemandPaths:
    """Demand per path and year, as the money side needs it.

    ``child_days[path, year, group]``; ``entries``, ``exits``, ``moves`` ``[path, year]``;
    ``days_by_duration[path, year, 3]`` (under 6 months, 6-12 months, 12+ months in care) when
    known; ``population[year]`` (0-17) when known. ``years`` are financial years (ending).
    """

    years: tuple[int, ...]
    groups: tuple[str, ...]
    child_days: np.ndarray
    entries: np.ndarray
    exits: np.ndarray
    moves: np.ndarray
    days_by_duration: np.ndarray | None = None
    population: np.ndarray | None = None

    @property
    def n_paths(self) -> int:
        return self.child_days.shape[0]

    @classmethod
    def from_paths(cls, paths, population: np.ndarray | None = None) -> DemandPaths:
        """From a simulated :class:`cobic.demand.base.Paths` of one area (stockflow, or a
        series model, whose child-days are then the mean of the stock at the two 31 Marches
        x the days in the year and whose events are unknown: zero)."""
        if len(paths.areas) != 1:
            raise ValueError(f"price one area at a time (got {len(paths.areas)})")
        ex = paths.extra
        if "child_days" in ex:
            cd = ex["child_days"][0]
            ent, exi = ex["entries"][0].sum(axis=2), ex["exits"][0].sum(axis=2)
            mov = ex["moves"][0].sum(axis=2) if "moves" in ex else np.zeros_like(ent)
            dur = ex["days_by_duration"][0] if "days_by_duration" in ex else None
            return cls(paths.periods, paths.groups, cd, ent, exi, mov, dur, population)
        return _from_stock(paths.periods, paths.values[0, :, :, 0], population)

    @classmethod
    def from_stock(cls, years: tuple[int, ...], stock: np.ndarray) -> DemandPaths:
        """From stock paths ``[path, year]`` on 31 March only (child-days from the mean of the
        31 March before and after; events unknown)."""
        return _from_stock(tuple(years), np.asarray(stock, dtype=float), None)

    @classmethod
    def from_table(cls, df: pl.DataFrame, source: str = "paths table") -> DemandPaths:
        """From a paths table written by ``cobic forecast --paths-out`` (one area)."""
        need = {"path", "period", "placement_group", "value"}
        missing = need - set(df.columns)
        if missing:
            raise ValueError(f"{source}: missing columns {sorted(missing)} (expected the paths "
                             "table written by cobic forecast --paths-out)")
        if "area" in df.columns and df["area"].n_unique() > 1:
            raise ValueError(f"{source}: holds {df['area'].n_unique()} areas; price one at a time")
        if "measure" not in df.columns:
            df = df.with_columns(measure=pl.lit("stock"))
        from cobic.demand.base import PATH_MEASURES

        unknown = sorted(set(df["measure"].unique().to_list()) - set(PATH_MEASURES))
        if unknown:
            raise ValueError(f"{source}: unknown measure(s) {unknown}; a paths table holds "
                             f"{', '.join(PATH_MEASURES)}")
        years = tuple(sorted(df["period"].unique().to_list()))
        paths = sorted(df["path"].unique().to_list())
        P, Y = len(paths), len(years)

        def cube(measure: str, labels: tuple[str, ...] | None = None) -> np.ndarray | None:
            part = df.filter(pl.col("measure") == measure)
            if part.height == 0:
                return None
            if labels is None:
                labels = tuple(g for g in dict.fromkeys(part["placement_group"].to_list())
                               if g != "all") or ("all",)
            out = np.zeros((P, Y, len(labels)))
            part = part.filter(pl.col("placement_group").is_in(list(labels)))
            pi = part["path"].to_numpy()
            yi = np.searchsorted(np.array(years), part["period"].to_numpy())
            gi = part["placement_group"].replace_strict(
                {g: i for i, g in enumerate(labels)}, return_dtype=pl.Int64).to_numpy()
            out[np.searchsorted(np.array(paths), pi), yi, gi] = part["value"].to_numpy()
            return out

        cd = cube("child_days")
        if cd is None:
            stock = cube("stock", ("all",))
            if stock is None:
                raise ValueError(f"{source}: no stock or child_days rows")
            return _from_stock(years, stock[:, :, 0], None)
        part = df.filter(pl.col("measure") == "child_days")
        groups = tuple(g for g in dict.fromkeys(part["placement_group"].to_list()) if g != "all")
        from cobic.demand.base import DURATION_CLASSES

        def events(m):
            c = cube(m, ("all",))
            return np.zeros((P, Y)) if c is None else c[:, :, 0]

        return cls(years, groups or ("all",), cd, events("entries"), events("exits"),
                   events("moves"), cube("days_by_duration", DURATION_CLASSES), None)

    def window(self, first_year: int, length: int) -> DemandPaths:
        """The contract years ``first_year .. first_year + length - 1`` (FY ending)."""
        want = list(range(first_year, first_year + length))
        missing = [y for y in want if y not in self.years]
        if missing:
            fy = ", ".join(f"{y - 1}-{y % 100:02d}" for y in missing)
            raise ValueError(f"the forecast has no years {missing} (it covers "
                             f"{self.years[0]}-{self.years[-1]}): the contract's financial "
                             f"years {fy} are beyond it; forecast further ahead (--horizon) "
                             "or start the contract earlier (first_year)")
        idx = [self.years.index(y) for y in want]

        def take(a):
            return None if a is None else a[:, idx]

        return DemandPaths(tuple(want), self.groups, self.child_days[:, idx], self.entries[:, idx],
                           self.exits[:, idx], self.moves[:, idx], take(self.days_by_duration),
                           None if self.population is None else self.population[idx])


    def only_groups(self, groups: tuple[str, ...]) -> DemandPaths:
        """The demand of a lot over some placement groups (e.g. a residential-only lot).

        Child-days are those of ``groups``; entries, exits, moves and days by duration, which
        are not known by group, are pro-rated by the groups' share of child-days on each path
        and year (a stated approximation: a residential lot is charged the case management
        of its share of the days in care).
        """
        unknown = [g for g in groups if g not in self.groups]
        if unknown or not groups:
            raise ValueError(f"the lot's placement groups {list(groups)} must be among the "
                             f"forecast's {list(self.groups)}"
                             + ("; a forecast of the stock alone has no groups: forecast "
                                "from SSDA903 episodes" if self.groups == ("all",) else ""))
        idx = [self.groups.index(g) for g in groups]
        cd = self.child_days[:, :, idx]
        total = self.child_days.sum(axis=2)
        share = np.divide(cd.sum(axis=2), total, out=np.zeros_like(total), where=total > 0)
        dur = None if self.days_by_duration is None else \
            self.days_by_duration * share[:, :, None]
        return DemandPaths(self.years, tuple(groups), cd, self.entries * share,
                           self.exits * share, self.moves * share, dur, self.population)


def _from_stock(years, stock: np.ndarray, population) -> DemandPaths:
    """Child-days from stock paths only: the mean of the stock on the 31 March before and
    after x 365 (the first year uses its own stock at both ends); events unknown."""
    prev = np.concatenate([stock[:, :1], stock[:, :-1]], axis=1)
    cd = ((prev + stock) / 2 * 365.0)[:, :, None]
    zero = np.zeros_like(stock)
    return DemandPaths(tuple(years), ("all",), cd, zero, zero, zero, None, population)


@dataclass(frozen=True)
class CostPaths:
    """Cost per path and contract year, by component (GBP, nominal)."""

    years: tuple[int, ...]
    placements: np.ndarray  # [path, year, group]
    case_management: np.ndarray  # [path, year]
    overheads: np.ndarray  # [path, year]
    startup: np.ndarray  # [year]
    high_cost: np.ndarray  # [path, year]

    @property
    def total(self) -> np.ndarray:
        return (self.placements.sum(axis=2) + self.case_management + self.overheads
                + self.startup[None, :] + self.high_cost)


def year_factors(spec: CostSpec, groups: tuple[str, ...], year0: int, n_years: int
                 ) -> np.ndarray:
    """``[year, group]`` multipliers (1+u_g)^y (1-e)^y for contract years 1..n."""
    y = np.arange(1, n_years + 1)[:, None]
    u = np.array([spec.uplift(g) for g in groups])[None, :]
    return (1 + u) ** y * (1 - spec.efficiency) ** y


def growth_paths(spec: CostSpec, year0: int, n_years: int, n_paths: int, seed: int = 0,
                 uncertain: bool = True, market_seed: int | None = None) -> np.ndarray:
    """``[path, year]`` cost-growth factors of contract years 1..n relative to the cost set's
    base price year, from its fitted growth model (its median path when not ``uncertain``;
    ``market_seed``: see :meth:`cobic.calibration.CostGrowth.simulate`)."""
    lead = year0 - spec.base_price_year
    if lead < 0:
        raise ValueError(f"cost set {spec.name!r} is calibrated to {spec.base_price_year}, after "
                         f"the contract's year 0 ({year0}): calibrate to an earlier year")
    gm = spec.growth
    if not uncertain:
        step = gm.level + gm.deviation.get(spec.growth_area, 0.0)
        g = np.exp(step * np.arange(1, lead + n_years + 1))[None, :].repeat(n_paths, axis=0)
    else:
        g = gm.simulate(spec.growth_area, lead + n_years, n_paths, seed + 11,
                        None if market_seed is None else market_seed + 11)
    return g[:, lead:lead + n_years]


def _price_factors(demand: DemandPaths, spec: CostSpec, seed: int, uncertain: bool,
                   market_seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weekly costs in year 0 ``[G]``, placement factors ``[P or 1, Y, G]`` and
    case-management factors (from the base price year) ``[P or 1, Y]``."""
    groups = demand.groups
    P, Y, G = demand.child_days.shape
    year0 = demand.years[0] - 1
    if year0 < spec.base_price_year:  # fixed uplifts, too: deflating back is not pricing
        raise ValueError(f"cost set {spec.name!r} is at {spec.base_price_year - 1}-"
                         f"{spec.base_price_year % 100:02d} prices, after the contract's year "
                         f"0 ({year0 - 1}-{year0 % 100:02d}): give a base price year at or "
                         "before it")
    weekly0 = np.array([spec.weekly_in_year0(g, year0) for g in groups])  # [G]
    f = year_factors(spec, groups, year0, Y)[None, :, :]  # [1, Y, G]
    # case management at its own index from its price year (else the default uplift)
    cmf = spec.case_management_factor(year0, np.arange(1, Y + 1))[None, :]
    if spec.growth is not None:  # fitted, uncertain growth replaces the fixed uplifts
        eff = (1 - spec.efficiency) ** np.arange(1, Y + 1)
        g = growth_paths(spec, year0, Y, P, seed, uncertain, market_seed) * eff[None, :]
        f, cmf = np.broadcast_to(g[:, :, None], (P, Y, G)), g
    return weekly0, f, cmf


def _tail_pricing(spec: CostSpec, groups: tuple[str, ...], year0: int, f: np.ndarray
                  ) -> tuple[float, float, np.ndarray]:
    """How a high-cost placement is priced: the residential weekly cost in year 0 it is netted
    against, the factor uprating its own weekly cost (given in the base price year) to year 0
    in the same way, and the contract-year factors ``[P or 1, Y]`` applied to both."""
    threshold = spec.weekly_in_year0("residential", year0) if "residential" in spec.weekly \
        else 0.0
    to_year0 = 1.0 if spec.growth is not None else \
        (1 + spec.uplift("residential")) ** (year0 - spec.base_price_year)
    by_year = f[:, :, groups.index("residential")] if "residential" in groups else f[:, :, 0]
    return threshold, to_year0, by_year


def _lognormal_params(spec: CostSpec) -> tuple[float, float]:
    """Mean and sd of log weekly cost of a high-cost placement (mean and sd as given)."""
    m, sd = spec.high_cost_mean_weekly, spec.high_cost_sd_weekly
    s2 = np.log(1 + (sd / m) ** 2)
    return float(np.log(m) - s2 / 2), float(np.sqrt(s2))


def expected_high_cost(demand: DemandPaths, spec: CostSpec, seed: int = 0) -> np.ndarray:
    """``[path, year]`` expected cost of the high-cost tail, at the factors of
    ``simulate_costs(..., uncertain=False)``: ``rate x weeks x E[(W - k)+]`` with ``W`` the
    (lognormal) weekly cost of a high-cost placement and ``k`` the residential weekly cost,
    both in year 0; ``E[(W - k)+] = m Phi(d1) - k Phi(d1 - v)``,
    ``d1 = (log(m / k) + v^2 / 2) / v``, ``v^2 = log(1 + sd^2 / m^2)``."""
    P, Y, _ = demand.child_days.shape
    if spec.high_cost_per_year <= 0:
        return np.zeros((P, Y))
    from scipy.special import ndtr

    year0 = demand.years[0] - 1
    _, f, _ = _price_factors(demand, spec, seed, uncertain=False)
    threshold, to_year0, by_year = _tail_pricing(spec, demand.groups, year0, f)
    m = spec.high_cost_mean_weekly * to_year0
    _, v = _lognormal_params(spec)
    if threshold <= 0:
        excess = m
    elif v == 0:
        excess = max(m - threshold, 0.0)
    else:
        d1 = (np.log(m / threshold) + v * v / 2) / v
        excess = m * ndtr(d1) - threshold * ndtr(d1 - v)
    per_year = spec.high_cost_per_year * excess * spec.high_cost_weeks
    return np.broadcast_to(per_year * by_year, (P, Y)).copy()


def _high_cost(rng: np.random.Generator, demand: DemandPaths, spec: CostSpec,
               f: np.ndarray) -> np.ndarray:
    """``[path, year]`` simulated high-cost tail: Poisson counts of lognormal weekly costs,
    each uprated to year 0 and netted against the residential weekly cost of year 0."""
    P, Y, _ = demand.child_days.shape
    counts = rng.poisson(spec.high_cost_per_year, size=(P, Y))
    total = int(counts.sum())
    if not total:
        return np.zeros((P, Y))
    mu, v = _lognormal_params(spec)
    w = np.exp(rng.normal(mu, v, size=total))
    threshold, to_year0, by_year = _tail_pricing(spec, demand.groups, demand.years[0] - 1, f)
    excess = np.maximum(w * to_year0 - threshold, 0.0) * spec.high_cost_weeks
    cell = np.repeat(np.arange(P * Y), counts.reshape(-1))
    return np.bincount(cell, weights=excess, minlength=P * Y).reshape(P, Y) * by_year


def simulate_costs(demand: DemandPaths, spec: CostSpec, seed: int = 0,
                   uncertain: bool = True, market_seed: int | None = None) -> CostPaths:
    """Cost of every demand path in every contract year (``demand.years`` are the contract
    years; year 0 is the financial year before the first). ``market_seed``: the seed of the
    market-wide part of fitted cost growth, shared by the LAs of a lot (see
    :meth:`cobic.calibration.CostGrowth.simulate`)."""
    groups = demand.groups
    missing = [g for g in groups if g not in spec.weekly]
    if missing:
        raise ValueError(f"cost set {spec.name!r} has no weekly cost for {missing}")
    P, Y, G = demand.child_days.shape
    rng = np.random.default_rng(seed)
    weekly0, f, cmf = _price_factors(demand, spec, seed, uncertain, market_seed)
    mult = np.ones((P, 1, G))
    if uncertain and spec.unit_cost_cv > 0:
        s2 = np.log(1 + spec.unit_cost_cv**2)
        mult = np.exp(rng.normal(-s2 / 2, np.sqrt(s2), size=(P, 1, G)))
    placements = demand.child_days * (weekly0 / 7.0)[None, None, :] * f * mult
    months = demand.child_days.sum(axis=2) / DAYS_PER_MONTH
    cm = (months * spec.per_child_month + demand.entries * spec.event_costs["entry"]
          + demand.moves * spec.event_costs["placement_move"]
          + demand.exits * spec.event_costs["exit"]) * cmf
    overheads = (placements.sum(axis=2) + cm) * spec.overhead_rate
    startup = np.zeros(Y)
    n = min(Y, len(spec.startup))
    startup[:n] = spec.startup[:n]
    high = np.zeros((P, Y))
    if uncertain and spec.high_cost_per_year > 0:
        high = _high_cost(rng, demand, spec, f)
    return CostPaths(demand.years, placements, cm, overheads, startup, high)


def mix_weekly_costs(spec: CostSpec | None = None) -> dict[str, float]:
    """Weekly cost per group of :data:`cobic.demand.mix.MIX_GROUPS` in the cost set's base price year.

    From ``spec`` (default: the shipped ``models/costs/england_2024_25.toml``); the children in
    suppressed cells are priced at the cost set's all-CLA (``all``) weekly cost.
    """
    from cobic.demand.mix import MIX_GROUPS, SUPPRESSED

    spec = spec or load_cost_spec(default_unit_costs_path())
    out = {g: spec.weekly[g] for g in MIX_GROUPS if g != SUPPRESSED}
    out[SUPPRESSED] = spec.weekly["all"]
    return out
