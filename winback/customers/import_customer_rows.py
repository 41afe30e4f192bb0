"""Writing a chunk of customer rows: parse, report the failing rows, insert the new
customers and update the known ones (set-based per chunk)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, select

from winback import clock
from winback.customers import identifiers
from winback.customers.import_columns import REQUIRED
from winback.customers.import_errors import encode
from winback.customers.import_rows import (
    ImportContext,
    apply_changes,
    parse_row,
    report_problem,
    seen_before,
    uniform,
)
from winback.customers.import_values import (
    bounded,
    cell_name,
    cell_phone,
    limited,
    parse_customer_type,
    parse_date,
    parse_gender,
    parse_int,
)
from winback.customers.models import Customer, CustomerType, ImportKind

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
        row, ok = parse_row(ctx, number, cells, _CUSTOMER_SPEC, REQUIRED[ImportKind.customers])
        age = row.pop("age", None)
        if age is not None and not row.get("birth_date"):
            if 0 < age < 120:
                row["birth_date"] = date(clock.today().year - age, 7, 1)  # mid-year estimate from the age
            else:  # not a key: the row is imported without it
                report_problem(ctx, number, "age", encode("bad_age", kept_empty=True), age)
        if not ok:
            continue
        row["dms_code"] = row.get("dms_code") or row.get("phone")
        if seen_before(ctx, row["dms_code"], number, "dms_code"):
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
                    # normalized and checked just now: the next archive cleanup need not again
                    "phone_checked": values.get("phone"),
                    **values,
                }
            )
        else:
            apply_changes(ctx, c, values, "customer", c.id)
    if new:
        s.execute(insert(Customer.__table__), uniform(new))
        ctx.batch.inserted += len(new)
