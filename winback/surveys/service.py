"""Reason surveys: distribution, the advisor's work, reminders, escalation and the tally."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import Customer
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.surveys.models import (
    ContactAttempt,
    ContactMethod,
    ReasonCode,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)
from winback.surveys.reasons import DEFAULT_REASONS


def seed_reason_codes(*, session: Session, store_id: int) -> int:
    """Give a store the default reasons it lacks; returns how many were added."""
    have = set(session.scalars(select(ReasonCode.code).where(ReasonCode.store_id == store_id)))
    added = 0
    for order, (code, zh, en, area) in enumerate(DEFAULT_REASONS):
        if code not in have:
            session.add(ReasonCode(store_id=store_id, code=code, label_zh=zh, label_en=en, area=area, sort_order=order))
            added += 1
    session.flush()
    return added


def reason_codes(*, session: Session, store_id: int, active_only: bool = True) -> list[ReasonCode]:
    stmt = select(ReasonCode).where(ReasonCode.store_id == store_id)
    if active_only:
        stmt = stmt.where(ReasonCode.active.is_(True))
    return list(session.scalars(stmt.order_by(ReasonCode.sort_order, ReasonCode.id)))


def _local_due(due: datetime) -> str:
    return clock.local(due).strftime("%Y-%m-%d %H:%M")


def assign_surveys(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Give every target of the cycle without a task to an advisor (idempotent).

    A customer goes to the advisor who served their last visit when that advisor is still
    active; the rest are balanced by open workload. ``due_at`` is ``assigned_at`` plus the
    cycle's ``survey_deadline_days`` (one week by default).
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    advisors = staff_with_role(session=session, store_id=cycle.store_id, role=Role.advisor)
    if not advisors:
        raise InvalidInput("the store has no active service advisor to assign surveys to")
    by_id = {a.id: a for a in advisors}
    load = Counter(
        dict(
            session.execute(
                select(SurveyTask.assignee_id, func.count())
                .where(SurveyTask.store_id == cycle.store_id, SurveyTask.status == SurveyStatus.open)
                .group_by(SurveyTask.assignee_id)
            ).all()
        )
    )
    for a in advisors:
        load.setdefault(a.id, 0)
    pending = session.execute(
        select(Target.id, Target.customer_id, Target.profile)
        .outerjoin(SurveyTask, SurveyTask.target_id == Target.id)
        .where(Target.cycle_id == cycle.id, SurveyTask.id.is_(None), Target.holdout.is_(False))
        .order_by(Target.band.desc(), Target.total_spend.desc(), Target.id)
    ).all()
    now = clock.now()
    due = now + timedelta(days=cycle.settings["survey_deadline_days"])
    rows = []
    per_advisor: Counter = Counter()
    for target_id, customer_id, profile in pending:
        last = (profile or {}).get("last_advisor_id")
        if last in by_id:
            assignee = last
        else:
            assignee = min(load, key=lambda a: (load[a], a))
        load[assignee] += 1
        per_advisor[assignee] += 1
        rows.append(
            dict(
                store_id=cycle.store_id, cycle_id=cycle.id, target_id=target_id,
                customer_id=customer_id, assignee_id=assignee, assigned_at=now, due_at=due,
                status=SurveyStatus.open.value, version=1,
            )
        )
    if rows:
        session.execute(SurveyTask.__table__.insert(), rows)
        audit_service.record(
            session=session, actor=actor, action="surveys.assigned", entity_type="cycle",
            entity_id=cycle.id, store_id=cycle.store_id, cycle_id=cycle.id,
            changes={"tasks": len(rows), "per_advisor": {by_id[a].username: n for a, n in per_advisor.items()},
                     "due_at": due},
        )
        for advisor_id, count in per_advisor.items():
            notifications.enqueue(
                session=session, recipient=by_id[advisor_id], kind="tasks_assigned",
                dedupe_key=f"tasks_assigned:{cycle.id}:{advisor_id}:{now.isoformat()}",
                month=cycle.month, count=count, due=_local_due(due),
            )
    if cycle.surveys_assigned_at is None and rows:
        cycle.surveys_assigned_at = now
        cycle.survey_deadline_at = due
    total = session.scalar(select(func.count()).where(SurveyTask.cycle_id == cycle.id)) or 0
    if total or not pending:
        cycles.advance(session=session, cycle=cycle, to=CycleStage.surveying, actor=actor, tasks=int(total))
    return {"assigned": len(rows), "total": int(total)}


# ---- reading ------------------------------------------------------------------------------

def get_task(*, session: Session, task_id: int, viewer: Staff | None = None) -> SurveyTask:
    task = session.get(SurveyTask, task_id)
    if task is None:
        raise NotFound(f"no survey task {task_id}")
    if viewer is not None:
        _check_can_see(viewer, task)
    return task


def _check_can_see(viewer: Staff, task: SurveyTask) -> None:
    if task.store_id != viewer.store_id:
        raise NotFound(f"no survey task {task.id}")
    if viewer.has_role(Role.supervisor, Role.manager, Role.auditor, Role.admin):
        return
    if task.assignee_id != viewer.id:
        raise Forbidden("this task is assigned to another advisor")


def my_tasks(
    *, session: Session, advisor_id: int, include_closed: bool = False, search: str | None = None
) -> list[SurveyTask]:
    """An advisor's tasks, open first by due date (overdue on top)."""
    stmt = select(SurveyTask).where(SurveyTask.assignee_id == advisor_id)
    if not include_closed:
        stmt = stmt.where(SurveyTask.status == SurveyStatus.open)
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.join(Customer, Customer.id == SurveyTask.customer_id).where(
            Customer.name.ilike(like) | Customer.phone.ilike(like)
        )
    stmt = stmt.order_by((SurveyTask.status != SurveyStatus.open), SurveyTask.due_at, SurveyTask.id)
    return list(session.scalars(stmt))


