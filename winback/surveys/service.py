"""Reason surveys: distribution, the advisor's work, reminders, escalation and the tally."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import ProcessDefaults
from winback.customers import service as customers
from winback.customers.models import Customer, Vehicle
from winback.cycles import service as cycles
from winback.cycles.models import Band, CycleStage, MonthlyCycle, Target
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.notifications.messages import Lines, Month, Text
from winback.paging import PAGE_SIZE, Page, matches, paginate, words
from winback.surveys.models import (
    ContactAttempt,
    ContactMethod,
    Disposition,
    ReasonArea,
    ReasonCode,
    ShopKind,
    SurveyStatus,
    SurveyTask,
    SurveyTaskReason,
)

OTHER_REASON = "other"


def reason_codes(*, session: Session, store_id: int, active_only: bool = True) -> list[ReasonCode]:
    stmt = select(ReasonCode).where(ReasonCode.store_id == store_id)
    if active_only:
        stmt = stmt.where(ReasonCode.active.is_(True))
    return list(session.scalars(stmt.order_by(ReasonCode.sort_order, ReasonCode.id)))


def reasons_by_code(*, session: Session, store_ids: list[int]) -> dict[str, ReasonCode]:
    """Every reason of the stores (retired ones too, for old tallies) by code; the first
    store's (the person's home store's) label wins where stores share a code."""
    out: dict[str, ReasonCode] = {}
    for store_id in reversed(store_ids):
        out.update(
            {rc.code: rc for rc in reason_codes(session=session, store_id=store_id, active_only=False)}
        )
    return out


