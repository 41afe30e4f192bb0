"""The notification outbox: every message is recorded, retried and never fails the process."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, str_enum


class NotificationStatus(str, enum.Enum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the last retry; kept for the record
    skipped = "skipped"  # the person has no notification address


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    # task_assigned, task_due_soon, task_overdue, plan_submitted, measure_assigned, ...
    kind: Mapped[str] = mapped_column(String(40))
    # One message per event: e.g. "task_due_soon:123". Makes the watcher idempotent.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus), default=NotificationStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
