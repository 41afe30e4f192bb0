"""The one check of a month given by a person (CLI, JSON API, page): ``YYYY-MM``, a real month
between 2000-01 and 2100-12 (``0000-01`` or ``9003-06`` are typos, not cycles)."""

from __future__ import annotations

import re

from winback.errors import InvalidInput

FIRST, LAST = "2000-01", "2100-12"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# English message id; its Chinese text is in web/locale/zh/LC_MESSAGES/messages.po.
INVALID = f"the month must be a real month between {FIRST} and {LAST}, written like 2026-11"


def parse_month(month: str) -> str:
    """``month`` stripped, or InvalidInput (field ``month``)."""
    text = (month or "").strip() if isinstance(month, str) else ""
    if not _MONTH.match(text) or not FIRST <= text <= LAST:
        raise InvalidInput(INVALID, field="month")
    return text