_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def save_reason_code(
    *,
    session: Session,
    actor_staff: Staff,
    label_zh: str,
    label_en: str,
    code: str | None = None,
    reason_id: int | None = None,
    area: ReasonArea | None = None,
    active: bool = True,
) -> ReasonCode:
    """Add a churn reason to the actor's store or edit one (admin or manager), in both languages.

    The code is the stable key (tallies, the measure library and past surveys refer to it), so
    an existing reason keeps its code; its labels, area and whether it is offered may change.
    A reason is retired (``active=False``), never deleted.
    """
    if not actor_staff.has_role(Role.admin, Role.manager):
        raise Forbidden("only the administration or the manager edits the reasons")
    store_id = actor_staff.store_id
    label_zh, label_en = (label_zh or "").strip(), (label_en or "").strip()
    if not label_zh or not label_en:
        raise InvalidInput(
            "a reason needs a Chinese and an English label", field="label_zh" if not label_zh else "label_en"
        )
    if len(label_zh) > 120 or len(label_en) > 120:
        raise InvalidInput("a label has at most 120 characters", field="label_zh")
    if reason_id is not None:
        rc = session.get(ReasonCode, reason_id)
        if rc is None or rc.store_id != store_id:
            raise NotFound(f"no reason {reason_id}")
        action = "reason_code.updated"
    else:
        code = (code or "").strip().lower()
        if not _CODE.match(code):
            raise InvalidInput(
                "a reason code is 2-40 lower-case letters, digits or _, starting with a letter", field="code"
            )
        if session.scalar(
            select(ReasonCode.id).where(ReasonCode.store_id == store_id, ReasonCode.code == code)
        ):
            raise InvalidInput("the store already has this reason code", field="code")
        order = session.scalar(select(func.max(ReasonCode.sort_order)).where(ReasonCode.store_id == store_id))
        rc = ReasonCode(
            store_id=store_id,
            code=code,
            label_zh=label_zh,
            label_en=label_en,
            area=area or ReasonArea.other,
            active=True,
            sort_order=(order or 0) + 1,
        )
        session.add(rc)
        session.flush()
        action = "reason_code.added"
    changes = audit_service.diff(
        rc,
        {
            "label_zh": label_zh,
            "label_en": label_en,
            "area": area or rc.area,
            "active": active if reason_id is not None else True,
        },
    )
    session.flush()
    if changes or action == "reason_code.added":
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action=action,
            entity_type="store",
            entity_id=store_id,
            store_id=store_id,
            changes={"reason_code": rc.code, **changes},
        )
    return rc


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
        select(
            Target.id,
            Target.customer_id,
            Target.profile,
            Customer.advisor_id,
            Target.band,
            Target.total_spend,
        )
        .join(Customer, Customer.id == Target.customer_id)
        .outerjoin(SurveyTask, SurveyTask.target_id == Target.id)
        .where(Target.cycle_id == cycle.id, SurveyTask.id.is_(None), Target.holdout.is_(False))
        .order_by(Target.band.desc(), Target.total_spend.desc(), Target.id)
    ).all()
    now = clock.now()
    due = now + timedelta(days=cycle.rules.survey_deadline_days)
    rows = []
    per_advisor: Counter = Counter()
    for target_id, customer_id, profile, own_advisor, band, total_spend in pending:
        last = (profile or {}).get("last_advisor_id")
        if own_advisor in by_id:
            assignee = own_advisor
        elif last in by_id:
            assignee = last
        else:
            assignee = min(load, key=lambda a: (load[a], a))
        load[assignee] += 1
        per_advisor[assignee] += 1
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
            )
        )
    if rows:
        session.execute(SurveyTask.__table__.insert(), rows)
        audit_service.record(
            session=session,
            actor=actor,
            action="surveys.assigned",
            entity_type="cycle",
            entity_id=cycle.id,
            store_id=cycle.store_id,
            cycle_id=cycle.id,
            changes={
                "tasks": len(rows),
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
                month=Month(cycle.month),
                count=count,
                due=due,
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
    if task.store_id not in viewer.all_store_ids:
        raise NotFound(f"no survey task {task.id}")
    if viewer.has_role(Role.supervisor, Role.manager, Role.auditor, Role.admin):
        return
    if task.assignee_id != viewer.id:
        raise Forbidden("this task is assigned to another advisor")


# A list sorts and cuts the (narrow) task rows first, then loads the page's targets, customers,
# vehicles and assignees in one statement each. The models' default joined loads would join
# those wide rows to every one of an advisor's ~2,000 open tasks before the sort (34 ms of
# PostgreSQL's time per call at 50,000 open tasks, against ~5 ms this way).
LIST_LOADING = (selectinload(SurveyTask.target), selectinload(SurveyTask.assignee))


def _my_tasks_query(
    *,
    advisor_id: int,
    include_closed: bool = False,
    search: str | None = None,
    band: str | None = None,
    overdue_only: bool = False,
) -> Select:
    now = clock.now()
    stmt = select(SurveyTask).where(SurveyTask.assignee_id == advisor_id)
    if not include_closed:
        stmt = stmt.where(SurveyTask.status == SurveyStatus.open)
    if band:
        try:
            band = Band(band)
        except ValueError:
            raise InvalidInput(
                f"unknown band {band!r}; one of {', '.join(b.value for b in Band)}", field="band"
            ) from None
        stmt = stmt.where(SurveyTask.band == band)
    if overdue_only:
        stmt = stmt.where(SurveyTask.status == SurveyStatus.open, SurveyTask.due_at < now)
    stmt = _search_customers(stmt, search)
    is_open = SurveyTask.status == SurveyStatus.open
    rank = case(
        (and_(is_open, SurveyTask.due_at < now), 0),
        (and_(is_open, SurveyTask.follow_up_at.is_not(None), SurveyTask.follow_up_at <= now), 1),
        (and_(is_open, SurveyTask.follow_up_at.is_not(None), SurveyTask.follow_up_at > now), 3),
        (is_open, 2),
        else_=4,
    )
    band_rank = case((SurveyTask.band == Band.lost, 0), else_=1)
    return stmt.order_by(rank, SurveyTask.due_at, band_rank, SurveyTask.total_spend.desc(), SurveyTask.id)


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


def my_tasks(
    *,
    session: Session,
    advisor_id: int,
    include_closed: bool = False,
    search: str | None = None,
    band: str | None = None,
    overdue_only: bool = False,
    limit: int | None = None,
    offset: int = 0,
    summaries: bool = False,
) -> list[SurveyTask] | list[TaskSummary]:
    """An advisor's tasks in working order: overdue first, then call-backs that are due, then
    by due date, lost before at-risk and valuable before cheap; snoozed call-backs (a
    follow-up time still ahead) sink to the bottom until their time comes.

    ``search`` matches the customer's name or phone or the vehicle's plate or VIN. ``summaries``
    returns ``TaskSummary`` lines instead of the tasks (the API's list).
    """
    stmt = _my_tasks_query(
        advisor_id=advisor_id,
        include_closed=include_closed,
        search=search,
        band=band,
        overdue_only=overdue_only,
    )
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    if summaries:
        return _summaries(session, list(session.scalars(stmt.with_only_columns(SurveyTask.id))))
    return list(session.scalars(stmt.options(*LIST_LOADING)))


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
    customer_id: int
    customer: str
    phone: str | None
    vin: str
    plate: str | None
    model: str | None
    attempts: int


def _summaries(session: Session, ids: list[int]) -> list[TaskSummary]:
    """The summaries of ``ids``, in that order: plain rows by primary key, no ORM objects
    (building 200 of them was half the CPU time of an advisor's list)."""
    if not ids:
        return []
    attempts = (
        select(func.count())
        .where(ContactAttempt.task_id == SurveyTask.id)
        .correlate(SurveyTask)
        .scalar_subquery()
    )
    rows = session.execute(
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
        .where(SurveyTask.id.in_(ids))
    ).all()
    by_id = {r[0]: TaskSummary(*r) for r in rows}
    return [by_id[i] for i in ids]


def my_tasks_page(
    *,
    session: Session,
    advisor_id: int,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    include_closed: bool = False,
    search: str | None = None,
    band: str | None = None,
    overdue_only: bool = False,
) -> Page[SurveyTask]:
    """One page of ``my_tasks`` and how many there are in all (same filters)."""
    stmt = _my_tasks_query(
        advisor_id=advisor_id,
        include_closed=include_closed,
        search=search,
        band=band,
        overdue_only=overdue_only,
    )
    return paginate(
        session,
        stmt.options(*LIST_LOADING),
        page=page,
        page_size=page_size,
        filtered=bool(words(search) or band or overdue_only),
    )


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
    is_open = SurveyTask.status == SurveyStatus.open
    rank = case((and_(is_open, SurveyTask.due_at < clock.now()), 0), (is_open, 1), else_=2)
    return stmt.order_by(rank, SurveyTask.due_at, SurveyTask.id)


def tasks_of_cycle(
    *,
    session: Session,
    cycle_id: int,
    status: SurveyStatus | None = None,
    assignee_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[SurveyTask], int]:
    """The cycle's tasks for the supervisor: overdue first, then open by due date, then closed."""
    stmt = _cycle_tasks_query(cycle_id=cycle_id, status=status, assignee_id=assignee_id)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return list(session.scalars(stmt.offset(offset).limit(limit).options(*LIST_LOADING))), int(total)


def cycle_tasks_page(
    *,
    session: Session,
    cycle_id: int,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    search: str | None = None,
    status: SurveyStatus | None = None,
    assignee_id: int | None = None,
    by_phone: bool = True,
) -> Page[SurveyTask]:
    """A page of the cycle's tasks (the cycle page), searched by customer, plate, VIN or (when
    ``by_phone``: the reader sees numbers unmasked) phone."""
    stmt = _cycle_tasks_query(
        cycle_id=cycle_id, status=status, assignee_id=assignee_id, search=search, by_phone=by_phone
    )
    return paginate(
        session,
        stmt.options(*LIST_LOADING),
        page=page,
        page_size=page_size,
        filtered=bool(words(search) or status or assignee_id),
    )


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
                "overdue": 0,
            },
        )
        entry[status.value] += count
        entry["overdue"] += int(overdue or 0)
    for entry in board.values():
        base = entry["open"] + entry["done"] + entry["unreachable"]
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


