"""The customer archive: cleanup (档案整理), profiles, repair orders."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.errors import InvalidInput, NotFound

# Mainland mobile (11 digits, 1[3-9]x) or landline with area code (0xx-xxxxxxx(x)).
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
# 17 characters, letters I, O and Q never appear in a VIN.
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


def normalize_phone(raw: str | None) -> str | None:
    if raw is None:
        return None
    digits = re.sub(r"[\s\-()]", "", raw)
    digits = re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)
    return digits or None


def phone_is_valid(phone: str | None) -> bool:
    return bool(phone) and bool(_MOBILE.match(phone) or _LANDLINE.match(phone))


def vin_is_valid(vin: str) -> bool:
    return bool(_VIN.match(vin or ""))


def cleanup_archive(*, session: Session, store_id: int, actor: Actor) -> dict[str, int]:
    """Normalize phone numbers and flag bad phones and VINs for one store.

    Works on the whole store in a few statements per change; re-running changes nothing.
    """
    changed_phones = 0
    rows = session.execute(
        select(Customer.id, Customer.phone, Customer.phone_valid, Customer.phone_reported_wrong_at)
        .where(Customer.store_id == store_id)
    ).all()
    fixes = []
    for cid, phone, valid, reported_wrong in rows:
        norm = normalize_phone(phone)
        # A number an advisor found wrong stays invalid however well-formed it looks.
        ok = phone_is_valid(norm) and reported_wrong is None
        if norm != phone or ok != valid:
            fixes.append({"id": cid, "phone": norm, "phone_valid": ok})
    if fixes:
        session.execute(update(Customer), fixes)
        changed_phones = len(fixes)
    vin_rows = session.execute(
        select(Vehicle.id, Vehicle.vin, Vehicle.vin_valid).where(Vehicle.store_id == store_id)
    ).all()
    vin_fixes = [
        {"id": vid, "vin_valid": vin_is_valid(vin)}
        for vid, vin, valid in vin_rows
        if vin_is_valid(vin) != valid
    ]
    if vin_fixes:
        session.execute(update(Vehicle), vin_fixes)
    bad_phones = session.scalar(
        select(func.count()).where(Customer.store_id == store_id, Customer.phone_valid.is_(False))
    )
    bad_vins = session.scalar(
        select(func.count()).where(Vehicle.store_id == store_id, Vehicle.vin_valid.is_(False))
    )
    excluded = session.scalar(
        select(func.count()).where(Vehicle.store_id == store_id, Vehicle.status != VehicleStatus.active)
    )
    summary = {
        "customers": len(rows),
        "vehicles": len(vin_rows),
        "phones_changed": changed_phones,
        "vins_changed": len(vin_fixes),
        "bad_phones": int(bad_phones or 0),
        "bad_vins": int(bad_vins or 0),
        "vehicles_excluded": int(excluded or 0),
    }
    if changed_phones or vin_fixes:
        audit_service.record(
            session=session, actor=actor, action="archive.cleaned", entity_type="store",
            entity_id=store_id, store_id=store_id, changes=summary,
        )
    session.flush()
    return summary


def set_vehicle_status(
    *, session: Session, vehicle_id: int, status: VehicleStatus, note: str | None, actor: Actor
) -> Vehicle:
    """Mark a vehicle sold / scrapped / moved away (excluded from screening) or active again."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise NotFound(f"no vehicle {vehicle_id}")
    changes = audit_service.diff(vehicle, {"status": status, "status_note": note})
    if changes:
        audit_service.record(
            session=session, actor=actor, action="vehicle.status_changed", entity_type="vehicle",
            entity_id=vehicle.id, store_id=vehicle.store_id, changes=changes,
            customer_id=vehicle.customer_id,
        )
    return vehicle


def add_visit(
    *,
    session: Session,
    store_id: int,
    vehicle_id: int,
    ro_number: str,
    visit_date: date,
    category: str,
    amount: Decimal,
    mileage: int | None = None,
    items: str | None = None,
    advisor_id: int | None = None,
    actor: Actor,
) -> ServiceVisit:
    """Record one repair order (the DMS import and the API use this)."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.store_id != store_id:
        raise NotFound(f"no vehicle {vehicle_id} in this store")
    if amount < 0:
        raise InvalidInput("amount must not be negative", field="amount")
    existing = session.scalar(
        select(ServiceVisit).where(ServiceVisit.store_id == store_id, ServiceVisit.ro_number == ro_number)
    )
    if existing is not None:
        return existing  # the same repair order twice is one visit
    visit = ServiceVisit(
        store_id=store_id, ro_number=ro_number, vehicle_id=vehicle_id,
        customer_id=vehicle.customer_id, visit_date=visit_date, mileage=mileage,
        category=category, items=items, amount=amount, advisor_id=advisor_id,
        created_at=clock.now(),
    )
    session.add(visit)
    session.flush()
    audit_service.record(
        session=session, actor=actor, action="visit.recorded", entity_type="visit",
        entity_id=visit.id, store_id=store_id, customer_id=vehicle.customer_id,
        changes={"ro_number": ro_number, "visit_date": visit_date, "amount": amount, "category": category},
    )
    return visit


def get_customer(*, session: Session, customer_id: int, store_ids: list[int]) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.store_id not in store_ids:
        raise NotFound(f"no customer {customer_id}")
    return customer


def visits_of(*, session: Session, customer_id: int) -> list[ServiceVisit]:
    stmt = (
        select(ServiceVisit)
        .where(ServiceVisit.customer_id == customer_id)
        .order_by(ServiceVisit.visit_date.desc(), ServiceVisit.id.desc())
    )
    return list(session.scalars(stmt))


def vehicle_by_vin(*, session: Session, store_id: int, vin: str) -> Vehicle:
    vehicle = session.scalar(select(Vehicle).where(Vehicle.store_id == store_id, Vehicle.vin == vin.strip().upper()))
    if vehicle is None:
        raise NotFound(f"no vehicle with VIN {vin} in this store")
    return vehicle


def report_wrong_number(*, session: Session, customer_id: int, actor: Actor, note: str | None = None) -> Customer:
    """An advisor dialled the archive's number and it was wrong or dead: flag it for cleanup."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    if customer.phone_reported_wrong_at is None or customer.phone_valid:
        customer.phone_valid = False
        customer.phone_reported_wrong_at = clock.now()
        session.flush()
        audit_service.record(
            session=session, actor=actor, action="customer.phone_reported_wrong", entity_type="customer",
            entity_id=customer.id, store_id=customer.store_id, customer_id=customer.id,
            changes={"phone": customer.phone, "phone_valid": False, "note": note},
        )
    return customer


def set_do_not_call(*, session: Session, customer_id: int, actor: Actor, note: str | None = None) -> Customer:
    """The customer asked never to be called again; screening skips them in every later cycle."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    if not customer.do_not_call:
        customer.do_not_call = True
        session.flush()
        audit_service.record(
            session=session, actor=actor, action="customer.do_not_call", entity_type="customer",
            entity_id=customer.id, store_id=customer.store_id, customer_id=customer.id,
            changes={"do_not_call": True, "note": note},
        )
    return customer
