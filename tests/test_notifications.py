"""The notification outbox, delivered through Apprise to a real HTTP receiver."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from winback import clock
from winback.notifications import service as notifications
from winback.notifications.models import Notification, NotificationStatus


def _queue_overdue(session, recipient, count: int = 3, key: str = "tasks_overdue:test") -> bool:
    return notifications.enqueue(
        session=session,
        recipient=recipient,
        kind="tasks_overdue",
        dedupe_key=key,
        count=count,
    )


def test_delivered_to_the_webhook(session, demo_store, staff, webhook):
    advisor = staff("advisor1")
    advisor.apprise_url = webhook.url
    _queue_overdue(session, advisor, count=3)
    # The same event twice is one message.
    _queue_overdue(session, advisor, count=3)
    # Someone without an address: in their inbox only, and the record says so (not skipped).
    _queue_overdue(session, staff("advisor2"), count=1, key="tasks_overdue:other")
    session.commit()
    assert session.scalar(select(func.count()).select_from(Notification)) == 2

    counts = notifications.deliver_pending(session=session)
    session.commit()
    assert counts == {"sent": 1, "retry": 0, "failed": 0, "inbox_only": 1}
    assert len(webhook.messages) == 1
    message = webhook.messages[0]
    assert message["title"] == "回访任务已逾期"
    assert message["message"] == "您有 3 个回访任务已逾期，请尽快完成。"

    sent = session.scalars(select(Notification).where(Notification.recipient_id == advisor.id)).one()
    assert sent.status == NotificationStatus.sent
    assert sent.attempts == 1 and sent.last_error is None
    assert sent.sent_at == clock.now()
    skipped = session.scalars(
        select(Notification).where(Notification.recipient_id == staff("advisor2").id)
    ).one()
    assert skipped.status == NotificationStatus.inbox_only and skipped.channel == "inbox"

    # Nothing is sent twice.
    assert notifications.deliver_pending(session=session) == {
        "sent": 0,
        "retry": 0,
        "failed": 0,
        "inbox_only": 0,
    }
    assert len(webhook.messages) == 1


def test_enqueue_says_whether_it_queued(session, demo_store, staff):
    """True when a message was queued, False for a repeat (on PostgreSQL too)."""
    advisor = staff("advisor1")
    assert _queue_overdue(session, advisor) is True
    assert _queue_overdue(session, advisor) is False
    assert _queue_overdue(session, advisor, key="tasks_overdue:other") is True
    assert session.scalar(select(func.count()).select_from(Notification)) == 2


def test_english_locale_gets_english_text(session, demo_store, staff, webhook):
    advisor = staff("advisor3")
    advisor.apprise_url = webhook.url
    advisor.locale = "en"
    _queue_overdue(session, advisor, count=2)
    session.commit()
    assert notifications.deliver_pending(session=session)["sent"] == 1
    assert webhook.messages == [
        {
            **webhook.messages[0],
            "title": "Callback tasks overdue",
            "message": "2 of your callback tasks are overdue.",
        }
    ]


def test_failed_delivery_is_retried_after_back_off(session, demo_store, staff, webhook):
    advisor = staff("advisor1")
    advisor.apprise_url = webhook.url
    _queue_overdue(session, advisor, count=5)
    session.commit()

    webhook.down()  # answers 500
    counts = notifications.deliver_pending(session=session)  # must not raise
    session.commit()
    assert counts == {"sent": 0, "retry": 1, "failed": 0, "inbox_only": 0}
    assert [status for status, _ in webhook.requests] == [500]
    note = session.scalars(select(Notification)).one()
    assert note.status == NotificationStatus.pending
    assert note.attempts == 1
    assert note.last_error
    assert note.sent_at is None
    assert note.next_attempt_at == clock.now() + notifications.BACKOFF[0]

    # Before the back-off has passed nothing is tried, even with the receiver back.
    webhook.up()
    clock.set_now(clock.now() + notifications.BACKOFF[0] - timedelta(seconds=1))
    assert notifications.deliver_pending(session=session)["sent"] == 0
    assert len(webhook.requests) == 1

    clock.set_now(clock.now() + timedelta(seconds=2))
    assert notifications.deliver_pending(session=session) == {
        "sent": 1,
        "retry": 0,
        "failed": 0,
        "inbox_only": 0,
    }
    session.commit()
    session.expire_all()
    note = session.scalars(select(Notification)).one()
    assert note.status == NotificationStatus.sent
    assert note.attempts == 2 and note.last_error is None
    assert [status for status, _ in webhook.requests] == [500, 200]
    assert webhook.delivered[0]["message"] == "您有 5 个回访任务已逾期，请尽快完成。"


def test_gives_up_after_the_last_attempt(session, demo_store, staff, webhook):
    advisor = staff("advisor2")
    advisor.apprise_url = webhook.url
    _queue_overdue(session, advisor)
    session.commit()
    webhook.down()
    for attempt in range(1, notifications.MAX_ATTEMPTS + 1):
        counts = notifications.deliver_pending(session=session)
        session.commit()
        expected = "failed" if attempt == notifications.MAX_ATTEMPTS else "retry"
        assert counts[expected] == 1, (attempt, counts)
        clock.set_now(clock.now() + timedelta(hours=7))  # past the longest back-off
    note = session.scalars(select(Notification)).one()
    assert note.status == NotificationStatus.failed
    assert note.attempts == notifications.MAX_ATTEMPTS
    assert len(webhook.requests) == notifications.MAX_ATTEMPTS
    webhook.up()
    assert notifications.deliver_pending(session=session)["sent"] == 0
    assert len(webhook.requests) == notifications.MAX_ATTEMPTS


def test_unreachable_receiver_does_not_raise(session, demo_store, staff):
    advisor = staff("advisor1")
    advisor.apprise_url = "json://127.0.0.1:9/"  # discard port: connection refused
    _queue_overdue(session, advisor)
    session.commit()
    assert notifications.deliver_pending(session=session)["retry"] == 1
    note = session.scalars(select(Notification)).one()
    assert note.attempts == 1 and note.last_error and note.status == NotificationStatus.pending
