"""The customer archive: cleanup (档案整理), profiles, repair orders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import Customer, ServiceVisit, Vehicle
from winback.errors import InvalidInput, NotFound
from winback.paging import PAGE_SIZE, Page, matches, paginate, words


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
        raise NotFound("no vehicle {vehicle_id} in this store", vehicle_id=vehicle_id)
    if amount < 0:
        raise InvalidInput("amount must not be negative", field="amount")
    existing = session.scalar(
        select(ServiceVisit).where(ServiceVisit.store_id == store_id, ServiceVisit.ro_number == ro_number)
    )
    if existing is not None:
        return existing  # the same repair order twice is one visit
    visit = ServiceVisit(
        store_id=store_id,
        ro_number=ro_number,
        vehicle_id=vehicle_id,
        customer_id=vehicle.customer_id,
        visit_date=visit_date,
        mileage=mileage,
        category=category,
        items=items,
        amount=amount,
        advisor_id=advisor_id,
        created_at=clock.now(),
    )
    session.add(visit)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="visit.recorded",
        entity_type="visit",
        entity_id=visit.id,
        store_id=store_id,
        customer_id=vehicle.customer_id,
        changes={"ro_number": ro_number, "visit_date": visit_date, "amount": amount, "category": category},
    )
    return visit


def get_vehicle(*, session: Session, vehicle_id: int, store_ids: list[int]) -> Vehicle:
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.store_id not in store_ids:
        raise NotFound("no vehicle {vehicle_id}", vehicle_id=vehicle_id)
    return vehicle


def get_customer(*, session: Session, customer_id: int, store_ids: list[int]) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.store_id not in store_ids:
        raise NotFound("no customer {customer_id}", customer_id=customer_id)
    return customer


def customers_page(
    *,
    session: Session,
    store_ids: list[int],
    search: str | None = None,
    by_phone: bool = False,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[Customer]:
    """The archive's customers (merged duplicates left out), by name; every word of ``search``
    must be in the name, the DMS code, or a vehicle's plate or VIN, and in the phone number too
    when ``by_phone`` (only for those who may see phone numbers: a masked number must not be
    guessable by searching)."""
    stmt = select(Customer).where(Customer.store_id.in_(store_ids), Customer.merged_into_id.is_(None))
    for word in words(search):
        columns = [Customer.name, Customer.dms_code] + ([Customer.phone] if by_phone else [])
        on_vehicle = select(Vehicle.customer_id).where(matches(word, Vehicle.plate, Vehicle.vin))
        stmt = stmt.where(or_(matches(word, *columns), Customer.id.in_(on_vehicle)))
    stmt = stmt.options(selectinload(Customer.vehicles)).order_by(Customer.name, Customer.id)
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def visits_of(*, session: Session, customer_id: int) -> list[ServiceVisit]:
    stmt = (
        select(ServiceVisit)
        .where(ServiceVisit.customer_id == customer_id)
        .order_by(ServiceVisit.visit_date.desc(), ServiceVisit.id.desc())
    )
    return list(session.scalars(stmt))


def vehicle_by_vin(*, session: Session, store_id: int, vin: str) -> Vehicle:
    vehicle = session.scalar(
        select(Vehicle).where(Vehicle.store_id == store_id, Vehicle.vin == vin.strip().upper())
    )
    if vehicle is None:
        raise NotFound("no vehicle with VIN {vin} in this store", vin=vin)
    return vehicle


def report_wrong_number(
    *, session: Session, customer_id: int, actor: Actor, note: str | None = None
) -> Customer:
    """An advisor dialled the archive's number and it was wrong or dead: flag it for cleanup."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no customer {customer_id}", customer_id=customer_id)
    if customer.phone_reported_wrong_at is None or customer.phone_valid:
        customer.phone_valid = False
        customer.phone_reported_wrong_at = clock.now()
        session.flush()
        audit_service.record(
            session=session,
            actor=actor,
            action="customer.phone_reported_wrong",
            entity_type="customer",
            entity_id=customer.id,
            store_id=customer.store_id,
            customer_id=customer.id,
            changes={"phone": customer.phone, "phone_valid": False, "note": note},
        )
    return customer


def set_do_not_call(*, session: Session, customer_id: int, actor: Actor, note: str | None = None) -> Customer:
    """The customer asked never to be called again; screening skips them in every later cycle."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no customer {customer_id}", customer_id=customer_id)
    if not customer.do_not_call:
        customer.do_not_call = True
        session.flush()
        audit_service.record(
            session=session,
            actor=actor,
            action="customer.do_not_call",
            entity_type="customer",
            entity_id=customer.id,
            store_id=customer.store_id,
            customer_id=customer.id,
            changes={"do_not_call": True, "note": note},
        )
    return customer
