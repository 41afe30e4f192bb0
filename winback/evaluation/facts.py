"""Loading what the evaluation of a cycle reads, in a handful of set-based queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.customers.models import ServiceVisit
from winback.cycles.models import MonthlyCycle, Target
from winback.evaluation.calculation import CycleFacts, MeasureFacts, TaskFacts
from winback.plans.models import MeasureStatus
from winback.plans.versions import current_plan, plan_in_force
from winback.surveys.models import ContactAttempt, SurveyStatus, SurveyTask, SurveyTaskReason


def load_facts(*, session: Session, cycle: MonthlyCycle, today: date) -> CycleFacts:
    """The cycle's targets, tasks (with their first contact), recorded reasons, the repair
    orders of its vehicles since screening, its advisors' names and the measures in force."""
    rules = cycle.rules
    targets = session.execute(
        select(Target.id, Target.vehicle_id, Target.holdout, Target.customer_id).where(
            Target.cycle_id == cycle.id
        )
    ).all()
    tasks = _tasks(session, cycle)
    target_of_task = {t.task_id: t.target_id for t in tasks}
    reasons_of: dict[int, set[int]] = defaultdict(set)
    for task_id, rc_id in session.execute(
        select(SurveyTaskReason.task_id, SurveyTaskReason.reason_code_id)
        .join(SurveyTask, SurveyTask.id == SurveyTaskReason.task_id)
        .where(SurveyTask.cycle_id == cycle.id)
    ):
        if task_id in target_of_task:
            reasons_of[target_of_task[task_id]].add(rc_id)
    # All repair orders of the cycle's vehicles since screening, in one query.
    visits_by_vehicle: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for vehicle_id, visit_date, amount in session.execute(
        select(ServiceVisit.vehicle_id, ServiceVisit.visit_date, ServiceVisit.amount)
        .join(Target, (Target.vehicle_id == ServiceVisit.vehicle_id) & (Target.cycle_id == cycle.id))
        .where(ServiceVisit.visit_date > cycle.as_of)
    ):
        visits_by_vehicle[vehicle_id].append((visit_date, amount))
    names = dict(
        session.execute(select(Staff.id, Staff.display_name).where(Staff.store_id == cycle.store_id)).all()
    )
    return CycleFacts(
        targets=[(t_id, vehicle_id, holdout) for t_id, vehicle_id, holdout, _c in targets],
        customer_of={t_id: customer_id for t_id, _v, _h, customer_id in targets},
        tasks=tasks,
        reasons_of=dict(reasons_of),
        visits_by_vehicle=dict(visits_by_vehicle),
        names=names,
        start_day=clock.local(cycle.surveys_assigned_at).date() if cycle.surveys_assigned_at else cycle.as_of,
        today=today,
        target_pct=float(rules.winback_target_pct),
        per_yuan=float(rules.shortfall_yuan_per_customer),
        measures=_measures(session, cycle, today),
    )


def _tasks(session: Session, cycle: MonthlyCycle) -> list[TaskFacts]:
    first_attempt = (
        select(ContactAttempt.task_id, func.min(ContactAttempt.at).label("first_at"))
        .group_by(ContactAttempt.task_id)
        .subquery()
    )
    rows = session.execute(
        select(
            SurveyTask.id,
            SurveyTask.target_id,
            SurveyTask.assignee_id,
            SurveyTask.status,
            SurveyTask.closed_at,
            first_attempt.c.first_at,
            Target.vehicle_id,
        )
        .join(Target, Target.id == SurveyTask.target_id)
        .outerjoin(first_attempt, first_attempt.c.task_id == SurveyTask.id)
        .where(SurveyTask.cycle_id == cycle.id)
    ).all()
    out = []
    for task_id, target_id, assignee_id, status, closed_at, first_at, vehicle_id in rows:
        done = status == SurveyStatus.done
        contact_day = None
        if done:  # the first recorded attempt, or the survey's close
            contact_day = clock.local(min(t for t in (first_at, closed_at) if t is not None)).date()
        out.append(TaskFacts(task_id, target_id, assignee_id, done, contact_day, vehicle_id))
    return out


def _measures(session: Session, cycle: MonthlyCycle, today: date) -> list[MeasureFacts]:
    plan = plan_in_force(session=session, cycle_id=cycle.id) or current_plan(
        session=session, cycle_id=cycle.id
    )
    if plan is None:
        return []
    return [
        MeasureFacts(
            measure_id=m.id,
            title=m.title,
            status=m.display_status(today),
            reason=m.reason_code.code if m.reason_code else None,
            reasons=sorted(r.code for r in m.reasons) or ([m.reason_code.code] if m.reason_code else []),
            reason_ids=m.reason_ids,
            expected_value=m.expected_value,
            expected_unit=m.expected_unit,
            cost=m.estimated_cost,
            done_on=clock.local(m.done_at).date() if m.status == MeasureStatus.done and m.done_at else None,
        )
        for m in plan.measures
    ]
