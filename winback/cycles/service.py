"""The monthly cycle: start, find and list cycles, stage moves, flow runs, the stage board.

Screening (筛选) is in ``screening.py``, the profile analysis (分析) in ``profiles.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import cleanup
from winback.customers.models import Customer, Vehicle
from winback.cycles.flow_runs import flow_runs_of, flows_running
from winback.cycles.models import (
    Band,
    CycleStage,
    FlowRunRecord,
    FlowRunState,
    MonthlyCycle,
    Target,
)
from winback.errors import Conflict, InvalidInput, NotFound
from winback.months import parse_month, shift_month
from winback.paging import PAGE_SIZE, Page, by_ids, lines_of, matches, paginate, words


def month_window(*, store: Store) -> tuple[str, str]:
    """The months a cycle may be started for today: from ``evaluation_delay_months`` back (a
    missed month caught up within its evaluation window) to ``cycle_months_ahead`` ahead."""
    rules = effective_settings(store)
    this_month = clock.today().strftime("%Y-%m")
    return (
        shift_month(this_month, -rules.evaluation_delay_months),
        shift_month(this_month, rules.cycle_months_ahead),
    )


def check_month(*, session: Session, store: Store, month: str) -> str:
    """``month`` if the store's cycle of that month exists (and is not cancelled) or may be
    started today (``month_window``); else InvalidInput saying which months may."""
    month = parse_month(month)
    cycle = find_cycle(session=session, store_id=store.id, month=month)
    if cycle is not None and cycle.stage != CycleStage.cancelled:
        return month
    first, last = month_window(store=store)
    if not first <= month <= last:
        raise InvalidInput(
            "a cycle can be started only for a month from {first} to {last}, not {month}",
            first=first,
            last=last,
            month=month,
            field="month",
        )
    return month


def start_cycle(*, session: Session, store: Store, month: str, actor: Actor) -> tuple[MonthlyCycle, bool]:
    """Open the store's cycle for ``month`` (or return the open one). Returns (cycle, created).

    The month lies in ``month_window``; a cancelled cycle of the month is reopened (screened
    afresh from today), its cancellation kept in the audit trail."""
    month = check_month(session=session, store=store, month=month)
    cycle = find_cycle(session=session, store_id=store.id, month=month)
    if cycle is not None and cycle.stage != CycleStage.cancelled:
        return cycle, False
    if cycle is not None:
        return _reopen(session, cycle, store, actor), True
    cycle = MonthlyCycle(
        store_id=store.id,
        month=month,
        stage=CycleStage.started,
        settings=effective_settings(store).model_dump(),
        as_of=clock.today(),
        started_at=clock.now(),
        started_by_id=actor.staff_id,
    )
    session.add(cycle)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.started",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=store.id,
        cycle_id=cycle.id,
        changes={"month": month, "settings": cycle.settings, "as_of": cycle.as_of},
    )
    return cycle, True


def _reopen(session: Session, cycle: MonthlyCycle, store: Store, actor: Actor) -> MonthlyCycle:
    """A cancelled cycle started again: its old targets go, it is screened afresh from today."""
    session.execute(delete(Target).where(Target.cycle_id == cycle.id))
    cycle.stage = CycleStage.started
    cycle.settings = effective_settings(store).model_dump()
    cycle.as_of = clock.today()
    cycle.started_at = clock.now()
    cycle.started_by_id = actor.staff_id
    cycle.cancelled_at = cycle.cancelled_by_id = cycle.cancel_reason = None
    cycle.tally = cycle.profile = cycle.cleanup = None
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.started",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=store.id,
        cycle_id=cycle.id,
        changes={"month": cycle.month, "settings": cycle.settings, "as_of": cycle.as_of, "reopened": True},
    )
    return cycle


def cancel_cycle(
    *, session: Session, cycle_id: int, reason: str, actor: Actor, store_ids: list[int] | None = None
) -> MonthlyCycle:
    """Cancel a cycle before its surveys start (an admin's mistake: the wrong month, a store
    not ready). Its targets stay for the record but exclude nobody; audited with the reason."""
    cycle = get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why the cycle is cancelled", field="reason")
    if len(reason) > 300:
        raise InvalidInput("the reason is too long (at most 300 characters)", field="reason")
    if cycle.stage == CycleStage.cancelled:
        raise Conflict("the cycle was already cancelled", code="cycle_cancelled")
    if cycle.surveys_assigned_at is not None or cycle.stage.order >= CycleStage.surveying.order:
        raise Conflict(
            "the surveys of this cycle have started; it can no longer be cancelled", code="cycle_surveying"
        )
    if flows_running(session=session, store_ids=[cycle.store_id], cycle_id=cycle.id):
        raise Conflict(
            "a stage of this cycle is running; cancel it when the run has ended", code="cycle_running"
        )
    before = cycle.stage
    cycle.stage = CycleStage.cancelled
    cycle.cancelled_at = clock.now()
    cycle.cancelled_by_id = actor.staff_id
    cycle.cancel_reason = reason
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.cancelled",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={"stage": {"before": before, "after": cycle.stage}, "reason": reason},
    )
    return cycle


def can_cancel(cycle: MonthlyCycle) -> bool:
    """Whether the cycle page offers the cancel button (``cancel_cycle`` checks again)."""
    return cycle.surveys_assigned_at is None and cycle.stage.order < CycleStage.surveying.order


def get_cycle(*, session: Session, cycle_id: int, store_ids: list[int] | None = None) -> MonthlyCycle:
    cycle = session.get(MonthlyCycle, cycle_id)
    if cycle is None or (store_ids is not None and cycle.store_id not in store_ids):
        raise NotFound("no cycle {cycle_id}", cycle_id=cycle_id)
    return cycle


def find_cycle(*, session: Session, store_id: int, month: str) -> MonthlyCycle | None:
    return session.scalar(
        select(MonthlyCycle).where(MonthlyCycle.store_id == store_id, MonthlyCycle.month == month)
    )


def cycles_page(
    *,
    session: Session,
    store_ids: list[int],
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[MonthlyCycle]:
    """The cycles list, newest month first; ``search`` matches the month ("2026-1", "11")."""
    stmt = (
        select(MonthlyCycle)
        .where(MonthlyCycle.store_id.in_(store_ids), matches(search, MonthlyCycle.month))
        .order_by(MonthlyCycle.month.desc(), MonthlyCycle.store_id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def advance(*, session: Session, cycle: MonthlyCycle, to: CycleStage, actor: Actor, **facts: Any) -> bool:
    """Move the cycle forward to ``to``; never backwards, so re-running a stage is harmless."""
    if cycle.stage.order >= to.order:
        return False
    before = cycle.stage
    cycle.stage = to
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.stage_changed",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={"stage": {"before": before, "after": to}, **facts},
    )
    session.flush()
    return True


def clean_archive(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """档案整理 for the cycle's store; the cycle keeps the findings of its first cleanup."""
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    summary = cleanup.cleanup_archive(session=session, store_id=cycle.store_id, actor=actor)
    if cycle.cleanup is None:
        cycle.cleanup = summary
    advance(session=session, cycle=cycle, to=CycleStage.cleaned, actor=actor, cleanup=summary)
    return summary


