"""Submitting, approving or rejecting (审批) a plan, and starting its execution (措施执行)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle
from winback.errors import Conflict, Forbidden, InvalidInput
from winback.notifications import service as notifications
from winback.notifications.messages import Label, Message, Month, pmessage
from winback.plans.guards import EDITABLE, editable, require_manager
from winback.plans.measure_library import english_titles
from winback.plans.models import (
    PlanStatus,
    RectificationPlan,
)
from winback.plans.versions import current_plan, get_plan, plan_in_force


def submit_plan(*, session: Session, plan_id: int, actor_staff: Staff) -> RectificationPlan:
    """Send the plan for the manager's approval (a rejected plan may be submitted again)."""
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    if not actor_staff.has_role(Role.manager, Role.supervisor, Role.admin):
        raise Forbidden("you may not submit plans")
    editable(plan)
    missing = [m.title for m in plan.measures if m.owner_id is None or m.due_date is None]
    if not plan.measures:
        raise InvalidInput("the plan has no measures")
    if missing:
        raise InvalidInput(
            "every measure needs an owner and a due date: {missing}", missing=", ".join(missing)
        )
    before = plan.status
    plan.status = PlanStatus.submitted
    plan.submitted_at = clock.now()
    plan.submitted_by_id = actor_staff.id
    session.flush()
    cycle = session.get(MonthlyCycle, plan.cycle_id)
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="plan.submitted",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={"status": {"before": before, "after": plan.status}},
    )
    for manager in staff_with_role(session=session, store_id=plan.store_id, role=Role.manager):
        notifications.enqueue(
            session=session,
            recipient=manager,
            kind="plan_submitted",
            dedupe_key=f"plan_submitted:{plan.id}:{manager.id}:{plan.submitted_at.isoformat()}",
            about=("plan", plan.id),
            month=Month(cycle.month),
            version=plan.version,
        )
    return plan


def decide_plan(
    *, session: Session, plan_id: int, approve: bool, comment: str | None, actor_staff: Staff
) -> RectificationPlan:
    """The manager's decision (审批): approve, or reject with a comment (required)."""
    require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    if plan.status != PlanStatus.submitted:
        raise Conflict(
            "the plan is {status}, not awaiting approval",
            status=Message(plan.status.value),
            code="plan_not_submitted",
        )
    comment = (comment or "").strip() or None
    if not approve and not comment:
        raise InvalidInput("say why the plan is rejected", field="comment")
    before = plan.status
    plan.status = PlanStatus.approved if approve else PlanStatus.rejected
    plan.decided_at = clock.now()
    plan.decided_by_id = actor_staff.id
    plan.decision_comment = comment
    superseded = None
    if approve and plan.amends_id:
        previous = session.get(RectificationPlan, plan.amends_id)
        if previous is not None and previous.status == PlanStatus.approved:
            previous.status = PlanStatus.superseded
            superseded = previous.id
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="plan.approved" if approve else "plan.rejected",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={
            "status": {"before": before, "after": plan.status},
            "comment": comment,
            "version": plan.version,
            **({"supersedes": superseded} if superseded else {}),
        },
    )
    cycle = session.get(MonthlyCycle, plan.cycle_id)
    if plan.submitted_by_id and plan.submitted_by_id != actor_staff.id:
        submitter = session.get(Staff, plan.submitted_by_id)
        notifications.enqueue(
            session=session,
            recipient=submitter,
            kind="plan_decided",
            dedupe_key=f"plan_decided:{plan.id}:{plan.decided_at.isoformat()}",
            about=("plan", plan.id),
            month=Month(cycle.month),
            comment=comment or "",
            decision=(
                pmessage("plan decision", "approved") if approve else pmessage("plan decision", "rejected")
            ),
        )
    return plan


@dataclass(frozen=True)
class DecisionStep:
    """One step of a plan's way to approval: submitted, approved or rejected, by whom, when."""

    at: datetime
    step: str  # "submitted" | "approved" | "rejected" (the plan status it led to)
    by: str
    comment: str | None


