"""Rectification plan (整改措施) and its measures."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum
from winback.surveys.models import ReasonArea


class PlanStatus(str, enum.Enum):
    draft = "draft"  # 草稿
    submitted = "submitted"  # 待审批
    approved = "approved"  # 已批准
    rejected = "rejected"  # 已驳回 (back to the drafter with the comment)


class MeasureStatus(str, enum.Enum):
    todo = "todo"  # 待办
    in_progress = "in_progress"  # 进行中
    done = "done"  # 已完成


class RectificationPlan(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("cycle_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.draft)
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The last decision (审批): who, when, and the comment. Every decision is also audited.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decision_comment: Mapped[str | None] = mapped_column(Text)

    measures: Mapped[list[Measure]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Measure.id", lazy="selectin"
    )
    decided_by = relationship("Staff", foreign_keys=[decided_by_id], lazy="joined")


class Measure(Base):
    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    area: Mapped[ReasonArea] = mapped_column(str_enum(ReasonArea))
    title: Mapped[str] = mapped_column(String(300))
    # The reason this measure addresses (the evaluation credits outcomes through it).
    reason_code_id: Mapped[int | None] = mapped_column(ForeignKey("reason_codes.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    due_date: Mapped[date | None] = mapped_column(Date)
    expected_effect: Mapped[str | None] = mapped_column(String(300))
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[MeasureStatus] = mapped_column(str_enum(MeasureStatus), default=MeasureStatus.todo)
    evidence: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    plan: Mapped[RectificationPlan] = relationship(back_populates="measures")
    owner = relationship("Staff", foreign_keys=[owner_id], lazy="joined")
    reason_code = relationship("ReasonCode", lazy="joined")
