"""Correcting the customer's contact data from a survey task (the advisor on the phone): a new
number after 号码错误, a second contact, do-not-contact. Who may: the task's advisor, or the
supervisor, manager or admin of its store (``require_customer_access(write=True)``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import contacts
from winback.customers import service as customers
from winback.customers.models import Customer
from winback.surveys.lists import get_task, require_customer_access
from winback.surveys.models import SurveyStatus, SurveyTask


def _task(session: Session, task_id: int, actor_staff: Staff) -> SurveyTask:
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    require_customer_access(session=session, viewer=actor_staff, customer_id=task.customer_id, write=True)
    return task


def correct_phone(
    *, session: Session, task_id: int, phone: str, note: str | None, actor_staff: Staff
) -> Customer:
    """The right number for the task's customer; the old one stays in the phone history."""
    task = _task(session, task_id, actor_staff)
    return contacts.change_phone(
        session=session,
        customer_id=task.customer_id,
        phone=phone,
        note=note,
        actor=Actor.person(actor_staff),
        staff_id=actor_staff.id,
    )


def second_contact(
    *, session: Session, task_id: int, name: str | None, phone: str | None, actor_staff: Staff
) -> Customer:
    task = _task(session, task_id, actor_staff)
    return contacts.set_second_contact(
        session=session, customer_id=task.customer_id, name=name, phone=phone, actor=Actor.person(actor_staff)
    )


def do_not_contact(*, session: Session, task_id: int, note: str | None, actor_staff: Staff) -> SurveyTask:
    """The customer asked not to be contacted: flagged in the archive (screening and the care
    calendar skip them from now on) and the task, when open, is taken off the list, as the
    ``do_not_call`` outcome of a call does."""
    task = _task(session, task_id, actor_staff)
    actor = Actor.person(actor_staff)
    customers.set_do_not_call(session=session, customer_id=task.customer_id, actor=actor, note=note)
    if task.status == SurveyStatus.open:
        task.status = SurveyStatus.excluded
        task.excluded_reason = "do_not_call"
        task.follow_up_at = None
        task.closed_at, task.closed_by_id = clock.now(), actor_staff.id
        session.flush()
        audit_service.record(
            session=session,
            actor=actor,
            action="task.excluded",
            entity_type="task",
            entity_id=task.id,
            store_id=task.store_id,
            customer_id=task.customer_id,
            cycle_id=task.cycle_id,
            changes={"status": task.status, "reason": "do_not_call", "note": note},
        )
    return task
