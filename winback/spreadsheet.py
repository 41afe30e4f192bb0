"""Cells that a spreadsheet would run as a formula are written as text: the one helper every
workbook writer uses (errors.xlsx, profile.xlsx, the evaluation workbook, the audit export).

A text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is what Excel, WPS
and LibreOffice read as a formula (or a DDE call): an imported customer named
``=HYPERLINK("http://…")`` would become a live link. The OWASP advice is followed: such a
text gets a leading ``'``, so it shows as typed and never runs. Numbers, dates and empty
cells stay as they are (a negative number stays a number).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a cell that cannot be a formula (text that would be one gets a ``'``)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """``safe_cell`` of each value: for ``worksheet.append`` (also in write-only workbooks)."""
    return [safe_cell(v) for v in values]


def neutralise(workbook: Any) -> Any:
    """Every text cell of an (ordinary, not write-only) openpyxl workbook through ``safe_cell``,
    just before it is saved: nothing written by any part of the writer slips through."""
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                    cell.value = safe_cell(cell.value)
    return workbook
