"""Checks every change of a survey task goes through: open, the expected version, the flush
that turns a concurrent write into a Conflict; and the rules of the task's cycle."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from winback.config import ProcessDefaults
from winback.cycles.models import MonthlyCycle
from winback.errors import Conflict
from winback.surveys.models import (
    SurveyStatus,
    SurveyTask,
)


def check_version(task: SurveyTask, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != task.version:
        raise Conflict(
            "this task was changed by someone else meanwhile; your input is kept below, check it and save again",
            code="stale",
        )


def flush_or_conflict(session: Session, task_id: int) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "this task was changed by someone else just now; nothing of yours was saved", code="stale"
        ) from None


def check_open(task: SurveyTask) -> None:
    if task.status != SurveyStatus.open:
        raise Conflict("task {id} was already closed", id=task.id, code="task_closed")


def cycle_rules(session: Session, cycle_id: int) -> ProcessDefaults:
    return session.get(MonthlyCycle, cycle_id).rules
