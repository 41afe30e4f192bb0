"""Reading survey tasks: one task (with the viewer's access), the advisor's list, a cycle's
list, the progress board, the reasons recorded so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, literal_column, select
from sqlalchemy.orm import Session, defaultload, joinedload

from db.base import UTCDateTime
from winback import clock
from winback.accounts.models import Role, Staff
from winback.customers.models import Customer, Vehicle
from winback.cycles.models import Band, Target
from winback.errors import Forbidden, InvalidInput, NotFound
from winback.paging import PAGE_SIZE, Page, by_ids, lines_of, matches, paginate, words
from winback.surveys.models import (
    ContactAttempt,
    Disposition,
    ReasonCode,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)
from winback.surveys.task_view import TaskView, task_views

# The assignee comes with the task for their name; their roles and further stores (the Staff
# model's selectin loads, two statements more per task) are read only if something asks. One
# task's reasons and contact attempts (a few rows each) come in the same statement: as the
# model's selectin loads, two statements more, they were ~70 % of the interpreter's time in
# loading a task (the task page and the survey submit: bench/README.md, "Soak").
TASK_LOADING = (
    defaultload(SurveyTask.assignee).lazyload(Staff.role_rows),
    defaultload(SurveyTask.assignee).lazyload(Staff.store_rows),
    joinedload(SurveyTask.reasons),
    joinedload(SurveyTask.attempts),
)


def get_task(*, session: Session, task_id: int, viewer: Staff | None = None) -> SurveyTask:
    task = session.get(SurveyTask, task_id, options=TASK_LOADING)
    if task is None:
        raise NotFound("no survey task {task_id}", task_id=task_id)
    if viewer is not None:
        _check_can_see(viewer, task)
    return task


def _check_can_see(viewer: Staff, task: SurveyTask) -> None:
    if task.store_id not in viewer.all_store_ids:
        raise NotFound("no survey task {id}", id=task.id)
    if viewer.has_role(Role.supervisor, Role.manager, Role.auditor, Role.admin):
        return
    if task.assignee_id != viewer.id:
        raise Forbidden("this task is assigned to another advisor")


# The supervisor's order: overdue first, then open by due date, then the closed. The overdue are
# the open tasks due earliest, so "open first, then by due date" is that order, and the index
# ix_survey_tasks_cycle_queue holds it (a page read from it, not the cycle sorted per page).
# The status is written into the statement, not bound, so the index's expression matches.
QUEUE_ORDER = (
    SurveyTask.status != literal_column(f"'{SurveyStatus.open.value}'"),
    SurveyTask.due_at,
    SurveyTask.id,
)


def end_of_today() -> datetime:
    """The end of the business day: a call-back promised before it is one of today's."""
    start = datetime.combine(clock.today(), time.min, tzinfo=clock.business_tz())
    return start + timedelta(days=1)


def _my_tasks_query(
    *,
    advisor_id: int,
    include_closed: bool = False,
    search: str | None = None,
    band: str | None = None,
    overdue_only: bool = False,
) -> tuple[Select, dict[str, Any]]:
    """The ids of the advisor's tasks in working order, and the values its parameters take."""
    if band:
        try:
            band = Band(band)
        except ValueError:
            raise InvalidInput(
                "unknown band '{band}'; one of {bands}",
                band=band,
                bands=", ".join(b.value for b in Band),
                field="band",
            ) from None
    stmt = _search_customers(_my_tasks_shape(include_closed, bool(band), overdue_only), search)
    values = {"advisor_id": advisor_id, "now": clock.now(), "end_of_day": end_of_today(), "band": band}
    return stmt, values


