"""The evaluation three months after execution starts (总结及效果评估)."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import ProcessDefaults
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.evaluation.models import Evaluation
from winback.evaluation.stats import newcombe_diff
from winback.months import quarter_of
from winback.notifications import service as notifications
from winback.notifications.messages import Month
from winback.plans.models import ReturnCallback, Voucher
from winback.plans.service import current_plan, plan_in_force, redeem_vouchers
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
    rules = cycle.rules
    first_attempt = (
        select(ContactAttempt.task_id, func.min(ContactAttempt.at).label("first_at"))
        .group_by(ContactAttempt.task_id)
        .subquery()
    )
    customer_of = dict(
        session.execute(select(Target.id, Target.customer_id).where(Target.cycle_id == cycle.id)).all()
    )
    tasks = session.execute(
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
    target_count = session.scalar(select(func.count()).where(Target.cycle_id == cycle.id)) or 0
    reasons_of: dict[int, set[int]] = defaultdict(set)
    for task_id, rc_id in session.execute(
        select(SurveyTaskReason.task_id, SurveyTaskReason.reason_code_id)
        .join(SurveyTask, SurveyTask.id == SurveyTaskReason.task_id)
        .where(SurveyTask.cycle_id == cycle.id)
    ):
        reasons_of[task_id].add(rc_id)
    target_of_task = {task_id: target_id for task_id, target_id, *_rest in tasks}
    reasons_of = {target_of_task[k]: v for k, v in reasons_of.items() if k in target_of_task}

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
    for _task_id, target_id, assignee_id, status, closed_at, first_at, vehicle_id in tasks:
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
            returned_tasks.append(target_id)
            session.execute(
                update(Target).where(Target.id == target_id).values(came_back_on=min(d for d, _ in after))
            )

    target_pct = float(rules.winback_target_pct)
    per_yuan = float(rules.shortfall_yuan_per_customer)
    names = dict(
        session.execute(select(Staff.id, Staff.display_name).where(Staff.store_id == cycle.store_id)).all()
    )

    # -- randomized holdout vs contacted (intention to treat: every target given to an advisor,
    #    whether reached or not, against the targets held out), same window for both.
    start_day = clock.local(cycle.surveys_assigned_at).date() if cycle.surveys_assigned_at else cycle.as_of
    today = clock.today()
    all_targets = session.execute(
        select(Target.id, Target.vehicle_id, Target.holdout).where(Target.cycle_id == cycle.id)
    ).all()
    assignee_of = {target_id: assignee_id for _t, target_id, assignee_id, *_rest in tasks}
    back_itt = {
        t_id
        for t_id, vehicle_id, _h in all_targets
        if any(start_day < d <= today for d, _a in visits_by_vehicle.get(vehicle_id, []))
    }
    held = [t_id for t_id, _v, h in all_targets if h]
    treated = [t_id for t_id, _v, h in all_targets if not h]
    h_back = sum(1 for t in held if t in back_itt)
    t_back = sum(1 for t in treated if t in back_itt)
    holdout_figures = {
        "window": [start_day.isoformat(), today.isoformat()],
        "treated": len(treated),
        "treated_back": t_back,
        "treated_rate_pct": _pct(t_back, len(treated)),
        "holdout": len(held),
        "holdout_back": h_back,
        "holdout_rate_pct": _pct(h_back, len(held)),
        **_lift(t_back, len(treated), h_back, len(held)),
    }
    assigned: dict[int, list[int]] = defaultdict(list)
    for target_id, assignee_id in assignee_of.items():
        assigned[assignee_id].append(target_id)

    advisors = []
    for sid, figures in sorted(per_advisor.items()):
        needed = math.ceil(figures["contacted"] * target_pct / 100)
        shortfall = max(0, needed - figures["came_back"])
        mine = assigned.get(sid, [])
        mine_back = sum(1 for t in mine if t in back_itt)
        lift = _lift(mine_back, len(mine), h_back, len(held))
        incremental = round(lift["lift_pct"] * len(mine) / 100, 1) if lift["lift_pct"] is not None else None
        advisors.append(
            {
                "advisor_id": sid,
                "advisor": names.get(sid, str(sid)),
                "contacted": figures["contacted"],
                "came_back": figures["came_back"],
                "rate_pct": round(100 * figures["came_back"] / figures["contacted"], 1)
                if figures["contacted"]
                else 0.0,
                "target_pct": target_pct,
                "shortfall_customers": shortfall,
                "shortfall_yuan": round(shortfall * per_yuan, 2),
                "assigned": len(mine),
                "assigned_back": mine_back,
                "assigned_rate_pct": _pct(mine_back, len(mine)),
                **lift,
                "incremental_customers": incremental,
                "incremental_meets_target": lift["lift_pct"] is not None and lift["lift_pct"] >= target_pct,
            }
        )

    plan = plan_in_force(session=session, cycle_id=cycle.id) or current_plan(
        session=session, cycle_id=cycle.id
    )
    per_measure = []
    measure_cost = Decimal("0")
    if plan is not None:
        for m in plan.measures:
            addressed = m.reason_ids
            credited = [t for t in returned_tasks if reasons_of.get(t, set()) & addressed]
            measure_cost += m.estimated_cost or 0
            per_measure.append(
                {
                    "measure_id": m.id,
                    "title": m.title,
                    "status": m.display_status(today),
                    "reason": m.reason_code.code if m.reason_code else None,
                    "reasons": sorted(r.code for r in m.reasons)
                    or ([m.reason_code.code] if m.reason_code else []),
                    "customers_back": len(credited),
                    "customer_ids": sorted(customer_of[t] for t in credited),
                    "expected_value": str(m.expected_value) if m.expected_value is not None else None,
                    "expected_unit": m.expected_unit,
                    "cost": str(m.estimated_cost) if m.estimated_cost is not None else None,
                }
            )

    redeem_vouchers(session=session, cycle_id=cycle.id, actor=actor)
    voucher_cost = session.scalar(
        select(func.coalesce(func.sum(Voucher.amount), 0)).where(
            Voucher.cycle_id == cycle.id, Voucher.redeemed_visit_id.is_not(None)
        )
    ) or Decimal("0")
    sat_avg, sat_n = session.execute(
        select(func.avg(ReturnCallback.satisfaction), func.count(ReturnCallback.id)).where(
            ReturnCallback.cycle_id == cycle.id
        )
    ).one()
    kpis = retention_kpis(session=session, store_id=cycle.store_id, rules=rules)

    evaluation = Evaluation(
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        computed_at=clock.now(),
        targets=int(target_count),
        contacted=contacted,
        vehicles_back=back,
        workshop_entries=entries,
        output_value=output,
        measure_cost=measure_cost,
        voucher_cost=Decimal(voucher_cost),
        satisfaction_avg=round(float(sat_avg), 2) if sat_avg is not None else None,
        satisfaction_n=int(sat_n),
        holdout=holdout_figures,
        churn_rate_pct=kpis["churn_rate_pct"],
        kpis=kpis,
        winback_rate_pct=round(100 * back / contacted, 1) if contacted else 0.0,
        target_pct=target_pct,
        per_advisor=advisors,
        per_measure=per_measure,
    )
    session.add(evaluation)
    session.flush()
    cycle.evaluated_at = clock.now()
    audit_service.record(
        session=session,
        actor=actor,
        action="cycle.evaluated",
        entity_type="cycle",
        entity_id=cycle.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={
            "contacted": contacted,
            "vehicles_back": back,
            "output_value": output,
            "lift_pct": holdout_figures["lift_pct"],
            "voucher_cost": voucher_cost,
        },
    )
    cycles.advance(session=session, cycle=cycle, to=CycleStage.evaluated, actor=actor)
    for manager in staff_with_role(session=session, store_id=cycle.store_id, role=Role.manager):
        notifications.enqueue(
            session=session,
            recipient=manager,
            kind="evaluation_ready",
            dedupe_key=f"evaluation_ready:{cycle.id}:{manager.id}",
            month=Month(cycle.month),
            back=back,
            contacted=contacted,
            rate=evaluation.winback_rate_pct,
        )
    return evaluation


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _lift(s1: int, n1: int, s2: int, n2: int) -> dict[str, float | None]:
    """Lift of the return rate (percentage points) over the holdout, with its 95% interval."""
    result = newcombe_diff(s1, n1, s2, n2)
    if result is None:
        return {"lift_pct": None, "lift_ci_low_pct": None, "lift_ci_high_pct": None}
    d, low, high = result
    return {
        "lift_pct": round(100 * d, 1),
        "lift_ci_low_pct": round(100 * low, 1),
        "lift_ci_high_pct": round(100 * high, 1),
    }


MAINTENANCE = "保养"  # repair-order category of a maintenance visit (首保, 二保...)


def retention_kpis(*, session: Session, store_id: int, rules: ProcessDefaults) -> dict[str, Any]:
    """Retention KPIs dealers lack (PROCESS.md), on today's archive of active vehicles.

    * first / second maintenance return rate (首保/二保回厂率): of the vehicles old enough to be
      due (one / two expected intervals since purchase), the share with at least one / two
      maintenance repair orders;
    * churn rate (流失率): share of active vehicles without a visit for more than ``lost_months``,
      overall and by segment (grade, customer type).
    """
    today = clock.today()
    interval = float(rules.expected_visit_interval_months)
    lost_before = today - relativedelta(months=rules.lost_months)
    per_vehicle = (
        select(
            ServiceVisit.vehicle_id.label("vehicle_id"),
            func.max(ServiceVisit.visit_date).label("last_visit"),
            func.sum(case((ServiceVisit.category == MAINTENANCE, 1), else_=0)).label("maint"),
        )
        .where(ServiceVisit.store_id == store_id, ServiceVisit.visit_date <= today)
        .group_by(ServiceVisit.vehicle_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Vehicle.id,
            Vehicle.purchase_date,
            Vehicle.grade,
            Customer.customer_type,
            per_vehicle.c.last_visit,
            per_vehicle.c.maint,
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(per_vehicle, per_vehicle.c.vehicle_id == Vehicle.id)
        .where(Vehicle.store_id == store_id, Vehicle.status == VehicleStatus.active)
    ).all()
    first_due = today - relativedelta(days=round(interval * 30.44))
    second_due = today - relativedelta(days=round(2 * interval * 30.44))
    f_n = f_ok = s_n = s_ok = 0
    churn = {"grade": defaultdict(lambda: [0, 0]), "customer_type": defaultdict(lambda: [0, 0])}
    lost = 0
    for _vid, purchase, grade, ctype, last_visit, maint in rows:
        maint = int(maint or 0)
        if purchase is not None and purchase <= first_due:
            f_n += 1
            f_ok += maint >= 1
        if purchase is not None and purchase <= second_due:
            s_n += 1
            s_ok += maint >= 2
        reference = last_visit or purchase
        is_lost = reference is not None and reference < lost_before
        lost += is_lost
        for key, value in (("grade", grade), ("customer_type", ctype)):
            cell = churn[key][getattr(value, "value", value) or "-"]
            cell[0] += 1
            cell[1] += is_lost
    return {
        "as_of": today.isoformat(),
        "active_vehicles": len(rows),
        "first_maintenance_return_pct": _pct(f_ok, f_n),
        "first_maintenance_due": f_n,
        "second_maintenance_return_pct": _pct(s_ok, s_n),
        "second_maintenance_due": s_n,
        "churn_rate_pct": _pct(lost, len(rows)),
        "lost_vehicles": lost,
        "churn_by_segment": {
            key: {
                seg: {"vehicles": n, "lost": k, "rate_pct": _pct(k, n)}
                for seg, (n, k) in sorted(cells.items())
            }
            for key, cells in churn.items()
        },
    }


def trend(*, session: Session, store_id: int) -> list[dict[str, Any]]:
    """Return rate, churn rate, lift and the shortfall tally per quarter over the store's evaluated cycles."""
    rows = session.execute(
        select(MonthlyCycle.month, Evaluation)
        .join(Evaluation, Evaluation.cycle_id == MonthlyCycle.id)
        .where(MonthlyCycle.store_id == store_id)
        .order_by(MonthlyCycle.month)
    ).all()
    quarters: dict[str, dict[str, Any]] = {}
    for month, ev in rows:
        q = quarters.setdefault(
            quarter_of(month),
            {
                "quarter": quarter_of(month),
                "months": [],
                "contacted": 0,
                "back": 0,
                "treated": 0,
                "treated_back": 0,
                "holdout": 0,
                "holdout_back": 0,
                "churn": [],
                "shortfall": {},
            },
        )
        for a in ev.per_advisor or []:
            q["shortfall"][a["advisor"]] = round(q["shortfall"].get(a["advisor"], 0) + a["shortfall_yuan"], 2)
        q["months"].append(month)
        q["contacted"] += ev.contacted
        q["back"] += ev.vehicles_back
        h = ev.holdout or {}
        for k in ("treated", "treated_back", "holdout", "holdout_back"):
            q[k] += int(h.get(k) or 0)
        if ev.churn_rate_pct is not None:
            q["churn"].append(ev.churn_rate_pct)
    out = []
    for q in quarters.values():
        lift = _lift(q["treated_back"], q["treated"], q["holdout_back"], q["holdout"])
        out.append(
            {
                "quarter": q["quarter"],
                "months": q["months"],
                "return_rate_pct": _pct(q["back"], q["contacted"]),
                "churn_rate_pct": round(sum(q["churn"]) / len(q["churn"]), 1) if q["churn"] else None,
                **lift,
                # The quarterly shortfall tally (yuan per customer missing from the target), per advisor.
                "shortfall_yuan": q["shortfall"],
            }
        )
    return out
