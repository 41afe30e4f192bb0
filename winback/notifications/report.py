"""The admin's view of delivery: per channel kind how many messages were delivered, failed for
good or are being retried, the last failure (in words, with its detail), and who has no external
channel (their messages reach the inbox only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from winback.accounts.models import Staff
from winback.notifications.models import Notification, NotificationStatus


@dataclass
class ChannelFigures:
    channel: str  # mailto, json, wecombot, ... or "inbox"
    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    inbox_only: int = 0
    last_error: Notification | None = None  # the latest message whose attempt failed


def channel_figures(*, session: Session, store_ids: list[int]) -> list[ChannelFigures]:
    """One row per channel kind a message was tried on in these stores, the busiest first.
    Messages not yet tried (no channel yet) are not counted."""
    n = Notification
    status = n.status
    stmt = (
        select(
            n.channel,
            func.sum(case((status == NotificationStatus.sent, 1), else_=0)),
            func.sum(case((status == NotificationStatus.failed, 1), else_=0)),
            func.sum(case(((status == NotificationStatus.pending) & (n.attempts > 0), 1), else_=0)),
            func.sum(
                case((status.in_([NotificationStatus.inbox_only, NotificationStatus.skipped]), 1), else_=0)
            ),
            func.max(case((n.error_reason.is_not(None), n.id))),
        )
        .where(n.store_id.in_(store_ids), n.channel.is_not(None))
        .group_by(n.channel)
    )
    rows = session.execute(stmt).all()
    last = {
        note.id: note for note in session.scalars(select(n).where(n.id.in_([r[5] for r in rows if r[5]])))
    }
    figures = [
        ChannelFigures(
            channel=channel,
            delivered=int(sent or 0),
            failed=int(failed or 0),
            retrying=int(retrying or 0),
            inbox_only=int(inbox or 0),
            last_error=last.get(last_id),
        )
        for channel, sent, failed, retrying, inbox, last_id in rows
    ]
    return sorted(figures, key=lambda f: (-(f.delivered + f.failed + f.retrying + f.inbox_only), f.channel))


def without_channel(*, session: Session, store_ids: list[int]) -> list[Staff]:
    """Active people of these stores with no external channel: the inbox is all they get."""
    stmt = (
        select(Staff)
        .where(
            Staff.store_id.in_(store_ids),
            Staff.active.is_(True),
            (Staff.apprise_url.is_(None)) | (func.trim(Staff.apprise_url) == ""),
        )
        .order_by(Staff.store_id, Staff.display_name, Staff.id)
    )
    return list(session.scalars(stmt))
