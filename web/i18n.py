"""The pages' language: which one a request asks for, and dates, numbers and money in it.

Simplified Chinese by default, English on request (``pick_locale``, from ``edge.locale``). The words come from the one
catalog of ``winback.i18n`` (``translator(locale)`` is the templates' ``_``). Dates, numbers and
money (¥) are formatted per locale with Babel (``fmt_date``, ``fmt_number``, ``fmt_money``: the
Jinja filters ``ldate``, ``number``, ``money``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers

# The language of a request is negotiated by the shared edge (pages and API alike).
from edge.locale import pick_locale
from winback.i18n import BABEL_LOCALE, SUPPORTED, translator

__all__ = ["SUPPORTED", "fmt_date", "fmt_money", "fmt_number", "pick_locale", "translator"]


def fmt_date(value: date | datetime | None, locale: str, fmt: str = "medium") -> str:
    """2026年11月2日 / 2 Nov 2026 (datetimes in business time: see winback.clock.local)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # an ISO date kept in JSON (a cycle's profile, a report)
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        from winback import clock

        return babel_dates.format_datetime(
            clock.local(value),
            "short" if fmt == "medium" else fmt,
            locale=BABEL_LOCALE.get(locale, "zh_Hans_CN"),
        )
    return babel_dates.format_date(value, fmt, locale=BABEL_LOCALE.get(locale, "zh_Hans_CN"))


def fmt_number(value: int | float | Decimal | None, locale: str) -> str:
    return (
        ""
        if value is None
        else babel_numbers.format_decimal(value, locale=BABEL_LOCALE.get(locale, "zh_Hans_CN"))
    )


def fmt_money(value: int | float | Decimal | None, locale: str) -> str:
    """Yuan: ¥1,234.50 in both languages (CNY is spelled CN¥ by CLDR outside China)."""
    if value is None:
        return ""
    return babel_numbers.format_currency(value, "CNY", locale=BABEL_LOCALE.get(locale, "zh_Hans_CN")).replace(
        "CN¥", "¥"
    )
