"""Rectification plan (整改措施制定): draft from the tally, edit, submit, approve, execute."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.plans.library import MEASURE_LIBRARY
from winback.plans.models import Measure, MeasureStatus, PlanStatus, RectificationPlan
from winback.surveys.models import ReasonArea, ReasonCode

EDITABLE = {PlanStatus.draft, PlanStatus.rejected}


def current_plan(*, session: Session, cycle_id: int) -> RectificationPlan | None:
    stmt = (
        select(RectificationPlan)
        .where(RectificationPlan.cycle_id == cycle_id)
        .order_by(RectificationPlan.version.desc())
    )
    return session.scalars(stmt).first()


def get_plan(*, session: Session, plan_id: int, store_ids: list[int] | None = None) -> RectificationPlan:
    plan = session.get(RectificationPlan, plan_id)
    if plan is None or (store_ids is not None and plan.store_id not in store_ids):
        raise NotFound(f"no plan {plan_id}")
    return plan


def draft_plan(*, session: Session, cycle_id: int, actor: Actor) -> RectificationPlan:
    """Draft the cycle's plan from its tally: one suggested measure per reason heard.

    Idempotent: a cycle that already has a plan keeps it.
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    existing = current_plan(session=session, cycle_id=cycle.id)
    if existing is not None:
        cycles.advance(session=session, cycle=cycle, to=CycleStage.planning, actor=actor)
        return existing
    managers = staff_with_role(session=session, store_id=cycle.store_id, role=Role.manager)
    owner_id = managers[0].id if managers else None
    due = clock.today() + timedelta(days=cycle.settings["measure_due_days"])
    codes = {rc.code: rc for rc in session.scalars(select(ReasonCode).where(ReasonCode.store_id == cycle.store_id))}
    plan = RectificationPlan(
        store_id=cycle.store_id, cycle_id=cycle.id, version=1, status=PlanStatus.draft, created_at=clock.now(),
        summary=None,
    )
    reasons = (cycle.tally or {}).get("reasons", {})
    for code, count in reasons.items():
        suggestion = MEASURE_LIBRARY.get(code)
        rc = codes.get(code)
        if suggestion is None or rc is None:
            continue
        area, zh, en, effect = suggestion
        plan.measures.append(
            Measure(
                store_id=cycle.store_id, area=area, title=zh, reason_code_id=rc.id, owner_id=owner_id,
                due_date=due, expected_effect=effect, status=MeasureStatus.todo,
            )
        )
    session.add(plan)
    session.flush()
    audit_service.record(
        session=session, actor=actor, action="plan.drafted", entity_type="plan", entity_id=plan.id,
        store_id=cycle.store_id, cycle_id=cycle.id,
        changes={"measures": [m.title for m in plan.measures], "from_reasons": reasons},
    )
    cycles.advance(session=session, cycle=cycle, to=CycleStage.planning, actor=actor)
    return plan


def _require_manager(staff: Staff) -> None:
    if not staff.has_role(Role.manager):
        raise Forbidden("only a manager may do this")


def _editable(plan: RectificationPlan) -> None:
    if plan.status not in EDITABLE:
        raise Conflict(f"the plan is {plan.status.value} and can no longer be edited", code="plan_locked")


