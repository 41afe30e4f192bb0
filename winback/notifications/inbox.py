"""The in-app inbox: every message queued for a person, whatever its external channel did.

The inbox is the notifications table read by recipient: a message is there from the moment it
is queued, so nobody depends on an e-mail or a chat bot to learn of a task. A person sees only
their own messages; reading one marks it read.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from winback import clock
from winback.errors import NotFound
from winback.notifications.models import Notification
from winback.paging import PAGE_SIZE, Page, paginate


def _mine(staff_id: int):
    return Notification.recipient_id == staff_id


def unread_count(*, session: Session, staff_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Notification).where(_mine(staff_id), Notification.read_at.is_(None))
    )


def inbox_page(
    *,
    session: Session,
    staff_id: int,
    unread_only: bool = False,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[Notification]:
    """The person's messages, newest first."""
    stmt = select(Notification).where(_mine(staff_id))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    return paginate(session, stmt, page=page, page_size=page_size, filtered=unread_only)


def mark_read(*, session: Session, notification_id: int, staff_id: int) -> Notification:
    """Mark one of the person's own messages read (another's is not found: it is not theirs)."""
    note = session.get(Notification, notification_id)
    if note is None or note.recipient_id != staff_id:
        raise NotFound("no message {id} in your inbox", id=notification_id)
    if note.read_at is None:
        note.read_at = clock.now()
        session.flush()
    return note


def mark_all_read(*, session: Session, staff_id: int) -> int:
    """Mark every unread message of the person read; how many were."""
    result = session.execute(
        update(Notification)
        .where(_mine(staff_id), Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