def tasks_of_cycle(
    *, session: Session, cycle_id: int, status: SurveyStatus | None = None,
    assignee_id: int | None = None, offset: int = 0, limit: int = 100,
) -> tuple[list[SurveyTask], int]:
    stmt = select(SurveyTask).where(SurveyTask.cycle_id == cycle_id)
    if status is not None:
        stmt = stmt.where(SurveyTask.status == status)
    if assignee_id is not None:
        stmt = stmt.where(SurveyTask.assignee_id == assignee_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(SurveyTask.status, SurveyTask.due_at, SurveyTask.id).offset(offset).limit(limit)
    return list(session.scalars(stmt)), int(total)


def progress(*, session: Session, cycle_id: int) -> list[dict[str, Any]]:
    """Per advisor: open, done, unreachable and overdue tasks (the supervisor's board)."""
    now = clock.now()
    rows = session.execute(
        select(
            Staff.id, Staff.display_name, SurveyTask.status,
            func.count(),
            func.sum(case((and_(SurveyTask.due_at < now, SurveyTask.status == SurveyStatus.open), 1), else_=0)),
        )
        .join(Staff, Staff.id == SurveyTask.assignee_id)
        .where(SurveyTask.cycle_id == cycle_id)
        .group_by(Staff.id, Staff.display_name, SurveyTask.status)
    ).all()
    board: dict[int, dict[str, Any]] = {}
    for sid, name, status, count, overdue in rows:
        entry = board.setdefault(sid, {"advisor_id": sid, "advisor": name, "open": 0, "done": 0, "unreachable": 0, "overdue": 0})
        entry[status.value] += count
        entry["overdue"] += int(overdue or 0)
    return sorted(board.values(), key=lambda e: (-e["overdue"], -e["open"], e["advisor"]))


# ---- the advisor's work -----------------------------------------------------------------

def record_attempt(
    *, session: Session, task_id: int, method: ContactMethod, outcome: str, note: str | None, actor_staff: Staff
) -> ContactAttempt:
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.assignee_id != actor_staff.id:
        raise Forbidden("only the assigned advisor records contacts")
    attempt = ContactAttempt(
        store_id=task.store_id, task_id=task.id, at=clock.now(), by_id=actor_staff.id,
        method=method, outcome=outcome[:30], note=note,
    )
    session.add(attempt)
    session.flush()
    audit_service.record(
        session=session, actor=Actor.person(actor_staff), action="task.contact_attempt",
        entity_type="task", entity_id=task.id, store_id=task.store_id, customer_id=task.customer_id,
        cycle_id=task.cycle_id, changes={"method": method, "outcome": outcome, "note": note},
    )
    return attempt


def close_task(
    *,
    session: Session,
    task_id: int,
    method: ContactMethod,
    reason_codes_: list[str],
    serviced_elsewhere: bool,
    elsewhere_what: str | None = None,
    elsewhere_where: str | None = None,
    elsewhere_why: str | None = None,
    complaint: str | None = None,
    notes: str | None = None,
    unreachable: bool = False,
    actor_staff: Staff,
) -> SurveyTask:
    """Record the survey result and close the task (调查结果).

    Of two people closing the same task at once, the first wins; the second gets Conflict.
    """
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.assignee_id != actor_staff.id and not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the assigned advisor (or a supervisor) closes this task")
    if task.status != SurveyStatus.open:
        raise Conflict(f"task {task.id} was already closed", code="task_closed")
    if not unreachable and not reason_codes_:
        raise InvalidInput("choose at least one reason", field="reasons")
    if serviced_elsewhere and not (elsewhere_where or "").strip():
        raise InvalidInput("say where the car was serviced", field="elsewhere_where")
    codes = {rc.code: rc for rc in reason_codes(session=session, store_id=task.store_id)}
    unknown = [c for c in reason_codes_ if c not in codes]
    if unknown:
        raise InvalidInput(f"unknown reason code(s): {', '.join(unknown)}", field="reasons")
    now = clock.now()
    task.status = SurveyStatus.unreachable if unreachable else SurveyStatus.done
    task.method = method
    task.serviced_elsewhere = serviced_elsewhere
    task.elsewhere_what = elsewhere_what or None
    task.elsewhere_where = elsewhere_where or None
    task.elsewhere_why = elsewhere_why or None
    task.complaint = complaint or None
    task.notes = notes or None
    task.closed_at = now
    task.closed_by_id = actor_staff.id
    task.reasons = [
        SurveyTaskReason(store_id=task.store_id, reason_code_id=codes[c].id) for c in dict.fromkeys(reason_codes_)
    ]
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"task {task_id} was closed by someone else just now", code="task_closed") from None
    audit_service.record(
        session=session, actor=Actor.person(actor_staff), action="task.closed", entity_type="task",
        entity_id=task.id, store_id=task.store_id, customer_id=task.customer_id, cycle_id=task.cycle_id,
        changes={
            "status": task.status, "method": method, "reasons": list(dict.fromkeys(reason_codes_)),
            "serviced_elsewhere": serviced_elsewhere, "elsewhere_where": elsewhere_where,
            "complaint": complaint,
        },
    )
    return task


