"""Reading CSV files as strings, with errors that name the file, line and rule.

Every value is read as text (nothing is guessed), surrounding spaces are stripped and empty
strings become null. A ``_line`` column gives each row's line number in the file (the column
header is line 1, and a quoted value spanning lines is counted), so later checks can point at
the exact line.

Blank lines - empty, or only spaces and commas (``,,,,`` as spreadsheets export) - anywhere in
the file are not rows: they are left out of the table and their line numbers returned by
:func:`read_text_table`, so a reader can report how many it ignored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cobic.errors import DataError, Problem

__all__ = ["read_text_csv", "read_text_table", "TextTable", "LINE"]

LINE = "_line"
_OTHER_DELIMITERS = (";", "\t", "|")
_BLANK = r"^[\s,]*$"  # a line of only whitespace and commas


@dataclass(frozen=True)
class TextTable:
    """A CSV file read as text: the rows, and the line numbers of the blank lines left out."""

    table: pl.DataFrame
    blank_lines: tuple[int, ...]


def _decode(path: Path, label: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError([Problem(label, "file-missing", "file not found")]) from None
    except IsADirectoryError:
        raise DataError([Problem(label, "file-missing", "is a folder, not a file")]) from None
    except PermissionError:
        raise DataError([Problem(label, "file-unreadable",
                                 "permission denied: the file cannot be read")]) from None
    except OSError as e:
        raise DataError([Problem(label, "file-unreadable",
                                 f"the file cannot be read ({e.strerror or type(e).__name__})")]
                        ) from None
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

    The same as :func:`read_text_table` without the blank-line numbers.

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
        On a missing, unreadable or empty file, bytes that are not UTF-8, a delimiter other
        than a comma, missing or duplicated columns, rows with the wrong number of fields, or
        no data rows.
    """
    return read_text_table(path, required, label=label, optional=optional).table


def read_text_table(
    path: Path | str,
    required: tuple[str, ...],
    *,
    label: str | None = None,
    optional: tuple[str, ...] = (),
) -> TextTable:
    """Read ``path`` as an all-string table and say which blank lines were left out.

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

    Returns
    -------
    TextTable
        ``table``: one row per non-blank line after the header, with the line number in
        ``_line``; ``blank_lines``: the line numbers of lines that were empty or held only
        spaces and commas.

    Raises
    ------
    DataError
        As :func:`read_text_csv`.
    """
    path = Path(path)
    label = label or str(path)
    text = _decode(path, label)
    stripped = _header(text, required, label)
    text, ragged, lines = _scan_lines(text, len(stripped), label)
    if ragged:
        raise DataError(ragged)
    try:
        df = pl.read_csv(io.StringIO(text), infer_schema=False, has_header=True,
                         new_columns=stripped)
    except pl.exceptions.PolarsError as e:  # the error text may quote data: not shown
        raise DataError([Problem(label, "unreadable",
                                 f"not readable as CSV ({type(e).__name__})")]) from None
    if lines is not None and len(lines) == df.height:
        df = df.with_columns(pl.Series(LINE, lines, dtype=pl.Int64))
    else:
        df = df.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    data_cols = [c for c in df.columns if c != LINE]
    df = df.with_columns(pl.col(c).str.strip_chars() for c in data_cols)
    df = df.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in data_cols
    )
    blank = pl.all_horizontal(pl.col(c).is_null() for c in data_cols)
    blank_lines = tuple(df.filter(blank)[LINE].to_list())
    if blank_lines:
        df = df.filter(~blank)
    if df.height == 0:
        extra = f" ({len(blank_lines)} blank line(s) ignored)" if blank_lines else ""
        raise DataError([Problem(label, "no-rows",
                                 f"the file has a column header but no rows{extra}")])
    for c in optional:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return TextTable(df.select(*(c for c in df.columns if c != LINE), LINE), blank_lines)


def _header(text: str, required: tuple[str, ...], label: str) -> list[str]:
    """The column names (stripped), checking the delimiter, duplicates and required columns."""
    first = text.partition("\n")[0].rstrip("\r")
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
    return stripped


def _scan_lines(text: str, n_fields: int,
                label: str) -> tuple[str, list[Problem], list[int] | None]:
    """Find rows whose number of fields differs from the header's, ignoring blank lines.

    Returns the text with lines of only spaces and commas emptied (so that the CSV parser sees
    them as empty lines whatever their number of commas), the problems, and - when quoted
    values may span lines - the first line of every record after the header.
    """
    if '"' not in text:  # fast path: no quoting, so fields are the commas plus one
        lines = pl.Series(text.split("\n")).str.strip_suffix("\r")
        df = pl.DataFrame({"text": lines}).with_row_index("line", offset=1).with_columns(
            blank=pl.col("text").str.contains(_BLANK),
            n=pl.col("text").str.count_matches(",", literal=True) + 1)
        bad = df.filter(~pl.col("blank") & (pl.col("n") != n_fields)).select("line", "n").rows()
        if df.select((pl.col("blank") & (pl.col("text") != "")).any()).item():
            text = df.select(pl.when("blank").then(pl.lit("")).otherwise("text")
                             .str.join("\n")).item()
        return text, _field_problems(bad, n_fields, label), None
    bad, starts, blank_lines, end = [], [], [], 0
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:  # quoted files only: a record may span lines
            start, end = end + 1, reader.line_num
            starts.append(start)
            if all(not f.strip() for f in row):
                if row and start == end:
                    blank_lines.append(start)
            elif len(row) != n_fields:
                bad.append((start, len(row)))
    except csv.Error as e:
        raise DataError([Problem(label, "unreadable", f"not readable as CSV: {e}",
                                 row=reader.line_num)]) from None
    if blank_lines:
        parts = text.split("\n")
        for i in blank_lines:
            parts[i - 1] = ""
        text = "\n".join(parts)
    return text, _field_problems(bad, n_fields, label), starts[1:]


def _field_problems(bad: list[tuple[int, int]], n_fields: int, label: str) -> list[Problem]:
    return [Problem(label, "field-count", f"row has {n} fields, the header has {n_fields}",
                    row=int(i)) for i, n in bad]
