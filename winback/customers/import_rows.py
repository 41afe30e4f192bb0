"""Writing a chunk of rows: parse each row by its kind's spec, report the rows that fail,
insert, update or leave the customers, vehicles and repair orders (set-based per chunk)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import DBAPIError
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
    parse_grade,
    parse_int,
    value_key,
)
from winback.customers.models import (
    Customer,
    CustomerType,
    ImportBatch,
    ImportKind,
    ServiceVisit,
    Vehicle,
)

# Keys derived for repair orders without an RO number start with this (a DMS number never does).
DERIVED_PREFIX = "~"


@dataclass
class ImportContext:
    session: Session
    batch: ImportBatch
    cols: dict[str, int]
    actor: Actor
    now: datetime
    seen: dict[str, int]
    errors: list[dict[str, Any]]
    # field -> {normalised word: value}: the store's own words for closed-list values.
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    plans: dict[int, list[tuple]] = field(default_factory=dict)  # ``_plan`` per spec


def _plan(ctx: ImportContext, spec: dict[str, Callable[[Any], Any]]) -> list[tuple]:
    """The spec's fields the file has: (field, column index, parser, the store's words or None),
    worked out once per import rather than once per cell."""
    plan = ctx.plans.get(id(spec))
    if plan is None:
        plan = ctx.plans[id(spec)] = [
            (name, ctx.cols[name], parser, ctx.values.get(name) or None)
            for name, parser in spec.items()
            if name in ctx.cols
        ]
    return plan


def _parse(
    ctx: ImportContext,
    number: int,
    cells: list[Any],
    spec: dict[str, Callable[[Any], Any]],
    required: Iterable[str | tuple[str, ...]],
) -> tuple[dict[str, Any], bool]:
    """Parse one row: ``(values, ok)``. Every error and every warning of the row is recorded,
    not only the first; ``ok`` is False when the row has an error (it is then not imported, but
    the caller may still check and report the values that did parse)."""
    out: dict[str, Any] = {}
    errors, warnings = [], []
    width = len(cells)
    for name, i, parser, words in _plan(ctx, spec):
        raw = cells[i] if i < width else None
        if isinstance(raw, str):
            raw = raw.replace("\x00", "").strip() or None  # a NUL byte: PostgreSQL refuses it in text
            if (
                raw is not None
                and len(raw) * 4 > import_cells.FIELD_MAX_BYTES
                and import_cells.too_large(raw)
            ):
                errors.append(
                    (
                        name,
                        encode("field_too_large", kib=import_cells.FIELD_MAX_BYTES // 1024),
                        import_cells.shown(raw),
                    )
                )
                continue
        try:
            out[name] = parser(raw if words is None or raw is None else words.get(value_key(raw), raw))
        except RowProblem as exc:
            if name in import_cells.SOFT_FIELDS:  # not a key: imported empty, with a warning
                out[name] = None
                warnings.append((name, encode(exc.code, **exc.params, kept_empty=True), raw))
            else:
                errors.append((name, encode(exc.code, **exc.params), raw))
        except (ValueError, ArithmeticError) as exc:  # not foreseen: keep what Python says
            errors.append((name, encode("bad_value", detail=str(exc)[:300]), raw))
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not any(out.get(o) not in (None, "") for o in options) and not any(
            e[0] in options for e in errors
        ):
            errors.append((options[0], encode("required"), None))
    for name, reason, raw in errors + warnings:
        _report(ctx, number, name, reason, raw)
    return out, not errors


def _report(ctx: ImportContext, number: int, name: str, reason: str, raw: Any) -> None:
    """One error or warning of a row, under the file's own column header."""
    column = next((h for h, f in ctx.batch.columns.items() if f == name), FIELD_LABELS.get(name, name))
    ctx.errors.append(
        {
            "row_number": number,
            "column": column[:120],
            "reason": reason,
            "value": None if raw is None else str(raw)[:500],
        }
    )


def _duplicate(ctx: ImportContext, key: str, number: int, field: str, shown: str | None = None) -> bool:
    """Whether ``key`` came earlier in the file (then reported); ``shown`` is the value the
    report shows when the key itself means nothing to a person (a derived key)."""
    first = ctx.seen.get(key)
    if first is not None:
        _report(ctx, number, field, encode("duplicate", first=first), shown if shown is not None else key)
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
        row, ok = _parse(ctx, number, cells, _CUSTOMER_SPEC, REQUIRED[ImportKind.customers])
        age = row.pop("age", None)
        if age is not None and not row.get("birth_date"):
            if 0 < age < 120:
                row["birth_date"] = date(clock.today().year - age, 7, 1)  # mid-year estimate from the age
            else:  # not a key: the row is imported without it
                _report(ctx, number, "age", encode("bad_age", kept_empty=True), age)
        if not ok:
            continue
        row["dms_code"] = row.get("dms_code") or row.get("phone")
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


def write_vehicles(ctx: ImportContext, chunk) -> None:
    s, store_id = ctx.session, ctx.batch.store_id
    parsed = []
    for number, cells in chunk:
        row, ok = _parse(ctx, number, cells, _VEHICLE_SPEC, REQUIRED[ImportKind.vehicles])
        if not ok or _duplicate(ctx, row["vin"], number, "vin"):
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
                "grade",
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
        row, ok = _parse(ctx, number, cells, _VISIT_SPEC, REQUIRED[ImportKind.visits])
        if "amount" in ctx.cols and "amount" in row and row["amount"] is None:
            ok = False
            _report(ctx, number, "amount", encode("empty_amount"), None)
        if row.get("amount") is not None and row["amount"] < 0:
            ok = False
            _report(ctx, number, "amount", encode("negative_amount"), row["amount"])
        if row.get("visit_date") and row["visit_date"] > today + timedelta(days=1):
            ok = False
            _report(ctx, number, "visit_date", encode("future_date"), row["visit_date"])
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
            if _duplicate(ctx, row["ro_number"], number, vehicle, shown):
                continue
        elif _duplicate(ctx, row["ro_number"], number, "ro_number"):
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
        bulk_insert(s, ServiceVisit.__table__, _uniform(new))
        ctx.batch.inserted += len(new)


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


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys): PostgreSQL's ``COPY`` through psycopg (the fastest
    way in, issue 20), elsewhere one ``executemany``. A row the database refuses raises a
    ``DBAPIError`` either way, so the caller's savepoint and row-by-row retry work the same."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    cols = list(rows[0])
    raw = session.connection().connection.driver_connection
    names = ", ".join(f'"{c}"' for c in cols)
    try:
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in cols])
    except raw.Error as exc:  # psycopg's own error: told as SQLAlchemy tells the others
        raise DBAPIError(f"COPY {table.name}", None, exc) from exc


def _uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One executemany needs the same keys in every row: a key some rows lack is None there."""
    keys = set().union(*rows)
    return [r if len(r) == len(keys) else {k: r.get(k) for k in keys} for r in rows]


def _col(ctx: ImportContext, field: str) -> str:
    return next((h for h, f in ctx.batch.columns.items() if f == field), field)