def reassign(*, session: Session, task_id: int, to_staff_id: int, actor_staff: Staff) -> SurveyTask:
    if not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the front-desk supervisor reassigns tasks")
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.status != SurveyStatus.open:
        raise Conflict(f"task {task.id} is closed and cannot be reassigned", code="task_closed")
    advisors = {a.id: a for a in staff_with_role(session=session, store_id=task.store_id, role=Role.advisor)}
    if to_staff_id not in advisors:
        raise InvalidInput("choose an active advisor of this store", field="assignee_id")
    if task.assignee_id == to_staff_id:
        return task
    before = task.assignee
    task.assignee_id = to_staff_id
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"task {task_id} changed meanwhile; reload and try again") from None
    session.refresh(task)
    audit_service.record(
        session=session, actor=Actor.person(actor_staff), action="task.reassigned", entity_type="task",
        entity_id=task.id, store_id=task.store_id, customer_id=task.customer_id, cycle_id=task.cycle_id,
        changes={"assignee": {"before": before.username, "after": advisors[to_staff_id].username}},
    )
    customer = task.target.customer.name
    stamp = clock.now().isoformat()
    notifications.enqueue(
        session=session, recipient=before, kind="task_reassigned",
        dedupe_key=f"task_reassigned:{task.id}:{before.id}:{stamp}", task_id=task.id, customer=customer,
        change=f"→ {advisors[to_staff_id].display_name}",
    )
    notifications.enqueue(
        session=session, recipient=advisors[to_staff_id], kind="task_reassigned",
        dedupe_key=f"task_reassigned:{task.id}:{to_staff_id}:{stamp}", task_id=task.id, customer=customer,
        change=f"{before.display_name} →",
    )
    return task


