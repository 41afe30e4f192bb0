"""Correcting a customer's contact data from the phone (issue 18): a new number after 号码错误,
kept with its history (the old number is never lost), and a second person to call.

A replaced number goes back through the archive cleanup: ``phone_checked`` is cleared, so the
next cleanup normalizes and validates the new number like an imported one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.identifiers import normalize_phone, phone_is_valid
from winback.customers.models import Customer, PhoneChange
from winback.errors import InvalidInput, NotFound


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no customer {customer_id}", customer_id=customer_id)
    return customer


def _checked_phone(raw: str | None, field: str) -> str:
    phone = normalize_phone(raw)
    if not phone_is_valid(phone):
        raise InvalidInput("'{phone}' is not a valid phone number", phone=raw or "", field=field)
    return phone


def change_phone(
    *,
    session: Session,
    customer_id: int,
    phone: str,
    actor: Actor,
    staff_id: int | None,
    note: str | None = None,
) -> Customer:
    """Replace the customer's number; the old one is kept in ``customer_phone_history``."""
    customer = _customer(session, customer_id)
    new = _checked_phone(phone, "phone")
    if new == customer.phone:
        raise InvalidInput("this is already the customer's number", field="phone")
    old, was_wrong = customer.phone, customer.phone_reported_wrong_at is not None or not customer.phone_valid
    session.add(
        PhoneChange(
            store_id=customer.store_id,
            customer_id=customer.id,
            old_phone=old,
            new_phone=new,
            old_reported_wrong=was_wrong,
            note=(note or None) and note[:500],
            changed_by_id=staff_id,
            changed_at=clock.now(),
        )
    )
    customer.phone = new
    customer.phone_valid = True
    customer.phone_reported_wrong_at = None
    customer.phone_checked = None  # the next archive cleanup checks the new number
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="customer.phone_changed",
        entity_type="customer",
        entity_id=customer.id,
        store_id=customer.store_id,
        customer_id=customer.id,
        changes={"old_phone": old, "phone": new, "old_reported_wrong": was_wrong, "note": note},
    )
    return customer


def phone_history(*, session: Session, customer_id: int) -> list[PhoneChange]:
    """The customer's replaced numbers, newest first."""
    return list(
        session.scalars(
            select(PhoneChange)
            .where(PhoneChange.customer_id == customer_id)
            .order_by(PhoneChange.changed_at.desc(), PhoneChange.id.desc())
        )
    )


def set_second_contact(
    *, session: Session, customer_id: int, name: str | None, phone: str | None, actor: Actor
) -> Customer:
    """A second person to call (name and phone; both empty removes it)."""
    customer = _customer(session, customer_id)
    name = (name or "").strip() or None
    number = _checked_phone(phone, "second_phone") if (phone or "").strip() else None
    if bool(name) != bool(number):
        raise InvalidInput(
            "give the second contact's name and phone", field="second_name" if number else "second_phone"
        )
    before = {"name": customer.second_contact_name, "phone": customer.second_contact_phone}
    customer.second_contact_name, customer.second_contact_phone = name and name[:120], number
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="customer.second_contact",
        entity_type="customer",
        entity_id=customer.id,
        store_id=customer.store_id,
        customer_id=customer.id,
        changes={"before": before, "name": name, "phone": number},
    )
    return customer
