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

from winback import clock
from winback.accounts.models import Staff
from winback.customers import identifiers
from winback.customers.import_columns import REQUIRED
from winback.customers.import_errors import encode
from winback.customers.import_rows import (
    ImportContext,
    apply_changes,
    bulk_insert,
    column_header,
    parse_row,
    report_problem,
    seen_before,
    uniform,
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


def write_visits(ctx: ImportContext, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    advisors = _advisors(ctx)
    parsed = _parse_visits(ctx, chunk)
    by_vin = _vehicles_by(s, store_id, Vehicle.vin, {r["vin"] for _, r in parsed if r.get("vin")})
    by_plate = _vehicles_by(
        s, store_id, Vehicle.plate, {r["plate"] for _, r in parsed if r.get("plate") and not r.get("vin")}
    )
    ros = [r["ro_number"] for _, r in parsed]
    existing = (
        {
            v.ro_number: v
            for v in s.scalars(
                select(ServiceVisit).where(ServiceVisit.store_id == store_id, ServiceVisit.ro_number.in_(ros))
            )
        }
        if ros
        else {}
    )
    new = []
    for number, row in parsed:
        hit = by_vin.get(row["vin"]) if row.get("vin") else by_plate.get(row.get("plate"))
        if hit is None:
            field = "vin" if row.get("vin") else "plate"
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": column_header(ctx, field),
                    "value": row.get(field),
                    "reason": encode("no_vehicle"),
                }
            )
            continue
        values = _visit_values(ctx, row, hit, advisors)
        v = existing.get(row["ro_number"])
        if v is None:
            values.setdefault("category", "其他")
            values.setdefault("amount", Decimal("0.00"))
            new.append(
                {
                    "store_id": store_id,
                    "ro_number": row["ro_number"],
                    "created_at": ctx.now,
                    "import_batch_id": ctx.batch.id,
                    **values,
                }
            )
        else:
            apply_changes(ctx, v, values, "visit", hit[1])
    if new:
        bulk_insert(s, ServiceVisit.__table__, uniform(new))
        ctx.batch.inserted += len(new)


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


def _parse_visits(ctx: ImportContext, chunk) -> list[tuple[int, dict[str, Any]]]:
    """The chunk's rows that parse and pass the checks, each with its key (the RO number, or
    the derived one); the others are reported, as is a key seen earlier in the file."""
    parsed = []
    today = clock.today()
    for number, cells in chunk:
        row, ok = parse_row(ctx, number, cells, _VISIT_SPEC, REQUIRED[ImportKind.visits])
        if "amount" in ctx.cols and "amount" in row and row["amount"] is None:
            ok = False
            report_problem(ctx, number, "amount", encode("empty_amount"), None)
        if row.get("amount") is not None and row["amount"] < 0:
            ok = False
            report_problem(ctx, number, "amount", encode("negative_amount"), row["amount"])
        if row.get("visit_date") and row["visit_date"] > today + timedelta(days=1):
            ok = False
            report_problem(ctx, number, "visit_date", encode("future_date"), row["visit_date"])
        if not ok:
            continue
        if ctx.batch.key_derived:
            row["ro_number"] = derived_ro_number(row)
            vehicle = "vin" if row.get("vin") else "plate"
            shown = " ".join(
                str(v)
                for v in (row.get(vehicle), row["visit_date"], row.get("amount"), row.get("category"))
                if v
            )
            if seen_before(ctx, row["ro_number"], number, vehicle, shown):
                continue
        elif seen_before(ctx, row["ro_number"], number, "ro_number"):
            continue
        parsed.append((number, row))
    return parsed


def _vehicles_by(s: Session, store_id: int, column, keys: set[str]) -> dict[str, VehicleHit]:
    """The store's vehicles whose ``column`` (VIN or plate) is one of ``keys``."""
    if not keys:
        return {}
    return {
        key: (vid, cid)
        for key, vid, cid in s.execute(
            select(column, Vehicle.id, Vehicle.customer_id).where(
                Vehicle.store_id == store_id, column.in_(keys)
            )
        )
    }


def _visit_values(
    ctx: ImportContext, row: dict[str, Any], hit: VehicleHit, advisors: dict[str, int]
) -> dict[str, Any]:
    """The repair order's columns from the row (only those the file has)."""
    vid, cid = hit
    values: dict[str, Any] = {"vehicle_id": vid, "customer_id": cid, "visit_date": row["visit_date"]}
    for k in ("mileage", "items"):
        if k in ctx.cols:
            values[k] = row.get(k)
    if "category" in ctx.cols:
        values["category"] = row.get("category") or "其他"
    if "amount" in ctx.cols:
        values["amount"] = row["amount"]
    if row.get("advisor"):
        values["advisor_id"] = advisors.get(row["advisor"])
    return values


def derived_ro_number(row: dict[str, Any]) -> str:
    """The key of a repair order from a file without RO numbers: its vehicle (VIN, else plate),
    date, amount and category, hashed to fit the RO-number column. The same row in any later
    export gives the same key, so importing it again doubles nothing."""
    vehicle = f"vin:{row['vin']}" if row.get("vin") else f"plate:{row.get('plate') or ''}"
    amount = row.get("amount")
    parts = [
        vehicle,
        row["visit_date"].isoformat(),
        "" if amount is None else f"{amount:.2f}",
        row.get("category") or "",
    ]
    return DERIVED_PREFIX + hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]
