"""Complaints as cases (投诉): opened when a survey records one, given an owner, resolved with
the resolution (who, when); the resolution starts the re-call within a week (PROCESS.md:
投诉解决后一周内回访), which is the care calendar's ``complaint_recall`` call in the advisor's
queue, with its due date and a reminder through the notifications."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.care.models import CareItem, CareKind, CareStatus, CareTouch, TouchChannel, TouchStatus
from winback.cases.models import CaseStatus, ComplaintCase
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.paging import PAGE_SIZE, Page, paginate
from winback.surveys.models import SurveyTask

_HANDLERS = (Role.manager, Role.supervisor)


def _audit(session: Session, case: ComplaintCase, actor: Actor, action: str, changes: dict) -> None:
    audit_service.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="task",
        entity_id=case.task_id,
        store_id=case.store_id,
        customer_id=case.customer_id,
        cycle_id=case.cycle_id,
        changes={"case_id": case.id, **changes},
    )


def open_case(*, session: Session, task: SurveyTask, actor_staff: Staff) -> ComplaintCase:
    """The case of a complaint a survey recorded (one per task; the complaint stays on it)."""
    case = case_of_task(session=session, task_id=task.id)
    if case is not None:
        return case
    case = ComplaintCase(
        store_id=task.store_id,
        task_id=task.id,
        cycle_id=task.cycle_id,
        customer_id=task.customer_id,
        vehicle_id=task.target.vehicle_id,
        complaint=task.complaint,
        opened_at=clock.now(),
        status=CaseStatus.open,
    )
    session.add(case)
    session.flush()
    _audit(session, case, Actor.person(actor_staff), "complaint.case_opened", {"complaint": task.complaint})
    return case


def case_of_task(*, session: Session, task_id: int) -> ComplaintCase | None:
    return session.scalar(select(ComplaintCase).where(ComplaintCase.task_id == task_id))


def get_case(*, session: Session, case_id: int, viewer: Staff) -> ComplaintCase:
    case = session.get(ComplaintCase, case_id)
    if case is None or case.store_id not in viewer.all_store_ids:
        raise NotFound("no complaint case {id}", id=case_id)
    if not viewer.has_role(*_HANDLERS, Role.admin, Role.auditor) and case.owner_id != viewer.id:
        raise Forbidden("this complaint case is handled by its owner and the managers")
    return case


def cases_page(
    *, session: Session, store_ids: list[int], status: CaseStatus | None = None, page: int = 1
) -> Page[ComplaintCase]:
    """The store's complaint cases, open ones first, oldest first within."""
    stmt = select(ComplaintCase).where(ComplaintCase.store_id.in_(store_ids))
    if status is not None:
        stmt = stmt.where(ComplaintCase.status == status)
    stmt = stmt.order_by(ComplaintCase.status, ComplaintCase.opened_at, ComplaintCase.id)
    return paginate(session, stmt, page=page, page_size=PAGE_SIZE, filtered=status is not None)


def assign_owner(*, session: Session, case_id: int, owner_id: int, actor_staff: Staff) -> ComplaintCase:
    """The manager (or supervisor) names who handles the complaint; the owner is told."""
    if not actor_staff.has_role(*_HANDLERS):
        raise Forbidden("only the service manager or the supervisor assigns complaints")
    case = get_case(session=session, case_id=case_id, viewer=actor_staff)
    if case.status != CaseStatus.open:
        raise Conflict("the complaint case {id} is already resolved", id=case.id, code="resolved")
    owner = session.get(Staff, owner_id)
    if owner is None or not owner.active or case.store_id not in owner.all_store_ids:
        raise InvalidInput("choose an active staff member of the store", field="owner_id")
    before = case.owner_id
    case.owner_id = owner.id
    session.flush()
    _audit(
        session,
        case,
        Actor.person(actor_staff),
        "complaint.owner_set",
        {"owner_id": owner.id, "before": before},
    )
    if owner.id != actor_staff.id:
        notifications.enqueue(
            session=session,
            recipient=owner,
            kind="complaint_case_assigned",
            dedupe_key=f"complaint_case_assigned:{case.id}:{owner.id}",
            about=("complaint", case.id),
            case_id=case.id,
            customer=case.customer.name,
            complaint=case.complaint[:200],
        )
    return case


