"""JSON API: appointments booked on survey calls, complaint cases, vouchers at the desk."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from api import serializers as out
from api.deps import CurrentUser, Reader, SessionDep, store_ids
from api.schemas import AppointmentOut, CodedVoucherOut, ComplaintCaseOut
from winback import clock
from winback.cases import appointments, complaints, vouchers
from winback.cases.models import CaseStatus
from winback.cases.schemas import (
    AppointmentCancelIn,
    AppointmentIn,
    CaseOwnerIn,
    CaseResolveIn,
    VoucherRedeemIn,
)
from winback.errors import NotFound
from winback.surveys import service as surveys

router = APIRouter()


# ---- appointments -------------------------------------------------------------------------


@router.post(
    "/tasks/{task_id}/appointment", response_model=AppointmentOut, status_code=201, tags=["appointments"]
)
def book_appointment(
    task_id: int, body: AppointmentIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Book (or move) the visit the customer agreed on the survey call; never in the past."""
    appt = appointments.book(
        session=session,
        task_id=task_id,
        day=body.day,
        slot=body.slot,
        service_type=body.service_type,
        advisor_id=body.advisor_id,
        note=body.note,
        actor_staff=user,
    )
    return out.appointment(appt)


@router.post("/tasks/{task_id}/appointment/cancel", response_model=AppointmentOut, tags=["appointments"])
def cancel_appointment(
    task_id: int, body: AppointmentCancelIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """The customer called the visit off: 已取消, with the reason; booking again reopens it."""
    return out.appointment(
        appointments.cancel(session=session, task_id=task_id, reason=body.reason, actor_staff=user)
    )


@router.get("/tasks/{task_id}/appointment", response_model=AppointmentOut, tags=["appointments"])
def task_appointment(task_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    surveys.get_task(session=session, task_id=task_id, viewer=user)
    appt = appointments.appointment_of(session=session, task_id=task_id)
    if appt is None:
        raise NotFound("task {task_id} has no appointment", task_id=task_id)
    return out.appointment(appt)


@router.get("/appointments", response_model=list[AppointmentOut], tags=["appointments"])
def day_appointments(user: CurrentUser, session: SessionDep, day: date | None = None) -> list[dict[str, Any]]:
    """The front desk's win-back appointments of a day (today by default), by time slot."""
    rows = appointments.day_list(session=session, store_ids=store_ids(user), day=day or clock.today())
    return [out.appointment(a) for a in rows]


# ---- complaint cases ----------------------------------------------------------------------


@router.get("/complaints", response_model=list[ComplaintCaseOut], tags=["complaints"])
def complaint_cases(
    user: Reader, session: SessionDep, status: CaseStatus | None = None, page: int = 1
) -> list[dict[str, Any]]:
    rows = complaints.cases_page(session=session, store_ids=store_ids(user), status=status, page=page)
    return [out.complaint_case(c) for c in rows.items]


@router.get("/complaints/{case_id}", response_model=ComplaintCaseOut, tags=["complaints"])
def complaint_case(case_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return out.complaint_case(complaints.get_case(session=session, case_id=case_id, viewer=user))


@router.post("/complaints/{case_id}/owner", response_model=ComplaintCaseOut, tags=["complaints"])
def complaint_owner(
    case_id: int, body: CaseOwnerIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    case = complaints.assign_owner(session=session, case_id=case_id, owner_id=body.owner_id, actor_staff=user)
    return out.complaint_case(case)


@router.post("/complaints/{case_id}/resolve", response_model=ComplaintCaseOut, tags=["complaints"])
def complaint_resolve(
    case_id: int, body: CaseResolveIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Resolve the case; the re-call within a week goes into the advisor's call queue."""
    case = complaints.resolve(session=session, case_id=case_id, resolution=body.resolution, actor_staff=user)
    return out.complaint_case(case)


# ---- vouchers at the service desk ---------------------------------------------------------


@router.get("/vouchers/{code}", response_model=CodedVoucherOut, tags=["vouchers"])
def voucher_by_code(code: str, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    v = vouchers.find(session=session, code=code, viewer=user)
    return out.coded_voucher(v, vouchers.status_of(v))


@router.post("/vouchers/{code}/redeem", response_model=CodedVoucherOut, tags=["vouchers"])
def voucher_redeem(
    code: str, body: VoucherRedeemIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Redeem at the service desk with the repair order; expired or redeemed: refused (409)."""
    v = vouchers.redeem(session=session, code=code, ro_number=body.ro_number, actor_staff=user)
    return out.coded_voucher(v, vouchers.status_of(v))
