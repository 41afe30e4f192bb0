"""Month after month: a customer never holds two open survey tasks.

A task still open when its cycle is evaluated, or when a later cycle gives the customer a new
task, is closed as carried over (已结转): its attempts and draft stay on it, and the customer's
next task points back at it (``carried_from_id``), so the advisor sees the history there.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.bulk import one_of
from winback import clock
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.surveys.models import SurveyStatus, SurveyTask


def carry_over_open_tasks(*, session: Session, cycle_id: int, actor: Actor) -> int:
    """Close the cycle's still-open tasks as carried over (its evaluation); returns how many."""
    ids = list(
        session.scalars(
            select(SurveyTask.id).where(
                SurveyTask.cycle_id == cycle_id, SurveyTask.status == SurveyStatus.open
            )
        )
    )
    _close(session, ids, actor, cycle_id=cycle_id, why="cycle_evaluated")
    return len(ids)


def previous_tasks(
    *, session: Session, customer_ids: Iterable[int], cycle_id: int, actor: Actor
) -> dict[int, int]:
    """For the customers about to get a task in ``cycle_id``: close any task of theirs still
    open in another cycle as carried over, and return customer id -> their latest earlier task
    that was carried over (the new task's ``carried_from_id``)."""
    customer_ids = list(set(customer_ids))
    if not customer_ids:
        return {}
    still_open = list(
        session.scalars(
            select(SurveyTask.id).where(
                one_of(session, SurveyTask.customer_id, customer_ids),
                SurveyTask.cycle_id != cycle_id,
                SurveyTask.status == SurveyStatus.open,
            )
        )
    )
    _close(session, still_open, actor, cycle_id=cycle_id, why="screened_again")
    latest = (
        select(SurveyTask.customer_id, func.max(SurveyTask.id))
        .where(
            one_of(session, SurveyTask.customer_id, customer_ids),
            SurveyTask.cycle_id != cycle_id,
            SurveyTask.status == SurveyStatus.carried_over,
        )
        .group_by(SurveyTask.customer_id)
    )
    return dict(session.execute(latest).all())


def carried_history(*, session: Session, task: SurveyTask) -> list[SurveyTask]:
    """The earlier tasks ``task`` carries on, newest first (their attempts load with them)."""
    history: list[SurveyTask] = []
    seen = {task.id}
    current = task.carried_from_id
    while current is not None and current not in seen:  # a chain, month after month
        earlier = session.get(SurveyTask, current)
        if earlier is None:
            break
        history.append(earlier)
        seen.add(current)
        current = earlier.carried_from_id
    return history


def _close(session: Session, ids: list[int], actor: Actor, *, cycle_id: int, why: str) -> None:
    if not ids:
        return
    now = clock.now()
    rows = session.execute(
        select(SurveyTask.id, SurveyTask.store_id, SurveyTask.customer_id, SurveyTask.cycle_id).where(
            one_of(session, SurveyTask.id, ids)
        )
    ).all()
    session.execute(
        update(SurveyTask)
        .where(one_of(session, SurveyTask.id, ids), SurveyTask.status == SurveyStatus.open)
        .values(
            status=SurveyStatus.carried_over,
            closed_at=now,
            closed_by_id=actor.staff_id,
            follow_up_at=None,
            version=SurveyTask.version + 1,
        )
        .execution_options(synchronize_session="fetch")
    )
    for task_id, store_id, customer_id, task_cycle in rows:
        audit_service.record(
            session=session,
            actor=actor,
            action="task.carried_over",
            entity_type="task",
            entity_id=task_id,
            store_id=store_id,
            customer_id=customer_id,
            cycle_id=task_cycle,
            changes={"status": SurveyStatus.carried_over, "why": why, "by_cycle": cycle_id},
        )
