"""What an import does with a cell it cannot use, and with a row the database refuses.

- A column that is not a key nor required (gender, birth date, customer type, address...):
  an unreadable value is imported empty (the default where the column has one) and the
  report carries a *warning* for it; the row itself is imported. A key or required column
  (customer code, name, VIN, repair order...) stays a row error: the row is not imported.
- A cell over ``FIELD_MAX_BYTES`` (128 KiB, the limit Python's CSV reader applies by default)
  is a row error with its row, column and reason; the CSV reader itself reads up to
  ``CSV_READ_LIMIT`` so that one long cell does not end the whole file.
- A row the database refuses all the same (nothing known does) is reported as a row error
  with a plain reason; the database's own message, which quotes the SQL and the row's
  values (names, phone numbers), goes to the server log only.

The warning flag travels in the stored reason (``{"code": ..., "kept_empty": true}``), so the
report page, the workbook, the API and the CLI all show it without a schema change.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# Columns whose unreadable value is imported empty with a warning (not a dropped row).
SOFT_FIELDS = frozenset(
    {
        "gender",
        "birth_date",
        "age",
        "occupation",
        "address",
        "district",
        "customer_type",
        "grade",
        "category",
        "purchase_date",
        "warranty_end",
        "mileage",
        "items",
        "advisor",
    }
)
FIELD_MAX_BYTES = 128 * 1024
CSV_READ_LIMIT = 64 * 1024 * 1024  # what the CSV reader accepts per cell (the file is on disk)


def allow_long_csv_fields() -> None:
    """Let the CSV reader read cells up to ``CSV_READ_LIMIT`` (they are then refused per row)."""
    if csv.field_size_limit() < CSV_READ_LIMIT:
        csv.field_size_limit(CSV_READ_LIMIT)


def too_large(raw: Any) -> bool:
    return (
        isinstance(raw, str) and len(raw) * 4 > FIELD_MAX_BYTES and len(raw.encode("utf-8")) > FIELD_MAX_BYTES
    )


def shown(raw: Any) -> str:
    """The start of an oversize cell, for the report."""
    return str(raw)[:60] + "…"


def is_warning(reason: str | None) -> bool:
    """Whether a stored row reason is a warning (the row was imported, the cell left empty)."""
    if not reason or not reason.startswith("{"):
        return False
    try:
        return bool(json.loads(reason).get("kept_empty"))
    except (ValueError, AttributeError):
        return False


def failed_rows(errors: list[dict[str, Any]]) -> int:
    """How many rows of ``errors`` were not imported (warnings do not count)."""
    return len({e["row_number"] for e in errors if not is_warning(e["reason"])})


def write_rows(ctx: Any, writer: Callable[[Any, list], None], rows: list, refused_reason: str) -> None:
    """``writer(ctx, rows)`` inside a savepoint; when the database refuses the rows, each half
    again, down to single rows, and each refused row becomes a row error (``refused_reason``)
    instead of ending the import: a few refused rows of a large chunk cost a few attempts
    each, not one per row of the chunk. The database's message goes to the log, not to the
    report."""
    if _try(ctx, writer, rows):
        return
    if len(rows) == 1:
        ctx.errors.append({"row_number": rows[0][0], "column": None, "reason": refused_reason, "value": None})
        return
    half = len(rows) // 2
    write_rows(ctx, writer, rows[:half], refused_reason)
    write_rows(ctx, writer, rows[half:], refused_reason)


def _try(ctx: Any, writer: Callable[[Any, list], None], rows: list) -> bool:
    mark = len(ctx.errors)
    try:
        with ctx.session.begin_nested():
            writer(ctx, rows)
        return True
    except SQLAlchemyError:
        log.warning(
            "import %s: the database refused rows %s-%s", ctx.batch.id, rows[0][0], rows[-1][0], exc_info=True
        )
        del ctx.errors[mark:]
        ctx.seen.forget_rows(number for number, _cells in rows)
        return False
