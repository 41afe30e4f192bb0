"""Input of the appointment, complaint case and voucher actions (the JSON API and the forms)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from winback.cases.models import ServiceType


class AppointmentIn(BaseModel):
    day: date
    slot: str = Field(..., min_length=1, max_length=20, description="one of the store's slots, 09:00-10:30")
    service_type: ServiceType = ServiceType.maintenance
    advisor_id: int | None = Field(
        None, description="the advisor who receives the car; the task's by default"
    )
    note: str | None = Field(None, max_length=300)


class AppointmentCancelIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=300, description="why the customer called it off")


class CaseOwnerIn(BaseModel):
    owner_id: int


class CaseResolveIn(BaseModel):
    resolution: str = Field(..., min_length=1, max_length=4000)


class VoucherRedeemIn(BaseModel):
    ro_number: str = Field(..., min_length=1, max_length=40, description="the repair order number")


class VoucherDeskIn(VoucherRedeemIn):
    """The desk's form: the code typed or scanned, and the repair order."""

    code: str = Field(..., min_length=1, max_length=20)