def holdout_count(*, session: Session, cycle_id: int) -> int:
    return (
        session.scalar(select(func.count()).where(Target.cycle_id == cycle_id, Target.holdout.is_(True))) or 0
    )


def holdout_targets(*, session: Session, cycle_id: int) -> list[Target]:
    """The cycle's randomized holdout: screened, deliberately not contacted."""
    stmt = (
        select(Target)
        .where(Target.cycle_id == cycle_id, Target.holdout.is_(True))
        .order_by(Target.band, Target.id)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class TargetLine:
    """One line of the manager's list of a cycle's targets: the target, its customer's name and
    its vehicle, read as a plain row (building a page of targets with their customers and
    vehicles as objects took two thirds of the call's CPU)."""

    id: int
    customer_id: int
    customer: str
    vehicle_id: int
    vin: str | None
    plate: str | None
    model: str | None
    band: Band
    last_visit_date: date
    months_since_visit: int
    in_warranty: bool
    visit_count: int
    total_spend: Decimal
    came_back_on: date | None
    holdout: bool
    priority: float | None


@cache
def _target_lines() -> Select:
    """The statement of ``targets_of``'s lines, built once."""
    lines = (
        select(
            Target.id,
            Target.customer_id,
            Customer.name,
            Target.vehicle_id,
            Vehicle.vin,
            Vehicle.plate,
            Vehicle.model,
            Target.band,
            Target.last_visit_date,
            Target.months_since_visit,
            Target.in_warranty,
            Target.visit_count,
            Target.total_spend,
            Target.came_back_on,
            Target.holdout,
            Target.priority,
        )
        .join(Customer, Customer.id == Target.customer_id)
        .join(Vehicle, Vehicle.id == Target.vehicle_id)
        .where(by_ids(Target.id))
    )
    return lines


def targets_of(
    *, session: Session, cycle_id: int, offset: int = 0, limit: int = 100
) -> tuple[list[TargetLine], int]:
    """A page of the cycle's targets, callbacks ranked by value x risk (the model's priority),
    then by spend, and how many there are. The page's ids come from the ranking's index
    (``Target.RANKING``), then their lines by id."""
    page = paginate(
        session,
        select(Target.id).where(Target.cycle_id == cycle_id).order_by(*Target.RANKING),
        offset=offset,
        page_size=limit,
    )
    return lines_of(session, _target_lines(), page.items, TargetLine), int(page.total)


# The flow (flows/stages.py) whose run moves a cycle into each stage; "started" is the cycle's creation.
STAGE_FLOWS: dict[CycleStage, str] = {
    CycleStage.cleaned: "archive_cleanup",
    CycleStage.screened: "screen_targets",
    CycleStage.profiled: "analyze_profiles",
    CycleStage.surveying: "assign_surveys",
    CycleStage.tallied: "tally_reasons",
    CycleStage.planning: "draft_plan",
    CycleStage.executing: "execute_plan",
    CycleStage.evaluated: "evaluate_cycle",
}
LIVE_RUN_STATES = (FlowRunState.scheduled, FlowRunState.running)


@dataclass(frozen=True)
class StageProgress:
    stage: CycleStage
    # reached (behind the cycle's stage) / current / running (its flow is running) /
    # failed (its last flow run failed, crashed or was cancelled) / waiting
    state: str
    run: FlowRunRecord | None  # the last run of the stage's flow for this cycle


@dataclass(frozen=True)
class CycleProgress:
    stages: list[StageProgress]
    runs: list[FlowRunRecord]  # newest first
    running: bool  # a flow run of this cycle is scheduled or running: the page keeps polling


def cycle_progress(*, session: Session, cycle: MonthlyCycle, store_ids: list[int]) -> CycleProgress:
    """Each stage's state next to its flow run's state, for the cycle page's live fragment."""
    runs = flow_runs_of(session=session, store_ids=store_ids, cycle_id=cycle.id)
    last: dict[str, FlowRunRecord] = {}
    for run in runs:  # newest first: keep the first seen per flow
        last.setdefault(run.flow_name, run)
    stages = []
    for stage in CycleStage:
        if stage == CycleStage.cancelled:
            continue
        run = last.get(STAGE_FLOWS.get(stage, ""))
        if cycle.stage == CycleStage.cancelled:  # the stages its runs completed, the rest never
            state = "reached" if run is not None and run.state == FlowRunState.completed else "waiting"
        elif stage.order < cycle.stage.order:
            state = "reached"
        elif stage == cycle.stage:
            state = "current"
        elif run is not None and run.state in LIVE_RUN_STATES:
            state = "running"
        elif run is not None and run.state != FlowRunState.completed:
            state = "failed"
        else:
            state = "waiting"
        stages.append(StageProgress(stage, state, run))
    return CycleProgress(
        stages, runs, flows_running(session=session, store_ids=[cycle.store_id], cycle_id=cycle.id)
    )


def cycles_in_stage(
    *, session: Session, stage: CycleStage, store_ids: list[int] | None = None
) -> list[MonthlyCycle]:
    stmt = select(MonthlyCycle).where(MonthlyCycle.stage == stage)
    if store_ids is not None:
        stmt = stmt.where(MonthlyCycle.store_id.in_(store_ids))
    return list(session.scalars(stmt.order_by(MonthlyCycle.id)))


def evaluation_due(*, session: Session, now: datetime) -> list[MonthlyCycle]:
    stmt = select(MonthlyCycle).where(
        MonthlyCycle.stage == CycleStage.executing, MonthlyCycle.evaluation_due_at <= now
    )
    return list(session.scalars(stmt.order_by(MonthlyCycle.id)))
