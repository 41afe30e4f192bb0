from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


class MeasureUpdate(BaseModel):
    title: str | None = Field(None, max_length=300)
    owner_id: int | None = None
    due_date: date | None = None
    expected_effect: str | None = Field(None, max_length=300)
    estimated_cost: Decimal | None = None


class PlanDecision(BaseModel):
    comment: str | None = Field(None, max_length=4000)
