"""The pages of issue 18's cases: the appointment on the task page and the front desk's day
list, complaint cases (owner, resolution, the re-call), vouchers redeemed at the service desk."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from web import flash, forms, render
from web.routes.common import need, see_other
from winback import clock
from winback.accounts import service as accounts
from winback.accounts.models import Role, Store
from winback.cases import appointments, complaints, vouchers
from winback.cases.models import CaseStatus
from winback.cases.schemas import (
    AppointmentCancelIn,
    AppointmentIn,
    CaseOwnerIn,
    CaseResolveIn,
    VoucherDeskIn,
)
from winback.errors import DomainError
from winback.i18n import N_

router = APIRouter(include_in_schema=False)


def _(text: str) -> str:
    """Marks a text for the catalog (extracted by Babel); translated where it is shown."""
    return text


SERVICE_TYPES = {
    "maintenance": _("Maintenance"),
    "repair": _("Repair"),
    "inspection": _("Annual inspection"),
    "bodywork": _("Body and paint"),
    "other": _("Other"),
}
APPOINTMENT_STATUSES = {
    "booked": _("Booked"),
    "arrived": _("Arrived"),
    "no_show": _("Did not come"),
    "cancelled": _("Cancelled"),
}
CASE_STATUSES = {"open": _("Being handled"), "resolved": _("Resolved")}
RECALL_STATUSES = {
    "open": _("Re-call to make"),
    "fulfilled": _("Re-call made"),
    "missed": _("Re-call missed"),
}
VOUCHER_STATUSES = {"open": _("Valid"), "redeemed": _("Redeemed"), "expired": _("Expired")}
LABELS = {
    "service_types": SERVICE_TYPES,
    "appointment_statuses": APPOINTMENT_STATUSES,
    "case_statuses": CASE_STATUSES,
    "recall_statuses": RECALL_STATUSES,
    "voucher_statuses": VOUCHER_STATUSES,
}
_FRONT_DESK = (Role.supervisor, Role.manager, Role.admin, Role.advisor, Role.auditor)
_CASES = (Role.manager, Role.supervisor, Role.admin, Role.auditor)
_DESK = (Role.advisor, Role.supervisor, Role.manager, Role.admin)


def cases_context(session, task) -> dict:
    """The task page's section (tasks/_cases.html): the appointment, the voucher, the case."""
    rules = accounts.effective_settings(session.get(Store, task.store_id))
    voucher = vouchers.voucher_of_task(session=session, task_id=task.id)
    return {
        "appointment": appointments.appointment_of(session=session, task_id=task.id),
        "slots": list(rules.appointment_slots),
        "service_types": SERVICE_TYPES,
        "appointment_statuses": APPOINTMENT_STATUSES,
        "task_voucher": voucher,
        "task_voucher_status": vouchers.status_of(voucher) if voucher else None,
        "voucher_statuses": VOUCHER_STATUSES,
        "complaint_case": complaints.case_of_task(session=session, task_id=task.id),
        "case_statuses": CASE_STATUSES,
    }


# ---- appointments -------------------------------------------------------------------------


def _appointment_again(request, user, session, *, error, status, form, task_id):
    from web.routes.tasks import _task_page  # the task page is the tasks module's

    shown = {f"appt_{k}": form.get(k, "") for k in ("day", "slot", "service_type", "advisor_id", "note")}
    return _task_page(request, user, session, int(task_id), form=shown, error=error, status_code=status)


@router.post("/tasks/{task_id}/appointment")
@forms.form(_appointment_again, messages={"day": N_("give the day of the appointment")})
def task_appointment(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[AppointmentIn, Form()],
):
    appointments.book(
        session=session,
        task_id=task_id,
        day=body.day,
        slot=body.slot,
        service_type=body.service_type,
        advisor_id=body.advisor_id,
        note=body.note,
        actor_staff=user,
    )
    flash(request, "Appointment booked.")
    return see_other(f"/tasks/{task_id}#appointment")


@router.post("/tasks/{task_id}/appointment/cancel")
@forms.form(_appointment_again, messages={"reason": N_("say why the appointment is cancelled")})
def cancel_task_appointment(
    request: Request,
    task_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[AppointmentCancelIn, Form()],
):
    appointments.cancel(session=session, task_id=task_id, reason=body.reason, actor_staff=user)
    flash(request, "Appointment cancelled.")
    return see_other(f"/tasks/{task_id}#appointment")


