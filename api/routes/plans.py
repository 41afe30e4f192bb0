"""JSON API: plans."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import serializers as out
from api.deps import CurrentUser, Manager, Reader, SessionDep, store_ids
from api.schemas import (
    CallbackOut,
    MeasureOut,
    MeasureTemplateOut,
    PlanCompareOut,
    PlanOut,
    TrendOut,
    VoucherOut,
)
from edge import actions
from edge.locale import api_locale
from edge.xlsx import XLSX_RESPONSES
from winback.cycles import service as cycles
from winback.evaluation import service as evaluation
from winback.plans import seeding
from winback.plans import service as plans
from winback.plans.models import MeasureStatus
from winback.plans.schemas import (
    CallbackIn,
    MeasureNew,
    MeasureOrder,
    MeasureReport,
    MeasureTemplateIn,
    MeasureUpdate,
    PlanAmend,
    PlanDecision,
    VoucherOffer,
)

router = APIRouter()


# ---- plans ------------------------------------------------------------------------------


@router.patch("/measures/{measure_id}", response_model=MeasureOut, tags=["plans"])
def update_measure(
    measure_id: int, body: MeasureUpdate, user: Manager, session: SessionDep
) -> dict[str, Any]:
    m = plans.update_measure(session=session, measure_id=measure_id, actor_staff=user, **body.model_dump())
    return out.measure(m)


@router.post("/plans/{plan_id}/measures", response_model=MeasureOut, status_code=201, tags=["plans"])
def add_measure(plan_id: int, body: MeasureNew, user: Manager, session: SessionDep) -> dict[str, Any]:
    """A measure of the manager's own (a recall campaign, say), while the plan is a draft or rejected."""
    return out.measure(
        plans.add_measure(session=session, plan_id=plan_id, actor_staff=user, **body.model_dump())
    )


@router.delete("/measures/{measure_id}", response_model=PlanOut, tags=["plans"])
def remove_measure(measure_id: int, user: Manager, session: SessionDep) -> dict[str, Any]:
    """Take a measure out of a plan still editable; answers the plan as it is now."""
    return out.plan(plans.remove_measure(session=session, measure_id=measure_id, actor_staff=user))


@router.put("/plans/{plan_id}/measure-order", response_model=PlanOut, tags=["plans"])
def reorder_measures(plan_id: int, body: MeasureOrder, user: Manager, session: SessionDep) -> dict[str, Any]:
    """Every measure of the plan, once each, in the new order."""
    return out.plan(
        plans.reorder_measures(
            session=session, plan_id=plan_id, measure_ids=body.measure_ids, actor_staff=user
        )
    )


