"""The rectification plan: edit measures, submit, approve or reject."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from edge import actions
from edge.locale import page_locale
from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from web import flash, forms, render
from web.routes.common import PAGE, list_url, safe_back
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.customers import privacy
from winback.cycles import service as cycles
from winback.errors import NotFound
from winback.evaluation import service as evaluation
from winback.plans import seeding
from winback.plans import service as plans
from winback.plans.models import MeasureStatus, PlanStatus
from winback.plans.schemas import (
    CallbackIn,
    MeasureNew,
    MeasureReport,
    MeasureTemplateIn,
    MeasureUpdate,
    PlanAmend,
    PlanDecision,
    VoucherOffer,
)
from winback.surveys import service as surveys
from winback.surveys.models import ReasonArea

router = APIRouter(include_in_schema=False)


# ---- plans ------------------------------------------------------------------------------


@router.get("/plans/{plan_id}")
def plan_page(
    request: Request, plan_id: int, user: CurrentUser, session: SessionDep, error: str | None = None
):
    return _plan_view(request, plan_id, user, session, error=error)


def _plan_view(request: Request, plan_id: int, user, session, *, error: str | None = None, typed: Any = None):
    plan = plans.get_plan(session=session, plan_id=plan_id, store_ids=store_ids(user))
    cycle = cycles.get_cycle(session=session, cycle_id=plan.cycle_id)
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
        history=plans.decision_history(session=session, plan_id=plan.id, store_ids=store_ids(user)),
        attachments=plans.plan_attachments(session=session, plan_id=plan.id, store_ids=store_ids(user)),
        areas=list(ReasonArea),
        typed=typed or {},
    )


def _plan_again(request, user, session, *, error, status, form, plan_id=None, **_params):
    # the plan page answers 200 with the message and what was typed, as it always did
    return _plan_view(request, int(plan_id or form.get("plan_id")), user, session, error=error, typed=form)


MEASURE_FIELDS = ("title", "owner_id", "due_date", "expected_effect", "expected_value", "expected_unit")


def _measure_update(posted, mid: int) -> MeasureUpdate:
    """One measure card of the plan form (fields named ``m<id>-<field>``) as the API's schema."""
    field = {name: (posted.get(f"m{mid}-{name}") or "") for name in (*MEASURE_FIELDS, "estimated_cost")}
    return MeasureUpdate.model_validate(
        {
            "title": field["title"] or None,
            "owner_id": field["owner_id"] or None,
            "due_date": field["due_date"] or None,
            "expected_effect": field["expected_effect"],
            "expected_value": _number(field["expected_value"]),
            "expected_unit": field["expected_unit"],
            "estimated_cost": _number(field["estimated_cost"]),
            "reasons": posted.getlist(f"m{mid}-reasons"),
        }
    )


def _new_measure(posted) -> MeasureNew:
    field = {
        name: (posted.get(f"new-{name}") or "").strip()
        for name in (
            "title",
            "area",
            "owner_id",
            "due_date",
            "expected_effect",
            "reason_code",
            "estimated_cost",
        )
    }
    if not field["title"]:
        raise forms.FormError("a measure needs a title")
    if not field["due_date"]:
        raise forms.FormError("Give the new measure a due date")
    return MeasureNew.model_validate(
        {
            **field,
            "expected_effect": field["expected_effect"] or None,
            "reason_code": field["reason_code"] or None,
            "estimated_cost": _number(field["estimated_cost"]),
        }
    )


@router.post("/plans/{plan_id}/measures")
@forms.form(_plan_again)
async def plan_save(request: Request, plan_id: int, user: CurrentUser, session: SessionDep):
    """The whole plan in one form: every card is saved, then the button's action (save, submit
    for approval, add a measure, remove one or move one up or down) is done, in one transaction:
    a refused field keeps everything typed on the page and nothing half-saved."""
    posted = await request.form()
    plan = plans.get_plan(session=session, plan_id=plan_id, store_ids=store_ids(user))
    _need(user, Role.manager)
    ours = {m.id for m in plan.measures}
    for raw in posted.getlist("measure"):
        try:
            mid = int(raw)
        except ValueError:
            raise forms.FormError("The input is not valid") from None
        if mid not in ours:
            raise forms.FormError("The input is not valid")
        body = _measure_update(posted, mid)
        plans.update_measure(session=session, measure_id=mid, actor_staff=user, **body.model_dump())
    action, _, target = (posted.get("action") or "save").partition(":")
    anchor = ""
    if action in ("remove", "up", "down"):
        try:
            mid = int(target)
        except ValueError:
            raise forms.FormError("The input is not valid") from None
        if mid not in ours:
            raise forms.FormError("The input is not valid")
        if action == "remove":
            plans.remove_measure(session=session, measure_id=mid, actor_staff=user)
            flash(request, "The measure was removed.")
        else:
            plans.move_measure(session=session, measure_id=mid, up=action == "up", actor_staff=user)
            flash(request, "Saved.")
            anchor = f"#measure-{mid}"
    elif action == "add":
        body = _new_measure(posted)
        added = plans.add_measure(session=session, plan_id=plan.id, actor_staff=user, **body.model_dump())
        flash(request, "The measure was added.")
        anchor = f"#measure-{added.id}"
    elif action == "submit":
        plans.submit_plan(session=session, plan_id=plan.id, actor_staff=user)
        flash(request, "Plan submitted.")
    else:
        flash(request, "Saved.")
    return _see_other(f"/plans/{plan.id}{anchor}")