def resolve(*, session: Session, case_id: int, resolution: str, actor_staff: Staff) -> ComplaintCase:
    """The owner, the manager or the supervisor resolves the case with what was done; the
    re-call within ``care_complaint_recall_days`` is put in the advisor's call queue and the
    advisor is told. The survey task keeps the answer too (its complaint stays as it was)."""
    case = get_case(session=session, case_id=case_id, viewer=actor_staff)
    if case.owner_id != actor_staff.id and not actor_staff.has_role(*_HANDLERS):
        raise Forbidden("only the case's owner, the service manager or the supervisor resolves it")
    if actor_staff.has_role(Role.auditor) and not actor_staff.has_role(*_HANDLERS):
        raise Forbidden("an auditor reads the trail and changes nothing")
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidInput("write how the complaint was resolved", field="resolution")
    if case.status == CaseStatus.resolved:
        raise Conflict("the complaint case {id} is already resolved", id=case.id, code="resolved")
    now = clock.now()
    case.status, case.resolution = CaseStatus.resolved, resolution
    case.resolved_at, case.resolved_by_id = now, actor_staff.id
    case.owner_id = case.owner_id or actor_staff.id
    task = session.get(SurveyTask, case.task_id)
    if not task.complaint_answer:
        task.complaint_answer, task.complaint_answered_at = resolution, now
        task.complaint_answered_by_id = actor_staff.id
    item, touch = _recall(session, case, task)
    session.flush()
    _audit(
        session,
        case,
        Actor.person(actor_staff),
        "complaint.resolved",
        {"resolution": resolution, "recall_due_on": item.due_on.isoformat(), "recall_item_id": item.id},
    )
    _tell_recall_advisor(session, case, item, touch, "complaint_recall_assigned")
    return case


def _recall(session: Session, case: ComplaintCase, task: SurveyTask) -> tuple[CareItem, CareTouch]:
    """The care calendar's complaint re-call of the case (the key its daily pass would give
    it, so the pass finds it made), and its call in the advisor's queue: the advisor who heard
    the complaint, else the case's owner."""
    rules = effective_settings(session.get(Store, case.store_id))
    resolved_on = clock.local(case.resolved_at).date()
    key = f"complaint_recall:{case.task_id}"
    item = session.scalar(
        select(CareItem).where(
            CareItem.vehicle_id == case.vehicle_id,
            CareItem.kind == CareKind.complaint_recall,
            CareItem.key == key,
        )
    )
    if item is None:
        item = CareItem(
            store_id=case.store_id,
            vehicle_id=case.vehicle_id,
            customer_id=case.customer_id,
            kind=CareKind.complaint_recall,
            key=key,
            due_on=resolved_on + timedelta(days=rules.care_complaint_recall_days),
            basis="date",
            forecast={"answered_on": resolved_on.isoformat(), "task_id": case.task_id},
            holdout=False,
            status=CareStatus.open,
            created_on=clock.today(),
            source_id=case.task_id,
            created_at=clock.now(),
        )
        session.add(item)
        session.flush()
    case.recall_item = item
    touch = session.scalar(select(CareTouch).where(CareTouch.item_id == item.id, CareTouch.step == 0))
    if touch is None:
        advisor_id = task.assignee_id if _is_active(session, task.assignee_id) else case.owner_id
        touch = CareTouch(
            store_id=case.store_id,
            item_id=item.id,
            step=0,
            channel=TouchChannel.call,
            status=TouchStatus.pending,
            planned_on=clock.today(),
            why="call_kind",
            advisor_id=advisor_id,
            phone=case.customer.phone,
            attempts=0,
            created_at=clock.now(),
        )
        session.add(touch)
        session.flush()
    return item, touch


def _is_active(session: Session, staff_id: int | None) -> bool:
    person = session.get(Staff, staff_id) if staff_id else None
    return bool(person and person.active)


def _tell_recall_advisor(
    session: Session, case: ComplaintCase, item: CareItem, touch: CareTouch, kind: str
) -> bool:
    advisor = session.get(Staff, touch.advisor_id) if touch.advisor_id else None
    if advisor is None:
        return False
    return notifications.enqueue(
        session=session,
        recipient=advisor,
        kind=kind,
        dedupe_key=f"{kind}:{case.id}",
        about=("care_calls", None),
        customer=case.customer.name,
        due=item.due_on,
        resolution=(case.resolution or "")[:200],
    )


def remind_recalls(*, session: Session, store_id: int) -> int:
    """The daily watcher: each resolved case whose re-call is still open and due within
    ``complaint_recall_remind_days_before`` days (or overdue) reminds its advisor once."""
    rules = effective_settings(session.get(Store, store_id))
    until = clock.today() + timedelta(days=rules.complaint_recall_remind_days_before)
    rows = session.execute(
        select(ComplaintCase, CareItem, CareTouch)
        .join(CareItem, CareItem.id == ComplaintCase.recall_item_id)
        .join(CareTouch, (CareTouch.item_id == CareItem.id) & (CareTouch.step == 0))
        .where(
            ComplaintCase.store_id == store_id,
            ComplaintCase.status == CaseStatus.resolved,
            ComplaintCase.recall_reminded_at.is_(None),
            CareItem.status == CareStatus.open,
            CareTouch.status == TouchStatus.pending,
            CareItem.due_on <= until,
        )
    ).all()
    reminded = 0
    for case, item, touch in rows:
        reminded += _tell_recall_advisor(session, case, item, touch, "complaint_recall_due")
        case.recall_reminded_at = clock.now()
    session.flush()
    return reminded
