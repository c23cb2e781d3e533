"""An ``.xlsx`` workbook a finance lead can open: one sheet per table, a notes sheet first."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl
import xlsxwriter

__all__ = ["write_workbook"]


def write_workbook(path: Path | str, sheets: dict[str, pl.DataFrame],
                   notes: list[tuple[str, str]] | None = None) -> Path:
    """Write ``sheets`` (name -> table) to ``path`` atomically; money columns get a GBP format.

    ``notes`` are (label, text) rows for a first sheet ("About") saying what the figures are.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".xlsx")
    os.close(fd)
    try:
        with xlsxwriter.Workbook(tmp) as wb:
            if notes:
                ws = wb.add_worksheet("About")
                bold = wb.add_format({"bold": True})
                ws.set_column(0, 0, 28)
                ws.set_column(1, 1, 100)
                for i, (label, text) in enumerate(notes):
                    ws.write(i, 0, label, bold)
                    ws.write(i, 1, text)
            for name, df in sheets.items():
                df.write_excel(workbook=wb, worksheet=name[:31], autofit=True,
                               float_precision=2, table_style="Table Style Light 9")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
