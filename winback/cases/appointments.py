"""Appointments (预约) booked on a survey call: made from the task (the customer, car and cycle
come from it), never in the past, listed for the front desk by day, and closed by the car's
repair order (已到店) or by the day passing without one (未到店)."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, StaffRole, Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cases.models import Appointment, AppointmentStatus, ServiceType
from winback.customers.models import ServiceVisit
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.surveys.lists import get_task
from winback.surveys.models import SurveyStatus, SurveyTask

_BOOKERS = (Role.supervisor, Role.manager)


def slot_end(slot: str) -> time:
    """The end of a slot "09:00-10:30" (10:30)."""
    hours, minutes = slot.split("-")[-1].strip().split(":")
    return time(int(hours), int(minutes))


def _check_not_past(day: date, slot: str) -> None:
    """Refused: a day before today, or a slot of today already over."""
    now = clock.local(clock.now())
    if day < now.date() or (day == now.date() and slot_end(slot) <= now.time()):
        raise InvalidInput(
            "the appointment {day} {slot} lies in the past; give a day and time slot still to come",
            day=day.isoformat(),
            slot=slot,
            field="day",
        )


def _receiving_advisor(session: Session, store_id: int, advisor_id: int) -> Staff:
    advisor = session.scalar(
        select(Staff)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(
            Staff.id == advisor_id,
            Staff.store_id == store_id,
            Staff.active.is_(True),
            StaffRole.role == Role.advisor,
        )
    )
    if advisor is None:
        raise InvalidInput("choose an active service advisor of the store", field="advisor_id")
    return advisor


def appointment_of(*, session: Session, task_id: int) -> Appointment | None:
    return session.scalar(select(Appointment).where(Appointment.task_id == task_id))


def book(
    *,
    session: Session,
    task_id: int,
    day: date,
    slot: str,
    service_type: ServiceType | str,
    advisor_id: int | None,
    note: str | None = None,
    actor_staff: Staff,
) -> Appointment:
    """Book (or move) the appointment of a survey task; the survey's appointment day follows."""
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.assignee_id != actor_staff.id and not actor_staff.has_role(*_BOOKERS):
        raise Forbidden("only the assigned advisor (or a supervisor) books this customer's visit")
    if task.status not in (SurveyStatus.open, SurveyStatus.done):
        raise Conflict(
            "task {id} is closed without a contact; no visit is booked on it", id=task.id, code="closed"
        )
    slots = _slots(session, task.store_id)
    slot = (slot or "").strip()
    if slot not in slots:
        raise InvalidInput(
            "choose one of the store's time slots: {slots}", slots=", ".join(slots), field="slot"
        )
    try:
        kind = ServiceType(service_type)
    except ValueError:
        raise InvalidInput("choose the service type", field="service_type") from None
    _check_not_past(day, slot)
    advisor = _receiving_advisor(session, task.store_id, advisor_id or task.assignee_id)
    appt = appointment_of(session=session, task_id=task.id)
    before = None
    if appt is None:
        appt = Appointment(
            store_id=task.store_id,
            task_id=task.id,
            cycle_id=task.cycle_id,
            customer_id=task.customer_id,
            vehicle_id=task.target.vehicle_id,
            created_at=clock.now(),
            created_by_id=actor_staff.id,
        )
        session.add(appt)
    else:
        before = {"day": appt.day.isoformat(), "slot": appt.slot}
    appt.day, appt.slot, appt.service_type, appt.advisor_id = day, slot, kind, advisor.id
    appt.note = (note or "").strip()[:300] or None
    appt.status, appt.visit_id = AppointmentStatus.booked, None
    if task.appointment_on != day:
        task.appointment_on = day  # the survey's answer is the booking's day (no double entry)
    session.flush()
    _audit(session, appt, actor_staff, before)
    return appt


def _slots(session: Session, store_id: int) -> list[str]:
    return list(effective_settings(session.get(Store, store_id)).appointment_slots)


def _audit(session: Session, appt: Appointment, actor_staff: Staff, before: dict | None) -> None:
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="appointment.moved" if before else "appointment.booked",
        entity_type="task",
        entity_id=appt.task_id,
        store_id=appt.store_id,
        customer_id=appt.customer_id,
        cycle_id=appt.cycle_id,
        changes={
            "day": appt.day.isoformat(),
            "slot": appt.slot,
            "service_type": appt.service_type.value,
            "advisor_id": appt.advisor_id,
            **({"before": before} if before else {}),
        },
    )


