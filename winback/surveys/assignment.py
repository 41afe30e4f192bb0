"""Distributing the targets among the advisors (分配), reassigning, excluding, handing over a
departing advisor's tasks."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from db.bulk import insert_rows, read_rows
from winback import clock, collector
from winback.accounts import staff_rules
from winback.accounts.models import Role, Staff
from winback.accounts.service import active_with_role, staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import Customer
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, Target
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.notifications.messages import Message, Month
from winback.surveys import carry
from winback.surveys.guards import check_open, check_version, flush_or_conflict
from winback.surveys.lists import get_task
from winback.surveys.models import (
    SurveyStatus,
    SurveyTask,
)


@collector.young_collections_only()  # a set-based pass: winback/collector.py
def assign_surveys(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Give every target of the cycle without a task to an advisor (idempotent).

    A customer goes to their own advisor (``customers.advisor_id``), else to the advisor who
    served their last visit, when that advisor is still active; the rest are balanced by open workload. ``due_at`` is ``assigned_at`` plus the
    cycle's ``survey_deadline_days`` (one week by default).
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    advisors = staff_with_role(session=session, store_id=cycle.store_id, role=Role.advisor)
    if not advisors:
        raise InvalidInput("the store has no active service advisor to assign surveys to")
    by_id = {a.id: a for a in advisors}
    load = _open_load(session, cycle.store_id, advisors)
    pending = _pending_targets(session, cycle.id)
    now = clock.now()
    due = now + timedelta(days=cycle.rules.survey_deadline_days)
    rows = []
    # A customer never holds two open tasks: one still open elsewhere is carried over here.
    carried_from = carry.previous_tasks(
        session=session, customer_ids=[p.customer_id for p in pending], cycle_id=cycle.id, actor=actor
    )
    if carried_from:
        load = _open_load(session, cycle.store_id, advisors)
    assignees = _assignees(pending, by_id, load)
    per_advisor = Counter(assignees)
    for (target_id, customer_id, _last, _own, band, total_spend), assignee in zip(pending, assignees):
        rows.append(
            dict(
                store_id=cycle.store_id,
                cycle_id=cycle.id,
                target_id=target_id,
                customer_id=customer_id,
                assignee_id=assignee,
                assigned_at=now,
                due_at=due,
                status=SurveyStatus.open.value,
                version=1,
                band=band.value,
                total_spend=total_spend,
                carried_from_id=carried_from.get(customer_id),
            )
        )
    if rows:
        insert_rows(session, SurveyTask.__table__, rows)
        _announce(session, cycle, actor, by_id, per_advisor, len(rows), now, due)
    if cycle.surveys_assigned_at is None and rows:
        cycle.surveys_assigned_at = now
        cycle.survey_deadline_at = due
    total = session.scalar(select(func.count()).where(SurveyTask.cycle_id == cycle.id)) or 0
    if total or not pending:
        cycles.advance(session=session, cycle=cycle, to=CycleStage.surveying, actor=actor, tasks=int(total))
    return {"assigned": len(rows), "total": int(total)}


def _pending_targets(session: Session, cycle_id: int) -> list[Row]:
    """The cycle's contacted targets (not the holdout) that have no task yet, the most valuable
    first: (target id, customer id, last visit's advisor id, own advisor id, band, total spend)."""
    return read_rows(
        session,
        select(
            Target.id,
            Target.customer_id,
            # the one field of the profile snapshot assignment needs, read by the database (not
            # every target's whole snapshot decoded in Python)
            Target.profile["last_advisor_id"].as_integer(),
            Customer.advisor_id,
            Target.band,
            Target.total_spend,
        )
        .join(Customer, Customer.id == Target.customer_id)
        .outerjoin(SurveyTask, SurveyTask.target_id == Target.id)
        .where(Target.cycle_id == cycle_id, SurveyTask.id.is_(None), Target.holdout.is_(False))
        .order_by(Target.band.desc(), Target.total_spend.desc(), Target.id),
    )


def _open_load(session: Session, store_id: int, advisors: list[Staff]) -> Counter:
    """Each active advisor's open tasks in the store (0 for none)."""
    load = Counter(
        dict(
            session.execute(
                select(SurveyTask.assignee_id, func.count())
                .where(SurveyTask.store_id == store_id, SurveyTask.status == SurveyStatus.open)
                .group_by(SurveyTask.assignee_id)
            ).all()
        )
    )
    for a in advisors:
        load.setdefault(a.id, 0)
    return load


def _assignees(pending, by_id: dict[int, Staff], load: Counter) -> list[int]:
    """The advisor of each pending target, in order: the customer's own advisor, else the one
    who served the last visit, when still active; else the least loaded (``load`` is updated)."""
    out = []
    for _target_id, _customer_id, last, own_advisor, _band, _spend in pending:
        if own_advisor in by_id:
            assignee = own_advisor
        elif last in by_id:
            assignee = last
        else:
            assignee = min(load, key=lambda a: (load[a], a))
        load[assignee] += 1
        out.append(assignee)
    return out


def _announce(session, cycle, actor, by_id, per_advisor, tasks, now, due) -> None:
    """The assignment's audit event and each advisor's notification."""
    audit_service.record(
        session=session,
        actor=actor,
        action="surveys.assigned",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={
            "tasks": tasks,
            "per_advisor": {by_id[a].username: n for a, n in per_advisor.items()},
            "due_at": due,
        },
    )
    for advisor_id, count in per_advisor.items():
        notifications.enqueue(
            session=session,
            recipient=by_id[advisor_id],
            kind="tasks_assigned",
            dedupe_key=f"tasks_assigned:{cycle.id}:{advisor_id}:{now.isoformat()}",
            about=("tasks", None),
            month=Month(cycle.month),
            count=count,
            due=due,
        )


def reassign(
    *,
    session: Session,
    task_id: int,
    to_staff_id: int,
    actor_staff: Staff,
    expected_version: int | None = None,
) -> SurveyTask:
    if not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the front-desk supervisor reassigns tasks")
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.status != SurveyStatus.open:
        raise Conflict("task {id} is closed and cannot be reassigned", id=task.id, code="task_closed")
    check_version(task, expected_version)
    to = active_with_role(session=session, staff_id=to_staff_id, store_id=task.store_id, role=Role.advisor)
    if to is None:
        raise InvalidInput("choose an active advisor of this store", field="assignee_id")
    if task.assignee_id == to_staff_id:
        return task
    _move(session, task, to, Actor.person(actor_staff))
    return task


def _move(session: Session, task: SurveyTask, to: Staff, actor: Actor, why: str | None = None) -> None:
    """Give an open task to another advisor: audited, both advisors told."""
    before = task.assignee
    task.assignee = to  # the id follows at the flush; no reload of the task afterwards
    changes: dict[str, Any] = {"assignee": {"before": before.username, "after": to.username}}
    if why:
        changes["why"] = why
    audit_service.record(
        session=session,
        actor=actor,
        action="task.reassigned",
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
        changes=changes,
    )
    # The change and its event in one flush (a conflict rolls both back).
    flush_or_conflict(session, task.id)
    customer = task.target.customer.name
    stamp = clock.now().isoformat()
    notifications.enqueue(
        session=session,
        recipient=before,
        kind="task_reassigned",
        dedupe_key=f"task_reassigned:{task.id}:{before.id}:{stamp}",
        about=("task", task.id),
        task_id=task.id,
        customer=customer,
        change=Message("handed to {to}", to=to.display_name),
    )
    notifications.enqueue(
        session=session,
        recipient=to,
        kind="task_reassigned",
        dedupe_key=f"task_reassigned:{task.id}:{to.id}:{stamp}",
        about=("task", task.id),
        task_id=task.id,
        customer=customer,
        change=Message("handed to you by {before}", before=before.display_name),
    )


def reassign_many(*, session: Session, task_ids: list[int], to_staff_id: int, actor_staff: Staff) -> int:
    """Reassign several tasks at once (all or nothing); returns how many changed hands."""
    if not task_ids:
        raise InvalidInput("choose at least one task", field="task_ids")
    moved = 0
    for task_id in dict.fromkeys(task_ids):
        before = get_task(session=session, task_id=task_id, viewer=actor_staff).assignee_id
        task = reassign(session=session, task_id=task_id, to_staff_id=to_staff_id, actor_staff=actor_staff)
        moved += task.assignee_id != before
    return moved


def exclude_task(*, session: Session, task_id: int, reason: str, actor_staff: Staff) -> SurveyTask:
    """The supervisor takes a target off the list with a reason (e.g. customer moved abroad)."""
    if not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the front-desk supervisor excludes targets")
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    check_open(task)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the target is excluded", field="reason")
    task.status = SurveyStatus.excluded
    task.excluded_reason = reason[:300]
    task.closed_at, task.closed_by_id = clock.now(), actor_staff.id
    task.follow_up_at = None
    flush_or_conflict(session, task.id)
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="task.excluded",
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
        changes={"reason": reason, "assignee": task.assignee.username},
    )
    notifications.enqueue(
        session=session,
        recipient=task.assignee,
        kind="task_reassigned",
        dedupe_key=f"task_excluded:{task.id}:{task.assignee_id}",
        about=("task", task.id),
        task_id=task.id,
        customer=task.target.customer.name,
        change=Message("taken off the list ({reason})", reason=reason[:60]),
    )
    return task


