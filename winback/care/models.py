"""Care items (one reminder-worthy date of one car), their touches, schedules and holdout."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, str_enum


class CareKind(str, enum.Enum):
    maintenance = "maintenance"  # 保养
    inspection = "inspection"  # 年检
    insurance = "insurance"  # 保险到期
    warranty_end = "warranty_end"  # 保修到期前最后一次保养
    follow_up_call = "follow_up_call"  # 维修后回访
    complaint_recall = "complaint_recall"  # 投诉解决后再回访


# Kinds that are a call by nature (no message sequence): one call task when the item is made.
CALL_KINDS = (CareKind.follow_up_call, CareKind.complaint_recall)


class CareStatus(str, enum.Enum):
    open = "open"  # due, reminders running
    fulfilled = "fulfilled"  # the visit (or call, or renewal) happened
    missed = "missed"  # care_missed_after_days past the due date without it


class TouchChannel(str, enum.Enum):
    message = "message"  # through the store's Apprise URL (SMS gateway, WeCom...)
    export = "export"  # a row of the bulk-SMS workbook
    call = "call"  # a call task in an advisor's queue


class TouchStatus(str, enum.Enum):
    pending = "pending"  # to send / to export / to call
    sent = "sent"  # delivered, exported or the call made
    failed = "failed"  # the channel refused it after the last retry
    cancelled = "cancelled"  # the item was fulfilled first


class CallOutcome(str, enum.Enum):
    appointment = "appointment"  # 已预约
    not_interested = "not_interested"  # 暂不需要
    serviced_elsewhere = "serviced_elsewhere"  # 已在别处保养
    unreachable = "unreachable"  # 未接通
    done = "done"  # 已回访 (follow-up call / complaint re-call made)


class CareItem(Base):
    """One due date of one car: created by the daily pass when it enters the look-ahead window.

    ``key`` makes the pass idempotent (``maintenance:15000``, ``inspection:2027-03-01``,
    ``follow_up_call:ro:123``): the same item is never made twice."""

    __tablename__ = "care_items"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "kind", "key"),
        Index("ix_care_items_store_status_due", "store_id", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[CareKind] = mapped_column(str_enum(CareKind))
    key: Mapped[str] = mapped_column(String(60))
    due_on: Mapped[date] = mapped_column(Date)
    # How the due date was found: time / mileage (maintenance), rule (inspection), date (imported).
    basis: Mapped[str] = mapped_column(String(20))
    # The forecast behind it: km per day, its source (own readings or segment median), target km.
    forecast: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The care holdout of the month the item was made in: it gets no touch.
    holdout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[CareStatus] = mapped_column(str_enum(CareStatus), default=CareStatus.open)
    created_on: Mapped[date] = mapped_column(Date)
    fulfilled_on: Mapped[date | None] = mapped_column(Date)
    fulfilled_visit_id: Mapped[int | None] = mapped_column(ForeignKey("service_visits.id"))
    # The last touch before the visit (which reminder brought the customer in).
    preceding_touch_id: Mapped[int | None] = mapped_column(Integer)
    # Repair order (follow-up) or survey task (complaint re-call) the item is about.
    source_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CareTouch(Base):
    """One reminder of an item: ``step`` days before the due date, by message, export or call."""

    __tablename__ = "care_touches"
    __table_args__ = (
        UniqueConstraint("item_id", "step"),
        Index("ix_care_touches_store_status", "store_id", "status", "channel"),
        Index("ix_care_touches_advisor_status", "advisor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("care_items.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # days before due (0 for a call kind)
    channel: Mapped[TouchChannel] = mapped_column(str_enum(TouchChannel))
    status: Mapped[TouchStatus] = mapped_column(str_enum(TouchStatus), default=TouchStatus.pending)
    planned_on: Mapped[date] = mapped_column(Date)
    # Why a call and not a message: high_value / drifting (P(alive) low) / call_kind.
    why: Mapped[str | None] = mapped_column(String(20))
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    phone: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[CallOutcome | None] = mapped_column(str_enum(CallOutcome))
    outcome_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def assignee_id(self) -> int | None:
        """The advisor whose queue holds the call (sees the customer's phone unmasked)."""
        return self.advisor_id


class CareSchedule(Base):
    """A store's maintenance schedule for one model or one grade (the defaults otherwise)."""

    __tablename__ = "care_schedules"
    __table_args__ = (UniqueConstraint("store_id", "model", "grade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    model: Mapped[str | None] = mapped_column(String(80))
    grade: Mapped[str | None] = mapped_column(String(20))
    first_km: Mapped[int] = mapped_column(Integer)
    first_months: Mapped[int] = mapped_column(Integer)
    interval_km: Mapped[int] = mapped_column(Integer)
    interval_months: Mapped[int] = mapped_column(Integer)


class CareHoldout(Base):
    """The cars drawn into a month's care holdout (reproducible: seeded by store and month)."""

    __tablename__ = "care_holdouts"
    __table_args__ = (UniqueConstraint("store_id", "month", "vehicle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    month: Mapped[str] = mapped_column(String(7))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