@router.get("/appointments")
def appointments_page(request: Request, user: CurrentUser, session: SessionDep, day: str = ""):
    """The front desk's win-back appointments of a day (today by default)."""
    need(user, *_FRONT_DESK)
    try:
        shown = date.fromisoformat(day) if day else clock.today()
    except ValueError:
        shown = clock.today()
    rows = appointments.day_list(session=session, store_ids=store_ids(user), day=shown)
    return render(
        request,
        "cases/appointments.html",
        user=user,
        rows=rows,
        day=shown,
        prev_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
        **LABELS,
    )


# ---- complaint cases ----------------------------------------------------------------------


@router.get("/complaints")
def complaints_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    need(user, *_CASES)
    chosen = CaseStatus(status) if status in CASE_STATUSES else None
    rows = complaints.cases_page(session=session, store_ids=store_ids(user), status=chosen, page=page)
    return render(request, "cases/complaints.html", user=user, rows=rows, status=status, **LABELS)


def _case_page(request, user, session, case_id: int, error: str | None = None, form=None, status_code=200):
    case = complaints.get_case(session=session, case_id=case_id, viewer=user)
    staff = [s for s in accounts.list_staff(session=session, store_id=case.store_id) if s.active]
    return render(
        request,
        "cases/complaint.html",
        user=user,
        case=case,
        staff=staff,
        error=error,
        form=form or {},
        status_code=status_code,
        **LABELS,
    )


@router.get("/complaints/{case_id}")
def complaint_page(request: Request, case_id: int, user: CurrentUser, session: SessionDep):
    return _case_page(request, user, session, case_id)


def _case_again(request, user, session, *, error, status, form, case_id):
    shown = {"resolution": form.get("resolution", "")}
    return _case_page(request, user, session, int(case_id), error=error, form=shown, status_code=status)


@router.post("/complaints/{case_id}/owner")
@forms.form(_case_again, messages={"owner_id": N_("choose who handles the complaint")})
def complaint_owner(
    request: Request,
    case_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[CaseOwnerIn, Form()],
):
    complaints.assign_owner(session=session, case_id=case_id, owner_id=body.owner_id, actor_staff=user)
    flash(request, "Saved.")
    return see_other(f"/complaints/{case_id}")


@router.post("/complaints/{case_id}/resolve")
@forms.form(_case_again, messages={"resolution.missing": "write how the complaint was resolved"})
def complaint_resolve(
    request: Request,
    case_id: int,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[CaseResolveIn, Form()],
):
    complaints.resolve(session=session, case_id=case_id, resolution=body.resolution, actor_staff=user)
    flash(request, "The complaint is resolved; the re-call is in the advisor's call queue.")
    return see_other(f"/complaints/{case_id}")


# ---- vouchers at the service desk ---------------------------------------------------------


def _voucher_page(request, user, session, code: str, error: str | None = None, status_code: int = 200):
    need(user, *_DESK)
    found, state = None, None
    if code:
        try:
            found = vouchers.find(session=session, code=code, viewer=user)
            state = vouchers.status_of(found)
        except DomainError as exc:
            if error is None:
                error, status_code = exc.message, exc.status
    return render(
        request,
        "cases/vouchers.html",
        user=user,
        code=code,
        voucher=found,
        voucher_state=state,
        error=error,
        status_code=status_code,
        **LABELS,
    )


@router.get("/vouchers")
def vouchers_page(request: Request, user: CurrentUser, session: SessionDep, code: str = ""):
    """The service desk: look a voucher up by its code, redeem it with the repair order."""
    return _voucher_page(request, user, session, code.strip())


def _redeem_again(request, user, session, *, error, status, form):
    return _voucher_page(
        request, user, session, (form.get("code") or "").strip(), error=error, status_code=status
    )


@router.post("/vouchers/redeem")
@forms.form(
    _redeem_again,
    passthrough=(403,),
    messages={"ro_number": "give the repair order the voucher is redeemed with"},
)
def voucher_redeem(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[VoucherDeskIn, Form()],
):
    need(user, *_DESK)
    v = vouchers.redeem(session=session, code=body.code, ro_number=body.ro_number, actor_staff=user)
    flash(request, "Voucher redeemed.")
    return see_other(f"/vouchers?code={v.code}")