# ---- the advisor's work -----------------------------------------------------------------


def _check_version(task: SurveyTask, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != task.version:
        raise Conflict(
            "this task was changed by someone else meanwhile; your input is kept below, check it and save again",
            code="stale",
        )


def _flush_or_conflict(session: Session, task_id: int) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "this task was changed by someone else just now; nothing of yours was saved", code="stale"
        ) from None


def _check_open(task: SurveyTask) -> None:
    if task.status != SurveyStatus.open:
        raise Conflict(f"task {task.id} was already closed", code="task_closed")


def record_attempt(
    *,
    session: Session,
    task_id: int,
    method: ContactMethod,
    outcome: Disposition | str,
    note: str | None,
    actor_staff: Staff,
    call_back_at: datetime | None = None,
    expected_version: int | None = None,
) -> ContactAttempt:
    """Record one contact attempt with its disposition and apply what it means:

    * ``call_back``: the task sleeps until ``call_back_at`` (a snooze) and then resurfaces;
    * ``wrong_number``: the archive's phone is flagged invalid for the cleanup;
    * ``do_not_call``: the customer is flagged and the task is taken off the list;
    * the ``unreachable_after_attempts``-th failed attempt (no answer, busy, message, wrong
      number) without the customer ever reached closes the task as unreachable.
    """
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    if task.assignee_id != actor_staff.id:
        raise Forbidden("only the assigned advisor records contacts")
    _check_open(task)
    _check_version(task, expected_version)
    try:
        outcome = Disposition(outcome)
    except ValueError:
        raise InvalidInput(f"unknown outcome: {outcome}", field="outcome") from None
    now = clock.now()
    if outcome == Disposition.call_back:
        if call_back_at is None:
            raise InvalidInput("say when to call back", field="call_back_at")
        if call_back_at <= now:
            raise InvalidInput("the call-back time must lie in the future", field="call_back_at")
    else:
        call_back_at = None
    attempt = ContactAttempt(
        store_id=task.store_id,
        task_id=task.id,
        at=now,
        by_id=actor_staff.id,
        method=method,
        outcome=outcome.value,
        note=note,
        call_back_at=call_back_at,
    )
    task.attempts.append(attempt)
    actor = Actor.person(actor_staff)
    task.follow_up_at = call_back_at
    closed_as = None
    if outcome == Disposition.wrong_number:
        customers.report_wrong_number(session=session, customer_id=task.customer_id, actor=actor, note=note)
    if outcome == Disposition.do_not_call:
        customers.set_do_not_call(session=session, customer_id=task.customer_id, actor=actor, note=note)
        task.status = SurveyStatus.excluded
        task.excluded_reason = "do_not_call"
        task.closed_at, task.closed_by_id = now, actor_staff.id
        closed_as = task.status
    _flush_or_conflict(session, task.id)
    audit_service.record(
        session=session,
        actor=actor,
        action="task.contact_attempt",
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
        changes={"method": method, "outcome": outcome.value, "note": note, "call_back_at": call_back_at},
    )
    if closed_as is None:
        outcomes = [
            Disposition(a.outcome) for a in task.attempts if a.outcome in Disposition._value2member_map_
        ]
        failed = sum(1 for o in outcomes if o.failed or o == Disposition.wrong_number)
        limit = _cycle_rules(session, task.cycle_id).unreachable_after_attempts
        if not any(o.reached_customer for o in outcomes) and failed >= limit:
            task.status = SurveyStatus.unreachable
            task.method = method
            task.follow_up_at = None
            task.closed_at, task.closed_by_id = now, actor_staff.id
            _flush_or_conflict(session, task.id)
            audit_service.record(
                session=session,
                actor=actor,
                action="task.closed",
                entity_type="task",
                entity_id=task.id,
                store_id=task.store_id,
                customer_id=task.customer_id,
                cycle_id=task.cycle_id,
                changes={"status": task.status, "failed_attempts": failed, "limit": limit},
            )
    return attempt


