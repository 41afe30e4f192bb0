"""Input of the survey actions, shared by the JSON API and the web forms."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator

from winback import clock
from winback.surveys.models import ContactMethod, Disposition, ShopKind


class SurveyResultIn(BaseModel):
    """A survey's answers. Nothing is assumed: a question left out stays unanswered (None)."""

    method: ContactMethod | None = Field(
        None, description="phone, store_event, home_visit; left out: the reaching attempt's"
    )
    reasons: list[str] = Field(default_factory=list, description="reason codes, e.g. high_price")
    serviced_elsewhere: bool | None = None
    elsewhere_what: str | None = Field(None, max_length=300)
    elsewhere_where: str | None = Field(None, max_length=300)
    elsewhere_why: str | None = Field(None, max_length=500)
    elsewhere_kind: ShopKind | None = Field(
        None, description="independent, other_4s, chain, insurance, other"
    )
    reason_other: str | None = Field(None, max_length=300, description="the 'other' reason in words")
    would_return: bool | None = None
    appointment_on: date | None = None
    voucher_offered: bool | None = None
    complaint: str | None = Field(
        None, max_length=4000, description="once saved it cannot be changed, only answered"
    )
    notes: str | None = Field(None, max_length=4000)
    unreachable: bool = False
    # The call the survey was taken on, when no attempt that reached the customer is recorded
    # yet: recorded as that attempt with the close (reached, appointment_booked, ...).
    contact_outcome: Disposition | None = None
    # The task's version when the form was loaded: a save over someone else's change is refused.
    expected_version: int | None = None

    @field_validator(
        "elsewhere_what", "elsewhere_where", "elsewhere_why", "complaint", "notes", "reason_other"
    )
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if isinstance(v, str) else v


class ContactAttemptIn(BaseModel):
    method: ContactMethod = ContactMethod.phone
    outcome: Disposition
    note: str | None = Field(None, max_length=500)
    # Required with outcome call_back; naive times are business local time.
    call_back_at: datetime | None = None
    expected_version: int | None = None

    @field_validator("call_back_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        return clock.parse_instant(v.isoformat()) if isinstance(v, datetime) else v


class ReassignIn(BaseModel):
    assignee_id: int
    expected_version: int | None = None


class ReassignManyIn(BaseModel):
    task_ids: list[int] = Field(..., min_length=1)
    assignee_id: int


class ExcludeIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=300)


class ComplaintAnswerIn(BaseModel):
    answer: str = Field(..., min_length=1, max_length=4000)


class HandOverIn(BaseModel):
    to_staff_id: int | None = None


class PhoneCorrectionIn(BaseModel):
    """The customer's right number (after 号码错误); the old one is kept in the history."""

    phone: str = Field(min_length=1, max_length=40)
    note: str | None = Field(None, max_length=500)


class SecondContactIn(BaseModel):
    """A second person to call; both empty removes it."""

    name: str | None = Field(None, max_length=120)
    phone: str | None = Field(None, max_length=40)


class DoNotContactIn(BaseModel):
    note: str | None = Field(None, max_length=500)


class CallScriptIn(BaseModel):
    """A band's call script: the opening, and the questions one a line (both empty: the default)."""

    opening: str = Field("", max_length=4000)
    questions: str = Field("", max_length=4000)
