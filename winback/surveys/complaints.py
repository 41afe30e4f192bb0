"""Complaints heard in a survey: the manager's or supervisor's answer, the open ones."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.errors import Conflict, Forbidden, InvalidInput
from winback.surveys.guards import flush_or_conflict
from winback.surveys.lists import get_task
from winback.surveys.models import (
    SurveyTask,
)


def answer_complaint(*, session: Session, task_id: int, answer: str, actor_staff: Staff) -> SurveyTask:
    """The manager (or supervisor) answers a recorded complaint; the complaint itself stays."""
    if not actor_staff.has_role(Role.manager, Role.supervisor):
        raise Forbidden("only the service manager or the supervisor answers complaints")
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if not task.complaint:
        raise InvalidInput("this task has no complaint to answer", field="answer")
    answer = (answer or "").strip()
    if not answer:
        raise InvalidInput("write the answer", field="answer")
    if task.complaint_answer:
        raise Conflict("the complaint of task {id} was already answered", id=task.id, code="answered")
    task.complaint_answer = answer
    task.complaint_answered_at = clock.now()
    task.complaint_answered_by_id = actor_staff.id
    flush_or_conflict(session, task.id)
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="task.complaint_answered",
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
        changes={"complaint": task.complaint, "answer": answer},
    )
    return task


def open_complaints(*, session: Session, store_id: int) -> list[SurveyTask]:
    """Complaints heard on callbacks and not yet answered, oldest first (the manager's list)."""
    return list(
        session.scalars(
            select(SurveyTask)
            .where(
                SurveyTask.store_id == store_id,
                SurveyTask.complaint.is_not(None),
                SurveyTask.complaint_answer.is_(None),
            )
            .order_by(SurveyTask.id)
        )
    )
