"""Writing a chunk of rows: parse each row by its kind's spec, report the rows that fail,
insert, update or leave the customers, vehicles and repair orders (set-based per chunk)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import identifiers, import_cells
from winback.customers.import_columns import FIELD_LABELS, REQUIRED
from winback.customers.import_errors import RowProblem, encode
from winback.customers.import_values import (
    bounded,
    cell_amount,
    cell_category,
    cell_mileage,
    cell_name,
    cell_phone,
    cell_text,
    cell_vin,
    limited,
    parse_customer_type,
    parse_date,
    parse_gender,
    parse_int,
)
from winback.customers.models import (
    Customer,
    CustomerType,
    ImportBatch,
    ImportKind,
    ServiceVisit,
    Vehicle,
)


@dataclass
class ImportContext:
    session: Session
    batch: ImportBatch
    cols: dict[str, int]
    actor: Actor
    now: datetime
    seen: dict[str, int]
    errors: list[dict[str, Any]]


def _cell(ctx: ImportContext, cells: list[Any], field: str) -> Any:
    i = ctx.cols.get(field)
    if i is None or i >= len(cells):
        return None
    v = cells[i]
    if isinstance(v, str):
        v = v.replace("\x00", "").strip()  # a NUL byte: PostgreSQL refuses it in text
        return v or None
    return v


def _parse(
    ctx: ImportContext,
    number: int,
    cells: list[Any],
    spec: dict[str, Callable[[Any], Any]],
    required: Iterable[str | tuple[str, ...]],
) -> dict[str, Any] | None:
    """Parse one row; on errors record them (all of them) and return None."""
    out: dict[str, Any] = {}
    errors, warnings = [], []
    for field, parser in spec.items():
        if field not in ctx.cols:
            continue
        raw = _cell(ctx, cells, field)
        if import_cells.too_large(raw):
            errors.append(
                (
                    field,
                    encode("field_too_large", kib=import_cells.FIELD_MAX_BYTES // 1024),
                    import_cells.shown(raw),
                )
            )
            continue
        try:
            out[field] = parser(raw)
        except RowProblem as exc:
            if field in import_cells.SOFT_FIELDS:  # not a key: imported empty, with a warning
                out[field] = None
                warnings.append((field, encode(exc.code, **exc.params, kept_empty=True), raw))
            else:
                errors.append((field, encode(exc.code, **exc.params), raw))
        except (ValueError, ArithmeticError) as exc:  # not foreseen: keep what Python says
            errors.append((field, encode("bad_value", detail=str(exc)[:300]), raw))
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(out.get(o) not in (None, "") for o in options) and not any(
            e[0] in options for e in errors
        ):
            errors.append((options[0], encode("required"), None))
    for field, reason, raw in errors or warnings:
        column = next((h for h, f in ctx.batch.columns.items() if f == field), FIELD_LABELS.get(field, field))
        ctx.errors.append(
            {
                "row_number": number,
                "column": column[:120],
                "reason": reason,
                "value": None if raw is None else str(raw)[:500],
            }
        )
    return None if errors else out


def _duplicate(ctx: ImportContext, key: str, number: int, field: str) -> bool:
    first = ctx.seen.get(key)
    if first is not None:
        column = next((h for h, f in ctx.batch.columns.items() if f == field), field)
        ctx.errors.append(
            {
                "row_number": number,
                "column": column[:120],
                "reason": encode("duplicate", first=first),
                "value": key[:500],
            }
        )
        return True
    ctx.seen[key] = number
    return False


def _apply(
    ctx: ImportContext, obj: Any, values: dict[str, Any], entity: str, customer_id: int | None
) -> bool:
    changes = audit_service.diff(obj, values)
    if changes:
        audit_service.record(
            session=ctx.session,
            actor=ctx.actor,
            action=f"{entity}.updated_by_import",
            entity_type=entity,
            entity_id=obj.id,
            store_id=ctx.batch.store_id,
            customer_id=customer_id,
            changes={**changes, "import_batch": ctx.batch.id},
        )
        ctx.batch.updated += 1
        return True
    ctx.batch.unchanged += 1
    return False


_CUSTOMER_SPEC = {
    "dms_code": bounded(40),
    "name": cell_name,
    "phone": cell_phone,
    "gender": parse_gender,
    "birth_date": parse_date,
    "age": parse_int,
    "occupation": limited(80),
    "address": limited(300),
    "district": limited(80),
    "customer_type": parse_customer_type,
}


def write_customers(ctx: ImportContext, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, cells in chunk:
        row = _parse(ctx, number, cells, _CUSTOMER_SPEC, REQUIRED[ImportKind.customers])
        if row is None:
            continue
        row["dms_code"] = row.get("dms_code") or row.get("phone")
        age = row.pop("age", None)
        if age is not None and not row.get("birth_date"):
            if not 0 < age < 120:
                ctx.errors.append(
                    {
                        "row_number": number,
                        "column": _col(ctx, "age"),
                        "reason": encode("bad_age"),
                        "value": str(age),
                    }
                )
                continue
            row["birth_date"] = date(clock.today().year - age, 7, 1)  # mid-year estimate from the age
        if _duplicate(ctx, row["dms_code"], number, "dms_code"):
            continue
        parsed.append((number, row))
    codes = [r["dms_code"] for _, r in parsed]
    existing = (
        {
            c.dms_code: c
            for c in s.scalars(
                select(Customer).where(Customer.store_id == store_id, Customer.dms_code.in_(codes))
            )
        }
        if codes
        else {}
    )
    new = []
    for _number, row in parsed:
        values = {k: v for k, v in row.items() if k in ctx.cols or k in ("dms_code", "birth_date")}
        if values.get("customer_type", "") is None:  # empty or unknown: the default, or the value kept
            del values["customer_type"]
        if "phone" in values:
            values["phone_valid"] = identifiers.phone_is_valid(values["phone"])
        c = existing.get(row["dms_code"])
        if c is None:
            values.setdefault("customer_type", CustomerType.private)
            new.append(
                {
                    "store_id": store_id,
                    "created_at": ctx.now,
                    "import_batch_id": ctx.batch.id,
                    "phone_valid": True,
                    **values,
                }
            )
        else:
            _apply(ctx, c, values, "customer", c.id)
    if new:
        s.execute(insert(Customer.__table__), _uniform(new))
        ctx.batch.inserted += len(new)


_VEHICLE_SPEC = {
    "vin": cell_vin,
    "plate": lambda v: identifiers.normalize_plate(cell_text(v)),
    "model": limited(80),
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


def write_vehicles(ctx: ImportContext, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    parsed = []
    for number, cells in chunk:
        row = _parse(ctx, number, cells, _VEHICLE_SPEC, REQUIRED[ImportKind.vehicles])
        if row is None or _duplicate(ctx, row["vin"], number, "vin"):
            continue
        parsed.append((number, row))
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
    vins = [r["vin"] for _, r in parsed]
    existing = {
        v.vin: v
        for v in s.scalars(select(Vehicle).where(Vehicle.store_id == store_id, Vehicle.vin.in_(vins)))
    }
    new = []
    for number, row in parsed:
        cid = (
            by_code.get(row["customer_code"]) if row.get("customer_code") else by_phone.get(row.get("phone"))
        )
        if cid is None and row.get("name") and (row.get("customer_code") or row.get("phone")):
            # The export names the owner we do not have yet: create the customer from this row.
            code = row.get("customer_code") or row["phone"]
            c = Customer(
                store_id=store_id,
                dms_code=code,
                name=row["name"],
                phone=row.get("phone"),
                phone_valid=identifiers.phone_is_valid(row.get("phone")),
                customer_type=CustomerType.private,
                created_at=ctx.now,
                import_batch_id=ctx.batch.id,
            )
            s.add(c)
            s.flush()
            cid = c.id
            (by_code if row.get("customer_code") else by_phone)[code] = cid
        if cid is None:
            field = "customer_code" if row.get("customer_code") else "phone"
            column = next((h for h, f in ctx.batch.columns.items() if f == field), field)
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": column,
                    "value": row.get(field),
                    "reason": encode("no_customer"),
                }
            )
            continue
        values = {
            k: row[k]
            for k in (
                "vin",
                "plate",
                "model",
                "purchase_date",
                "warranty_end",
                "compulsory_insurance_end",
                "commercial_insurance_end",
                "registered_on",
                "inspection_valid_until",
            )
            if k in ctx.cols
        }
        values["customer_id"] = cid
        if "purchase_date" in values and "warranty_end" not in ctx.cols and values["purchase_date"]:
            values["warranty_end"] = values["purchase_date"] + timedelta(days=3 * 365)
        values["vin_valid"] = identifiers.vin_is_valid(values["vin"])
        values["vin_check_digit_ok"] = identifiers.vin_check_digit_ok(values["vin"])
        if "plate" in values:
            values["plate_valid"] = identifiers.plate_is_valid(values["plate"])
        v = existing.get(row["vin"])
        if v is None:
            new.append(
                {"store_id": store_id, "created_at": ctx.now, "import_batch_id": ctx.batch.id, **values}
            )
        else:
            _apply(ctx, v, values, "vehicle", cid)
    if new:
        s.execute(insert(Vehicle.__table__), _uniform(new))
        ctx.batch.inserted += len(new)


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


def write_visits(ctx: ImportContext, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    if not hasattr(ctx, "advisors"):  # advisor column holds a display name or a username
        ctx.advisors = {}  # type: ignore[attr-defined]
        for sid, shown, username in s.execute(
            select(Staff.id, Staff.display_name, Staff.username).where(Staff.store_id == store_id)
        ):
            ctx.advisors[shown] = ctx.advisors[username] = sid  # type: ignore[attr-defined]
    parsed = []
    today = clock.today()
    for number, cells in chunk:
        row = _parse(ctx, number, cells, _VISIT_SPEC, REQUIRED[ImportKind.visits])
        if row is None:
            continue
        if "amount" in ctx.cols and row.get("amount") is None:
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, "amount"),
                    "value": None,
                    "reason": encode("empty_amount"),
                }
            )
            continue
        if row.get("amount") is not None and row["amount"] < 0:
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, "amount"),
                    "reason": encode("negative_amount"),
                    "value": str(row["amount"]),
                }
            )
            continue
        if row["visit_date"] > today + timedelta(days=1):
            ctx.errors.append(
                {
                    "row_number": number,
                    "column": _col(ctx, "visit_date"),
                    "reason": encode("future_date"),
                    "value": str(row["visit_date"]),
                }
            )
            continue
        if _duplicate(ctx, row["ro_number"], number, "ro_number"):
            continue
        parsed.append((number, row))
    vins = {r["vin"] for _, r in parsed if r.get("vin")}
    plates = {r["plate"] for _, r in parsed if r.get("plate") and not r.get("vin")}
    by_vin = (
        {
            vin: (vid, cid)
            for vin, vid, cid in s.execute(
                select(Vehicle.vin, Vehicle.id, Vehicle.customer_id).where(
                    Vehicle.store_id == store_id, Vehicle.vin.in_(vins)
                )
            )
        }
        if vins
        else {}
    )
    by_plate = (
        {
            p: (vid, cid)
            for p, vid, cid in s.execute(
                select(Vehicle.plate, Vehicle.id, Vehicle.customer_id).where(
                    Vehicle.store_id == store_id, Vehicle.plate.in_(plates)
                )
            )
        }
        if plates
        else {}
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
                    "column": _col(ctx, field),
                    "value": row.get(field),
                    "reason": encode("no_vehicle"),
                }
            )
            continue
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
            values["advisor_id"] = ctx.advisors.get(row["advisor"])  # type: ignore[attr-defined]
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
            _apply(ctx, v, values, "visit", cid)
    if new:
        s.execute(insert(ServiceVisit.__table__), _uniform(new))
        ctx.batch.inserted += len(new)


def _uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One executemany needs the same keys in every row: a key some rows lack is None there."""
    keys = set().union(*rows)
    return [r if len(r) == len(keys) else {k: r.get(k) for k in keys} for r in rows]


def _col(ctx: ImportContext, field: str) -> str:
    return next((h for h, f in ctx.batch.columns.items() if f == field), field)
