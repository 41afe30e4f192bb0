"""The rectification plan: edit measures, submit, approve or reject."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import CurrentUser, SessionDep, store_ids
from flows import launcher
from web import flash, render
from web.i18n import pick_locale
from web.routes.common import PAGE, list_url, safe_back
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.cycles import service as cycles
from winback.errors import Conflict, InvalidInput, NotFound
from winback.evaluation import service as evaluation
from winback.evaluation.export import evaluation_xlsx
from winback.plans import seeding
from winback.plans import service as plans
from winback.plans.models import MeasureStatus
from winback.plans.schemas import MeasureReport, MeasureUpdate
from winback.surveys import service as surveys

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(include_in_schema=False)


# ---- plans ------------------------------------------------------------------------------


@router.get("/plans/{plan_id}")
def plan_page(
    request: Request, plan_id: int, user: CurrentUser, session: SessionDep, error: str | None = None
):
    plan = plans.get_plan(session=session, plan_id=plan_id, store_ids=store_ids(user))
    cycle = cycles.get_cycle(session=session, cycle_id=plan.cycle_id)
    from winback import clock

    return render(
        request,
        "plans/detail.html",
        user=user,
        plan=plan,
        cycle=cycle,
        error=error,
        today=clock.today(),
        versions=plans.plan_versions(session=session, cycle_id=cycle.id),
        reason_codes=surveys.reason_codes(session=session, store_id=plan.store_id),
        titles_en=plans.english_titles(session=session, store_ids=[plan.store_id]),
        reason_by_code=surveys.reasons_by_code(session=session, store_ids=[plan.store_id]),
        staff=[s for s in accounts.list_staff(session=session, store_id=plan.store_id) if s.active],
        editable=plan.status.value in ("draft", "rejected") and user.has_role(Role.manager),
    )


@router.post("/measures/{measure_id}")
def measure_update(
    request: Request,
    measure_id: int,
    user: CurrentUser,
    session: SessionDep,
    plan_id: Annotated[int, Form()],
    title: Annotated[str, Form()] = "",
    owner_id: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    expected_effect: Annotated[str, Form()] = "",
    estimated_cost: Annotated[str, Form()] = "",
    expected_value: Annotated[str, Form()] = "",
    expected_unit: Annotated[str, Form()] = "",
    reasons: Annotated[list[str] | None, Form()] = None,
):
    try:
        body = MeasureUpdate.model_validate(
            {
                "expected_value": Decimal(expected_value) if expected_value.strip() else None,
                "expected_unit": expected_unit,
                "reasons": reasons,
                "title": title or None,
                "owner_id": int(owner_id) if owner_id else None,
                "due_date": date.fromisoformat(due_date) if due_date else None,
                "expected_effect": expected_effect,
                "estimated_cost": Decimal(estimated_cost) if estimated_cost.strip() else None,
            }
        )
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
    request: Request,
    plan_id: int,
    user: CurrentUser,
    session: SessionDep,
    decision: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
):
    try:
        plan = plans.decide_plan(
            session=session, plan_id=plan_id, approve=decision == "approve", comment=comment, actor_staff=user
        )
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


@router.post("/plans/{plan_id}/amend")
def plan_amend(
    request: Request,
    plan_id: int,
    user: CurrentUser,
    session: SessionDep,
    reason: Annotated[str, Form()] = "",
):
    try:
        new = plans.amend_plan(session=session, plan_id=plan_id, actor_staff=user, reason=reason)
    except Conflict as exc:
        session.rollback()
        return plan_page(request, plan_id, user, session, error=exc.message)
    flash(request, "A new version was drafted; the approved one stays in force until it is approved.")
    return _see_other(f"/plans/{new.id}")


@router.get("/plans/{plan_id}/compare/{other_id}")
def plan_compare(request: Request, plan_id: int, other_id: int, user: CurrentUser, session: SessionDep):
    diff = plans.compare_versions(session=session, old_id=plan_id, new_id=other_id, store_ids=store_ids(user))
    plan = plans.get_plan(session=session, plan_id=other_id, store_ids=store_ids(user))
    cycle = cycles.get_cycle(session=session, cycle_id=plan.cycle_id)
    return render(request, "plans/compare.html", user=user, diff=diff, cycle=cycle, plan=plan)


@router.get("/measures")
def my_measures(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    error: str | None = None,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    from winback import clock

    return render(
        request,
        "plans/measures.html",
        user=user,
        error=error,
        today=clock.today(),
        q=q,
        list_url=list_url(request, "/measures"),
        measures=plans.measures_owned_page(
            session=session, staff_id=user.id, search=q, page=page, page_size=PAGE
        ),
        titles_en=plans.english_titles(session=session, store_ids=store_ids(user)),
    )


@router.post("/measures/{measure_id}/status")
async def measure_report(
    request: Request,
    measure_id: int,
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[str, Form()],
    evidence: Annotated[str, Form()] = "",
    attachment: Annotated[UploadFile | None, File()] = None,
    back: Annotated[str, Form()] = "/measures",
):
    data = await attachment.read() if attachment is not None and attachment.filename else None
    try:
        body = MeasureReport.model_validate({"status": status, "evidence": evidence or None})
        plans.set_measure_status(
            session=session,
            measure_id=measure_id,
            status=MeasureStatus(body.status),
            evidence=body.evidence,
            actor_staff=user,
            attachment=(attachment.filename, data) if data is not None else None,
        )
    except ValidationError as exc:
        session.rollback()
        return my_measures(request, user, session, error="; ".join(e["msg"] for e in exc.errors()))
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return my_measures(request, user, session, error=exc.message)
    flash(request, "Saved.")
    return _see_other(safe_back(back, "/measures"))


# ---- the evaluation report ----------------------------------------------------------------


def _report_context(session, user, cycle_id: int):
    _need(user, Role.manager, Role.admin, Role.supervisor, Role.auditor)
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    ev = evaluation.get_evaluation(session=session, cycle_id=cycle.id)
    if ev is None:
        raise NotFound("this cycle has not been evaluated yet")
    return cycle, ev, evaluation.trend(session=session, store_id=cycle.store_id)


@router.get("/cycles/{cycle_id}/report")
def report_page(request: Request, cycle_id: int, user: CurrentUser, session: SessionDep):
    cycle, ev, trend = _report_context(session, user, cycle_id)
    return render(
        request,
        "plans/report.html",
        user=user,
        cycle=cycle,
        ev=ev,
        trend=trend,
        reason_by_code=surveys.reasons_by_code(session=session, store_ids=[cycle.store_id]),
    )


@router.get("/cycles/{cycle_id}/report.xlsx")
def report_xlsx(request: Request, cycle_id: int, user: CurrentUser, session: SessionDep):
    cycle, ev, trend = _report_context(session, user, cycle_id)
    locale = pick_locale(request, user.locale)
    body = evaluation_xlsx(
        ev,
        month=cycle.month,
        trend=trend,
        locale=locale,
        reason_labels={
            r.code: r.label(locale)
            for r in surveys.reason_codes(session=session, store_id=cycle.store_id, active_only=False)
        },
    )
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="evaluation-{cycle.store.code}-{cycle.month}.xlsx"'
        },
    )


# ---- the store's measure library ------------------------------------------------------------


@router.get("/measure-library")
def library_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    error: str | None = None,
    form: dict | None = None,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    _need(user, Role.manager, Role.admin, Role.supervisor, Role.auditor)
    if user.has_role(Role.manager):
        seeding.seed_measure_library(session=session, store_id=user.store_id)
    return render(
        request,
        "plans/library.html",
        user=user,
        error=error,
        form=form or {},
        q=q,
        list_url=list_url(request, "/measure-library"),
        templates=plans.measure_library_page(
            session=session, store_id=user.store_id, search=q, page=page, page_size=PAGE
        ),
        reasons={r.code: r for r in surveys.reason_codes(session=session, store_id=user.store_id)},
    )


@router.post("/measure-library")
def library_save(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    reason_code: Annotated[str, Form()],
    title: Annotated[str, Form()] = "",
    title_en: Annotated[str, Form()] = "",
    template_id: Annotated[str, Form()] = "",
    expected_effect: Annotated[str, Form()] = "",
    expected_value: Annotated[str, Form()] = "",
    expected_unit: Annotated[str, Form()] = "",
    estimated_cost: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
):
    from winback.plans.schemas import MeasureTemplateIn

    _need(user, Role.manager)
    form = {
        "reason_code": reason_code,
        "title": title,
        "title_en": title_en,
        "expected_effect": expected_effect,
        "expected_value": expected_value,
        "expected_unit": expected_unit,
        "estimated_cost": estimated_cost,
    }
    try:
        body = MeasureTemplateIn.model_validate(
            {
                "reason_code": reason_code,
                "title": title,
                "title_en": title_en,
                "expected_effect": expected_effect or None,
                "expected_value": Decimal(expected_value) if expected_value.strip() else None,
                "expected_unit": expected_unit or None,
                "estimated_cost": Decimal(estimated_cost) if estimated_cost.strip() else None,
                "active": bool(active) if template_id else True,
            }
        )
        plans.save_template(
            session=session,
            actor_staff=user,
            template_id=int(template_id) if template_id else None,
            **body.model_dump(),
        )
    except (ValueError, InvalidOperation, ValidationError) as exc:
        session.rollback()
        msg = (
            "; ".join(e["msg"] for e in exc.errors())
            if isinstance(exc, ValidationError)
            else "The input is not valid"
        )
        return library_page(request, user, session, error=msg, form=form)
    except InvalidInput as exc:
        session.rollback()
        return library_page(request, user, session, error=exc.message, form=form)
    flash(request, "Saved.")
    return _see_other("/measure-library")


# ---- follow-up of surveyed customers: vouchers and the satisfaction callback -------------------


@router.get("/cycles/{cycle_id}/followup")
def followup_page(
    request: Request,
    cycle_id: int,
    user: CurrentUser,
    session: SessionDep,
    error: str | None = None,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id, store_ids=store_ids(user))
    mine_only = not user.has_role(Role.manager, Role.supervisor, Role.admin)
    rows = plans.followups_page(
        session=session,
        cycle_id=cycle.id,
        assignee_id=user.id if mine_only else None,
        search=q,
        page=page,
        page_size=PAGE,
    )
    return render(
        request,
        "plans/followup.html",
        user=user,
        cycle=cycle,
        rows=rows,
        error=error,
        q=q,
        list_url=list_url(request, f"/cycles/{cycle.id}/followup"),
        default_voucher=cycle.rules.voucher_default_yuan,
    )


@router.post("/targets/{target_id}/vouchers")
def voucher_offer(
    request: Request,
    target_id: int,
    user: CurrentUser,
    session: SessionDep,
    cycle_id: Annotated[int, Form()],
    amount: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "工时券",
):
    from winback.plans.schemas import VoucherOffer

    try:
        body = VoucherOffer.model_validate(
            {"amount": Decimal(amount) if amount.strip() else None, "kind": kind}
        )
        plans.offer_voucher(session=session, target_id=target_id, actor_staff=user, **body.model_dump())
    except (InvalidOperation, ValidationError) as exc:
        session.rollback()
        msg = (
            "; ".join(e["msg"] for e in exc.errors())
            if isinstance(exc, ValidationError)
            else "The amount is not a number"
        )
        return followup_page(request, cycle_id, user, session, error=msg)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return followup_page(request, cycle_id, user, session, error=exc.message)
    flash(request, "Saved.")
    return _see_other(f"/cycles/{cycle_id}/followup")


@router.post("/targets/{target_id}/callback")
def callback_record(
    request: Request,
    target_id: int,
    user: CurrentUser,
    session: SessionDep,
    cycle_id: Annotated[int, Form()],
    satisfaction: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
):
    from winback.plans.schemas import CallbackIn

    try:
        body = CallbackIn.model_validate({"satisfaction": satisfaction, "note": note or None})
        plans.record_callback(session=session, target_id=target_id, actor_staff=user, **body.model_dump())
    except ValidationError:
        session.rollback()
        return followup_page(request, cycle_id, user, session, error="satisfaction is a score from 1 to 5")
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return followup_page(request, cycle_id, user, session, error=exc.message)
    flash(request, "Saved.")
    return _see_other(f"/cycles/{cycle_id}/followup")