@cache
def _my_tasks_shape(include_closed: bool, by_band: bool, overdue_only: bool) -> Select:
    """The statement of ``_my_tasks_query`` for one set of filters, built once (building it for
    every call was ~0.7 ms of CPU, a twentieth of the advisor's list); the advisor, the band,
    the time now and the end of the business day are bound when it runs."""
    now, end = bindparam("now", type_=UTCDateTime), bindparam("end_of_day", type_=UTCDateTime)
    stmt = select(SurveyTask.id).where(SurveyTask.assignee_id == bindparam("advisor_id"))
    if not include_closed:
        stmt = stmt.where(SurveyTask.status == SurveyStatus.open)
    if by_band:
        stmt = stmt.where(SurveyTask.band == bindparam("band"))
    if overdue_only:
        stmt = stmt.where(SurveyTask.status == SurveyStatus.open, SurveyTask.due_at < now)
    is_open = SurveyTask.status == SurveyStatus.open
    # Today's call-backs (约定回电 before the business day ends) lead, in the order promised;
    # then overdue tasks, then the rest by deadline; call-backs of a later day sink.
    callback_today = and_(is_open, SurveyTask.follow_up_at.is_not(None), SurveyTask.follow_up_at < end)
    rank = case(
        (callback_today, 0),
        (and_(is_open, SurveyTask.due_at < now), 1),
        (and_(is_open, SurveyTask.follow_up_at.is_not(None)), 3),
        (is_open, 2),
        else_=4,
    )
    promised = case((callback_today, SurveyTask.follow_up_at), else_=SurveyTask.due_at)
    band_rank = case((SurveyTask.band == Band.lost, 0), else_=1)
    return stmt.order_by(
        rank, promised, SurveyTask.due_at, band_rank, SurveyTask.total_spend.desc(), SurveyTask.id
    )


def _search_customers(stmt: Select, search: str | None, *, by_phone: bool = True) -> Select:
    """Tasks whose customer's name or phone, or vehicle's plate or VIN, hold every word of ``search``
    (the targets are joined only then: the lists sort on the tasks alone). ``by_phone=False``
    for a reader who sees numbers masked: searching digit by digit would unmask them."""
    if not words(search):
        return stmt
    fields = [Customer.name, Vehicle.plate, Vehicle.vin] + ([Customer.phone] if by_phone else [])
    return (
        stmt.join(Target, Target.id == SurveyTask.target_id)
        .join(Customer, Customer.id == SurveyTask.customer_id)
        .join(Vehicle, Vehicle.id == Target.vehicle_id)
        .where(matches(search, *fields))
    )


