"""The evaluation three months after execution starts (总结及效果评估)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.evaluation import calculation
from winback.evaluation.facts import load_facts
from winback.evaluation.kpis import retention_kpis
from winback.evaluation.models import Evaluation
from winback.months import quarter_of
from winback.notifications import service as notifications
from winback.notifications.messages import Month
from winback.plans.incentives import redeem_vouchers, redeemed_voucher_cost
from winback.plans.models import ReturnCallback
from winback.surveys import carry


def get_evaluation(*, session: Session, cycle_id: int) -> Evaluation | None:
    return session.scalar(select(Evaluation).where(Evaluation.cycle_id == cycle_id))


def evaluate_cycle(*, session: Session, cycle_id: int, actor: Actor) -> Evaluation:
    """Compute the cycle's results; idempotent (an evaluated cycle keeps its evaluation).

    A target "came back" when its vehicle has a repair order dated after the first contact
    (the first recorded attempt, or the survey's close). Contacted = surveys completed.
    Load (``facts.py``), calculate (``calculation.py``, no database), save (here).
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    existing = get_evaluation(session=session, cycle_id=cycle.id)
    if existing is not None:
        return existing
    facts = load_facts(session=session, cycle=cycle, today=clock.today())
    outcomes = calculation.contact_outcomes(facts)
    holdout = calculation.holdout_comparison(facts)
    per_measure, measure_cost = calculation.measure_rows(facts, outcomes)
    if outcomes.came_back_on:  # one statement for every returned target
        session.execute(
            update(Target),
            [{"id": t, "came_back_on": d} for t, d in outcomes.came_back_on.items()],
        )
        for obj in list(session.identity_map.values()):  # targets already loaded read the new value
            if isinstance(obj, Target) and obj.id in outcomes.came_back_on:
                session.expire(obj, ["came_back_on"])
    redeem_vouchers(session=session, cycle_id=cycle.id, actor=actor)
    # The cycle ends: its tasks still open are closed as carried over (counted above among the
    # targets given to advisors, not as reached); the customer's next task shows their history.
    carry.carry_over_open_tasks(session=session, cycle_id=cycle.id, actor=actor)
    costs = _costs_and_satisfaction(session, cycle)
    voucher_cost = costs.pop("voucher_cost_as_summed")  # the audit records it as the sum returned
    evaluation = Evaluation(
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        computed_at=clock.now(),
        targets=len(facts.targets),
        contacted=outcomes.contacted,
        vehicles_back=outcomes.back,
        workshop_entries=outcomes.entries,
        output_value=outcomes.output,
        measure_cost=measure_cost,
        holdout=holdout.figures,
        winback_rate_pct=round(100 * outcomes.back / outcomes.contacted, 1) if outcomes.contacted else 0.0,
        target_pct=facts.target_pct,
        per_advisor=calculation.advisor_rows(facts, outcomes, holdout),
        per_measure=per_measure,
        **costs,
    )
    kpis = retention_kpis(session=session, store_id=cycle.store_id, rules=cycle.rules)
    evaluation.kpis, evaluation.churn_rate_pct = kpis, kpis["churn_rate_pct"]
    session.add(evaluation)
    session.flush()
    _record_and_notify(session, cycle, evaluation, voucher_cost, actor)
    return evaluation


def _costs_and_satisfaction(session: Session, cycle: MonthlyCycle) -> dict[str, Any]:
    """Redeemed vouchers' value, and the satisfaction callbacks' average and count."""
    voucher_cost = redeemed_voucher_cost(session=session, cycle_id=cycle.id)
    sat_avg, sat_n = session.execute(
        select(func.avg(ReturnCallback.satisfaction), func.count(ReturnCallback.id)).where(
            ReturnCallback.cycle_id == cycle.id
        )
    ).one()
    return {
        "voucher_cost": Decimal(voucher_cost),
        "voucher_cost_as_summed": voucher_cost,
        "satisfaction_avg": round(float(sat_avg), 2) if sat_avg is not None else None,
        "satisfaction_n": int(sat_n),
    }


def _record_and_notify(
    session: Session, cycle: MonthlyCycle, evaluation: Evaluation, voucher_cost: Any, actor: Actor
) -> None:
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
            "contacted": evaluation.contacted,
            "vehicles_back": evaluation.vehicles_back,
            "output_value": evaluation.output_value,
            "lift_pct": evaluation.holdout["lift_pct"],
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
            about=("evaluation", cycle.id),
            month=Month(cycle.month),
            back=evaluation.vehicles_back,
            contacted=evaluation.contacted,
            rate=evaluation.winback_rate_pct,
        )


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
        lift = calculation.lift(q["treated_back"], q["treated"], q["holdout_back"], q["holdout"])
        out.append(
            {
                "quarter": q["quarter"],
                "months": q["months"],
                "return_rate_pct": calculation.pct(q["back"], q["contacted"]),
                "churn_rate_pct": round(sum(q["churn"]) / len(q["churn"]), 1) if q["churn"] else None,
                **lift,
                # The quarterly shortfall tally (yuan per customer missing from the target), per advisor.
                "shortfall_yuan": q["shortfall"],
            }
        )
    return out
