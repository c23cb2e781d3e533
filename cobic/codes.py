"""SSDA903 code sets, placement groups, exit reasons and age bands, loaded from ``models/``.

The mapping is data (``models/ssda903.toml``), not code; this module only loads and checks it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cobic.errors import SpecError
from cobic.paths import models_dir

__all__ = ["AgeBand", "CodeSets", "load_codes", "default_codes"]


@dataclass(frozen=True)
class AgeBand:
    label: str
    min_age: int
    max_age: int


@dataclass(frozen=True)
class CodeSets:
    """Allowed codes per SSDA903 column and the groupings cobic derives from them."""

    codes: dict[str, tuple[str, ...]]
    short_breaks: tuple[str, ...]
    placement_change_rne: tuple[str, ...]
    new_period_rne: tuple[str, ...]
    continues_rec: str
    placement_groups: dict[str, tuple[str, ...]]
    exit_reasons: dict[str, tuple[str, ...]]
    age_bands: tuple[AgeBand, ...]

    @property
    def place_to_group(self) -> dict[str, str]:
        return {code: g for g, codes in self.placement_groups.items() for code in codes}

    @property
    def rec_to_reason(self) -> dict[str, str]:
        return {code: g for g, codes in self.exit_reasons.items() for code in codes}

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(self.placement_groups)

    @property
    def age_band_labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.age_bands)


_TOP_KEYS = {"codes", "legal_status", "episodes", "placement_groups", "exit_reasons", "age_bands"}
_CODE_COLUMNS = {"SEX", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "REC"}


def _tuple_of_str(src: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(src, key, f"must be a list of strings, got {value!r}")
    if len(set(value)) != len(value):
        raise SpecError(src, key, "lists a code twice")
    return tuple(value)


def _partition(src: str, key: str, groups: dict, universe: set[str]) -> dict[str, tuple[str, ...]]:
    out = {g: _tuple_of_str(src, f"{key}.{g}", v) for g, v in groups.items()}
    seen: dict[str, str] = {}
    for g, codes in out.items():
        for c in codes:
            if c not in universe:
                raise SpecError(src, f"{key}.{g}", f"code {c!r} is not in the allowed code list")
            if c in seen:
                raise SpecError(src, f"{key}.{g}", f"code {c!r} is already in group {seen[c]!r}")
            seen[c] = g
    missing = sorted(universe - set(seen))
    if missing:
        raise SpecError(src, key, f"codes {missing} belong to no group")
    return out


def load_codes(path: Path | str) -> CodeSets:
    """Load and check a code-set TOML; unknown keys and inconsistent groups raise SpecError."""
    path = Path(path)
    src = str(path)
    with path.open("rb") as f:
        raw = tomllib.load(f)
    for k in raw:
        if k not in _TOP_KEYS:
            raise SpecError(src, k, f"unknown key (allowed: {sorted(_TOP_KEYS)})")
    codes_raw = raw.get("codes", {})
    missing = _CODE_COLUMNS - set(codes_raw)
    if missing:
        raise SpecError(src, "codes", f"missing code lists for {sorted(missing)}")
    for k in codes_raw:
        if k not in _CODE_COLUMNS:
            raise SpecError(src, f"codes.{k}", "unknown column")
    codes = {k: _tuple_of_str(src, f"codes.{k}", v) for k, v in codes_raw.items()}
    ls = raw.get("legal_status", {})
    short = _tuple_of_str(src, "legal_status.short_breaks", ls.get("short_breaks", []))
    if not set(short) <= set(codes["LS"]):
        raise SpecError(src, "legal_status.short_breaks", "lists a code not in codes.LS")
    ep = raw.get("episodes", {})
    pc = _tuple_of_str(src, "episodes.placement_change_rne", ep.get("placement_change_rne", []))
    npd = _tuple_of_str(src, "episodes.new_period_rne", ep.get("new_period_rne", []))
    for key, vals in (("placement_change_rne", pc), ("new_period_rne", npd)):
        if not set(vals) <= set(codes["RNE"]):
            raise SpecError(src, f"episodes.{key}", "lists a code not in codes.RNE")
    cont = ep.get("continues_rec", "X1")
    if cont not in codes["REC"]:
        raise SpecError(src, "episodes.continues_rec", f"{cont!r} is not in codes.REC")
    groups = _partition(src, "placement_groups", raw.get("placement_groups", {}), set(codes["PLACE"]))
    reasons = _partition(src, "exit_reasons", raw.get("exit_reasons", {}), set(codes["REC"]) - {cont})
    bands = []
    expect = 0
    for i, b in enumerate(raw.get("age_bands", [])):
        key = f"age_bands[{i}]"
        if set(b) != {"label", "min_age", "max_age"}:
            raise SpecError(src, key, "needs exactly label, min_age, max_age")
        if b["min_age"] != expect or b["max_age"] < b["min_age"]:
            raise SpecError(src, key, f"bands must be contiguous from age 0; expected min_age {expect}")
        expect = b["max_age"] + 1
        bands.append(AgeBand(str(b["label"]), int(b["min_age"]), int(b["max_age"])))
    if expect != 18:
        raise SpecError(src, "age_bands", "bands must cover ages 0 to 17")
    return CodeSets(codes, short, pc, npd, cont, groups, reasons, tuple(bands))


@lru_cache(maxsize=1)
def default_codes() -> CodeSets:
    """The code sets shipped in ``models/ssda903.toml``."""
    return load_codes(models_dir() / "ssda903.toml")
