"""Writing a chunk of repair-order rows: parse and check them, find each one's vehicle, insert
the new repair orders and update the known ones. A file without RO numbers gets a key derived
from the row (``derived_ro_number``)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.bulk import found_among, insert_columns, one_of
from winback import clock
from winback.accounts.models import Staff
from winback.customers import identifiers
from winback.customers.import_columns import REQUIRED
from winback.customers.import_errors import encode
from winback.customers.import_rows import (
    UNDECIDED,
    ImportContext,
    apply_changes,
    column_header,
    parse_columns,
    parse_row,
    report_problem,
)
from winback.customers.import_values import (
    bounded,
    cell_amount,
    cell_category,
    cell_mileage,
    cell_text,
    cell_vin,
    parse_date,
)
from winback.customers.models import ImportKind, ServiceVisit, Vehicle

# Keys derived for repair orders without an RO number start with this (a DMS number never does).
DERIVED_PREFIX = "~"

_VISIT_SPEC = {
    "ro_number": bounded(40),
    "vin": cell_vin,
    "plate": lambda v: identifiers.normalize_plate(cell_text(v)),
    "visit_date": parse_date,
    "mileage": cell_mileage,
    "category": cell_category,
    "items": cell_text,
    "amount": cell_amount,
    "advisor": cell_text,
}

VehicleHit = tuple[int, int]  # (vehicle id, customer id)

# A parsed row: its number in the file and the spec's fields in this order (None where absent).
_FIELDS = tuple(_VISIT_SPEC)
_NUMBER, _RO, _VIN, _PLATE, _DATE, _MILEAGE, _CATEGORY, _ITEMS, _AMOUNT, _ADVISOR = range(len(_FIELDS) + 1)
# How many vehicles an import remembers between chunks (a store's fleet; bounded all the same).
VEHICLES_KEPT = 500_000


def write_visits(ctx: ImportContext, chunk) -> None:
    """Parse the chunk column by column, find the vehicles and the RO numbers already stored
    (one query each per chunk, vehicles remembered across chunks), update the known repair
    orders and insert the new ones by column."""
    s, store_id = ctx.session, ctx.batch.store_id
    advisors = _advisors(ctx)
    parsed = _parse_visits(ctx, chunk)
    by_vin = _vehicles(ctx, "vin", {r[_VIN] for r in parsed if r[_VIN]})
    by_plate = _vehicles(ctx, "plate", {r[_PLATE] for r in parsed if r[_PLATE] and not r[_VIN]})
    existing = _existing(s, store_id, [r[_RO] for r in parsed])
    cols = ctx.cols
    new: dict[str, list[Any]] = {
        name: []
        for name in (
            "ro_number",
            "vehicle_id",
            "customer_id",
            "visit_date",
            "category",
            "amount",
            *(k for k in ("mileage", "items") if k in cols),
            *(["advisor_id"] if "advisor" in cols else []),
        )
    }
    (ro_l, vid_l, cid_l, date_l, cat_l, amount_l) = (new[k] for k in list(new)[:6])
    mileage_l, items_l, advisor_l = new.get("mileage"), new.get("items"), new.get("advisor_id")
    has_category, has_amount = "category" in cols, "amount" in cols
    other, zero = "其他", Decimal("0.00")
    for row in parsed:
        vin = row[_VIN]
        hit = by_vin.get(vin) if vin else by_plate.get(row[_PLATE])
        if hit is None:
            field = "vin" if vin else "plate"
            ctx.errors.append(
                {
                    "row_number": row[_NUMBER],
                    "column": column_header(ctx, field),
                    "value": vin or row[_PLATE],
                    "reason": encode("no_vehicle"),
                }
            )
            continue
        known = existing.get(row[_RO]) if existing else None
        if known is not None:
            apply_changes(ctx, known, _visit_values(ctx, row, hit, advisors), "visit", hit[1])
            continue
        ro_l.append(row[_RO])
        vid_l.append(hit[0])
        cid_l.append(hit[1])
        date_l.append(row[_DATE])
        cat_l.append((row[_CATEGORY] or other) if has_category else other)
        amount_l.append(row[_AMOUNT] if has_amount else zero)
        if mileage_l is not None:
            mileage_l.append(row[_MILEAGE])
        if items_l is not None:
            items_l.append(row[_ITEMS])
        if advisor_l is not None:
            advisor_l.append(advisors.get(row[_ADVISOR]) if row[_ADVISOR] else None)
    if ro_l:
        bulk_insert(
            s,
            ServiceVisit.__table__,
            new,
            {"store_id": store_id, "created_at": ctx.now, "import_batch_id": ctx.batch.id},
        )
        ctx.batch.inserted += len(ro_l)


def bulk_insert(session: Session, table, columns: dict[str, list[Any]], shared: dict[str, Any]) -> None:
    """The new repair orders by column (``db.bulk``); a name of its own, so a test can stand in."""
    insert_columns(session, table, columns, shared)


def _advisors(ctx: ImportContext) -> dict[str, int]:
    """The store's staff by display name and by username (the advisor column holds either),
    read once per import and kept on the context."""
    if not hasattr(ctx, "advisors"):
        ctx.advisors = {}  # type: ignore[attr-defined]
        for sid, shown, username in ctx.session.execute(
            select(Staff.id, Staff.display_name, Staff.username).where(Staff.store_id == ctx.batch.store_id)
        ):
            ctx.advisors[shown] = ctx.advisors[username] = sid  # type: ignore[attr-defined]
    return ctx.advisors  # type: ignore[attr-defined]


def _parse_visits(ctx: ImportContext, chunk) -> list[tuple]:
    """The chunk's rows that parse and pass the checks, each with its key (the RO number, or
    the derived one), as tuples (``_FIELDS``); the others are reported, as is a key seen
    earlier in the file. Column by column first; a row with a cell that pass does not decide
    goes through ``parse_row`` (every error and warning, as it always was)."""
    cols = ctx.cols
    accept: dict[str, Any] = {"visit_date": _not_none}
    if "amount" in cols:
        accept["amount"] = _an_amount
    numbers = [number for number, _cells in chunk]
    values, undecided = parse_columns(ctx, [cells for _n, cells in chunk], _VISIT_SPEC, accept)
    absent = [None] * len(chunk)
    fields = [values.get(f, absent) for f in _FIELDS]
    # A row needs a VIN or a plate; a date after tomorrow is refused (checked here, not cached:
    # "tomorrow" moves).
    if None in fields[_VIN - 1] or "" in fields[_VIN - 1]:
        undecided.update(
            k
            for k, (vin, plate) in enumerate(zip(fields[_VIN - 1], fields[_PLATE - 1], strict=True))
            if not vin and not plate
        )
    latest = clock.today() + timedelta(days=1)
    late = {d for d in set(fields[_DATE - 1]) if d is not UNDECIDED and d is not None and d > latest}
    if late:
        undecided.update(k for k, d in enumerate(fields[_DATE - 1]) if d in late)
    rows = list(zip(numbers, *fields, strict=True))
    checked = rows
    if undecided:
        checked = []
        for k, row in enumerate(rows):
            if k in undecided:
                row = _parse_one(ctx, *chunk[k], latest)
                if row is None:
                    continue
            checked.append(row)
    if ctx.batch.key_derived:
        checked = [(row[_NUMBER], derived_ro_number(row), *row[_VIN:]) for row in checked]
    # Each key's first row in the file (this one, unless the key came before).
    firsts = ctx.seen.first_rows([row[_RO] for row in checked], [row[_NUMBER] for row in checked])
    parsed = []
    for row, first in zip(checked, firsts, strict=True):
        number = row[_NUMBER]
        if first == number:
            parsed.append(row)
        elif ctx.batch.key_derived:
            vehicle = "vin" if row[_VIN] else "plate"
            shown = " ".join(
                str(v) for v in (row[_VIN] or row[_PLATE], row[_DATE], row[_AMOUNT], row[_CATEGORY]) if v
            )
            report_problem(ctx, number, vehicle, encode("duplicate", first=first), shown)
        else:
            report_problem(ctx, number, "ro_number", encode("duplicate", first=first), row[_RO])
    return parsed


def _not_none(value: Any) -> bool:
    return value is not None


def _an_amount(value: Any) -> bool:
    return value is not None and value >= 0


def _parse_one(ctx: ImportContext, number: int, cells: list[Any], latest) -> tuple | None:
    """One row cell by cell, every problem reported: its tuple, or None when it has an error."""
    row, ok = parse_row(ctx, number, cells, _VISIT_SPEC, REQUIRED[ImportKind.visits])
    if "amount" in ctx.cols and "amount" in row and row["amount"] is None:
        ok = False
        report_problem(ctx, number, "amount", encode("empty_amount"), None)
    if row.get("amount") is not None and row["amount"] < 0:
        ok = False
        report_problem(ctx, number, "amount", encode("negative_amount"), row["amount"])
    if row.get("visit_date") and row["visit_date"] > latest:
        ok = False
        report_problem(ctx, number, "visit_date", encode("future_date"), row["visit_date"])
    if not ok:
        return None
    return (number, *(row.get(f) for f in _FIELDS))


def _vehicles(ctx: ImportContext, by: str, keys: set[str]) -> dict[str, VehicleHit]:
    """The store's vehicles by VIN or plate, remembered across the import's chunks: only the
    keys not met yet are looked up (a file repeats its vehicles on every chunk)."""
    kept = ctx.vehicles.setdefault(by, {})
    wanted = keys - kept.keys()
    if wanted:
        if len(kept) + len(wanted) > VEHICLES_KEPT:
            kept.clear()
            wanted = keys
        kept.update(_vehicles_by(ctx.session, ctx.batch.store_id, getattr(Vehicle, by), wanted))
    return kept


def _existing(s: Session, store_id: int, ros: list[str]) -> dict[str, ServiceVisit]:
    """The chunk's repair orders already stored (the RO numbers first, the rows only for those:
    in a first import there are none)."""
    if not ros:
        return {}
    found = found_among(s, ServiceVisit.__table__, "ro_number", ros, store_id=store_id)
    if not found:
        return {}
    return {
        v.ro_number: v
        for v in s.scalars(
            select(ServiceVisit).where(
                ServiceVisit.store_id == store_id, one_of(s, ServiceVisit.ro_number, found)
            )
        )
    }


def _vehicles_by(s: Session, store_id: int, column, keys: set[str]) -> dict[str, VehicleHit]:
    """The store's vehicles whose ``column`` (VIN or plate) is one of ``keys``."""
    if not keys:
        return {}
    return {
        key: (vid, cid)
        for key, vid, cid in s.execute(
            select(column, Vehicle.id, Vehicle.customer_id).where(
                Vehicle.store_id == store_id, one_of(s, column, list(keys))
            )
        )
    }