def decision_history(*, session: Session, plan_id: int, store_ids: list[int]) -> list[DecisionStep]:
    """The plan's submissions and decisions from its audit trail, newest first: the page shows
    the current one on top and the earlier ones (a rejection answered since) below it."""
    plan = get_plan(session=session, plan_id=plan_id, store_ids=store_ids)
    steps = {"plan.submitted": "submitted", "plan.approved": "approved", "plan.rejected": "rejected"}
    events = [
        e
        for e in audit_service.timeline(
            session=session, store_ids=store_ids, entity_type="plan", entity_id=plan.id
        )
        if e.action in steps
    ]
    ids = {e.actor_id for e in events if e.actor_id}
    names = (
        dict(session.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(ids))).tuples().all())
        if ids
        else {}
    )
    return [
        DecisionStep(
            at=e.at,
            step=steps[e.action],
            by=names.get(e.actor_id, e.actor_label),
            comment=(e.changes or {}).get("comment") if e.action != "plan.submitted" else None,
        )
        for e in reversed(events)
    ]


def execute_plan(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Start execution (措施执行) of an approved plan: notify owners, set the evaluation date.

    Idempotent: owners already notified are not notified again.
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    plan = plan_in_force(session=session, cycle_id=cycle.id)
    if plan is None:
        return {"notified": 0, "started": 0}
    started = 0
    if cycle.execution_started_at is None:
        cycle.execution_started_at = clock.now()
        cycle.evaluation_due_at = cycle.execution_started_at + relativedelta(
            months=cycle.rules.evaluation_delay_months
        )
        started = 1
    notified = 0
    titles_en = english_titles(session=session, store_ids=[plan.store_id])
    for m in plan.measures:
        if m.notified_at is None and m.owner is not None:
            notifications.enqueue(
                session=session,
                recipient=m.owner,
                kind="measure_assigned",
                dedupe_key=f"measure_assigned:{m.id}",
                about=("measure", m.id),
                title=Label(m.title, en=titles_en.get(m.title)),
                due=m.due_date,
            )
            m.notified_at = clock.now()
            notified += 1
    cycles.advance(
        session=session,
        cycle=cycle,
        to=CycleStage.executing,
        actor=actor,
        evaluation_due_at=cycle.evaluation_due_at,
    )
    return {"notified": notified, "started": started}


NO_ACTION_STAGES = (CycleStage.tallied, CycleStage.planning)


def can_record_no_action(*, session: Session, cycle: MonthlyCycle) -> bool:
    """Whether the cycle page offers "no action" (``record_no_action`` checks again)."""
    if cycle.stage not in NO_ACTION_STAGES:
        return False
    plan = current_plan(session=session, cycle_id=cycle.id)
    return plan is None or (not plan.measures and plan.status in EDITABLE)


def record_no_action(*, session: Session, cycle_id: int, reason: str, actor_staff: Staff) -> MonthlyCycle:
    """The manager finds nothing to rectify (无需整改), e.g. no survey was completed: the plan
    (without measures) is closed as approved with the reason, the cycle moves on to execution
    with its evaluation date (the calls are still measured against the holdout), and its
    customers may be screened by later cycles at once. Audited."""
    require_manager(actor_staff)
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=actor_staff.all_store_ids)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why no action is needed", field="reason")
    if len(reason) > 500:
        raise InvalidInput("the reason is too long (at most 500 characters)", field="reason")
    if cycle.stage not in NO_ACTION_STAGES:
        raise Conflict(
            "no action can be recorded only after the reasons are tallied and before a plan is approved",
            code="cycle_stage",
        )
    plan = current_plan(session=session, cycle_id=cycle.id)
    if plan is not None and plan.measures:
        raise Conflict(
            "the plan has measures: submit it for approval, or remove them first", code="plan_has_measures"
        )
    if plan is not None and plan.status not in EDITABLE:
        editable(plan)
    now = clock.now()
    if plan is not None:
        plan.status = PlanStatus.approved
        plan.decided_at, plan.decided_by_id, plan.decision_comment = now, actor_staff.id, reason
    cycle.no_action_reason, cycle.no_action_at, cycle.no_action_by_id = reason, now, actor_staff.id
    cycle.execution_started_at = now
    cycle.evaluation_due_at = now + relativedelta(months=cycle.rules.evaluation_delay_months)
    session.flush()
    actor = Actor.person(actor_staff)
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.no_action",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={"reason": reason, "plan_id": plan.id if plan else None},
    )
    cycles.advance(
        session=session,
        cycle=cycle,
        to=CycleStage.executing,
        actor=actor,
        evaluation_due_at=cycle.evaluation_due_at,
        no_action=reason,
    )
    return cycle