@router.post("/plans/{plan_id}/submit", response_model=PlanOut, tags=["plans"])
def submit_plan(plan_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return out.plan(plans.submit_plan(session=session, plan_id=plan_id, actor_staff=user))


@router.post("/plans/{plan_id}/approve", response_model=PlanOut, tags=["plans"])
def approve_plan(plan_id: int, body: PlanDecision, user: Manager, session: SessionDep) -> dict[str, Any]:
    plan = actions.decide_plan(
        session=session, plan_id=plan_id, approve=True, comment=body.comment, actor_staff=user
    )
    return out.plan(plan)


@router.post("/plans/{plan_id}/reject", response_model=PlanOut, tags=["plans"])
def reject_plan(plan_id: int, body: PlanDecision, user: Manager, session: SessionDep) -> dict[str, Any]:
    return out.plan(
        plans.decide_plan(
            session=session, plan_id=plan_id, approve=False, comment=body.comment, actor_staff=user
        )
    )


@router.post("/plans/{plan_id}/amend", response_model=PlanOut, status_code=201, tags=["plans"])
def amend_plan(plan_id: int, body: PlanAmend, user: Manager, session: SessionDep) -> dict[str, Any]:
    """A new draft version of an approved plan; the approved one stays in force until this is approved."""
    return out.plan(plans.amend_plan(session=session, plan_id=plan_id, actor_staff=user, reason=body.reason))


@router.get("/cycles/{cycle_id}/plans", response_model=list[PlanOut], tags=["plans"])
def plan_versions(cycle_id: int, user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    return [out.plan(p) for p in plans.plan_versions(session=session, cycle_id=c.id)]


@router.get("/plans/{old_id}/compare/{new_id}", response_model=PlanCompareOut, tags=["plans"])
def compare_plans(old_id: int, new_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    return plans.compare_versions(session=session, old_id=old_id, new_id=new_id, store_ids=store_ids(user))


@router.get("/measures/mine", response_model=list[MeasureOut], tags=["plans"])
def my_measures(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    return [
        out.measure(m)
        for m in plans.measures_owned_page(session=session, staff_id=user.id, page_size=None).items
    ]


@router.post("/measures/{measure_id}/status", response_model=MeasureOut, tags=["plans"])
def report_measure(
    measure_id: int, body: MeasureReport, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    m = plans.set_measure_status(
        session=session,
        measure_id=measure_id,
        status=MeasureStatus(body.status),
        evidence=body.evidence,
        actor_staff=user,
    )
    return out.measure(m)


@router.post("/targets/{target_id}/vouchers", response_model=VoucherOut, status_code=201, tags=["plans"])
def offer_voucher(
    target_id: int, body: VoucherOffer, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Record a win-back voucher offered to the customer (e.g. 500 yuan of labour)."""
    return out.voucher(
        plans.offer_voucher(session=session, target_id=target_id, actor_staff=user, **body.model_dump())
    )


@router.get("/cycles/{cycle_id}/vouchers", response_model=list[VoucherOut], tags=["plans"])
def cycle_vouchers(cycle_id: int, user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    c = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    return [out.voucher(v) for v in plans.vouchers_of(session=session, cycle_id=c.id)]


@router.post(
    "/targets/{target_id}/callback", response_model=CallbackOut, status_code=201, tags=["evaluation"]
)
def record_callback(
    target_id: int, body: CallbackIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """The follow-up call after a returned customer's visit: satisfaction 1-5."""
    cb = plans.record_callback(
        session=session, target_id=target_id, satisfaction=body.satisfaction, note=body.note, actor_staff=user
    )
    return {
        "id": cb.id,
        "target_id": cb.target_id,
        "satisfaction": cb.satisfaction,
        "note": cb.note,
        "at": cb.at,
    }


@router.get(
    "/cycles/{cycle_id}/evaluation.xlsx",
    tags=["evaluation"],
    responses=XLSX_RESPONSES,
    response_class=Response,
)
def evaluation_xlsx(request: Request, cycle_id: int, user: Reader, session: SessionDep) -> Response:
    return actions.evaluation_workbook(
        session=session, cycle_id=cycle_id, store_ids=store_ids(user), locale=api_locale(request)
    )


@router.get("/evaluation/trend", response_model=list[TrendOut], tags=["evaluation"])
def evaluation_trend(user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    """Return rate, churn rate and lift over the holdout per quarter, for the user's store."""
    return evaluation.trend(session=session, store_id=user.store_id)


def _template(t) -> dict[str, Any]:
    return {
        "id": t.id,
        "reason_code": t.reason_code,
        "area": t.area.value,
        "title": t.title,
        "title_en": t.title_en,
        "expected_effect": t.expected_effect,
        "expected_value": str(t.expected_value) if t.expected_value is not None else None,
        "expected_unit": t.expected_unit,
        "estimated_cost": str(t.estimated_cost) if t.estimated_cost is not None else None,
        "active": t.active,
    }


@router.get("/measure-library", response_model=list[MeasureTemplateOut], tags=["plans"])
def measure_library(user: Reader, session: SessionDep) -> list[dict[str, Any]]:
    """The store's typical measures per reason (seeded from PROCESS.md, editable per store)."""
    seeding.seed_measure_library(session=session, store_id=user.store_id)
    return [
        _template(t)
        for t in plans.measure_library_page(session=session, store_id=user.store_id, page_size=None).items
    ]


@router.post("/measure-library", response_model=MeasureTemplateOut, status_code=201, tags=["plans"])
def add_template(body: MeasureTemplateIn, user: Manager, session: SessionDep) -> dict[str, Any]:
    return _template(plans.save_template(session=session, actor_staff=user, **body.model_dump()))


@router.put("/measure-library/{template_id}", response_model=MeasureTemplateOut, tags=["plans"])
def edit_template(
    template_id: int, body: MeasureTemplateIn, user: Manager, session: SessionDep
) -> dict[str, Any]:
    return _template(
        plans.save_template(session=session, actor_staff=user, template_id=template_id, **body.model_dump())
    )