def hand_over_advisor(
    *,
    session: Session,
    advisor_id: int,
    actor_staff: Staff,
    to_staff_id: int | None = None,
) -> dict[str, int | bool]:
    """An advisor leaves: in one step hand their open tasks and their customers to the
    remaining advisors (all to ``to_staff_id``, or balanced by open workload) and, when an admin
    does it, deactivate them (the rules: ``winback.accounts.staff_rules``).
    Nothing is orphaned; every move is audited and both sides are told."""
    if not actor_staff.has_role(Role.supervisor, Role.admin):
        raise Forbidden("only the supervisor or the administration hands over an advisor's work")
    leaving = session.get(Staff, advisor_id)
    if leaving is None or leaving.store_id != actor_staff.store_id:
        raise NotFound("no staff member {advisor_id}", advisor_id=advisor_id)
    deactivate = staff_rules.check_hand_over(session=session, leaving=leaving, actor_staff=actor_staff)
    by_id, load = _heirs_with_open_load(session, leaving=leaving, to_staff_id=to_staff_id)
    actor = Actor.person(actor_staff)
    if deactivate:
        leaving.active = False
    session.flush()
    open_tasks = list(
        session.scalars(
            select(SurveyTask)
            .where(SurveyTask.assignee_id == leaving.id, SurveyTask.status == SurveyStatus.open)
            .order_by(SurveyTask.due_at, SurveyTask.id)
        )
    )
    heir_of_customer: dict[int, int] = {}
    for task in open_tasks:
        heir = min(load, key=lambda a: (load[a], a))
        load[heir] += 1
        heir_of_customer[task.customer_id] = heir
        _move(session, task, by_id[heir], actor, why="advisor left")
    customer_ids = list(
        session.scalars(select(Customer.id).where(Customer.advisor_id == leaving.id).order_by(Customer.id))
    )
    per_heir: Counter = Counter()
    for cid in customer_ids:
        heir = heir_of_customer.get(cid) or min(load, key=lambda a: (per_heir[a] + load[a], a))
        per_heir[heir] += 1
        session.execute(update(Customer).where(Customer.id == cid).values(advisor_id=heir))
    audit_service.record(
        session=session,
        actor=actor,
        action="staff.handed_over",
        entity_type="staff",
        entity_id=leaving.id,
        store_id=leaving.store_id,
        changes={
            "active": leaving.active,
            "tasks": len(open_tasks),
            "customers": len(customer_ids),
            "customers_to": {by_id[h].username: n for h, n in per_heir.items()},
        },
    )
    return {"tasks": len(open_tasks), "customers": len(customer_ids), "deactivated": deactivate}


def _heirs_with_open_load(
    session: Session, *, leaving: Staff, to_staff_id: int | None
) -> tuple[dict[int, Staff], Counter]:
    """The advisors who can take over (just ``to_staff_id`` when given), by id, and how many open
    tasks each already has: the hand-over balances on it."""
    others = [
        a
        for a in staff_with_role(session=session, store_id=leaving.store_id, role=Role.advisor)
        if a.id != leaving.id
    ]
    if to_staff_id is not None:
        others = [a for a in others if a.id == to_staff_id]
        if not others:
            raise InvalidInput("choose another active advisor of this store", field="to_staff_id")
    if not others:
        raise InvalidInput("no other active advisor to hand the work to", field="to_staff_id")
    by_id = {a.id: a for a in others}
    load = Counter({a.id: 0 for a in others})
    load.update(
        dict(
            session.execute(
                select(SurveyTask.assignee_id, func.count())
                .where(SurveyTask.assignee_id.in_(list(by_id)), SurveyTask.status == SurveyStatus.open)
                .group_by(SurveyTask.assignee_id)
            ).all()
        )
    )
    return by_id, load
