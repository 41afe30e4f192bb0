"""The rectification plan: edit measures, submit, approve or reject."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError

from api.deps import CurrentUser, SessionDep, store_ids
from flows import launcher
from web import flash, render
from web.routes.common import see_other as _see_other
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.cycles import service as cycles
from winback.errors import InvalidInput
from winback.plans import service as plans
from winback.plans.schemas import MeasureUpdate

router = APIRouter(include_in_schema=False)


# ---- plans ------------------------------------------------------------------------------

@router.get("/plans/{plan_id}")
def plan_page(request: Request, plan_id: int, user: CurrentUser, session: SessionDep, error: str | None = None):
    plan = plans.get_plan(session=session, plan_id=plan_id, store_ids=store_ids(user))
    cycle = cycles.get_cycle(session=session, cycle_id=plan.cycle_id)
    return render(request, "plans/detail.html", user=user, plan=plan, cycle=cycle, error=error,
                  staff=[s for s in accounts.list_staff(session=session, store_id=plan.store_id) if s.active],
                  editable=plan.status.value in ("draft", "rejected") and user.has_role(Role.manager))


@router.post("/measures/{measure_id}")
def measure_update(
    request: Request, measure_id: int, user: CurrentUser, session: SessionDep,
    plan_id: Annotated[int, Form()], title: Annotated[str, Form()] = "", owner_id: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "", expected_effect: Annotated[str, Form()] = "",
    estimated_cost: Annotated[str, Form()] = "",
):
    try:
        body = MeasureUpdate.model_validate({
            "title": title or None, "owner_id": int(owner_id) if owner_id else None,
            "due_date": date.fromisoformat(due_date) if due_date else None,
            "expected_effect": expected_effect,
            "estimated_cost": Decimal(estimated_cost) if estimated_cost.strip() else None,
        })
        plans.update_measure(session=session, measure_id=measure_id, actor_staff=user, **body.model_dump())
    except (ValueError, InvalidOperation, ValidationError) as exc:
        session.rollback()
        msg = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        return plan_page(request, plan_id, user, session, error=msg or "The input is not valid")
    except InvalidInput as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    flash(request, "Saved.")
    return _see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/submit")
def plan_submit(request: Request, plan_id: int, user: CurrentUser, session: SessionDep):
    try:
        plans.submit_plan(session=session, plan_id=plan_id, actor_staff=user)
    except InvalidInput as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    flash(request, "Plan submitted.")
    return _see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/decide")
def plan_decide(
    request: Request, plan_id: int, user: CurrentUser, session: SessionDep,
    decision: Annotated[str, Form()], comment: Annotated[str, Form()] = "",
):
    try:
        plan = plans.decide_plan(session=session, plan_id=plan_id, approve=decision == "approve",
                                 comment=comment, actor_staff=user)
    except InvalidInput as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    session.commit()
    if plan.status.value == "approved":
        launcher.start_execution(cycle_id=plan.cycle_id, store_id=plan.store_id)
        flash(request, "Plan approved.")
    else:
        flash(request, "Plan rejected.")
    return _see_other(f"/plans/{plan_id}")
