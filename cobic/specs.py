"""Checked reads of TOML specs: one rule for files, tables, numbers and text.

Contract terms, cost sets and settlement actuals read every value through these helpers, so
each bad value raises :class:`cobic.errors.SpecError` naming the file and the key and echoing
the value received. Numbers are never booleans and are always finite (TOML allows ``nan`` and
``inf``; they are refused here).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from cobic.errors import SpecError

__all__ = ["read_toml", "number", "integer", "table", "known", "table_list", "text", "shown"]

FILE_KEY = "(file)"


def read_toml(path: Path | str) -> dict:
    """The TOML file at ``path`` as a dict.

    Raises
    ------
    SpecError
        When the file is missing, a folder, unreadable, not UTF-8 or not valid TOML (the
        message then names the line).
    """
    src = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError(src, FILE_KEY, "no such file") from None
    except IsADirectoryError:
        raise SpecError(src, FILE_KEY, "is a folder, not a TOML file") from None
    except OSError as e:
        raise SpecError(src, FILE_KEY, f"cannot be read: {e.strerror or e}") from None
    try:
        # a byte-order mark (Notepad's and Excel's "UTF-8 with BOM") is not content
        return tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as e:
        raise SpecError(src, FILE_KEY, f"is not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(src, FILE_KEY, f"not valid TOML: {e}") from None
    except RecursionError:
        raise SpecError(src, FILE_KEY, "not valid here: arrays or tables nested too deeply "
                                       "(hundreds of levels)") from None


def shown(v) -> str:
    """``repr(v)``, shortened to 80 characters for echoing in a message."""
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def number(src: str, key: str, v, lo: float | None = None, hi: float | None = None,
           whole: bool = False) -> float:
    """``v`` as a finite float within ``[lo, hi]`` (either bound may be ``None``).

    Parameters
    ----------
    src, key
        The file and the key, named in any error.
    v
        The value read from TOML.
    lo, hi
        Inclusive bounds, or ``None`` for none.
    whole
        Require a whole number (``5`` or ``5.0``).

    Raises
    ------
    SpecError
        When ``v`` is not a number (booleans are not), not finite, not whole or out of range.
    """
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SpecError(src, key, f"must be a number, got {shown(v)}")
    try:
        x = float(v)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise SpecError(src, key, f"must be a finite number, got {shown(v)}")
    if whole and not x.is_integer():
        raise SpecError(src, key, f"must be a whole number, got {shown(v)}")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise SpecError(src, key, f"must be {_range_text(lo, hi)}, got {shown(v)}")
    return x


def integer(src: str, key: str, v, lo: int, hi: int) -> int:
    """``v`` as an int in ``lo..hi``; floats and booleans are refused."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise SpecError(src, key, f"must be an integer {lo}..{hi}, got {shown(v)}")
    return v


def table(src: str, key: str, v) -> dict:
    """``v`` if it is a TOML table, else SpecError."""
    if not isinstance(v, dict):
        raise SpecError(src, key or FILE_KEY, f"must be a table, got {shown(v)}")
    return v


def known(src: str, prefix: str, v, allowed: set[str]) -> dict:
    """``v`` if it is a table whose keys are all in ``allowed``, else SpecError."""
    for k in table(src, prefix, v):
        if k not in allowed:
            raise SpecError(src, f"{prefix}.{k}" if prefix else k,
                            f"unknown key (allowed: {sorted(allowed)})")
    return v


def table_list(src: str, key: str, v) -> list[dict]:
    """``v`` if it is a list of tables (an array of tables), else SpecError."""
    if not isinstance(v, list):
        raise SpecError(src, key, f"must be a list of tables, got {shown(v)}")
    for i, item in enumerate(v):
        table(src, f"{key}[{i}]", item)
    return v


def text(src: str, key: str, v) -> str:
    """``v`` if it is a string, else SpecError."""
    if not isinstance(v, str):
        raise SpecError(src, key, f"must be text, got {shown(v)}")
    return v
