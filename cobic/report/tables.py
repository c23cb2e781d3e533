"""Tables for people, drawn with great_tables (polars-native) through the vocabulary.

:func:`html_table` renames and formats a table (:func:`cobic.report.vocabulary.display`) and
renders it as a self-contained HTML fragment (its CSS scoped to the table's id) that fits an
A4 page: compact type, headers that wrap, numbers right-aligned in tabular figures.
"""

from __future__ import annotations

import re
import zlib

import polars as pl
from great_tables import GT

from cobic.report.vocabulary import column, display

__all__ = ["html_table", "MAX_COLUMNS"]

#: more columns than this do not fit an A4 page at a readable size: split the table
MAX_COLUMNS = 10

_LEFT = {"text"}


def _id(title: str | None, columns: list[str]) -> str:
    """A stable id (the table's CSS is scoped to it) from its title and columns."""
    slug = re.sub(r"[^a-z]+", "-", (title or "table").lower()).strip("-")[:40] or "table"
    return f"t-{slug}-{zlib.crc32(','.join(columns).encode()) % 100000}"


def html_table(df: pl.DataFrame, kind: str | None = None, title: str | None = None,
               subtitle: str | None = None, note: str | None = None, ledger: bool = False,
               table_id: str | None = None) -> str:
    """``df`` as a great_tables HTML fragment, renamed and formatted by the vocabulary.

    ``kind`` is the kind of table (see :func:`~cobic.report.vocabulary.display`); ``note`` a
    source note under the table. Raises ValueError for a table wider than an A4 page
    (:data:`MAX_COLUMNS`).
    """
    if df.width > MAX_COLUMNS:
        raise ValueError(f"{title or 'table'}: {df.width} columns do not fit a page "
                         f"(at most {MAX_COLUMNS}); select or split them")
    shown = display(df, kind, ledger=ledger)
    left = [shown.columns[i] for i, c in enumerate(df.columns)
            if column(c, kind).kind in _LEFT or (c == "measure")]
    right = [c for c in shown.columns if c not in left]
    g = GT(shown, id=table_id or _id(title, df.columns))
    if title:
        g = g.tab_header(title=title, subtitle=subtitle)
    if left:
        g = g.cols_align("left", columns=left)
    if right:
        g = g.cols_align("right", columns=right)
    if note:
        g = g.tab_source_note(note)
    g = g.tab_options(
        table_font_size="13px", heading_align="left", heading_title_font_size="15px",
        heading_subtitle_font_size="12px", column_labels_font_weight="600",
        column_labels_background_color="#f3f5f8", data_row_padding="3px",
        table_width="auto", container_width="100%", container_overflow_x="hidden",
        source_notes_font_size="11px", table_margin_left="0", table_margin_right="auto",
        table_font_color="#1b1b1b",
        table_font_names=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"])
    return g.as_raw_html()

