"""Reading CSV files as strings, with errors that name the file, line and rule.

Every value is read as text (nothing is guessed), surrounding spaces are stripped and empty
strings become null. A ``_line`` column gives each row's line number in the file (the column
header is line 1), so later checks can point at the exact line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from cobic.errors import DataError, Problem

__all__ = ["read_text_csv", "LINE"]

LINE = "_line"
_OTHER_DELIMITERS = (";", "\t", "|")


def _decode(path: Path, label: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError([Problem(label, "file-missing", "file not found")]) from None
    except IsADirectoryError:
        raise DataError([Problem(label, "file-missing", "is a folder, not a file")]) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError([Problem(
            label, "encoding",
            f"byte 0x{raw[e.start]:02x} at offset {e.start} is not valid UTF-8; save the file "
            "as UTF-8 (in Excel: 'CSV UTF-8')", row=line)]) from None
    if not text.strip():
        raise DataError([Problem(label, "empty-file", "the file is empty (no column header)")])
    return text


def read_text_csv(
    path: Path | str,
    required: tuple[str, ...],
    *,
    label: str | None = None,
    optional: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Read ``path`` as an all-string table, checking encoding, delimiter and columns.

    Parameters
    ----------
    path
        The CSV file.
    required
        Columns that must be present.
    label
        How the file is named in errors (defaults to the path).
    optional
        Columns that are added as all-null when absent.

    Raises
    ------
    DataError
        On a missing or empty file, bytes that are not UTF-8, a delimiter other than a comma,
        missing or duplicated columns, rows with the wrong number of fields, or no data rows.
    """
    path = Path(path)
    label = label or str(path)
    text = _decode(path, label)
    first = text.splitlines()[0]
    names = next(csv.reader([first]))
    stripped = [n.strip() for n in names]
    if len(stripped) == 1 and any(d in first for d in _OTHER_DELIMITERS):
        used = next(d for d in _OTHER_DELIMITERS if d in first)
        raise DataError([Problem(label, "delimiter",
                                 f"columns are separated by {used!r}; cobic reads comma-separated "
                                 "files", row=1)])
    dupes = sorted({n for n in stripped if stripped.count(n) > 1})
    if dupes:
        raise DataError([Problem(label, "duplicate-column", f"column {d!r} appears more than once",
                                 row=1, column=d) for d in dupes])
    missing = [c for c in required if c not in stripped]
    if missing:
        raise DataError([Problem(label, "missing-column",
                                 f"required column is missing (found: {', '.join(stripped)})",
                                 row=1, column=c) for c in missing])
    ragged = _ragged_lines(text, len(stripped), label)
    if ragged:
        raise DataError(ragged)
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False, has_header=True,
                         new_columns=stripped)
    except pl.exceptions.PolarsError as e:
        raise DataError([Problem(label, "unreadable", f"not readable as CSV: {e}")]) from None
    if df.height == 0:
        raise DataError([Problem(label, "no-rows", "the file has a column header but no rows")])
    df = df.with_columns(pl.col(c).str.strip_chars() for c in df.columns)
    df = df.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in df.columns
    )
    for c in optional:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return df.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def _ragged_lines(text: str, n_fields: int, label: str) -> list[Problem]:
    """Lines whose number of fields differs from the header's (blank lines are ignored)."""
    if '"' not in text:  # fast path: no quoting, so fields are the commas plus one
        lines = pl.Series(text.split("\n")).str.strip_suffix("\r")
        df = pl.DataFrame({"text": lines}).with_row_index("line", offset=1).filter(
            pl.col("text").str.strip_chars() != "").with_columns(
            n=pl.col("text").str.count_matches(",", literal=True) + 1)
        bad = df.filter(pl.col("n") != n_fields).select("line", "n").rows()
    else:
        bad = [(i, len(row)) for i, row in enumerate(csv.reader(io.StringIO(text)), start=1)
               if row and len(row) != n_fields]
    return [Problem(label, "field-count", f"row has {n} fields, the header has {n_fields}",
                    row=int(i)) for i, n in bad]
