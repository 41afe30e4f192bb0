"""The watcher's part of the surveys: reminders before the deadline, escalation after it, the
survey window, and the tally of reasons (结果统计)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.bulk import one_of
from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.notifications import service as notifications
from winback.notifications.messages import Lines, Message, Month
from winback.surveys.guards import cycle_rules
from winback.surveys.models import (
    ReasonCode,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)


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
        t
        for t in tasks
        if t.due_at - timedelta(days=cycle_rules(session, t.cycle_id).survey_reminder_days_before) <= now
    ]
    by_advisor: dict[int, list[SurveyTask]] = defaultdict(list)
    for t in due_soon:
        by_advisor[t.assignee_id].append(t)
    for advisor_id, items in by_advisor.items():
        notifications.enqueue(
            session=session,
            recipient=items[0].assignee,
            kind="tasks_due_soon",
            dedupe_key=f"tasks_due_soon:{advisor_id}:{min(t.id for t in items)}:{len(items)}",
            about=("tasks", None),
            count=len(items),
            due=max(t.due_at for t in items),
        )
    if due_soon:
        session.execute(
            update(SurveyTask)
            .where(one_of(session, SurveyTask.id, [t.id for t in due_soon]))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(due_soon)


def escalate_overdue(*, session: Session, store_id: int, actor: Actor) -> int:
    """Mark overdue open tasks; tell each advisor once and each supervisor once a day with the
    list (one digest, not one message per task). Returns how many tasks became overdue."""
    now = clock.now()
    overdue = list(
        session.scalars(
            select(SurveyTask)
            .where(
                SurveyTask.store_id == store_id,
                SurveyTask.status == SurveyStatus.open,
                SurveyTask.due_at <= now,
                SurveyTask.escalated_at.is_(None),
            )
            .order_by(SurveyTask.due_at, SurveyTask.id)
        )
    )
    if not overdue:
        return 0
    stamp = clock.local(now).date().isoformat()
    by_advisor: dict[int, list[SurveyTask]] = defaultdict(list)
    by_cycle: dict[int, list[SurveyTask]] = defaultdict(list)
    for t in overdue:
        by_advisor[t.assignee_id].append(t)
        by_cycle[t.cycle_id].append(t)
    for advisor_id, items in by_advisor.items():
        notifications.enqueue(
            session=session,
            recipient=items[0].assignee,
            kind="tasks_overdue",
            dedupe_key=f"tasks_overdue:{advisor_id}:{stamp}",
            about=("tasks", None),
            count=len(items),
        )
    supervisors = staff_with_role(session=session, store_id=store_id, role=Role.supervisor)
    _tell_supervisors(session, supervisors, overdue=overdue, by_cycle=by_cycle, stamp=stamp)
    for cycle_id, items in by_cycle.items():
        audit_service.record(
            session=session,
            actor=actor,
            action="surveys.escalated",
            entity_type="cycle",
            entity_id=cycle_id,
            store_id=store_id,
            cycle_id=cycle_id,
            changes={"tasks": sorted(t.id for t in items), "supervisors": [s.username for s in supervisors]},
        )
    session.execute(
        update(SurveyTask)
        .where(one_of(session, SurveyTask.id, [t.id for t in overdue]))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(overdue)


def _tell_supervisors(
    session: Session,
    supervisors: list[Staff],
    *,
    overdue: list[SurveyTask],
    by_cycle: dict[int, list[SurveyTask]],
    stamp: str,
) -> None:
    """One digest a day per supervisor: the months concerned and up to 50 overdue tasks."""
    months = sorted({session.get(MonthlyCycle, c).month for c in by_cycle})
    lines: list = [
        Message(
            "· #{id} {customer} ({advisor}, due {due})",
            id=t.id,
            customer=t.target.customer.name,
            advisor=t.assignee.display_name,
            due=t.due_at,
        )
        for t in overdue[:50]
    ]
    if len(overdue) > 50:
        lines.append(f"… +{len(overdue) - 50}")
    for sup in supervisors:
        notifications.enqueue(
            session=session,
            recipient=sup,
            kind="tasks_escalated",
            dedupe_key=f"tasks_escalated:{sup.id}:{stamp}",
            about=("cycle", next(iter(by_cycle))) if len(by_cycle) == 1 else ("cycles", None),
            month=[Month(m) for m in months],
            count=len(overdue),
            advisors=sorted({t.assignee.display_name for t in overdue}),
            lines=Lines(lines),
        )


def survey_window_closed(*, session: Session, cycle: MonthlyCycle) -> bool:
    """All tasks closed, or the one-week deadline has passed: time to tally."""
    if cycle.survey_deadline_at is not None and clock.now() >= cycle.survey_deadline_at:
        return True
    open_count = session.scalar(
        select(func.count()).where(SurveyTask.cycle_id == cycle.id, SurveyTask.status == SurveyStatus.open)
    )
    # A month with no targets has nothing to wait for.
    return not open_count


def tally_reasons(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, Any]:
    """Count reasons overall and by model, district, advisor and warranty (结果统计)."""
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    rows = session.execute(
        select(
            ReasonCode.code,
            Target.profile,
            Target.in_warranty,
            Staff.display_name,
        )
        .select_from(SurveyTaskReason)
        .join(ReasonCode, ReasonCode.id == SurveyTaskReason.reason_code_id)
        .join(SurveyTask, SurveyTask.id == SurveyTaskReason.task_id)
        .join(Target, Target.id == SurveyTask.target_id)
        .join(Staff, Staff.id == SurveyTask.assignee_id)
        .where(SurveyTask.cycle_id == cycle.id)
    ).all()
    overall: Counter = Counter()
    segments: dict[str, dict[str, Counter]] = {
        k: defaultdict(Counter) for k in ("model", "district", "advisor", "warranty")
    }
    for code, profile, in_warranty, advisor in rows:
        overall[code] += 1
        segments["model"][profile.get("model") or "?"][code] += 1
        segments["district"][profile.get("district") or "?"][code] += 1
        segments["advisor"][advisor][code] += 1
        segments["warranty"]["in_warranty" if in_warranty else "out_of_warranty"][code] += 1
    statuses = dict(
        session.execute(
            select(SurveyTask.status, func.count())
            .where(SurveyTask.cycle_id == cycle.id)
            .group_by(SurveyTask.status)
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
