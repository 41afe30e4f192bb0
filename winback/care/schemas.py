"""What the care API answers (GET /api/care)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from winback.care.models import CareKind, CareStatus


class CareTouchOut(BaseModel):
    id: int
    step: int
    channel: str
    status: str
    planned_on: date
    why: str | None
    advisor_id: int | None
    outcome: str | None


class CareItemOut(BaseModel):
    id: int
    kind: CareKind
    due_on: date
    vehicle_id: int
    customer_id: int
    status: CareStatus
    basis: str
    forecast: dict[str, Any]
    holdout: bool
    created_on: date
    fulfilled_on: date | None
    preceding_touch_id: int | None
    last_touch: CareTouchOut | None


class CarePage(BaseModel):
    items: list[CareItemOut]
    total: int
