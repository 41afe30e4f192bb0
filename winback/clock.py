"""The one clock of all business time.

``WINBACK_NOW=2027-02-15T09:00`` (or ``--as-of`` on the CLI) freezes it, so a demo or a test
can jump a week or three months ahead. Naive values are read in the business time zone.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from winback.config import get_settings

_override: datetime | None = None


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


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _override is not None:
        return _override
    env = os.environ.get("WINBACK_NOW")
    if env:
        return parse_instant(env)
    return datetime.now(UTC)


def today() -> date:
    """Today's date in the business time zone."""
    return now().astimezone(business_tz()).date()


def local(value: datetime) -> datetime:
    return value.astimezone(business_tz())