@router.get("/measures/{measure_id}/attachments/{attachment_id}")
def attachment_download(measure_id: int, attachment_id: int, user: CurrentUser, session: SessionDep):
    """An evidence file, for whoever may read the measure's plan; always a download (never
    shown inline: it is what a staff member uploaded)."""
    a = plans.attachment_file(
        session=session, measure_id=measure_id, attachment_id=attachment_id, store_ids=store_ids(user)
    )
    return Response(
        a.data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(a.filename)}"},
    )


def _number(text: str) -> Decimal | None:
    """A number field of a form: blank is none; anything else must be a number."""
    if not text.strip():
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise forms.FormError("The input is not valid") from None


@router.post("/measures/{measure_id}")
@forms.form(_plan_again)
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
    # Not a form model: a blank text field clears the value here ("" is not "unchanged").
    body = MeasureUpdate.model_validate(
        {
            "expected_value": _number(expected_value),
            "expected_unit": expected_unit,
            "reasons": reasons,
            "title": title or None,
            "owner_id": owner_id or None,
            "due_date": due_date or None,
            "expected_effect": expected_effect,
            "estimated_cost": _number(estimated_cost),
        }
    )
    plans.update_measure(session=session, measure_id=measure_id, actor_staff=user, **body.model_dump())
    flash(request, "Saved.")
    return _see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/submit")
@forms.form(_plan_again)
def plan_submit(request: Request, plan_id: int, user: CurrentUser, session: SessionDep):
    plans.submit_plan(session=session, plan_id=plan_id, actor_staff=user)
    flash(request, "Plan submitted.")
    return _see_other(f"/plans/{plan_id}")


class PlanDecisionForm(PlanDecision):
    decision: str  # "approve"; anything else rejects


@router.post("/plans/{plan_id}/decide")
@forms.form(_plan_again)
def plan_decide(
    request: Request,
    plan_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[PlanDecisionForm, Form()],
):
    plan = actions.decide_plan(
        session=session,
        plan_id=plan_id,
        approve=body.decision == "approve",
        comment=body.comment,
        actor_staff=user,
    )
    if plan.status == PlanStatus.approved:
        flash(request, "Plan approved.")
    else:
        flash(request, "Plan rejected.")
    return _see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/amend")
@forms.form(_plan_again)
def plan_amend(
    request: Request,
    plan_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[PlanAmend, Form()],
):
    new = plans.amend_plan(session=session, plan_id=plan_id, actor_staff=user, reason=body.reason)
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


def _measures_again(request, user, session, *, error, status, form, **_params):
    return my_measures(request, user, session, error=error)


@router.post("/measures/{measure_id}/status")
@forms.form(_measures_again)
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
    body = MeasureReport.model_validate({"status": status, "evidence": evidence or None})
    plans.set_measure_status(
        session=session,
        measure_id=measure_id,
        status=MeasureStatus(body.status),
        evidence=body.evidence,
        actor_staff=user,
        attachment=(attachment.filename, data) if data is not None else None,
    )
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
    _need(user, Role.manager, Role.admin, Role.supervisor, Role.auditor)
    return actions.evaluation_workbook(
        session=session, cycle_id=cycle_id, store_ids=store_ids(user), locale=page_locale(request, user)
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


def _library_again(request, user, session, *, error, status, form, **_params):
    fields = ("reason_code", "title", "title_en", "expected_effect", "expected_value", "expected_unit")
    shown = {k: form.get(k, "") for k in (*fields, "estimated_cost")}
    return library_page(request, user, session, error=error, form=shown)


@router.post("/measure-library")
@forms.form(_library_again)
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
    _need(user, Role.manager)
    try:
        template = int(template_id) if template_id else None
    except ValueError:
        raise forms.FormError("The input is not valid") from None
    body = MeasureTemplateIn.model_validate(
        {
            "reason_code": reason_code,
            "title": title,
            "title_en": title_en,
            "expected_effect": expected_effect or None,
            "expected_value": _number(expected_value),
            "expected_unit": expected_unit or None,
            "estimated_cost": _number(estimated_cost),
            "active": bool(active) if template_id else True,
        }
    )
    plans.save_template(session=session, actor_staff=user, template_id=template, **body.model_dump())
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
        by_phone=mine_only or privacy.may_see_contact(user),
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


def _followup_again(request, user, session, *, error, status, form, **_params):
    # the follow-up page answers 200 with the message, as it always did
    return followup_page(request, int(form.get("cycle_id")), user, session, error=error)


class VoucherForm(VoucherOffer):
    cycle_id: int  # the follow-up page it was posted from


@router.post("/targets/{target_id}/vouchers")
@forms.form(_followup_again, messages={"amount.decimal_parsing": "The amount is not a number"})
def voucher_offer(
    request: Request,
    target_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[VoucherForm, Form()],
):
    offer = body.model_dump(exclude={"cycle_id"})
    plans.offer_voucher(session=session, target_id=target_id, actor_staff=user, **offer)
    flash(request, "Saved.")
    return _see_other(f"/cycles/{body.cycle_id}/followup")


class CallbackForm(CallbackIn):
    cycle_id: int


@router.post("/targets/{target_id}/callback")
@forms.form(_followup_again, messages={"satisfaction": "satisfaction is a score from 1 to 5"})
def callback_record(
    request: Request,
    target_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[CallbackForm, Form()],
):
    plans.record_callback(
        session=session, target_id=target_id, actor_staff=user, satisfaction=body.satisfaction, note=body.note
    )
    flash(request, "Saved.")
    return _see_other(f"/cycles/{body.cycle_id}/followup")
