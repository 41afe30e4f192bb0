"""Reading imports back: one batch, the store's list, its row errors and their workbook."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.customers.contact_masking import cell_for
from winback.customers.import_errors import describe, workbook_titles
from winback.customers.models import (
    ImportBatch,
    ImportRowError,
)
from winback.errors import NotFound
from winback.i18n import N_
from winback.paging import PAGE_SIZE, Page, matches, paginate
from winback.paging import words as search_words
from winback.spreadsheet import safe_row

# What the report says of a repair-order file without RO numbers (page, API, CLI).
KEY_DERIVED = N_(
    "The file has no RO-number column: each repair order's key was derived from its vehicle "
    "(VIN or plate), date, amount and category, so importing the file again doubles nothing."
)


def get_batch(*, session: Session, batch_id: int, store_ids: list[int]) -> ImportBatch:
    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.store_id not in store_ids:
        raise NotFound("no import {batch_id}", batch_id=batch_id)
    return batch


def batches_page(
    *,
    session: Session,
    store_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[ImportBatch]:
    """The archive page's imports, newest first; ``search`` matches the file name."""
    stmt = (
        select(ImportBatch)
        .where(ImportBatch.store_id == store_id, matches(search, ImportBatch.filename))
        .order_by(ImportBatch.id.desc())
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(search_words(search)))


def row_errors(*, session: Session, batch_id: int, limit: int | None = None) -> list[ImportRowError]:
    stmt = (
        select(ImportRowError)
        .where(ImportRowError.batch_id == batch_id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def errors_xlsx(*, session: Session, batch_id: int, locale: str = "zh", viewer: Any = None) -> bytes:
    """The row errors as a workbook the admin can download, fix and re-import from, in the
    reader's language (sheet name, headers and reasons; ``locale`` zh or en); a rejected phone
    or address masked unless ``viewer`` may see contact data (masked when no viewer is given)."""
    from openpyxl import Workbook

    fields = (session.get(ImportBatch, batch_id).columns or {}) if batch_id else {}

    sheet, header = workbook_titles(locale)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(header)
    for e in session.scalars(
        select(ImportRowError)
        .where(ImportRowError.batch_id == batch_id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    ):
        value = cell_for(e.value, fields.get(e.column), viewer)
        ws.append(safe_row([e.row_number, e.column, describe(e.reason, locale), value]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
