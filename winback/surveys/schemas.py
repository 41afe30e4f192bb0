"""Input of the survey actions, shared by the JSON API and the web forms."""
from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from winback.surveys.models import ContactMethod


class SurveyResultIn(BaseModel):
    method: ContactMethod = ContactMethod.phone
    reasons: list[str] = Field(default_factory=list, description="reason codes, e.g. high_price")
    serviced_elsewhere: bool = False
    elsewhere_what: str | None = Field(None, max_length=300)
    elsewhere_where: str | None = Field(None, max_length=300)
    elsewhere_why: str | None = Field(None, max_length=500)
    complaint: str | None = Field(None, max_length=4000)
    notes: str | None = Field(None, max_length=4000)
    unreachable: bool = False

    @field_validator("elsewhere_what", "elsewhere_where", "elsewhere_why", "complaint", "notes")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if isinstance(v, str) else v


class ContactAttemptIn(BaseModel):
    method: ContactMethod = ContactMethod.phone
    outcome: str = Field(..., min_length=1, max_length=30)
    note: str | None = Field(None, max_length=500)


class ReassignIn(BaseModel):
    assignee_id: int
