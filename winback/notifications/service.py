"""Notifications: queued in the database with the change that causes them, delivered later.

Queuing in the same transaction means a message is never lost and never sent for a change
that rolled back. Delivery (``deliver_pending``) is a separate step that tasks/flows run;
a failed delivery is retried with back-off and recorded, and never raises.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.config import get_settings
from winback.notifications.channels import INBOX, channel_kind, send
from winback.notifications.messages import render
from winback.notifications.models import Notification, NotificationStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Back-off between attempts: 1 min, 5 min, 30 min, 2 h, 6 h.
BACKOFF = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]


def enqueue(
    *,
    session: Session,
    recipient: Staff,
    kind: str,
    dedupe_key: str,
    about: tuple[str, int | None] | None = None,
    **params,
) -> bool:
    """Queue one message for ``recipient``; a second call with the same key does nothing.
    It is in the person's inbox at once; ``about`` (("task", 12), ("tasks", None), ...) is what
    the inbox links it to.

    Returns True when a new message was queued.
    """
    title, body = render(kind, recipient.locale or get_settings().default_locale, **params)
    now = clock.now()
    values = dict(
        store_id=recipient.store_id,
        recipient_id=recipient.id,
        kind=kind,
        dedupe_key=dedupe_key,
        title=title,
        body=body,
        status=NotificationStatus.pending.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        subject_type=about[0] if about else None,
        subject_id=about[1] if about else None,
    )
    return session.execute(_queue_one(session.get_bind().dialect.name), values).scalar() is not None


@cache
def _queue_one(dialect: str):
    """``enqueue``'s statement, built once per database kind (its values bound when it runs)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(Notification).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Notification.id)
    )


def deliver_pending(*, session: Session, limit: int = 500) -> dict[str, int]:
    """Try every due message once. Returns counts by outcome; never raises for a bad receiver."""
    now = clock.now()
    fallback = get_settings().fallback_notify_url
    stmt = (
        select(Notification, Staff)
        .join(Staff, Staff.id == Notification.recipient_id)
        .where(Notification.status == NotificationStatus.pending, Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(limit)
    )
    counts = {"sent": 0, "retry": 0, "failed": 0, "inbox_only": 0}
    for note, staff in session.execute(stmt).all():
        url = (staff.apprise_url or "").strip() or fallback
        if not url:
            # Nobody is left out: the message is in the person's inbox, and the record says so.
            note.status = NotificationStatus.inbox_only
            note.channel = INBOX
            counts["inbox_only"] += 1
            continue
        note.channel = channel_kind(url)
        result = send(url, note.title, note.body)
        note.attempts += 1
        note.error_reason, note.last_error = result.reason, result.detail
        if result.ok:
            note.status = NotificationStatus.sent
            note.sent_at = clock.now()
            counts["sent"] += 1
        elif note.attempts >= MAX_ATTEMPTS:
            note.status = NotificationStatus.failed
            counts["failed"] += 1
            log.warning("notification %s to %s failed for good: %s", note.id, staff.username, result.detail)
        else:
            note.next_attempt_at = now + BACKOFF[min(note.attempts - 1, len(BACKOFF) - 1)]
            counts["retry"] += 1
    session.flush()
    return counts


def list_for(*, session: Session, store_ids: list[int], limit: int = 200) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.store_id.in_(store_ids))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
