"""What advisors learn on a call and record: a vehicle's status (sold, scrapped, moved) and notes
on the customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import (
    Customer,
    CustomerNote,
    NoteKind,
    Vehicle,
    VehicleStatus,
)
from winback.errors import InvalidInput, NotFound

# ---- vehicle status ----------------------------------------------------------------------


def set_vehicle_status(
    *,
    session: Session,
    vehicle_id: int,
    status: VehicleStatus,
    note: str | None,
    actor: Actor,
    store_ids: list[int] | None = None,
) -> Vehicle:
    """Flag a vehicle sold / scrapped / moved away / owner deceased (excluded from screening),
    or active again; who and why are kept on the vehicle and in the audit trail."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or (store_ids is not None and vehicle.store_id not in store_ids):
        raise NotFound("no vehicle {vehicle_id}", vehicle_id=vehicle_id)
    status = VehicleStatus(status)
    if status != VehicleStatus.active and not (note or "").strip():
        raise InvalidInput("say why (e.g. who told you the car was sold)", field="note")
    changes = audit_service.diff(vehicle, {"status": status, "status_note": (note or "").strip() or None})
    if changes:
        vehicle.status_by_id, vehicle.status_at = actor.staff_id, clock.now()
        audit_service.record(
            session=session,
            actor=actor,
            action="vehicle.status_changed",
            entity_type="vehicle",
            entity_id=vehicle.id,
            store_id=vehicle.store_id,
            changes=changes,
            customer_id=vehicle.customer_id,
        )
    session.flush()
    return vehicle


# ---- what advisors learn -----------------------------------------------------------------


def add_note(
    *, session: Session, customer_id: int, kind: NoteKind | str, text: str, actor: Actor, store_ids: list[int]
) -> CustomerNote:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.store_id not in store_ids:
        raise NotFound("no customer {customer_id}", customer_id=customer_id)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the note is empty", field="text")
    if len(text) > 2000:
        raise InvalidInput("the note is longer than 2000 characters", field="text")
    try:
        kind = NoteKind(kind)
    except ValueError:
        raise InvalidInput("unknown kind of note '{kind}'", kind=kind, field="kind") from None
    note = CustomerNote(
        store_id=customer.store_id,
        customer_id=customer.id,
        kind=kind,
        text=text,
        author_id=actor.staff_id,
        created_at=clock.now(),
    )
    session.add(note)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="customer.note_added",
        entity_type="customer",
        entity_id=customer.id,
        store_id=customer.store_id,
        customer_id=customer.id,
        changes={"kind": kind.value, "text": text},
    )
    return note


def notes_of(*, session: Session, customer_id: int) -> list[CustomerNote]:
    return list(
        session.scalars(
            select(CustomerNote)
            .where(CustomerNote.customer_id == customer_id)
            .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
        )
    )
