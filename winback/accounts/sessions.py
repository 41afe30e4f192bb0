"""Log-in sessions that can be ended from the server.

The session cookie (signed, kept by the browser) carries the staff id, the person's session
version at log-in (``sv``), when the session began (``iat``) and when it was last used
(``seen``), as seconds of the business clock (``winback.clock``, so a frozen clock freezes
them too). Each request checks them against the staff row and the settings:

* ``staff.session_version`` moves on at log-out and at a password change, so every cookie
  issued before (another browser, a copied cookie) stops working at once;
* ``session_idle_minutes`` without a request, or ``session_max_hours`` after the log-in,
  end a session (``winback/config.py``).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import get_settings
from winback.errors import NotFound

KEYS = ("staff_id", "sv", "iat", "seen")


def _now() -> int:
    return int(clock.now().timestamp())


def start(staff: Staff) -> dict[str, Any]:
    """What a log-in puts into the session cookie."""
    now = _now()
    return {"staff_id": staff.id, "sv": staff.session_version, "iat": now, "seen": now}


def resume(*, session: Session, data: MutableMapping[str, Any]) -> Staff | None:
    """The active person a session cookie belongs to, or None when there is none or it has
    ended (logged out elsewhere, password changed, idle or too old); an ended session's keys
    are dropped from ``data``. Marks the session as used now."""
    from winback.accounts.service import get_staff

    staff_id = data.get("staff_id")
    if not staff_id:
        return None
    try:
        staff = get_staff(session=session, staff_id=int(staff_id))
    except (NotFound, TypeError, ValueError):
        staff = None
    settings = get_settings()
    now = _now()
    try:
        issued, seen = int(data.get("iat")), int(data.get("seen"))
    except (TypeError, ValueError):
        issued = seen = None
    if (
        staff is None
        or not staff.active
        or issued is None
        or data.get("sv") != staff.session_version
        or now - issued > settings.session_max_hours * 3600
        or now - seen > settings.session_idle_minutes * 60
    ):
        for key in KEYS:
            data.pop(key, None)
        return None
    data["seen"] = max(seen, now)
    return staff


def end_all(*, session: Session, staff: Staff) -> Staff:
    """Log-out: every session of this person ends (this browser's and any other)."""
    staff.session_version += 1
    audit_service.record(
        session=session,
        actor=Actor.person(staff),
        action="staff.logged_out",
        entity_type="staff",
        entity_id=staff.id,
        store_id=staff.store_id,
        changes={},
    )
    session.flush()
    return staff
