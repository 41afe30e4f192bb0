"""The care calendar's pages: the front desk's care list and bulk-SMS export, the care calls in
the advisor's queue, the retention report (and XLSX), the store's care settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from edge.xlsx import xlsx_response
from web import flash, render
from web.i18n import pick_locale, translator
from web.routes.common import need, safe_back, see_other
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.care import calls, delivery, lists, schedule_edits
from winback.care import report as care_report
from winback.care.models import CallOutcome, CareKind
from winback.errors import InvalidInput

router = APIRouter(include_in_schema=False)


def _(text: str) -> str:
    """Marks a text for the catalog (extracted by Babel); translated where it is shown."""
    return text


KIND_LABELS = {
    "maintenance": _("Maintenance"),
    "inspection": _("Annual inspection"),
    "insurance": _("Insurance expiry"),
    "warranty_end": _("Warranty end"),
    "follow_up_call": _("Follow-up call"),
    "complaint_recall": _("Complaint re-call"),
}
CHANNEL_LABELS = {"message": _("Text message"), "export": _("Bulk SMS export"), "call": _("Call")}
STATUS_LABELS = {
    "open": _("In progress"),
    "fulfilled": _("Came in"),
    "missed": _("Missed"),
    "pending": _("To do"),
    "sent": _("Sent"),
    "failed": _("Failed"),
    "cancelled": _("Stopped: came in"),
}
OUTCOME_LABELS = {
    "appointment": _("Appointment made"),
    "not_interested": _("Not interested"),
    "serviced_elsewhere": _("Serviced elsewhere"),
    "unreachable": _("Not reached"),
    "done": _("Call made"),
}
WHY_LABELS = {
    "high_value": _("High-value customer"),
    "drifting": _("Drifting away (churn model)"),
    "call_kind": _("A call by nature"),
}
SOURCE_LABELS = {
    "own": _("its own repair orders"),
    "model": _("the median of its model"),
    "store": _("the store's median"),
    "default": _("the store's default"),
}
VIEW_LABELS = {
    "today": _("Today's touches"),
    "week": _("Due this week"),
    "overdue": _("Overdue"),
    "all": _("All"),
}
LABELS = {
    "kinds": KIND_LABELS,
    "channels": CHANNEL_LABELS,
    "statuses": STATUS_LABELS,
    "outcomes": OUTCOME_LABELS,
    "whys": WHY_LABELS,
    "sources": SOURCE_LABELS,
    "views": VIEW_LABELS,
}

_DESK = (Role.admin, Role.supervisor, Role.manager, Role.auditor)
_REPORT = (Role.admin, Role.supervisor, Role.manager, Role.auditor)
_SETTINGS = (Role.manager, Role.admin)


def care_context(session, customer_id: int) -> dict:
    """The customer page's care calendar (each active car's next dates and their basis)."""
    return {
        "care": lists.calendar(session=session, customer_id=customer_id),
        "care_kinds": KIND_LABELS,
        "care_sources": SOURCE_LABELS,
    }


def _kind(value: str) -> CareKind | None:
    if not value:
        return None
    try:
        return CareKind(value)
    except ValueError:
        raise InvalidInput("unknown kind of care item", field="kind") from None


@router.get("/care")
def care_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    view: str = "today",
    kind: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    """The front desk's care list: today's touches, due this week, overdue; filter by kind."""
    need(user, *_DESK, Role.advisor)
    if view not in lists.VIEWS:
        view = "today"
    ids = store_ids(user)
    items = lists.items_page(
        session=session, store_ids=ids, viewer=user, kind=_kind(kind), view=view, page=page
    )
    return render(
        request,
        "care/list.html",
        user=user,
        items=items,
        view=view,
        kind=kind,
        exports=lists.pending_exports(session=session, store_ids=ids),
        **LABELS,
    )


@router.post("/care/export")
def care_export(request: Request, user: CurrentUser, session: SessionDep):
    """The waiting SMS reminders as the bulk-SMS workbook; they count as sent once exported."""
    need(user, Role.admin, Role.supervisor)
    body, n = delivery.export_pending(session=session, store_ids=store_ids(user), actor=Actor.person(user))
    if n == 0:
        flash(request, "No reminders are waiting for the SMS export.", "error")
        return see_other("/care")
    return xlsx_response(body, f"care-sms-{user.store.code}.xlsx")


@router.get("/care/calls")
def care_calls(
    request: Request, user: CurrentUser, session: SessionDep, page: Annotated[int, Query(ge=1)] = 1
):
    """The care calls: an advisor's own queue; the supervisor and the manager see all."""
    need(user, Role.advisor, Role.supervisor, Role.manager, Role.admin)
    queue = lists.calls_page(session=session, store_ids=store_ids(user), viewer=user, page=page)
    return render(request, "care/calls.html", user=user, calls=queue, **LABELS)


@router.post("/care/calls/{touch_id}")
def care_call_outcome(
    request: Request,
    touch_id: int,
    user: CurrentUser,
    session: SessionDep,
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form()] = "",
):
    try:
        result = CallOutcome(outcome)
    except ValueError:
        raise InvalidInput("choose how the call went", field="outcome") from None
    calls.record_call(session=session, touch_id=touch_id, outcome=result, note=note, actor_staff=user)
    flash(request, "Call recorded.")
    return see_other(safe_back(back, "/care/calls"))


@router.get("/care/report")
def care_report_page(request: Request, user: CurrentUser, session: SessionDep):
    need(user, *_REPORT)
    rep = care_report.report(session=session, store_id=user.store_id)
    return render(request, "care/report.html", user=user, rep=rep, **LABELS)


