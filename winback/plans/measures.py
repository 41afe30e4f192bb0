"""Measures being carried out: their owners' reports and evidence, lists, the daily reminders
and escalation of measures due soon or overdue."""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles.models import MonthlyCycle
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.notifications.messages import Label, Message
from winback.paging import PAGE_SIZE, Page, matches, paginate, words
from winback.plans.measure_library import english_titles
from winback.plans.models import (
    Measure,
    MeasureAttachment,
    MeasureStatus,
    PlanStatus,
    RectificationPlan,
)
from winback.plans.versions import get_plan

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def set_measure_status(
    *,
    session: Session,
    measure_id: int,
    status: MeasureStatus,
    evidence: str | None,
    actor_staff: Staff,
    attachment: tuple[str, bytes] | None = None,
) -> Measure:
    measure = session.get(Measure, measure_id)
    if measure is None or measure.store_id not in actor_staff.all_store_ids:
        raise NotFound("no measure {measure_id}", measure_id=measure_id)
    if measure.owner_id != actor_staff.id and not actor_staff.has_role(Role.manager):
        raise Forbidden("only the measure's owner or a manager reports on it")
    if measure.plan.status != PlanStatus.approved:
        raise Conflict("measures are carried out only once the plan is approved, in its version in force")
    if status == MeasureStatus.done and not (evidence or "").strip() and not attachment:
        raise InvalidInput("say what was done (evidence)", field="evidence")
    values = {
        "status": status,
        "evidence": (evidence or "").strip() or measure.evidence,
        "done_at": clock.now() if status == MeasureStatus.done else None,
    }
    changes = audit_service.diff(measure, values)
    if attachment is not None:
        name, data = attachment
        if not data:
            raise InvalidInput("the attached file is empty", field="attachment")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InvalidInput("the attached file is larger than 5 MB", field="attachment")
        digest = hashlib.sha256(data).hexdigest()
        session.add(
            MeasureAttachment(
                measure_id=measure.id,
                filename=(name or "evidence")[-200:],
                sha256=digest,
                size=len(data),
                data=data,
                uploaded_at=clock.now(),
                uploaded_by_id=actor_staff.id,
            )
        )
        changes["attachment"] = {
            "before": None,
            "after": {"filename": name, "sha256": digest, "size": len(data)},
        }
    if changes:
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="measure.status_changed",
            entity_type="plan",
            entity_id=measure.plan_id,
            store_id=measure.store_id,
            cycle_id=measure.plan.cycle_id,
            changes={"measure_id": measure.id, **changes},
        )
    session.flush()
    return measure


