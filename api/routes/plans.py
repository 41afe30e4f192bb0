"""JSON API: plans."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import serializers as out
from api.deps import CurrentUser, Manager, SessionDep
from flows import launcher
from winback.plans import service as plans
from winback.plans.schemas import MeasureUpdate, PlanDecision

router = APIRouter()



# ---- plans ------------------------------------------------------------------------------

@router.patch("/measures/{measure_id}", tags=["plans"])
def update_measure(measure_id: int, body: MeasureUpdate, user: Manager, session: SessionDep) -> dict[str, Any]:
    m = plans.update_measure(session=session, measure_id=measure_id, actor_staff=user, **body.model_dump())
    return out.measure(m)


@router.post("/plans/{plan_id}/submit", tags=["plans"])
def submit_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return out.plan(plans.submit_plan(session=session, plan_id=plan_id, actor_staff=user))


@router.post("/plans/{plan_id}/approve", tags=["plans"])
def approve_plan(plan_id: int, body: PlanDecision, user: Manager, session: SessionDep) -> dict[str, Any]:
    plan = plans.decide_plan(session=session, plan_id=plan_id, approve=True, comment=body.comment, actor_staff=user)
    session.commit()  # the execution flow reads the approval from the database
    launcher.start_execution(cycle_id=plan.cycle_id, store_id=plan.store_id)
    return out.plan(plan)


@router.post("/plans/{plan_id}/reject", tags=["plans"])
def reject_plan(plan_id: int, body: PlanDecision, user: Manager, session: SessionDep) -> dict[str, Any]:
    return out.plan(plans.decide_plan(session=session, plan_id=plan_id, approve=False, comment=body.comment, actor_staff=user))
