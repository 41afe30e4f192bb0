"""Rectification plan (整改措施) and its measures."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, str_enum
from winback.surveys.models import ReasonArea


class PlanStatus(str, enum.Enum):
    draft = "draft"  # 草稿
    submitted = "submitted"  # 待审批
    approved = "approved"  # 已批准
    rejected = "rejected"  # 已驳回 (back to the drafter with the comment)
    superseded = "superseded"  # 已被修订: an approved version replaced by an approved amendment


class MeasureStatus(str, enum.Enum):
    todo = "todo"  # 待办
    in_progress = "in_progress"  # 进行中
    done = "done"  # 已完成
    # "overdue" (已逾期) is not stored: a measure not done after its due date is overdue.


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
    # Version n+1 of an approved plan amends it (修订); the approved version stays as it was.
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))

    measures: Mapped[list[Measure]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="[Measure.position, Measure.id]",
        lazy="selectin",
    )
    decided_by = relationship("Staff", foreign_keys=[decided_by_id], lazy="joined")


class Measure(Base):
    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    area: Mapped[ReasonArea] = mapped_column(str_enum(ReasonArea))
    title: Mapped[str] = mapped_column(String(300))
    # Its place in the plan, as the manager orders it (ties: by id, the order drafted).
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The reason this measure addresses (the evaluation credits outcomes through it).
    reason_code_id: Mapped[int | None] = mapped_column(ForeignKey("reason_codes.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    due_date: Mapped[date | None] = mapped_column(Date)
    expected_effect: Mapped[str | None] = mapped_column(String(300))
    # The expected effect as a number and its unit ("30" "vehicles back", "5" "points FTFR").
    expected_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    expected_unit: Mapped[str | None] = mapped_column(String(60))
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # The same measure across plan versions (the first version's measure id), for comparison.
    lineage_id: Mapped[int | None] = mapped_column(Integer)
    # Reminder state (the watcher reminds owners daily and escalates overdue measures once).
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[MeasureStatus] = mapped_column(str_enum(MeasureStatus), default=MeasureStatus.todo)
    evidence: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    plan: Mapped[RectificationPlan] = relationship(back_populates="measures")
    owner = relationship("Staff", foreign_keys=[owner_id], lazy="joined")
    reason_code = relationship("ReasonCode", lazy="joined")
    # Every reason the measure addresses (the evaluation credits returned customers through them).
    reasons = relationship(
        "ReasonCode", secondary="measure_reasons", lazy="selectin", order_by="ReasonCode.sort_order"
    )

    @property
    def reason_ids(self) -> set[int]:
        ids = {r.id for r in self.reasons}
        if self.reason_code_id:
            ids.add(self.reason_code_id)
        return ids

    def is_overdue(self, today: date) -> bool:
        return self.status != MeasureStatus.done and self.due_date is not None and self.due_date < today

    def display_status(self, today: date) -> str:
        return "overdue" if self.is_overdue(today) else self.status.value


measure_reasons = Table(
    "measure_reasons",
    Base.metadata,
    Column("measure_id", ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True),
    Column("reason_code_id", ForeignKey("reason_codes.id"), primary_key=True),
)


class MeasureTemplate(Base):
    """The store's library of typical measures (PROCESS.md §6), by the reason they answer.

    Seeded from ``winback.plans.library``; each store edits its own (title, expected effect,
    cost, active). Drafting a plan suggests every active template of every reason heard.
    """

    __tablename__ = "measure_templates"
    __table_args__ = (UniqueConstraint("store_id", "reason_code", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    reason_code: Mapped[str] = mapped_column(String(40))
    area: Mapped[ReasonArea] = mapped_column(str_enum(ReasonArea))
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    expected_effect: Mapped[str | None] = mapped_column(String(300))
    expected_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    expected_unit: Mapped[str | None] = mapped_column(String(60))
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MeasureAttachment(Base):
    """Evidence file of a measure (photo of the training, sign-in sheet...), kept in the database."""

    __tablename__ = "measure_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Voucher(Base):
    """A win-back incentive (回厂优惠券), e.g. 500 yuan of labour, offered to a target's customer.

    Redeemed by the first repair order of the vehicle after the offer (matched by the
    evaluation, or recorded by hand with the repair order); the redeemed value is a cost of
    the campaign.
    """

    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id"))
    kind: Mapped[str] = mapped_column(String(60))  # e.g. 工时券 labour voucher
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    offered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    expires_on: Mapped[date | None] = mapped_column(Date)
    redeemed_visit_id: Mapped[int | None] = mapped_column(ForeignKey("service_visits.id"))
    redeemed_on: Mapped[date | None] = mapped_column(Date)
    # Issued from a survey that offered one (``voucher_offered``): its task and the code the
    # customer shows at the service desk, where it is redeemed by hand with the repair order.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("survey_tasks.id"), unique=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True)
    redeemed_ro: Mapped[str | None] = mapped_column(String(40))
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ReturnCallback(Base):
    """The follow-up call after a returned customer's visit: thank, check satisfaction (1-5)."""

    __tablename__ = "return_callbacks"
    __table_args__ = (UniqueConstraint("target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    satisfaction: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