def measures_owned_page(
    *,
    session: Session,
    staff_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[Measure]:
    """The measures of approved plans a staff member owns, by due date, a page at a time;
    ``search`` matches the measure's title."""
    stmt = (
        select(Measure)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(
            Measure.owner_id == staff_id,
            RectificationPlan.status == PlanStatus.approved,
            matches(search, Measure.title),
        )
        .order_by(Measure.due_date, Measure.id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def attachments_of(*, session: Session, measure_id: int) -> list[MeasureAttachment]:
    return list(
        session.scalars(
            select(MeasureAttachment)
            .where(MeasureAttachment.measure_id == measure_id)
            .order_by(MeasureAttachment.id)
        )
    )


def plan_attachments(
    *, session: Session, plan_id: int, store_ids: list[int]
) -> dict[int, list[MeasureAttachment]]:
    """The evidence files of a plan's measures, by measure id, for the plan's readers. A file
    uploaded to a measure of an earlier version shows on the same measure of a later one
    (the versions' measures share their lineage)."""
    plan = get_plan(session=session, plan_id=plan_id, store_ids=store_ids)
    lineage = {m.lineage_id or m.id: m.id for m in plan.measures}
    if not lineage:
        return {}
    rows = session.execute(
        select(MeasureAttachment, Measure.lineage_id, Measure.id)
        .join(Measure, Measure.id == MeasureAttachment.measure_id)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(
            RectificationPlan.cycle_id == plan.cycle_id,
            func.coalesce(Measure.lineage_id, Measure.id).in_(lineage),
        )
        .order_by(MeasureAttachment.id)
    )
    found: dict[int, list[MeasureAttachment]] = {}
    for attachment, lineage_id, measure_id in rows:
        found.setdefault(lineage[lineage_id or measure_id], []).append(attachment)
    return found


def attachment_file(
    *, session: Session, measure_id: int, attachment_id: int, store_ids: list[int]
) -> MeasureAttachment:
    """One evidence file with its content, for a reader of the measure's plan."""
    measure = session.get(Measure, measure_id)
    attachment = session.get(MeasureAttachment, attachment_id)
    if (
        measure is None
        or measure.store_id not in store_ids
        or attachment is None
        or attachment.measure_id != measure.id
    ):
        raise NotFound("no evidence file {attachment_id}", attachment_id=attachment_id)
    return attachment


def remind_measures(*, session: Session, store_id: int, actor: Actor) -> dict[str, int]:
    """Remind owners of measures due soon or overdue (once a day each), and escalate each
    overdue measure to the store's managers once. Idempotent within a day."""
    today = clock.today()
    now = clock.now()
    stmt = (
        select(Measure)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(
            Measure.store_id == store_id,
            RectificationPlan.status == PlanStatus.approved,
            Measure.status != MeasureStatus.done,
            Measure.due_date.is_not(None),
            Measure.owner_id.is_not(None),
        )
        .order_by(Measure.due_date, Measure.id)
    )
    reminded = escalated = 0
    overdue_for_managers: list[Measure] = []
    titles_en = english_titles(session=session, store_ids=[store_id])
    for m in session.scalars(stmt):
        days_before = int(session.get(MonthlyCycle, m.plan.cycle_id).rules.measure_reminder_days_before)
        overdue = m.due_date < today
        due_soon = not overdue and (m.due_date - today).days <= days_before
        if (overdue or due_soon) and (
            m.last_reminder_at is None or clock.local(m.last_reminder_at).date() < today
        ):
            notifications.enqueue(
                session=session,
                recipient=m.owner,
                kind="measure_overdue" if overdue else "measure_due_soon",
                dedupe_key=f"measure_reminder:{m.id}:{today.isoformat()}",
                about=("measure", m.id),
                title=Label(m.title, en=titles_en.get(m.title)),
                due=m.due_date,
            )
            m.last_reminder_at = now
            m.reminders = (m.reminders or 0) + 1
            reminded += 1
        if overdue and m.escalated_at is None:
            m.escalated_at = now
            overdue_for_managers.append(m)
            escalated += 1
    if overdue_for_managers:
        _escalate_to_managers(
            session=session,
            store_id=store_id,
            actor=actor,
            overdue=overdue_for_managers,
            titles_en=titles_en,
            today=today,
        )
    session.flush()
    return {"measures_reminded": reminded, "measures_escalated": escalated}


def _escalate_to_managers(
    *,
    session: Session,
    store_id: int,
    actor: Actor,
    overdue: list[Measure],
    titles_en: dict[str, str],
    today: date,
) -> None:
    """One notice per manager listing the newly overdue measures, and one audit event each."""
    lines = [
        Message(
            "{title} ({owner}, {due})",
            owner=m.owner.display_name,
            title=Label(m.title, en=titles_en.get(m.title)),
            due=m.due_date,
        )
        for m in overdue
    ]
    for manager in staff_with_role(session=session, store_id=store_id, role=Role.manager):
        notifications.enqueue(
            session=session,
            recipient=manager,
            kind="measures_escalated",
            dedupe_key=f"measures_escalated:{store_id}:{manager.id}:{today.isoformat()}",
            about=("measures", None),
            count=len(overdue),
            measures=lines,
        )
    for m in overdue:
        audit_service.record(
            session=session,
            actor=actor,
            action="measure.escalated",
            entity_type="plan",
            entity_id=m.plan_id,
            store_id=store_id,
            cycle_id=m.plan.cycle_id,
            changes={
                "measure_id": m.id,
                "title": m.title,
                "due_date": m.due_date,
                "owner_id": m.owner_id,
            },
        )
