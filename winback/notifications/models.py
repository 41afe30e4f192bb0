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
    # The person has no external channel: the message is in their in-app inbox only.
    inbox_only = "inbox_only"
    skipped = "skipped"  # before the inbox (kept for old rows): no address, nowhere delivered


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status", "status", "next_attempt_at"),
        # The inbox: a person's messages, the unread ones first asked for (the bell's count).
        Index("ix_notifications_inbox", "recipient_id", "read_at"),
    )

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
    # The in-app inbox: every message is there whatever the external channel does.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the message is about, for the inbox's link: ("task", 12), ("plan", 3), ("measure", 7),
    # ("cycle", 2); a type without an id is a list ("tasks", "measures", "analytics").
    subject_type: Mapped[str | None] = mapped_column(String(20))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    # The external channel tried: the Apprise URL's kind ("mailto", "json", "wecombot", ...);
    # "inbox" when the person has none. Set at the first delivery attempt.
    channel: Mapped[str | None] = mapped_column(String(20))
    # Why the last attempt failed, as a key worded by winback.notifications.channels
    # (invalid_url, unreachable, refused, plugin_error); last_error keeps the technical detail.
    error_reason: Mapped[str | None] = mapped_column(String(40))