# ---- the watcher's part ------------------------------------------------------------------

def remind_due_soon(*, session: Session, store_id: int, actor: Actor) -> int:
    """One reminder per advisor for open tasks due within the reminder window, once per task."""
    now = clock.now()
    tasks = list(
        session.scalars(
            select(SurveyTask)
            .join(MonthlyCycle, MonthlyCycle.id == SurveyTask.cycle_id)
            .where(
                SurveyTask.store_id == store_id,
                SurveyTask.status == SurveyStatus.open,
                SurveyTask.reminded_at.is_(None),
                SurveyTask.due_at > now,
            )
        )
    )
    due_soon = [
        t for t in tasks
        if t.due_at - timedelta(days=_cycle_settings(session, t.cycle_id)["survey_reminder_days_before"]) <= now
    ]
    by_advisor: dict[int, list[SurveyTask]] = defaultdict(list)
    for t in due_soon:
        by_advisor[t.assignee_id].append(t)
    for advisor_id, items in by_advisor.items():
        notifications.enqueue(
            session=session, recipient=items[0].assignee, kind="tasks_due_soon",
            dedupe_key=f"tasks_due_soon:{advisor_id}:{min(t.id for t in items)}:{len(items)}",
            count=len(items), due=_local_due(max(t.due_at for t in items)),
        )
    if due_soon:
        session.execute(
            update(SurveyTask).where(SurveyTask.id.in_([t.id for t in due_soon])).values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(due_soon)


def escalate_overdue(*, session: Session, store_id: int, actor: Actor) -> int:
    """Overdue open tasks: tell each advisor and, in one digest per cycle, the supervisors."""
    now = clock.now()
    overdue = list(
        session.scalars(
            select(SurveyTask).where(
                SurveyTask.store_id == store_id,
                SurveyTask.status == SurveyStatus.open,
                SurveyTask.due_at <= now,
                SurveyTask.escalated_at.is_(None),
            )
        )
    )
    if not overdue:
        return 0
    stamp = now.date().isoformat()
    by_advisor: dict[int, list[SurveyTask]] = defaultdict(list)
    by_cycle: dict[int, list[SurveyTask]] = defaultdict(list)
    for t in overdue:
        by_advisor[t.assignee_id].append(t)
        by_cycle[t.cycle_id].append(t)
    for advisor_id, items in by_advisor.items():
        notifications.enqueue(
            session=session, recipient=items[0].assignee, kind="tasks_overdue",
            dedupe_key=f"tasks_overdue:{advisor_id}:{stamp}", count=len(items),
        )
    supervisors = staff_with_role(session=session, store_id=store_id, role=Role.supervisor)
    for cycle_id, items in by_cycle.items():
        cycle = session.get(MonthlyCycle, cycle_id)
        names = ", ".join(sorted({t.assignee.display_name for t in items}))
        for sup in supervisors:
            notifications.enqueue(
                session=session, recipient=sup, kind="tasks_escalated",
                dedupe_key=f"tasks_escalated:{cycle_id}:{sup.id}:{stamp}",
                month=cycle.month, count=len(items), advisors=names,
            )
        audit_service.record(
            session=session, actor=actor, action="surveys.escalated", entity_type="cycle",
            entity_id=cycle_id, store_id=store_id, cycle_id=cycle_id,
            changes={"tasks": sorted(t.id for t in items), "supervisors": [s.username for s in supervisors]},
        )
    session.execute(
        update(SurveyTask).where(SurveyTask.id.in_([t.id for t in overdue])).values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(overdue)


def _cycle_settings(session: Session, cycle_id: int) -> dict[str, Any]:
    return session.get(MonthlyCycle, cycle_id).settings


def survey_window_closed(*, session: Session, cycle: MonthlyCycle) -> bool:
    """All tasks closed, or the one-week deadline has passed: time to tally."""
    if cycle.survey_deadline_at is not None and clock.now() >= cycle.survey_deadline_at:
        return True
    open_count = session.scalar(
        select(func.count()).where(SurveyTask.cycle_id == cycle.id, SurveyTask.status == SurveyStatus.open)
    )
    # A month with no targets has nothing to wait for.
    return not open_count


# ---- the tally ---------------------------------------------------------------------------

def tally_reasons(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, Any]:
    """Count reasons overall and by model, district, advisor and warranty (结果统计)."""
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    rows = session.execute(
        select(
            ReasonCode.code, Target.profile, Target.in_warranty, Staff.display_name,
        )
        .select_from(SurveyTaskReason)
        .join(ReasonCode, ReasonCode.id == SurveyTaskReason.reason_code_id)
        .join(SurveyTask, SurveyTask.id == SurveyTaskReason.task_id)
        .join(Target, Target.id == SurveyTask.target_id)
        .join(Staff, Staff.id == SurveyTask.assignee_id)
        .where(SurveyTask.cycle_id == cycle.id)
    ).all()
    overall: Counter = Counter()
    segments: dict[str, dict[str, Counter]] = {k: defaultdict(Counter) for k in ("model", "district", "advisor", "warranty")}
    for code, profile, in_warranty, advisor in rows:
        overall[code] += 1
        segments["model"][profile.get("model") or "?"][code] += 1
        segments["district"][profile.get("district") or "?"][code] += 1
        segments["advisor"][advisor][code] += 1
        segments["warranty"]["in_warranty" if in_warranty else "out_of_warranty"][code] += 1
    statuses = dict(
        session.execute(
            select(SurveyTask.status, func.count()).where(SurveyTask.cycle_id == cycle.id).group_by(SurveyTask.status)
        ).all()
    )
    elsewhere = session.scalar(
        select(func.count()).where(SurveyTask.cycle_id == cycle.id, SurveyTask.serviced_elsewhere.is_(True))
    )
    complaints = session.scalar(
        select(func.count()).where(SurveyTask.cycle_id == cycle.id, SurveyTask.complaint.is_not(None))
    )
    tally = {
        "tasks": sum(statuses.values()),
        "done": statuses.get(SurveyStatus.done, 0),
        "unreachable": statuses.get(SurveyStatus.unreachable, 0),
        "open_at_tally": statuses.get(SurveyStatus.open, 0),
        "serviced_elsewhere": int(elsewhere or 0),
        "complaints": int(complaints or 0),
        "reasons": dict(overall.most_common()),
        "by_segment": {k: {seg: dict(c.most_common()) for seg, c in v.items()} for k, v in segments.items()},
    }
    if cycle.stage.order < CycleStage.tallied.order or cycle.tally is None:
        cycle.tally = tally
        cycle.tallied_at = clock.now()
    cycles.advance(session=session, cycle=cycle, to=CycleStage.tallied, actor=actor, reasons=tally["reasons"])
    return cycle.tally
