"""Unit costs: weekly placement cost by placement group and provider type (``models/costs/``).

Each figure carries its price year and source. Case management, overheads, indexation and
efficiency are added by the capitation calculator.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from cobic.codes import CodeSets, default_codes
from cobic.errors import SpecError
from cobic.paths import models_dir
from cobic.schemas import UnitCostSchema

__all__ = ["load_unit_costs", "default_unit_costs_path"]

_TOP = {"name", "currency", "note", "placement"}
_ROW = {"placement_group", "provider", "weekly_cost", "price_year", "source"}


def default_unit_costs_path() -> Path:
    return models_dir() / "costs" / "england_2024_25.toml"


def load_unit_costs(path: Path | str, codes: CodeSets | None = None) -> pl.DataFrame:
    """Load a unit-cost TOML into a validated table.

    Returns ``placement_group, provider, weekly_cost, price_year, source``. Every placement
    group of ``codes`` must have a cost for provider ``all``.

    Raises
    ------
    SpecError
        Naming the key, for unknown keys, unknown placement groups, negative costs, a missing
        group or a malformed price year.
    """
    codes = codes or default_codes()
    src = str(path)
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    for k in raw:
        if k not in _TOP:
            raise SpecError(src, k, f"unknown key (allowed: {sorted(_TOP)})")
    rows = raw.get("placement", [])
    if not rows:
        raise SpecError(src, "placement", "no [[placement]] rows")
    for i, r in enumerate(rows):
        key = f"placement[{i}]"
        unknown = set(r) - _ROW
        if unknown:
            raise SpecError(src, f"{key}.{sorted(unknown)[0]}", "unknown key")
        missing = _ROW - set(r)
        if missing:
            raise SpecError(src, f"{key}.{sorted(missing)[0]}", "is required")
        if r["placement_group"] not in codes.group_names:
            raise SpecError(src, f"{key}.placement_group",
                            f"{r['placement_group']!r} is not one of {codes.group_names}")
        if not isinstance(r["weekly_cost"], int | float) or r["weekly_cost"] < 0:
            raise SpecError(src, f"{key}.weekly_cost",
                            f"must be a number >= 0, got {r['weekly_cost']!r}")
    df = pl.DataFrame(rows, schema={"placement_group": pl.String, "provider": pl.String,
                                    "weekly_cost": pl.Float64, "price_year": pl.String,
                                    "source": pl.String})
    try:
        df = UnitCostSchema.validate(df, lazy=True)
    except (SchemaErrors, SchemaError) as e:
        raise SpecError(src, "placement", str(e).splitlines()[0]) from None
    have_all = set(df.filter(pl.col("provider") == "all")["placement_group"])
    missing_groups = [g for g in codes.group_names if g not in have_all]
    if missing_groups:
        raise SpecError(src, "placement", f"no provider = 'all' cost for {missing_groups}")
    return df
