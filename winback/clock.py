"""The one clock of all business time.

``WINBACK_NOW=2027-02-15T09:00`` (or ``--as-of`` on the CLI) freezes it, so a demo or a test
can jump a week or three months ahead. Naive values are read in the business time zone.

Which time is "now", first match wins:

1. ``set_now()`` in this process (tests, a flow run given ``as_of``);
2. ``WINBACK_NOW`` in the environment (tests, scripts);
3. the **demo clock** kept in the database (the ``demo_clock`` row, set by ``--as-of`` on the
   CLI or ``winback clock set``), so the web server, the CLI and the flows agree on the day
   while a demo moves time; ``winback clock reset`` removes it;
4. the real time.

The demo clock is read with a connection of its own (never the caller's transaction) and
kept for ``STORED_TTL_SECONDS``, so a page or a flow asks the database about once a second.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

import db.session
from db.base import Base, UTCDateTime
from winback.config import get_settings

_override: datetime | None = None
STORED_TTL_SECONDS = 1.0
# (database url, monotonic time read, value) of the last demo-clock read
_stored_cache: tuple[str | None, float, datetime | None] | None = None


class DemoClock(Base):
    """The demo clock: one row (id 1) while time is moved for a demo, none otherwise."""

    __tablename__ = "demo_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


def business_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def parse_instant(text: str) -> datetime:
    """Parse an ISO date or date-time; naive values are in the business time zone."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=business_tz())
    return value.astimezone(UTC)


def set_now(value: datetime | str | None) -> None:
    """Freeze the clock (tests, ``--as-of``); ``None`` lets it run again."""
    global _override
    if isinstance(value, str):
        value = parse_instant(value)
    _override = value


def stored() -> datetime | None:
    """The demo clock kept in the database, or None (none set, no database bound yet, or a
    database without the table: before ``winback db upgrade``)."""
    global _stored_cache
    if not db.session.is_configured():
        return None
    url = db.session._url
    tick = time.monotonic()
    if _stored_cache is not None and _stored_cache[0] == url and tick - _stored_cache[1] < STORED_TTL_SECONDS:
        return _stored_cache[2]
    try:
        with db.session.get_engine().connect() as conn:
            value = conn.scalar(select(DemoClock.as_of).where(DemoClock.id == 1))
    except SQLAlchemyError:
        value = None
    _stored_cache = (url, tick, value)
    return value


def remember_stored(value: datetime | None) -> None:
    """This process set or removed the demo clock: use it at once, before the next read."""
    global _stored_cache
    _stored_cache = (db.session._url, time.monotonic(), value)


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _override is not None:
        return _override
    env = os.environ.get("WINBACK_NOW")
    if env:
        return parse_instant(env)
    demo = stored()
    if demo is not None:
        return demo
    return datetime.now(UTC)


def today() -> date:
    """Today's date in the business time zone."""
    return now().astimezone(business_tz()).date()


def local(value: datetime) -> datetime:
    return value.astimezone(business_tz())
