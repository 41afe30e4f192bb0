from __future__ import annotations

from pydantic import BaseModel, Field


class CycleStartIn(BaseModel):
    month: str = Field(..., pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])
    store_code: str | None = None