_RESULT_FIELDS = (
    "method",
    "serviced_elsewhere",
    "elsewhere_kind",
    "elsewhere_what",
    "elsewhere_where",
    "elsewhere_why",
    "reason_other",
    "would_return",
    "appointment_on",
    "voucher_offered",
    "notes",
)


def _missing_for_close(values: dict[str, Any], codes: list[str], unreachable: bool) -> list[tuple[str, str]]:
    missing = []
    if unreachable:
        return missing
    if not codes:
        missing.append(("reasons", "choose at least one reason"))
    if OTHER_REASON in codes and not values.get("reason_other"):
        missing.append(("reason_other", "describe the other reason"))
    if values.get("serviced_elsewhere") and not (
        values.get("elsewhere_where") or values.get("elsewhere_kind")
    ):
        missing.append(("elsewhere_where", "say where the car was serviced"))
    return missing


def _write_result(
    session: Session,
    task: SurveyTask,
    *,
    actor_staff: Staff,
    codes: list[str],
    values: dict[str, Any],
    complaint: str | None,
    closing: bool,
    unreachable: bool,
    expected_version: int | None,
) -> None:
    if task.assignee_id != actor_staff.id and not actor_staff.has_role(Role.supervisor):
        raise Forbidden("only the assigned advisor (or a supervisor) closes this task")
    _check_open(task)
    _check_version(task, expected_version)
    codes = list(dict.fromkeys(codes))
    values = {k: (v.strip() or None) if type(v) is str and k != "method" else v for k, v in values.items()}
    if values.get("method") is not None:
        values["method"] = ContactMethod(values["method"])
    known = {rc.code: rc for rc in reason_codes(session=session, store_id=task.store_id)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput(f"unknown reason code(s): {', '.join(unknown)}", field="reasons")
    if closing:
        missing = _missing_for_close(values, codes, unreachable)
        if missing:
            raise InvalidInput("; ".join(m for _, m in missing), field=missing[0][0])
    # A complaint once recorded stays: it may be answered, never edited or removed.
    complaint = (complaint or "").strip() or None
    new_complaint = False
    if task.complaint:
        if complaint and complaint != task.complaint:
            raise InvalidInput(
                "a recorded complaint cannot be changed or removed; it can only be answered",
                field="complaint",
            )
    elif complaint:
        task.complaint = complaint
        new_complaint = True
    for key in _RESULT_FIELDS:
        if key in values:
            setattr(task, key, values[key])
    if values.get("elsewhere_kind") is not None:
        task.elsewhere_kind = ShopKind(values["elsewhere_kind"])
    # Keep the rows of reasons still chosen (a re-insert would collide with the unique key).
    wanted = [known[c].id for c in codes]
    kept = {r.reason_code_id: r for r in task.reasons if r.reason_code_id in wanted}
    task.reasons = [kept.get(i) or SurveyTaskReason(store_id=task.store_id, reason_code_id=i) for i in wanted]
    now = clock.now()
    if closing:
        task.status = SurveyStatus.unreachable if unreachable else SurveyStatus.done
        task.closed_at, task.closed_by_id = now, actor_staff.id
        task.follow_up_at = None
    else:
        # Always a write (the version moves), so a racing close of the same task is detected.
        task.draft_saved_at = now
    _flush_or_conflict(session, task.id)
    actor = Actor.person(actor_staff)
    common = dict(
        entity_type="task",
        entity_id=task.id,
        store_id=task.store_id,
        customer_id=task.customer_id,
        cycle_id=task.cycle_id,
    )
    changes = {k: values.get(k) for k in _RESULT_FIELDS if values.get(k) is not None}
    changes.update(reasons=codes, complaint=task.complaint)
    if closing:
        changes["status"] = task.status
    audit_service.record(
        session=session,
        actor=actor,
        action="task.closed" if closing else "task.draft_saved",
        changes=changes,
        **common,
    )
    if new_complaint:
        audit_service.record(
            session=session,
            actor=actor,
            action="task.complaint_recorded",
            changes={"complaint": complaint},
            **common,
        )
        customer = task.target.customer.name
        for manager in staff_with_role(session=session, store_id=task.store_id, role=Role.manager):
            notifications.enqueue(
                session=session,
                recipient=manager,
                kind="complaint_raised",
                dedupe_key=f"complaint_raised:{task.id}:{manager.id}",
                task_id=task.id,
                customer=customer,
                advisor=task.assignee.display_name,
                complaint=complaint[:200],
            )


def save_draft(
    *,
    session: Session,
    task_id: int,
    reason_codes_: list[str],
    actor_staff: Staff,
    complaint: str | None = None,
    unreachable: bool = False,
    expected_version: int | None = None,
    **values: Any,
) -> SurveyTask:
    """Keep a half-finished survey form on the task (it stays open); nothing is required yet."""
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    unknown = set(values) - set(_RESULT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    _write_result(
        session,
        task,
        actor_staff=actor_staff,
        codes=reason_codes_,
        values=values,
        complaint=complaint,
        closing=False,
        unreachable=unreachable,
        expected_version=expected_version,
    )
    return task


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
        raise Conflict(f"the complaint of task {task.id} was already answered", code="answered")
    task.complaint_answer = answer
    task.complaint_answered_at = clock.now()
    task.complaint_answered_by_id = actor_staff.id
    _flush_or_conflict(session, task.id)
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
    elsewhere_kind: ShopKind | str | None = None,
    reason_other: str | None = None,
    would_return: bool | None = None,
    appointment_on: date | None = None,
    voucher_offered: bool | None = None,
    complaint: str | None = None,
    notes: str | None = None,
    unreachable: bool = False,
    expected_version: int | None = None,
    actor_staff: Staff,
) -> SurveyTask:
    """Record the survey result and close the task (调查结果).

    Validation names everything that is missing at once. Of two people saving the same task
    at once, the first wins; the second gets Conflict (the version column), nothing of theirs
    is written. ``expected_version`` (the version the form was loaded with) catches the same
    race across a page load.
    """
    task = get_task(session=session, task_id=task_id, viewer=actor_staff)
    values = dict(
        method=method,
        serviced_elsewhere=serviced_elsewhere,
        elsewhere_what=elsewhere_what,
        elsewhere_where=elsewhere_where,
        elsewhere_why=elsewhere_why,
        elsewhere_kind=elsewhere_kind,
        reason_other=reason_other,
        would_return=would_return,
        appointment_on=appointment_on,
        voucher_offered=voucher_offered,
        notes=notes,
    )
    _write_result(
        session,
        task,
        actor_staff=actor_staff,
        codes=reason_codes_,
        values=values,
        complaint=complaint,
        closing=True,
        unreachable=unreachable,
        expected_version=expected_version,
    )
    return task


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
        raise Conflict(f"task {task.id} is closed and cannot be reassigned", code="task_closed")
    _check_version(task, expected_version)
    advisors = {a.id: a for a in staff_with_role(session=session, store_id=task.store_id, role=Role.advisor)}
    if to_staff_id not in advisors:
        raise InvalidInput("choose an active advisor of this store", field="assignee_id")
    if task.assignee_id == to_staff_id:
        return task
    _move(session, task, advisors[to_staff_id], Actor.person(actor_staff))
    return task


def _move(session: Session, task: SurveyTask, to: Staff, actor: Actor, why: str | None = None) -> None:
    """Give an open task to another advisor: audited, both advisors told."""
    before = task.assignee
    task.assignee_id = to.id
    _flush_or_conflict(session, task.id)
    session.refresh(task)
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
    customer = task.target.customer.name
    stamp = clock.now().isoformat()
    notifications.enqueue(
        session=session,
        recipient=before,
        kind="task_reassigned",
        dedupe_key=f"task_reassigned:{task.id}:{before.id}:{stamp}",
        task_id=task.id,
        customer=customer,
        change=Text("已转交给 {to}", "handed to {to}", to=to.display_name),
    )
    notifications.enqueue(
        session=session,
        recipient=to,
        kind="task_reassigned",
        dedupe_key=f"task_reassigned:{task.id}:{to.id}:{stamp}",
        task_id=task.id,
        customer=customer,
        change=Text("由 {before} 转交给您", "handed to you by {before}", before=before.display_name),
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
    _check_open(task)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the target is excluded", field="reason")
    task.status = SurveyStatus.excluded
    task.excluded_reason = reason[:300]
    task.closed_at, task.closed_by_id = clock.now(), actor_staff.id
    task.follow_up_at = None
    _flush_or_conflict(session, task.id)
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
        task_id=task.id,
        customer=task.target.customer.name,
        change=Text("已排除（{reason}）", "taken off the list ({reason})", reason=reason[:60]),
    )
    return task


def hand_over_advisor(
    *,
    session: Session,
    advisor_id: int,
    actor_staff: Staff,
    to_staff_id: int | None = None,
) -> dict[str, int]:
    """An advisor leaves: in one step deactivate them and hand their open tasks and their
    customers to the remaining advisors (all to ``to_staff_id``, or balanced by open workload).
    Nothing is orphaned; every move is audited and both sides are told."""
    if not actor_staff.has_role(Role.supervisor, Role.admin):
        raise Forbidden("only the supervisor or the administration hands over an advisor's work")
    leaving = session.get(Staff, advisor_id)
    if leaving is None or leaving.store_id != actor_staff.store_id:
        raise NotFound(f"no staff member {advisor_id}")
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
    actor = Actor.person(actor_staff)
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
            "active": False,
            "tasks": len(open_tasks),
            "customers": len(customer_ids),
            "customers_to": {by_id[h].username: n for h, n in per_heir.items()},
        },
    )
    return {"tasks": len(open_tasks), "customers": len(customer_ids)}


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
        t
        for t in tasks
        if t.due_at - timedelta(days=_cycle_rules(session, t.cycle_id).survey_reminder_days_before) <= now
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
            count=len(items),
            due=max(t.due_at for t in items),
        )
    if due_soon:
        session.execute(
            update(SurveyTask)
            .where(SurveyTask.id.in_([t.id for t in due_soon]))
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
            count=len(items),
        )
    supervisors = staff_with_role(session=session, store_id=store_id, role=Role.supervisor)
    months = sorted({session.get(MonthlyCycle, c).month for c in by_cycle})
    lines: list = [
        Text(
            "· #{id} {customer}（{advisor}，{due}）",
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
            month=[Month(m) for m in months],
            count=len(overdue),
            advisors=sorted({t.assignee.display_name for t in overdue}),
            lines=Lines(lines),
        )
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
        .where(SurveyTask.id.in_([t.id for t in overdue]))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(overdue)


def _cycle_rules(session: Session, cycle_id: int) -> ProcessDefaults:
    return session.get(MonthlyCycle, cycle_id).rules


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
