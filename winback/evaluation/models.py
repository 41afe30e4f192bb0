"""The three-month evaluation (总结及效果评估) of a cycle."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), unique=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    targets: Mapped[int] = mapped_column(Integer)
    contacted: Mapped[int] = mapped_column(Integer)
    # 回厂车辆数: vehicles with a repair order after the survey contact.
    vehicles_back: Mapped[int] = mapped_column(Integer)
    # 进厂台次: their workshop entries since.
    workshop_entries: Mapped[int] = mapped_column(Integer)
    # 产值: the output value of those entries.
    output_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    measure_cost: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Redeemed win-back vouchers (their value is a cost of the campaign).
    voucher_cost: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), server_default="0")
    # Follow-up callback of returned customers: mean satisfaction 1-5 and how many answered.
    satisfaction_avg: Mapped[float | None] = mapped_column(Float)
    satisfaction_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Randomized holdout vs contacted (intention to treat): counts, rates, lift and its 95% CI.
    holdout: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Store churn rate (lost vehicles / active vehicles) on the evaluation day, percent.
    churn_rate_pct: Mapped[float | None] = mapped_column(Float)
    # Retention KPIs dealers lack: first/second maintenance return rates, churn by segment.
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    winback_rate_pct: Mapped[float] = mapped_column(Float)
    target_pct: Mapped[float] = mapped_column(Float)
    # Per advisor: contacted, came back, rate, shortfall customers and yuan.
    per_advisor: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Per measure: the returned customers whose reasons it addressed.
    per_measure: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
