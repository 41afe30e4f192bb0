"""The evaluation three months after execution starts (总结及效果评估)."""
from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import ServiceVisit
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, Target
from winback.evaluation.models import Evaluation
from winback.notifications import service as notifications
from winback.plans.service import current_plan
from winback.surveys.models import ContactAttempt, SurveyStatus, SurveyTask, SurveyTaskReason


def get_evaluation(*, session: Session, cycle_id: int) -> Evaluation | None:
    return session.scalar(select(Evaluation).where(Evaluation.cycle_id == cycle_id))


def evaluate_cycle(*, session: Session, cycle_id: int, actor: Actor) -> Evaluation:
    """Compute the cycle's results; idempotent (an evaluated cycle keeps its evaluation).

    A target "came back" when its vehicle has a repair order dated after the first contact
    (the first recorded attempt, or the survey's close). Contacted = surveys completed.
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    existing = get_evaluation(session=session, cycle_id=cycle.id)
    if existing is not None:
        return existing
    rules = cycle.settings
    first_attempt = (
        select(ContactAttempt.task_id, func.min(ContactAttempt.at).label("first_at"))
        .group_by(ContactAttempt.task_id)
        .subquery()
    )
    tasks = session.execute(
        select(SurveyTask.id, SurveyTask.target_id, SurveyTask.assignee_id, SurveyTask.status,
               SurveyTask.closed_at, first_attempt.c.first_at, Target.vehicle_id)
        .join(Target, Target.id == SurveyTask.target_id)
        .outerjoin(first_attempt, first_attempt.c.task_id == SurveyTask.id)
        .where(SurveyTask.cycle_id == cycle.id)
    ).all()
    target_count = session.scalar(select(func.count()).where(Target.cycle_id == cycle.id)) or 0
    reasons_of: dict[int, set[int]] = defaultdict(set)
    for task_id, rc_id in session.execute(
        select(SurveyTaskReason.task_id, SurveyTaskReason.reason_code_id)
        .join(SurveyTask, SurveyTask.id == SurveyTaskReason.task_id)
        .where(SurveyTask.cycle_id == cycle.id)
    ):
        reasons_of[task_id].add(rc_id)

    # All repair orders of the cycle's vehicles since screening, in one query.
    visits_by_vehicle: dict[int, list[tuple]] = defaultdict(list)
    for vehicle_id, visit_date, amount in session.execute(
        select(ServiceVisit.vehicle_id, ServiceVisit.visit_date, ServiceVisit.amount)
        .join(Target, (Target.vehicle_id == ServiceVisit.vehicle_id) & (Target.cycle_id == cycle.id))
        .where(ServiceVisit.visit_date > cycle.as_of)
    ):
        visits_by_vehicle[vehicle_id].append((visit_date, amount))

    per_advisor: dict[int, dict[str, Any]] = defaultdict(lambda: {"contacted": 0, "came_back": 0})
    contacted = back = entries = 0
    output = Decimal("0")
    returned_tasks: list[int] = []
    for task_id, target_id, assignee_id, status, closed_at, first_at, vehicle_id in tasks:
        per_advisor[assignee_id]  # every advisor with tasks appears, even with none closed
        if status != SurveyStatus.done:
            continue
        contact_at = min(t for t in (first_at, closed_at) if t is not None)
        contact_day = clock.local(contact_at).date()
        contacted += 1
        per_advisor[assignee_id]["contacted"] += 1
        after = [(d, a) for d, a in visits_by_vehicle.get(vehicle_id, []) if d > contact_day]
        if after:
            back += 1
            entries += len(after)
            output += sum((Decimal(a) for _, a in after), Decimal("0"))
            per_advisor[assignee_id]["came_back"] += 1
            returned_tasks.append(task_id)
            session.execute(
                update(Target).where(Target.id == target_id).values(came_back_on=min(d for d, _ in after))
            )

    target_pct = float(rules["winback_target_pct"])
    per_yuan = float(rules["shortfall_yuan_per_customer"])
    names = dict(session.execute(select(Staff.id, Staff.display_name).where(Staff.store_id == cycle.store_id)).all())
    advisors = []
    for sid, figures in sorted(per_advisor.items()):
        needed = math.ceil(figures["contacted"] * target_pct / 100)
        shortfall = max(0, needed - figures["came_back"])
        advisors.append({
            "advisor_id": sid,
            "advisor": names.get(sid, str(sid)),
            "contacted": figures["contacted"],
            "came_back": figures["came_back"],
            "rate_pct": round(100 * figures["came_back"] / figures["contacted"], 1) if figures["contacted"] else 0.0,
            "target_pct": target_pct,
            "shortfall_customers": shortfall,
            "shortfall_yuan": round(shortfall * per_yuan, 2),
        })

    plan = current_plan(session=session, cycle_id=cycle.id)
    per_measure = []
    measure_cost = Decimal("0")
    if plan is not None:
        for m in plan.measures:
            credited = [t for t in returned_tasks if m.reason_code_id in reasons_of.get(t, set())]
            measure_cost += m.estimated_cost or 0
            per_measure.append({
                "measure_id": m.id, "title": m.title, "status": m.status.value,
                "reason": m.reason_code.code if m.reason_code else None,
                "customers_back": len(credited),
            })

    evaluation = Evaluation(
        store_id=cycle.store_id, cycle_id=cycle.id, computed_at=clock.now(), targets=int(target_count),
        contacted=contacted, vehicles_back=back, workshop_entries=entries, output_value=output,
        measure_cost=measure_cost,
        winback_rate_pct=round(100 * back / contacted, 1) if contacted else 0.0,
        target_pct=target_pct, per_advisor=advisors, per_measure=per_measure,
    )
    session.add(evaluation)
    session.flush()
    cycle.evaluated_at = clock.now()
    audit_service.record(
        session=session, actor=actor, action="cycle.evaluated", entity_type="cycle", entity_id=cycle.id,
        store_id=cycle.store_id, cycle_id=cycle.id,
        changes={"contacted": contacted, "vehicles_back": back, "output_value": output},
    )
    cycles.advance(session=session, cycle=cycle, to=CycleStage.evaluated, actor=actor)
    for manager in staff_with_role(session=session, store_id=cycle.store_id, role=Role.manager):
        notifications.enqueue(
            session=session, recipient=manager, kind="evaluation_ready",
            dedupe_key=f"evaluation_ready:{cycle.id}:{manager.id}", month=cycle.month,
            back=back, contacted=contacted, rate=evaluation.winback_rate_pct,
        )
    return evaluation
