"""What a survey leads to, made from it (no double entry): the survey's actions of
``winback.surveys`` followed by their cases. A complaint recorded (draft or close) opens its
case; a survey closed as done with an appointment day books it, and with a voucher offered
issues it; a complaint answered on the task resolves its case (and starts the re-call).

The pages and the API call these rather than the survey functions, so both make the same."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from winback.accounts.models import Staff
from winback.cases import appointments, complaints, vouchers
from winback.surveys import service as surveys
from winback.surveys.models import SurveyStatus, SurveyTask


def follow_survey(*, session: Session, task: SurveyTask, actor_staff: Staff) -> None:
    """The cases of a survey as it stands (each made once; a second call adds nothing)."""
    if task.complaint:
        complaints.open_case(session=session, task=task, actor_staff=actor_staff)
    if task.status == SurveyStatus.done:
        vouchers.issue_from_survey(session=session, task=task, actor_staff=actor_staff)
        appointments.from_survey(session=session, task=task, actor_staff=actor_staff)


def close_survey(*, session: Session, task_id: int, actor_staff: Staff, **answers: Any) -> SurveyTask:
    """``surveys.close_task``, then its cases."""
    task = surveys.close_task(session=session, task_id=task_id, actor_staff=actor_staff, **answers)
    follow_survey(session=session, task=task, actor_staff=actor_staff)
    return task


def save_survey_draft(*, session: Session, task_id: int, actor_staff: Staff, **answers: Any) -> SurveyTask:
    """``surveys.save_draft``, then the complaint's case (a complaint once saved stays)."""
    task = surveys.save_draft(session=session, task_id=task_id, actor_staff=actor_staff, **answers)
    follow_survey(session=session, task=task, actor_staff=actor_staff)
    return task


def answer_task_complaint(*, session: Session, task_id: int, answer: str, actor_staff: Staff) -> SurveyTask:
    """The manager answers the complaint on the task page: the answer resolves its case."""
    task = surveys.answer_complaint(session=session, task_id=task_id, answer=answer, actor_staff=actor_staff)
    case = complaints.open_case(session=session, task=task, actor_staff=actor_staff)
    complaints.resolve(session=session, case_id=case.id, resolution=answer, actor_staff=actor_staff)
    return task
