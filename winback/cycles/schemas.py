from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from winback.errors import InvalidInput
from winback.months import parse_month


class CycleStartIn(BaseModel):
    month: str = Field(..., pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])
    store_code: str | None = None

    @field_validator("month")
    @classmethod
    def _real_month(cls, value: str) -> str:
        try:
            return parse_month(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


class CycleCancelIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=300, description="why the cycle is cancelled")


class NoActionIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=500, description="why no rectification is needed")
