"""A survey task as it is shown whole (the API's task, a row of the supervisor's list): plain
lines read by id, set by set, without ORM objects.

A page of 50 tasks read as objects (each with its target, customer, vehicle and assignee, then
its reasons and attempts by two more loads) spent most of the supervisor's list call building
them: ``bench/README.md``, "Soak". ``task_views`` reads the same in three statements for a page
(per 2,000 tasks); ``view_of`` makes the same view of a task already loaded (after a change)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from winback.accounts.models import Staff
from winback.customers.models import Customer, Vehicle
from winback.cycles.models import Band, Target
from winback.paging import LINE_IDS, LINES_AT_ONCE, by_ids, lines_of
from winback.surveys.models import (
    ContactAttempt,
    ContactMethod,
    ReasonCode,
    ShopKind,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)


@dataclass(frozen=True)
class AttemptLine:
    at: datetime
    method: ContactMethod
    outcome: str
    note: str | None
    call_back_at: datetime | None


@dataclass(frozen=True)
class TaskView:
    """One task with its customer, vehicle, assignee, reasons (their codes) and contact
    attempts (oldest first)."""

    id: int
    store_id: int
    cycle_id: int
    target_id: int
    status: SurveyStatus
    assignee_id: int
    assignee: str  # the assignee's user name
    assignee_name: str  # and the name shown
    assigned_at: datetime
    due_at: datetime
    customer_id: int
    customer: str
    phone: str | None
    vin: str
    plate: str | None
    model: str | None
    band: Band  # the target's
    method: ContactMethod | None
    serviced_elsewhere: bool | None
    elsewhere_what: str | None
    elsewhere_where: str | None
    elsewhere_why: str | None
    elsewhere_kind: ShopKind | None
    reason_other: str | None
    would_return: bool | None
    appointment_on: date | None
    voucher_offered: bool | None
    complaint: str | None
    complaint_answer: str | None
    notes: str | None
    closed_at: datetime | None
    follow_up_at: datetime | None
    excluded_reason: str | None
    draft_saved_at: datetime | None
    version: int
    carried_from_id: int | None
    reasons: tuple[str, ...] = ()
    attempts: tuple[AttemptLine, ...] = ()


# The task's own columns a view shows, by the view's names.
_OWN = (
    "id",
    "store_id",
    "cycle_id",
    "target_id",
    "status",
    "assignee_id",
    "assigned_at",
    "due_at",
    "customer_id",
    "method",
    "serviced_elsewhere",
    "elsewhere_what",
    "elsewhere_where",
    "elsewhere_why",
    "elsewhere_kind",
    "reason_other",
    "would_return",
    "appointment_on",
    "voucher_offered",
    "complaint",
    "complaint_answer",
    "notes",
    "closed_at",
    "follow_up_at",
    "excluded_reason",
    "draft_saved_at",
    "version",
    "carried_from_id",
)
# The names of a line's columns (``_lines``), in order.
_NAMES = (*_OWN, "assignee", "assignee_name", "customer", "phone", "vin", "plate", "model", "band")


@cache
def _lines() -> Select:
    return (
        select(
            *(getattr(SurveyTask, name) for name in _OWN),
            Staff.username.label("assignee"),
            Staff.display_name.label("assignee_name"),
            Customer.name.label("customer"),
            Customer.phone,
            Vehicle.vin,
            Vehicle.plate,
            Vehicle.model,
            Target.band,
        )
        .join(Target, Target.id == SurveyTask.target_id)
        .join(Customer, Customer.id == Target.customer_id)
        .join(Vehicle, Vehicle.id == Target.vehicle_id)
        .join(Staff, Staff.id == SurveyTask.assignee_id)
        .where(by_ids(SurveyTask.id))
    )


@cache
def _reasons() -> Select:
    return (
        select(SurveyTaskReason.task_id, ReasonCode.code)
        .join(ReasonCode, ReasonCode.id == SurveyTaskReason.reason_code_id)
        .where(by_ids(SurveyTaskReason.task_id))
        .order_by(SurveyTaskReason.id)
    )


@cache
def _attempts() -> Select:
    return (
        select(
            ContactAttempt.task_id,
            ContactAttempt.at,
            ContactAttempt.method,
            ContactAttempt.outcome,
            ContactAttempt.note,
            ContactAttempt.call_back_at,
        )
        .where(by_ids(ContactAttempt.task_id))
        .order_by(ContactAttempt.at, ContactAttempt.id)
    )


def task_views(session: Session, ids: Sequence[int]) -> list[TaskView]:
    """The views of ``ids``, in that order (ids that name no task are left out)."""
    reasons: dict[int, list[str]] = defaultdict(list)
    attempts: dict[int, list[AttemptLine]] = defaultdict(list)
    for start in range(0, len(ids), LINES_AT_ONCE):
        chunk = {LINE_IDS: list(ids[start : start + LINES_AT_ONCE])}
        for task_id, code in session.execute(_reasons(), chunk):
            reasons[task_id].append(code)
        for task_id, *line in session.execute(_attempts(), chunk):
            attempts[task_id].append(AttemptLine(*line))

    def make(*row) -> TaskView:
        return TaskView(
            **dict(zip(_NAMES, row, strict=True)),
            reasons=tuple(reasons[row[0]]),
            attempts=tuple(attempts[row[0]]),
        )

    return lines_of(session, _lines(), ids, make)


def view_of(task: SurveyTask) -> TaskView:
    """The view of a task already loaded (its target, customer, vehicle and assignee are read
    through the task's relationships)."""
    target = task.target
    return TaskView(
        **{name: getattr(task, name) for name in _OWN},
        assignee=task.assignee.username,
        assignee_name=task.assignee.display_name,
        customer=target.customer.name,
        phone=target.customer.phone,
        vin=target.vehicle.vin,
        plate=target.vehicle.plate,
        model=target.vehicle.model,
        band=target.band,
        # in the order first recorded, as task_views reads them (a close that keeps a draft's
        # reason and adds one holds them in the order chosen until the task is read again)
        reasons=tuple(r.reason_code.code for r in sorted(task.reasons, key=_first_recorded)),
        attempts=tuple(AttemptLine(a.at, a.method, a.outcome, a.note, a.call_back_at) for a in task.attempts),
    )


def _first_recorded(reason: SurveyTaskReason) -> tuple[bool, int]:
    return (reason.id is None, reason.id or 0)  # one not yet written comes last
