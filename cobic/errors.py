"""Errors that name the file, row, column and rule.

Every reader in cobic collects *all* the problems it finds in an input before raising, so a
user fixes a file once, not once per problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# values that look like a child's identifiers are never echoed, whatever column they are in
_UPN = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$", re.I)
_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$", re.I)


def shown_value(value: str) -> str:
    """``value`` as a message may show it: a UPN or postcode is withheld."""
    v = value.strip()
    if _UPN.match(v):
        return "<withheld: looks like a UPN>"
    if _POSTCODE.match(v):
        return "<withheld: looks like a postcode>"
    return repr(value)

__all__ = ["Problem", "DataError", "SpecError", "readable_key"]


@dataclass(frozen=True)
class Problem:
    """One broken rule in one place of one input.

    ``row`` is the 1-based line number in the file (the header line is line 1), or ``None``
    when the problem concerns the whole file or a whole column.
    """

    file: str
    rule: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", line {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        shown = "" if self.value is None else f" (value {shown_value(str(self.value))})"
        return f"{where}: [{self.rule}] {self.message}{shown}"


class DataError(ValueError):
    """Raised when an input breaks one or more rules; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("DataError needs at least one problem")
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        if more > 0:
            shown += f"\n  ... and {more} more"
        super().__init__(f"{len(self.problems)} problem(s) in the input:\n{shown}")


class SpecError(ValueError):
    """Raised when a TOML spec in models/ (or a user's) is invalid; the message names the key."""

    def __init__(self, source: str, key: str, message: str):
        self.source = source
        self.key = key
        where = readable_key(key)
        shown = f"key '{key}'" + (f" ({where})" if where != key else "")
        super().__init__(f"{source}: {shown}: {message}")


_INDEXED = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<i>\d+)\]$")


def readable_key(key: str) -> str:
    """A TOML key path with its list positions counted from 1, in words:
    ``placement[0].price_year`` is "entry 1 of placement, its price_year"; a key without
    positions is returned as it is."""
    if "[" not in key:
        return key
    parts, after_entry = [], False
    for part in key.split("."):
        m = _INDEXED.match(part)
        if m:
            parts.append(f"entry {int(m['i']) + 1} of {m['name']}")
        else:
            parts.append(f"its {part}" if after_entry else part)
        after_entry = m is not None
    return ", ".join(parts)