def _visit_values(
    ctx: ImportContext, row: tuple, hit: VehicleHit, advisors: dict[str, int]
) -> dict[str, Any]:
    """The repair order's columns from the row (only those the file has), for an update."""
    vid, cid = hit
    values: dict[str, Any] = {"vehicle_id": vid, "customer_id": cid, "visit_date": row[_DATE]}
    if "mileage" in ctx.cols:
        values["mileage"] = row[_MILEAGE]
    if "items" in ctx.cols:
        values["items"] = row[_ITEMS]
    if "category" in ctx.cols:
        values["category"] = row[_CATEGORY] or "其他"
    if "amount" in ctx.cols:
        values["amount"] = row[_AMOUNT]
    if row[_ADVISOR]:
        values["advisor_id"] = advisors.get(row[_ADVISOR])
    return values


def derived_ro_number(row: tuple) -> str:
    """The key of a repair order from a file without RO numbers (a row as ``_parse_visits``
    makes it): its vehicle (VIN, else plate), date, amount and category, hashed to fit the
    RO-number column. The same row in any later export gives the same key, so importing it
    again doubles nothing."""
    vehicle = f"vin:{row[_VIN]}" if row[_VIN] else f"plate:{row[_PLATE] or ''}"
    amount = row[_AMOUNT]
    parts = [
        vehicle,
        row[_DATE].isoformat(),
        "" if amount is None else f"{amount:.2f}",
        row[_CATEGORY] or "",
    ]
    return DERIVED_PREFIX + hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]
