"""Reading DMS exports (XLSX/XLS via python-calamine, CSV in UTF-8, UTF-8 with BOM, GB18030 or
whatever charset-normalizer detects) into a header and an iterator of rows.

Nothing here knows about the database. A file that is not a table raises ``NotATable`` with
one message the user can act on.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from winback.errors import InvalidInput

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
# How many leading rows may hold a title before the header row.
HEADER_SEARCH_ROWS = 10


class NotATable(InvalidInput):
    """The file cannot be read as a table at all."""

    code = "not_a_table"


@dataclass
class Table:
    file_format: str  # xlsx / xls / csv
    encoding: str | None
    header: list[str]
    header_row: int  # 1-based row number of the header in the file
    rows: Iterator[tuple[int, list[Any]]]  # (1-based row number, cells)
    # Lines/rows after the header, known before reading them (blank ones included, so at least
    # the data rows): what a progress bar measures against.
    rows_expected: int = 0


def _is_empty(row: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in row)


def detect_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 (Chinese Excel), then a guess."""
    for name in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(name)()
        try:
            for i in range(0, len(data), 1 << 20):
                decoder.decode(data[i : i + (1 << 20)])
            decoder.decode(b"", final=True)
            return name
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()
    if best is None:
        raise NotATable("the file is neither a spreadsheet nor a text table (CSV) in a known encoding")
    return best.encoding


def read_table(path: Path, filename: str, header_score) -> Table:
    """Open ``path`` (named ``filename`` by the user). ``header_score(cells) -> int`` tells how
    many cells of a row are known column names; the best row of the first rows is the header."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if path.stat().st_size == 0:
        raise NotATable("the file is empty (0 bytes)")
    if head.startswith(_ZIP) or head.startswith(_OLE):
        return _read_workbook(path, "xlsx" if head.startswith(_ZIP) else "xls", header_score)
    if filename.lower().endswith((".xlsx", ".xls", ".xlsm")):
        raise NotATable(
            "{filename} is named like an Excel file but is not one (damaged or another format)",
            filename=filename,
        )
    return _read_csv(path, header_score)


def _read_workbook(path: Path, fmt: str, header_score) -> Table:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for broken files
        raise NotATable(
            "the Excel file cannot be opened ({error}); save it again from Excel", error=type(exc).__name__
        ) from exc
    for name in wb.sheet_names:
        try:
            sheet = wb.get_sheet_by_name(name)
        except Exception:  # chart sheets and the like
            continue
        rows = sheet.iter_rows()
        # calamine starts at the first used cell; keep the row numbers the user sees in Excel.
        offset = sheet.start[0] if sheet.start else 0
        found = _find_header(((i + 1 + offset, list(r)) for i, r in enumerate(rows)), header_score)
        if found is not None:
            header, header_row, rest = found
            return Table(fmt, None, header, header_row, rest, max(offset + sheet.height - header_row, 0))
    raise NotATable("the workbook has no sheet with data (all sheets are empty)")


def _read_csv(path: Path, header_score) -> Table:
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode text"
        newline = "\n".encode("utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be")
        lines = data.count(newline) + (0 if data.endswith(newline) else 1)
        return _csv_rows(path, "utf-16", header_score, lines)
    if b"\x00" in data[:4096]:
        raise NotATable("the file is binary, not a spreadsheet or CSV table")
    encoding = detect_encoding(data)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    del data
    return _csv_rows(path, encoding, header_score, lines)


def _csv_rows(path: Path, encoding: str, header_score, lines: int = 0) -> Table:
    text = open(path, encoding=encoding, newline="")  # noqa: SIM115 (closed when the rows end)
    sample = text.read(64 * 1024)
    text.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(text, delimiter=delimiter)

    def numbered() -> Iterator[tuple[int, list[Any]]]:
        try:
            for row in reader:
                yield reader.line_num, row
        finally:
            text.close()

    found = _find_header(numbered(), header_score)
    if found is None:
        text.close()
        raise NotATable("the file has no rows")
    header, header_row, rest = found
    # Quoted cells may hold line breaks: then there are fewer rows than lines (the bar jumps at the end).
    return Table(
        "csv", encoding.replace("utf-8-sig", "utf-8"), header, header_row, rest, max(lines - header_row, 0)
    )


def _find_header(rows: Iterator[tuple[int, list[Any]]], header_score):
    """The header is the row among the first few that names the most known columns."""
    first: list[tuple[int, list[Any]]] = []
    broken: Exception | None = None
    try:
        for number, row in rows:
            if _is_empty(row):
                continue
            first.append((number, row))
            if len(first) >= HEADER_SEARCH_ROWS:
                break
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:  # the file breaks in its first rows
        if not first:
            raise NotATable("the file cannot be read: {error}", error=exc) from exc
        broken = exc
    if not first:
        return None
    best = max(range(len(first)), key=lambda i: (header_score(first[i][1]), -i))
    number, header_cells = first[best]
    header = ["" if c is None else str(c).strip() for c in header_cells]

    def rest() -> Iterator[tuple[int, list[Any]]]:
        yield from first[best + 1 :]
        if broken is not None:  # told by the reader of the rows, after those read before it
            raise broken
        yield from rows

    return header, number, rest()


def io_bytes(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
