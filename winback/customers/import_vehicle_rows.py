"""Writing a chunk of vehicle rows: parse, find each vehicle's owner (creating one the export
names but the archive lacks), insert the new vehicles and update the known ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from winback.customers import identifiers
from winback.customers.import_columns import REQUIRED
from winback.customers.import_errors import encode
from winback.customers.import_rows import (
    ImportContext,
    apply_changes,
    column_header,
    parse_row,
    seen_before,
    uniform,
)
from winback.customers.import_values import (
    bounded,
    cell_name,
    cell_phone,
    cell_text,
    cell_vin,
    limited,
    parse_date,
    parse_grade,
)
from winback.customers.models import Customer, CustomerType, ImportKind, Vehicle

_VEHICLE_SPEC = {
    "vin": cell_vin,
    "plate": lambda v: identifiers.normalize_plate(cell_text(v)),
    "model": limited(80),
    "grade": parse_grade,
    "purchase_date": parse_date,
    "warranty_end": parse_date,
    "compulsory_insurance_end": parse_date,
    "commercial_insurance_end": parse_date,
    "registered_on": parse_date,
    "inspection_valid_until": parse_date,
    "customer_code": bounded(40),
    "name": cell_name,
    "phone": cell_phone,
}

# The row's fields stored on the vehicle (the others find its owner).
_VEHICLE_FIELDS = (
    "vin",
    "plate",
    "model",
    "grade",
    "purchase_date",
    "warranty_end",
    "compulsory_insurance_end",
    "commercial_insurance_end",
    "registered_on",
    "inspection_valid_until",
)


def write_vehicles(ctx: ImportContext, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    parsed = []
    for number, cells in chunk:
        row, ok = parse_row(ctx, number, cells, _VEHICLE_SPEC, REQUIRED[ImportKind.vehicles])
        if not ok or seen_before(ctx, row["vin"], number, "vin"):
            continue
        parsed.append((number, row))
    by_code, by_phone = _owners(s, store_id, parsed)
    vins = [r["vin"] for _, r in parsed]
    existing = {
        v.vin: v
        for v in s.scalars(select(Vehicle).where(Vehicle.store_id == store_id, Vehicle.vin.in_(vins)))
    }
    new = []
    for number, row in parsed:
        cid = _owner_of(ctx, row, by_code, by_phone)
        if cid is None:
            field = "customer_code" if row.get("customer_code") else "phone"
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": column_header(ctx, field),
                    "value": row.get(field),
                    "reason": encode("no_customer"),
                }
            )
            continue
        values = _vehicle_values(ctx, row, cid)
        v = existing.get(row["vin"])
        if v is None:
            # checked just now (``_vehicle_values``): the next archive cleanup need not again
            marker = identifiers.identifiers_marker(values["vin"], values.get("plate"))
            new.append(
                {
                    "store_id": store_id,
                    "created_at": ctx.now,
                    "import_batch_id": ctx.batch.id,
                    "identifiers_checked": marker,
                    **values,
                }
            )
        else:
            apply_changes(ctx, v, values, "vehicle", cid)
    if new:
        s.execute(insert(Vehicle.__table__), uniform(new))
        ctx.batch.inserted += len(new)


def _owners(
    s: Session, store_id: int, parsed: list[tuple[int, dict[str, Any]]]
) -> tuple[dict[str, int], dict[str, int]]:
    """The chunk's owners already in the archive: by customer code, and by phone for the rows
    without a code (the first unmerged customer with that phone)."""
    codes = {r["customer_code"] for _, r in parsed if r.get("customer_code")}
    phones = {r["phone"] for _, r in parsed if r.get("phone") and not r.get("customer_code")}
    by_code = (
        dict(
            s.execute(
                select(Customer.dms_code, Customer.id).where(
                    Customer.store_id == store_id, Customer.dms_code.in_(codes)
                )
            ).all()
        )
        if codes
        else {}
    )
    by_phone: dict[str, int] = {}
    if phones:
        for phone, cid in s.execute(
            select(Customer.phone, Customer.id)
            .where(
                Customer.store_id == store_id, Customer.phone.in_(phones), Customer.merged_into_id.is_(None)
            )
            .order_by(Customer.id)
        ):
            by_phone.setdefault(phone, cid)
    return by_code, by_phone


def _owner_of(
    ctx: ImportContext, row: dict[str, Any], by_code: dict[str, int], by_phone: dict[str, int]
) -> int | None:
    """The id of the row's owner; None when the row names none the archive or the row can give."""
    cid = by_code.get(row["customer_code"]) if row.get("customer_code") else by_phone.get(row.get("phone"))
    if cid is None and row.get("name") and (row.get("customer_code") or row.get("phone")):
        # The export names the owner we do not have yet: create the customer from this row.
        code = row.get("customer_code") or row["phone"]
        c = Customer(
            store_id=ctx.batch.store_id,
            dms_code=code,
            name=row["name"],
            phone=row.get("phone"),
            phone_valid=identifiers.phone_is_valid(row.get("phone")),
            customer_type=CustomerType.private,
            created_at=ctx.now,
            import_batch_id=ctx.batch.id,
        )
        ctx.session.add(c)
        ctx.session.flush()
        cid = c.id
        (by_code if row.get("customer_code") else by_phone)[code] = cid
    return cid


def _vehicle_values(ctx: ImportContext, row: dict[str, Any], customer_id: int) -> dict[str, Any]:
    """The vehicle's columns from the row (only those the file has), with what follows from
    them: the warranty's end when the file gives only the purchase, the identifiers' checks."""
    values = {k: row[k] for k in _VEHICLE_FIELDS if k in ctx.cols}
    values["customer_id"] = customer_id
    if "purchase_date" in values and "warranty_end" not in ctx.cols and values["purchase_date"]:
        values["warranty_end"] = values["purchase_date"] + timedelta(days=3 * 365)
    values["vin_valid"] = identifiers.vin_is_valid(values["vin"])
    values["vin_check_digit_ok"] = identifiers.vin_check_digit_ok(values["vin"])
    if "plate" in values:
        values["plate_valid"] = identifiers.plate_is_valid(values["plate"])
    return values