@router.get("/care/report.xlsx")
def care_report_xlsx(request: Request, user: CurrentUser, session: SessionDep):
    need(user, *_REPORT)
    rep = care_report.report(session=session, store_id=user.store_id)
    t = translator(pick_locale(request, getattr(user, "locale", None)))
    labels = {**KIND_LABELS, **CHANNEL_LABELS}
    body = care_report.workbook(rep, translate=t, label=lambda code: t(labels.get(code, code)))
    return xlsx_response(body, f"care-report-{user.store.code}.xlsx")


# ---- settings (the manager) -------------------------------------------------------------

# The store settings of the care calendar shown on its settings page, in this order.
SETTING_KEYS = (
    "care_first_service_km",
    "care_first_service_months",
    "care_service_interval_km",
    "care_service_interval_months",
    "care_inspection_years",
    "care_inspection_onsite_years",
    "care_inspection_yearly_after",
    "care_inspection_half_yearly_after",
    "care_warranty_lead_days",
    "care_follow_up_days",
    "care_complaint_recall_days",
    "care_touch_days",
    "care_lookahead_days",
    "care_missed_after_days",
    "care_holdout_pct",
    "care_call_min_spend_per_year",
    "care_call_p_alive_below",
    "care_apprise_url",
    "care_maintenance_categories",
    "care_inspection_categories",
)
SETTING_LABELS = {
    "care_first_service_km": _("First service at (km)"),
    "care_first_service_months": _("First service at (months after purchase)"),
    "care_service_interval_km": _("Then every (km)"),
    "care_service_interval_months": _("Then every (months)"),
    "care_inspection_years": _("Inspection years (sticker or on-site)"),
    "care_inspection_onsite_years": _("On-site inspection years"),
    "care_inspection_yearly_after": _("Yearly inspection after year"),
    "care_inspection_half_yearly_after": _("Half-yearly inspection after year"),
    "care_warranty_lead_days": _("Warranty-end reminder (days before)"),
    "care_follow_up_days": _("Follow-up call (days after a repair order)"),
    "care_complaint_recall_days": _("Re-call after a resolved complaint (within days)"),
    "care_touch_days": _("Reminders (days before due)"),
    "care_lookahead_days": _("Look-ahead window (days)"),
    "care_missed_after_days": _("Missed after (days past due)"),
    "care_holdout_pct": _("Holdout (% of cars each month)"),
    "care_call_min_spend_per_year": _("Call instead of SMS from a yearly spend of (yuan)"),
    "care_call_p_alive_below": _("Call when the chance the customer is still active is below"),
    "care_apprise_url": _("SMS channel address (set up by IT)"),
    "care_maintenance_categories": _("Repair-order categories that count as maintenance"),
    "care_inspection_categories": _("Repair-order categories that count as inspection"),
}


def _setting_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _parse_setting(key: str, text: str):
    from winback.config import ProcessDefaults

    annotation = str(ProcessDefaults.model_fields[key].annotation)
    text = text.strip()
    if "list" in annotation:
        parts = [p.strip() for p in text.replace("，", ",").replace("、", ",").split(",") if p.strip()]
        if "int" in annotation:
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise InvalidInput("write whole numbers separated by commas", field=key) from None
        return parts
    return text


@router.get("/care/settings")
def care_settings(request: Request, user: CurrentUser, session: SessionDep):
    need(user, *_SETTINGS)
    rules = accounts.effective_settings(user.store)
    values = {k: _setting_text(getattr(rules, k)) for k in SETTING_KEYS}
    return render(
        request,
        "care/settings.html",
        user=user,
        values=values,
        setting_labels=SETTING_LABELS,
        schedules=schedule_edits.list_schedules(session=session, store_id=user.store_id),
        **LABELS,
    )


@router.post("/care/settings")
async def care_settings_save(request: Request, user: CurrentUser, session: SessionDep):
    need(user, *_SETTINGS)
    form = await request.form()
    rules = accounts.effective_settings(user.store)
    changed = 0
    for key in SETTING_KEYS:
        if key not in form:
            continue
        text = str(form[key])
        if text.strip() == _setting_text(getattr(rules, key)):
            continue
        accounts.set_store_setting(
            session=session,
            store=user.store,
            key=key,
            value=_parse_setting(key, text),
            actor=Actor.person(user),
        )
        changed += 1
    flash(request, "Settings saved: {n} changed.", n=changed)
    return see_other("/care/settings")


@router.post("/care/schedules")
def care_schedule_save(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    model: Annotated[str, Form(max_length=80)] = "",
    grade: Annotated[str, Form(max_length=20)] = "",
    first_km: Annotated[int, Form()] = 5000,
    first_months: Annotated[int, Form()] = 6,
    interval_km: Annotated[int, Form()] = 10000,
    interval_months: Annotated[int, Form()] = 12,
):
    need(user, *_SETTINGS)
    schedule_edits.save_schedule(
        session=session,
        store_id=user.store_id,
        model=model,
        grade=grade,
        first_km=first_km,
        first_months=first_months,
        interval_km=interval_km,
        interval_months=interval_months,
        actor=Actor.person(user),
    )
    flash(request, "Schedule saved.")
    return see_other("/care/settings")


@router.post("/care/schedules/{schedule_id}/delete")
def care_schedule_delete(request: Request, schedule_id: int, user: CurrentUser, session: SessionDep):
    need(user, *_SETTINGS)
    schedule_edits.delete_schedule(
        session=session, store_id=user.store_id, schedule_id=schedule_id, actor=Actor.person(user)
    )
    flash(request, "Schedule removed.")
    return see_other("/care/settings")
