from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from winback.surveys.models import ReasonArea


class MeasureUpdate(BaseModel):
    title: str | None = Field(None, max_length=300)
    owner_id: int | None = None
    due_date: date | None = None
    expected_effect: str | None = Field(None, max_length=300)
    estimated_cost: Decimal | None = None
    expected_value: Decimal | None = None
    expected_unit: str | None = Field(None, max_length=60)
    # Reason codes the measure addresses (replaces the list when given).
    reasons: list[str] | None = None


class MeasureNew(BaseModel):
    """A measure the manager adds to a plan still editable (a recall campaign, say)."""

    title: str = Field(..., min_length=1, max_length=300)
    area: ReasonArea
    owner_id: int
    due_date: date
    expected_effect: str | None = Field(None, max_length=300)
    # The reason it answers (a code of the store's reasons), if any.
    reason_code: str | None = Field(None, max_length=40)
    estimated_cost: Decimal | None = Field(None, ge=0)


class MeasureOrder(BaseModel):
    """Every measure of the plan, once each, in the new order."""

    measure_ids: list[int] = Field(..., min_length=1)


class PlanDecision(BaseModel):
    comment: str | None = Field(None, max_length=4000)


class PlanAmend(BaseModel):
    reason: str | None = Field(None, max_length=4000)


class MeasureReport(BaseModel):
    status: Literal["todo", "in_progress", "done"]
    evidence: str | None = Field(None, max_length=4000)


class VoucherOffer(BaseModel):
    amount: Decimal | None = Field(None, gt=0)
    kind: str = Field("工时券", max_length=60)
    measure_id: int | None = None
    expires_on: date | None = None


class CallbackIn(BaseModel):
    satisfaction: int = Field(ge=1, le=5)
    note: str | None = Field(None, max_length=4000)


class MeasureTemplateIn(BaseModel):
    """A typical measure of the store's library, suggested when a plan is drafted."""

    reason_code: str = Field(..., min_length=1, max_length=40)
    title: str = Field(..., min_length=1, max_length=300)
    # The title shown to English readers (the plan page, the library); None: the title.
    title_en: str | None = Field(None, max_length=300)
    area: ReasonArea | None = None
    expected_effect: str | None = Field(None, max_length=300)
    expected_value: Decimal | None = None
    expected_unit: str | None = Field(None, max_length=60)
    estimated_cost: Decimal | None = Field(None, ge=0)
    active: bool = True
