"""A person's external channel (an Apprise URL) and one attempt to send through it.

The channel is checked with Apprise itself when it is set, so a typo is refused then and
there rather than failing every message for a week. The URL may hold a password or a bot key:
only its owner and an admin editing it see it whole; the audit trail and every other page get
Apprise's own privacy form (``mask``). A failed attempt is told in words (``REASONS``, a key
stored on the message), with Apprise's log lines kept as the technical detail.

The test message is the one send made while a person waits: they press "send a test message"
to see whether their channel works, so it is tried at once (not queued) and recorded like any
other message, failure included.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import apprise
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import get_settings
from winback.errors import Forbidden, InvalidInput, NotFound
from winback.i18n import N_
from winback.notifications.messages import render
from winback.notifications.models import Notification, NotificationStatus

# The channel of a message that went to the inbox only (the person has no external channel).
INBOX = "inbox"
MAX_URL = 500  # staff.apprise_url's length

# Why an attempt failed, in words (the key is stored on the message: Notification.error_reason).
REASONS: dict[str, str] = {
    "invalid_url": N_("the address is not one the sender understands"),
    "unreachable": N_("the receiver could not be reached"),
    "refused": N_("the receiver refused the message"),
    "plugin_error": N_("the sending failed unexpectedly"),
}
# What the inbox-only record says instead of "skipped".
INBOX_ONLY = N_("no external channel: in the in-app inbox only")
EXAMPLES = "mailto://user:password@example.com, wecombot://KEY, dingtalk://TOKEN, json://host/path"


@dataclass(frozen=True)
class Attempt:
    ok: bool
    reason: str | None = None  # a key of REASONS when not ok
    detail: str | None = None  # Apprise's own words (technical detail, shown behind 详情)


def channel_kind(url: str) -> str:
    """The kind of a channel, its URL's scheme: mailto, json, wecombot, ... (at most 20 chars)."""
    return url.split("://", 1)[0].strip().lower()[:20] or "?"


def mask(url: str | None) -> str:
    """The URL with its secrets hidden (Apprise's privacy form: mailto://u...r:****@example.com)."""
    if not url:
        return ""
    plugin = apprise.Apprise.instantiate(url)
    if plugin:
        try:
            return plugin.url(privacy=True)
        except Exception:  # a plugin that cannot say itself: fall back to the kind alone
            pass
    return f"{channel_kind(url)}://…"


def check_url(url: str | None) -> str | None:
    """The channel as it will be stored: stripped, None for none; InvalidInput (in the reader's
    language, with examples) when Apprise does not understand it."""
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > MAX_URL:
        raise InvalidInput(
            "the notification address is too long (at most {max} characters)",
            max=MAX_URL,
            field="apprise_url",
        )
    if "://" not in url or not apprise.Apprise.instantiate(url):
        raise InvalidInput(
            "not a notification address the sender understands: {kind}; for example {examples}",
            kind=f"{channel_kind(url)}://" if "://" in url else url[:30],
            examples=EXAMPLES,
            field="apprise_url",
        )
    return url


def send(url: str, title: str, body: str) -> Attempt:
    """One attempt through Apprise; never raises."""
    plugin = apprise.Apprise.instantiate(url)
    notifier = apprise.Apprise()
    if not plugin or not notifier.add(plugin):
        return Attempt(False, "invalid_url", f"{channel_kind(url)}://…")
    # A receiver that never answers costs at most this per message (connect, then the answer),
    # instead of Apprise's default 4 + 4 s.
    timeout = get_settings().notify_timeout_seconds
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as logs:
        try:
            ok = notifier.notify(title=title, body=body)
        except Exception as exc:  # a broken plugin must not stop the process
            return Attempt(False, "plugin_error", f"{type(exc).__name__}: {exc}"[:1000])
        detail = " ".join(logs.getvalue().split())[:1000] or None
    if ok:
        return Attempt(True)
    unreachable = any(w in (detail or "").lower() for w in ("connection error", "timed out", "timeout"))
    return Attempt(False, "unreachable" if unreachable else "refused", detail)


def reason_text(note: Notification) -> str | None:
    """The message id of what happened to ``note``'s delivery, when there is something to say."""
    if note.status in (NotificationStatus.inbox_only, NotificationStatus.skipped):
        return INBOX_ONLY
    if note.error_reason:
        return REASONS.get(note.error_reason, REASONS["plugin_error"])
    return None


def _editable(session: Session, staff_id: int, actor_staff: Staff) -> Staff:
    """The person whose channel ``actor_staff`` may see whole and change: themselves, or as an
    admin anyone of their stores (another store's people do not exist for them)."""
    staff = session.get(Staff, staff_id)
    if staff is None or (staff.id != actor_staff.id and staff.store_id not in actor_staff.all_store_ids):
        raise NotFound("no staff member {staff_id}", staff_id=staff_id)
    if staff.id != actor_staff.id and not actor_staff.has_role(Role.admin):
        raise Forbidden("only an admin sets another person's notification channel")
    return staff


def get_channel(*, session: Session, staff_id: int, actor_staff: Staff) -> Staff:
    """The person, for their own or an admin's channel form (the URL whole)."""
    return _editable(session, staff_id, actor_staff)


def set_channel(*, session: Session, staff_id: int, url: str | None, actor_staff: Staff) -> Staff:
    """Set (or with an empty ``url`` remove) a person's external channel; audited, masked."""
    staff = _editable(session, staff_id, actor_staff)
    url = check_url(url)
    if (staff.apprise_url or None) == url:
        return staff
    before, staff.apprise_url = staff.apprise_url, url
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="staff.channel_changed",
        entity_type="staff",
        entity_id=staff.id,
        store_id=staff.store_id,
        changes={"apprise_url": {"before": mask(before) or None, "after": mask(url) or None}},
    )
    return staff


def send_test(*, session: Session, staff_id: int, actor_staff: Staff) -> Notification:
    """Send a test message to the person's channel now and record it (read, in their inbox).
    Returns the record: ``status`` sent or failed, ``error_reason`` and ``last_error`` why."""
    staff = _editable(session, staff_id, actor_staff)
    if not staff.apprise_url:
        raise InvalidInput("set a notification channel first", field="apprise_url")
    now = clock.now()
    title, body = render(
        "channel_test", staff.locale or get_settings().default_locale, name=staff.display_name
    )
    result = send(staff.apprise_url, title, body)
    note = Notification(
        store_id=staff.store_id,
        recipient_id=staff.id,
        kind="channel_test",
        dedupe_key=f"channel_test:{staff.id}:{now.isoformat()}:{secrets.token_hex(4)}",
        title=title,
        body=body,
        status=NotificationStatus.sent if result.ok else NotificationStatus.failed,
        attempts=1,
        created_at=now,
        next_attempt_at=now,
        sent_at=now if result.ok else None,
        read_at=now,
        channel=channel_kind(staff.apprise_url),
        error_reason=result.reason,
        last_error=result.detail,
    )
    session.add(note)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="staff.channel_tested",
        entity_type="staff",
        entity_id=staff.id,
        store_id=staff.store_id,
        changes={"channel": mask(staff.apprise_url), "delivered": result.ok, "reason": result.reason},
    )
    return note