def from_survey(*, session: Session, task: SurveyTask, actor_staff: Staff) -> Appointment | None:
    """A survey closed with an appointment day and no booking yet: booked from it, in the
    first slot of that day still to come, for maintenance, received by the task's advisor
    (the task page changes any of these)."""
    if task.appointment_on is None:
        return None
    booked = appointment_of(session=session, task_id=task.id)
    if booked is not None:
        if booked.day == task.appointment_on or booked.status != AppointmentStatus.booked:
            return None
        # the survey's day was changed: the booking moves with it, its slot and type kept
        return book(
            session=session,
            task_id=task.id,
            day=task.appointment_on,
            slot=booked.slot,
            service_type=booked.service_type,
            advisor_id=booked.advisor_id,
            note=booked.note,
            actor_staff=actor_staff,
        )
    slots = _slots(session, task.store_id)
    now = clock.local(clock.now())
    ahead = [s for s in slots if task.appointment_on > now.date() or slot_end(s) > now.time()]
    if not ahead:
        return None  # today's slots are over: the advisor books another day on the task page
    return book(
        session=session,
        task_id=task.id,
        day=task.appointment_on,
        slot=ahead[0],
        service_type=ServiceType.maintenance,
        advisor_id=task.assignee_id,
        actor_staff=actor_staff,
    )


def cancel(*, session: Session, task_id: int, reason: str, actor_staff: Staff) -> Appointment:
    """The customer called the visit off: kept on the day list as 已取消 with the reason, no
    longer closed by a repair order or counted as 未到店; booking again reopens it."""
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.assignee_id != actor_staff.id and not actor_staff.has_role(*_BOOKERS):
        raise Forbidden("only the assigned advisor (or a supervisor) books this customer's visit")
    appt = appointment_of(session=session, task_id=task.id)
    if appt is None:
        raise NotFound("task {task_id} has no appointment", task_id=task.id)
    if appt.status != AppointmentStatus.booked:
        raise Conflict("the appointment of task {id} is no longer booked", id=task.id, code="not_booked")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the appointment is cancelled", field="reason")
    appt.status, appt.note = AppointmentStatus.cancelled, reason[:300]
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="appointment.cancelled",
        entity_type="task",
        entity_id=appt.task_id,
        store_id=appt.store_id,
        customer_id=appt.customer_id,
        cycle_id=appt.cycle_id,
        changes={"day": appt.day.isoformat(), "slot": appt.slot, "reason": appt.note},
    )
    return appt


def day_list(*, session: Session, store_ids: list[int], day: date) -> list[Appointment]:
    """The front desk's win-back appointments of one day, by slot."""
    return list(
        session.scalars(
            select(Appointment)
            .where(Appointment.store_id.in_(store_ids), Appointment.day == day)
            .order_by(Appointment.slot, Appointment.id)
        )
    )


def close_loop(*, session: Session, store_id: int, today: date | None = None) -> dict[str, int]:
    """For the whole store at once: the car's first repair order on the appointment's day or in
    the ``appointment_arrival_days`` after marks it arrived (已到店), also after it was marked
    未到店 (an import that came late); a booking whose day has passed without one is 未到店.
    Two statements and one update; returns counts."""
    today = today or clock.today()
    window = timedelta(days=effective_settings(session.get(Store, store_id)).appointment_arrival_days)
    pairs = session.execute(
        select(Appointment.id, Appointment.day, ServiceVisit.id, ServiceVisit.visit_date)
        .join(ServiceVisit, ServiceVisit.vehicle_id == Appointment.vehicle_id)
        .where(
            Appointment.store_id == store_id,
            Appointment.status.in_([AppointmentStatus.booked, AppointmentStatus.no_show]),
            ServiceVisit.visit_date >= Appointment.day,
            ServiceVisit.visit_date <= today,
        )
        .order_by(Appointment.id, ServiceVisit.visit_date, ServiceVisit.id)
    ).all()
    arrived: dict[int, dict] = {}
    for appt_id, day, visit_id, visit_day in pairs:
        if appt_id not in arrived and visit_day <= day + window:
            arrived[appt_id] = {
                "id": appt_id,
                "visit_id": visit_id,
                "status": AppointmentStatus.arrived.value,
            }
    if arrived:
        session.execute(update(Appointment), list(arrived.values()))
    no_show = session.execute(
        update(Appointment)
        .where(
            Appointment.store_id == store_id,
            Appointment.status == AppointmentStatus.booked,
            Appointment.day < today,
        )
        .values(status=AppointmentStatus.no_show)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire_all()
    return {"arrived": len(arrived), "no_show": no_show or 0}


def get_appointment(*, session: Session, appointment_id: int, viewer: Staff) -> Appointment:
    appt = session.get(Appointment, appointment_id)
    if appt is None or appt.store_id not in viewer.all_store_ids:
        raise NotFound("no appointment {id}", id=appointment_id)
    return appt
