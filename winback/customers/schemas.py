from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


class VisitIn(BaseModel):
    """A repair order pushed by the DMS."""

    vin: str = Field(..., min_length=1, max_length=17)
    ro_number: str = Field(..., min_length=1, max_length=40)
    visit_date: date
    category: str = Field(..., min_length=1, max_length=40)
    amount: Decimal = Decimal("0")
    mileage: int | None = None
    items: str | None = None


class ValueMappingIn(BaseModel):
    """A store's own words for one closed-list field: ``{"公车": "单位用车"}`` (word -> value)."""

    mapping: dict[str, str]
