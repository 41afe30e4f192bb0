"""The manager's edits of a store's care schedules (maintenance by model or grade)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.actor import Actor
from winback.audit import service as audit_service
from winback.care.models import (
    CareSchedule,
)
from winback.errors import InvalidInput, NotFound


def list_schedules(*, session: Session, store_id: int) -> list[CareSchedule]:
    return list(
        session.scalars(
            select(CareSchedule)
            .where(CareSchedule.store_id == store_id)
            .order_by(CareSchedule.model, CareSchedule.grade)
        )
    )


def save_schedule(
    *,
    session: Session,
    store_id: int,
    model: str | None,
    grade: str | None,
    first_km: int,
    first_months: int,
    interval_km: int,
    interval_months: int,
    actor: Actor,
) -> CareSchedule:
    """Set the maintenance schedule of one model (or one grade) of the store (the manager)."""
    model = (model or "").strip() or None
    grade = (grade or "").strip() or None
    if (model is None) == (grade is None):
        raise InvalidInput("give either a model or a grade", field="model")
    for name, value, low, high in (
        ("first_km", first_km, 500, 50000),
        ("first_months", first_months, 1, 36),
        ("interval_km", interval_km, 1000, 100000),
        ("interval_months", interval_months, 1, 36),
    ):
        if not low <= value <= high:
            raise InvalidInput(
                "{name} must lie between {low} and {high}", name=name, low=low, high=high, field=name
            )
    row = session.scalar(
        select(CareSchedule).where(
            CareSchedule.store_id == store_id,
            CareSchedule.model.is_(None) if model is None else CareSchedule.model == model,
            CareSchedule.grade.is_(None) if grade is None else CareSchedule.grade == grade,
        )
    )
    values = dict(
        first_km=first_km, first_months=first_months, interval_km=interval_km, interval_months=interval_months
    )
    if row is None:
        row = CareSchedule(store_id=store_id, model=model, grade=grade, **values)
        session.add(row)
        session.flush()
        changes = {"created": {"model": model, "grade": grade, **values}}
    else:
        changes = audit_service.diff(row, values)
        for k, v in values.items():
            setattr(row, k, v)
    audit_service.record(
        session=session,
        actor=actor,
        action="care.schedule_saved",
        entity_type="care_schedule",
        entity_id=row.id,
        store_id=store_id,
        changes=changes,
    )
    session.flush()
    return row


def delete_schedule(*, session: Session, store_id: int, schedule_id: int, actor: Actor) -> None:
    row = session.get(CareSchedule, schedule_id)
    if row is None or row.store_id != store_id:
        raise NotFound("no schedule {schedule_id}", schedule_id=schedule_id)
    audit_service.record(
        session=session,
        actor=actor,
        action="care.schedule_deleted",
        entity_type="care_schedule",
        entity_id=row.id,
        store_id=store_id,
        changes={"model": row.model, "grade": row.grade},
    )
    session.delete(row)
    session.flush()