def task_of_customer(*, session: Session, advisor_id: int, customer_id: int) -> SurveyTask | None:
    """The advisor's latest task for this customer, open or closed, if any (it unmasks the
    customer's phone for them)."""
    return session.scalar(
        select(SurveyTask)
        .where(SurveyTask.assignee_id == advisor_id, SurveyTask.customer_id == customer_id)
        .order_by(SurveyTask.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class TaskSummary:
    """One line of an advisor's list (what the phone shows before the task is opened); the
    whole task, with its attempts and answers, is ``get_task``."""

    id: int
    cycle_id: int
    status: SurveyStatus
    band: Band
    assignee_id: int
    due_at: datetime
    follow_up_at: datetime | None
    draft_saved_at: datetime | None
    closed_at: datetime | None
    version: int
    total_spend: Decimal
    customer_id: int
    customer: str
    phone: str | None
    vin: str
    plate: str | None
    model: str | None
    attempts: int


@cache
def _summary_lines() -> Select:
    """The statement of ``_summaries``, built once."""
    attempts = (
        select(func.count())
        .where(ContactAttempt.task_id == SurveyTask.id)
        .correlate(SurveyTask)
        .scalar_subquery()
    )
    lines = (
        select(
            SurveyTask.id,
            SurveyTask.cycle_id,
            SurveyTask.status,
            SurveyTask.band,
            SurveyTask.assignee_id,
            SurveyTask.due_at,
            SurveyTask.follow_up_at,
            SurveyTask.draft_saved_at,
            SurveyTask.closed_at,
            SurveyTask.version,
            SurveyTask.total_spend,
            SurveyTask.customer_id,
            Customer.name,
            Customer.phone,
            Vehicle.vin,
            Vehicle.plate,
            Vehicle.model,
            attempts,
        )
        .join(Target, Target.id == SurveyTask.target_id)
        .join(Customer, Customer.id == SurveyTask.customer_id)
        .join(Vehicle, Vehicle.id == Target.vehicle_id)
        .where(by_ids(SurveyTask.id))
    )
    return lines


def _summaries(session: Session, ids: list[int]) -> list[TaskSummary]:
    """The summaries of ``ids``, in that order: plain rows by primary key, no ORM objects
    (building 200 of them was half the CPU time of an advisor's list)."""
    return lines_of(session, _summary_lines(), ids, TaskSummary)


def my_tasks_page(
    *,
    session: Session,
    advisor_id: int,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
    include_closed: bool = False,
    search: str | None = None,
    band: str | None = None,
    overdue_only: bool = False,
    offset: int | None = None,
    count: bool = True,
) -> Page[TaskSummary]:
    """An advisor's tasks in working order, a page at a time: today's call-backs (约定回电)
    first, then overdue tasks, then by due date, lost before at-risk and valuable before cheap;
    call-backs of a later day sink to the bottom until their day comes.

    ``search`` matches the customer's name or phone or the vehicle's plate or VIN. Each line is
    a ``TaskSummary`` (the page and the API's list show no more of a task); ``offset`` starts at a row (the API), ``page_size=None`` gives every task; ``count=False``
    (with ``offset``) leaves the total uncounted, for the API's list, which shows none.
    """
    stmt, values = _my_tasks_query(
        advisor_id=advisor_id,
        include_closed=include_closed,
        search=search,
        band=band,
        overdue_only=overdue_only,
    )
    filtered = bool(words(search) or band or overdue_only)
    ids = paginate(
        session,
        stmt,
        values=values,
        page=page,
        page_size=page_size,
        offset=offset,
        count=count,
    )
    return Page(_summaries(session, ids.items), ids.total, ids.page, ids.page_size, filtered)


def _cycle_tasks_query(
    *,
    cycle_id: int,
    status: SurveyStatus | None = None,
    assignee_id: int | None = None,
    search: str | None = None,
    by_phone: bool = True,
) -> Select:
    stmt = select(SurveyTask).where(SurveyTask.cycle_id == cycle_id)
    if status is not None:
        stmt = stmt.where(SurveyTask.status == status)
    if assignee_id is not None:
        stmt = stmt.where(SurveyTask.assignee_id == assignee_id)
    stmt = _search_customers(stmt, search, by_phone=by_phone)
    return stmt.order_by(*QUEUE_ORDER)


def cycle_tasks_page(
    *,
    session: Session,
    cycle_id: int,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
    search: str | None = None,
    status: SurveyStatus | None = None,
    assignee_id: int | None = None,
    by_phone: bool = True,
    offset: int | None = None,
) -> Page[TaskView]:
    """The cycle's tasks for the supervisor, a page at a time: overdue first, then open by due
    date, then closed; searched by customer, plate, VIN or (when ``by_phone``: the reader sees
    numbers unmasked) phone. ``offset`` starts at a row (the API). Each task is a ``TaskView``:
    the page's ids are read from the list's index, then their lines by id."""
    stmt = _cycle_tasks_query(
        cycle_id=cycle_id, status=status, assignee_id=assignee_id, search=search, by_phone=by_phone
    )
    ids = paginate(
        session,
        stmt.with_only_columns(SurveyTask.id),
        page=page,
        page_size=page_size,
        offset=offset,
    )
    filtered = bool(words(search) or status or assignee_id)
    return Page(task_views(session, ids.items), ids.total, ids.page, ids.page_size, filtered)


def progress(*, session: Session, cycle_id: int) -> list[dict[str, Any]]:
    """Per advisor: open, done, unreachable, excluded and overdue tasks and the contact rate
    (customers reached / tasks not excluded), overdue advisors first (the supervisor's board)."""
    now = clock.now()
    # Both statements read the cycle's tasks once without joining them to anything (the
    # board is polled; at 50,000 tasks the joins cost ~110 ms of PostgreSQL per call).
    rows = session.execute(
        select(
            SurveyTask.assignee_id,
            SurveyTask.status,
            func.count(),
            func.sum(
                case((and_(SurveyTask.due_at < now, SurveyTask.status == SurveyStatus.open), 1), else_=0)
            ),
        )
        .where(SurveyTask.cycle_id == cycle_id)
        .group_by(SurveyTask.assignee_id, SurveyTask.status)
    ).all()
    names = (
        dict(
            session.execute(
                select(Staff.id, Staff.display_name).where(Staff.id.in_({r[0] for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    # Reached = closed as done, or not done but with an attempt that reached the customer;
    # the second set starts from the (few) attempts, not from the tasks.
    reached_outcomes = [d.value for d in Disposition if d.reached_customer]
    reached_not_done = dict(
        session.execute(
            select(SurveyTask.assignee_id, func.count(func.distinct(SurveyTask.id)))
            .join(ContactAttempt, ContactAttempt.task_id == SurveyTask.id)
            .where(
                SurveyTask.cycle_id == cycle_id,
                SurveyTask.status != SurveyStatus.done,
                ContactAttempt.outcome.in_(reached_outcomes),
            )
            .group_by(SurveyTask.assignee_id)
        ).all()
    )
    board: dict[int, dict[str, Any]] = {}
    for sid, status, count, overdue in rows:
        entry = board.setdefault(
            sid,
            {
                "advisor_id": sid,
                "advisor": names[sid],
                "open": 0,
                "done": 0,
                "unreachable": 0,
                "excluded": 0,
                "carried_over": 0,
                "overdue": 0,
            },
        )
        entry[status.value] += count
        entry["overdue"] += int(overdue or 0)
    for entry in board.values():
        base = entry["open"] + entry["done"] + entry["unreachable"] + entry["carried_over"]
        entry["reached"] = entry["done"] + int(reached_not_done.get(entry["advisor_id"], 0))
        entry["contact_rate_pct"] = round(100 * entry["reached"] / base, 1) if base else None
    return sorted(board.values(), key=lambda e: (-e["overdue"], -e["open"], e["advisor"]))


def reasons_so_far(*, session: Session, cycle_id: int) -> list[tuple[ReasonCode, int]]:
    """Reasons recorded on the cycle's closed surveys so far, most frequent first."""
    rows = session.execute(
        select(ReasonCode, func.count())
        .join(SurveyTaskReason, SurveyTaskReason.reason_code_id == ReasonCode.id)
        .join(SurveyTask, SurveyTask.id == SurveyTaskReason.task_id)
        .where(SurveyTask.cycle_id == cycle_id, SurveyTask.status == SurveyStatus.done)
        .group_by(ReasonCode.id)
        .order_by(func.count().desc(), ReasonCode.sort_order)
    ).all()
    return [(rc, int(n)) for rc, n in rows]


def require_customer_access(
    *, session: Session, viewer: Staff, customer_id: int, write: bool = False
) -> None:
    """An advisor works on the customers of their own tasks only; auditors read and never write."""
    readers = (Role.admin, Role.supervisor, Role.manager) + (() if write else (Role.auditor,))
    if viewer.has_role(*readers):
        return
    own = session.scalar(
        select(SurveyTask.id)
        .where(SurveyTask.assignee_id == viewer.id, SurveyTask.customer_id == customer_id)
        .limit(1)
    )
    if own is None or not viewer.has_role(Role.advisor):
        raise Forbidden("this customer is not one of yours")