def update_measure(
    *,
    session: Session,
    measure_id: int,
    actor_staff: Staff,
    title: str | None = None,
    owner_id: int | None = None,
    due_date: date | None = None,
    expected_effect: str | None = None,
    estimated_cost: Decimal | None = None,
) -> Measure:
    _require_manager(actor_staff)
    measure = session.get(Measure, measure_id)
    if measure is None or measure.store_id not in actor_staff.all_store_ids:
        raise NotFound(f"no measure {measure_id}")
    _editable(measure.plan)
    values: dict = {}
    if title is not None:
        if not title.strip():
            raise InvalidInput("a measure needs a title", field="title")
        values["title"] = title.strip()
    if owner_id is not None:
        owner = session.get(Staff, owner_id)
        if owner is None or owner.store_id != measure.store_id or not owner.active:
            raise InvalidInput("choose an active staff member of this store as owner", field="owner_id")
        values["owner_id"] = owner_id
    if due_date is not None:
        if due_date < clock.today():
            raise InvalidInput("the due date lies in the past", field="due_date")
        values["due_date"] = due_date
    if expected_effect is not None:
        values["expected_effect"] = expected_effect.strip() or None
    if estimated_cost is not None:
        if estimated_cost < 0:
            raise InvalidInput("the cost must not be negative", field="estimated_cost")
        values["estimated_cost"] = estimated_cost
    changes = audit_service.diff(measure, values)
    if changes:
        audit_service.record(
            session=session, actor=Actor.person(actor_staff), action="measure.updated", entity_type="plan",
            entity_id=measure.plan_id, store_id=measure.store_id, cycle_id=measure.plan.cycle_id,
            changes={"measure_id": measure.id, **changes},
        )
    session.flush()
    session.expire(measure, ["owner", "reason_code"])  # relationships follow the new ids
    return measure


def add_measure(
    *, session: Session, plan_id: int, actor_staff: Staff, title: str, area: ReasonArea,
    owner_id: int, due_date: date, expected_effect: str | None = None, reason_code: str | None = None,
) -> Measure:
    _require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    _editable(plan)
    rc_id = None
    if reason_code:
        rc_id = session.scalar(
            select(ReasonCode.id).where(ReasonCode.store_id == plan.store_id, ReasonCode.code == reason_code)
        )
        if rc_id is None:
            raise InvalidInput(f"unknown reason code {reason_code!r}", field="reason_code")
    measure = Measure(store_id=plan.store_id, area=area, title=title.strip() or "?", status=MeasureStatus.todo,
                      reason_code_id=rc_id)
    plan.measures.append(measure)
    session.flush()
    update_measure(session=session, measure_id=measure.id, actor_staff=actor_staff, owner_id=owner_id,
                   due_date=due_date, expected_effect=expected_effect)
    return measure


def submit_plan(*, session: Session, plan_id: int, actor_staff: Staff) -> RectificationPlan:
    """Send the plan for the manager's approval (a rejected plan may be submitted again)."""
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    if not actor_staff.has_role(Role.manager, Role.supervisor, Role.admin):
        raise Forbidden("you may not submit plans")
    _editable(plan)
    missing = [m.title for m in plan.measures if m.owner_id is None or m.due_date is None]
    if not plan.measures:
        raise InvalidInput("the plan has no measures")
    if missing:
        raise InvalidInput(f"every measure needs an owner and a due date: {', '.join(missing)}")
    before = plan.status
    plan.status = PlanStatus.submitted
    plan.submitted_at = clock.now()
    plan.submitted_by_id = actor_staff.id
    session.flush()
    cycle = session.get(MonthlyCycle, plan.cycle_id)
    audit_service.record(
        session=session, actor=Actor.person(actor_staff), action="plan.submitted", entity_type="plan",
        entity_id=plan.id, store_id=plan.store_id, cycle_id=plan.cycle_id,
        changes={"status": {"before": before, "after": plan.status}},
    )
    for manager in staff_with_role(session=session, store_id=plan.store_id, role=Role.manager):
        notifications.enqueue(
            session=session, recipient=manager, kind="plan_submitted",
            dedupe_key=f"plan_submitted:{plan.id}:{manager.id}:{plan.submitted_at.isoformat()}",
            month=cycle.month, version=plan.version,
        )
    return plan


