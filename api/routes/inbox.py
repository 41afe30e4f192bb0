"""JSON API: one's inbox, one's (or, as an admin, anyone's) notification channel and its test
message, and the admin's delivery figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import Admin, CurrentUser, SessionDep, store_ids
from api.schemas import ChannelOut, DeliveryOut, InboxOut, MarkedReadOut, NotificationReportOut
from edge.inbox import link_for
from edge.locale import api_locale
from winback.i18n import translate
from winback.notifications import channels, inbox, report
from winback.notifications.models import Notification

router = APIRouter()


def delivery(note: Notification, locale: str) -> dict[str, Any]:
    reason = channels.reason_text(note)
    return {
        "id": note.id,
        "status": note.status.value,
        "channel": note.channel,
        "attempts": note.attempts,
        "reason": note.error_reason or (note.status.value if reason else None),
        "reason_text": translate(reason, locale) if reason else None,
        "detail": note.last_error,
    }


def channel(staff) -> dict[str, Any]:
    url = staff.apprise_url or None
    return {
        "staff_id": staff.id,
        "kind": channels.channel_kind(url) if url else None,
        "url": url,
        "masked": channels.mask(url) or None,
    }


@router.get("/inbox", response_model=InboxOut, tags=["inbox"])
def inbox_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    unread: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The caller's own messages, newest first (``unread=true``: the unread ones only)."""
    locale = api_locale(request)
    page = inbox.inbox_page(
        session=session, staff_id=user.id, unread_only=unread, page=offset // limit + 1, page_size=limit
    )
    return {
        "unread": inbox.unread_count(session=session, staff_id=user.id),
        "total": page.total,
        "items": [
            {
                "id": n.id,
                "kind": n.kind,
                "title": n.title,
                "body": n.body,
                "created_at": n.created_at,
                "read": n.read_at is not None,
                "link": link_for(n),
                "delivery": delivery(n, locale),
            }
            for n in page.items
        ],
    }


@router.post("/inbox/{notification_id}/read", response_model=MarkedReadOut, tags=["inbox"])
def inbox_read(notification_id: int, user: CurrentUser, session: SessionDep) -> dict[str, int]:
    inbox.mark_read(session=session, notification_id=notification_id, staff_id=user.id)
    return {"marked": 1, "unread": inbox.unread_count(session=session, staff_id=user.id)}


@router.post("/inbox/read-all", response_model=MarkedReadOut, tags=["inbox"])
def inbox_read_all(user: CurrentUser, session: SessionDep) -> dict[str, int]:
    marked = inbox.mark_all_read(session=session, staff_id=user.id)
    return {"marked": marked, "unread": inbox.unread_count(session=session, staff_id=user.id)}


class ChannelIn(BaseModel):
    # An Apprise URL (mailto://, wecombot://, dingtalk://, json://, ...); null or "" removes it.
    url: str | None = None


@router.get("/staff/{staff_id}/channel", response_model=ChannelOut, tags=["inbox"])
def channel_get(staff_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """One's own channel, or (an admin) anyone's of their stores."""
    return channel(channels.get_channel(session=session, staff_id=staff_id, actor_staff=user))


@router.put("/staff/{staff_id}/channel", response_model=ChannelOut, tags=["inbox"])
def channel_set(staff_id: int, body: ChannelIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Checked with Apprise: an address it does not understand is refused (422, field apprise_url)."""
    return channel(channels.set_channel(session=session, staff_id=staff_id, url=body.url, actor_staff=user))


@router.post("/staff/{staff_id}/channel/test", response_model=DeliveryOut, tags=["inbox"])
def channel_test(staff_id: int, request: Request, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Send a test message now; the answer says whether it was delivered, and if not why."""
    note = channels.send_test(session=session, staff_id=staff_id, actor_staff=user)
    return delivery(note, api_locale(request))


@router.get("/notifications/report", response_model=NotificationReportOut, tags=["inbox"])
def notification_report(request: Request, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Per channel kind: delivered, failed, retrying, inbox only, the last failure; and the
    active people with no external channel."""
    locale = api_locale(request)
    ids = store_ids(user)
    return {
        "channels": [
            {
                "channel": f.channel,
                "delivered": f.delivered,
                "failed": f.failed,
                "retrying": f.retrying,
                "inbox_only": f.inbox_only,
                "last_error": delivery(f.last_error, locale) if f.last_error else None,
            }
            for f in report.channel_figures(session=session, store_ids=ids)
        ],
        "without_channel": [
            {"id": s.id, "username": s.username, "name": s.display_name}
            for s in report.without_channel(session=session, store_ids=ids)
        ],
    }