def decide_plan(
    *, session: Session, plan_id: int, approve: bool, comment: str | None, actor_staff: Staff
) -> RectificationPlan:
    """The manager's decision (审批): approve, or reject with a comment (required)."""
    _require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    if plan.status != PlanStatus.submitted:
        raise Conflict(f"the plan is {plan.status.value}, not awaiting approval", code="plan_not_submitted")
    comment = (comment or "").strip() or None
    if not approve and not comment:
        raise InvalidInput("say why the plan is rejected", field="comment")
    before = plan.status
    plan.status = PlanStatus.approved if approve else PlanStatus.rejected
    plan.decided_at = clock.now()
    plan.decided_by_id = actor_staff.id
    plan.decision_comment = comment
    session.flush()
    audit_service.record(
        session=session, actor=Actor.person(actor_staff),
        action="plan.approved" if approve else "plan.rejected", entity_type="plan", entity_id=plan.id,
        store_id=plan.store_id, cycle_id=plan.cycle_id,
        changes={"status": {"before": before, "after": plan.status}, "comment": comment},
    )
    cycle = session.get(MonthlyCycle, plan.cycle_id)
    if plan.submitted_by_id and plan.submitted_by_id != actor_staff.id:
        submitter = session.get(Staff, plan.submitted_by_id)
        notifications.enqueue(
            session=session, recipient=submitter, kind="plan_decided",
            dedupe_key=f"plan_decided:{plan.id}:{plan.decided_at.isoformat()}",
            month=cycle.month, decision="approved" if approve else "rejected", comment=comment or "",
        )
    return plan


def execute_plan(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Start execution (措施执行) of an approved plan: notify owners, set the evaluation date.

    Idempotent: owners already notified are not notified again.
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    plan = current_plan(session=session, cycle_id=cycle.id)
    if plan is None or plan.status != PlanStatus.approved:
        return {"notified": 0, "started": 0}
    started = 0
    if cycle.execution_started_at is None:
        cycle.execution_started_at = clock.now()
        cycle.evaluation_due_at = cycle.execution_started_at + relativedelta(
            months=cycle.settings["evaluation_delay_months"]
        )
        started = 1
    notified = 0
    for m in plan.measures:
        if m.notified_at is None and m.owner is not None:
            notifications.enqueue(
                session=session, recipient=m.owner, kind="measure_assigned",
                dedupe_key=f"measure_assigned:{m.id}", title=m.title,
                due=m.due_date.isoformat() if m.due_date else "-",
            )
            m.notified_at = clock.now()
            notified += 1
    cycles.advance(
        session=session, cycle=cycle, to=CycleStage.executing, actor=actor,
        evaluation_due_at=cycle.evaluation_due_at,
    )
    return {"notified": notified, "started": started}


def set_measure_status(
    *, session: Session, measure_id: int, status: MeasureStatus, evidence: str | None, actor_staff: Staff
) -> Measure:
    measure = session.get(Measure, measure_id)
    if measure is None or measure.store_id not in actor_staff.all_store_ids:
        raise NotFound(f"no measure {measure_id}")
    if measure.plan.status != PlanStatus.approved:
        raise Conflict("measures are carried out only once the plan is approved")
    if measure.owner_id != actor_staff.id and not actor_staff.has_role(Role.manager):
        raise Forbidden("only the measure's owner or a manager reports on it")
    if status == MeasureStatus.done and not (evidence or "").strip():
        raise InvalidInput("say what was done (evidence)", field="evidence")
    changes = audit_service.diff(
        measure, {"status": status, "evidence": evidence or measure.evidence,
                  "done_at": clock.now() if status == MeasureStatus.done else None},
    )
    if changes:
        audit_service.record(
            session=session, actor=Actor.person(actor_staff), action="measure.status_changed",
            entity_type="plan", entity_id=measure.plan_id, store_id=measure.store_id,
            cycle_id=measure.plan.cycle_id, changes={"measure_id": measure.id, **changes},
        )
    session.flush()
    return measure


def measures_owned_by(*, session: Session, staff_id: int) -> list[Measure]:
    stmt = (
        select(Measure)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(Measure.owner_id == staff_id, RectificationPlan.status == PlanStatus.approved)
        .order_by(Measure.due_date)
    )
    return list(session.scalars(stmt))


def plan_count(*, session: Session, cycle_id: int) -> int:
    return session.scalar(select(func.count()).where(RectificationPlan.cycle_id == cycle_id)) or 0
