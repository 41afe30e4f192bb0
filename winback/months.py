"""Calendar arithmetic shared by every area: whole months, ages, per-year rates, "2026-11" months.

One calendar rule everywhere (the rule of ``dateutil.relativedelta``): a month is whole once its
day is reached, clipped to the month's last day, so 31 Jan -> 28 Feb is one month.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date

from dateutil.relativedelta import relativedelta

from winback.errors import InvalidInput
from winback.i18n import N_

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DAYS_PER_YEAR = 365.25
# A per-year rate is taken over at least this many years (one month), so a customer first seen
# a week ago does not count as 52 visits a year.
MIN_RATE_YEARS = 1 / 12


FIRST, LAST = "2000-01", "2100-12"
# The one check of a month given by a person (CLI, JSON API, page): "0000-01" or "9003-06" are
# typos, not cycles.
INVALID = N_("the month must be a real month between 2000-01 and 2100-12, written like 2026-11")


def parse_month(month: str) -> str:
    """``month`` stripped (``YYYY-MM``, a real month between 2000-01 and 2100-12), or
    InvalidInput (field ``month``)."""
    text = (month or "").strip() if isinstance(month, str) else ""
    if not _MONTH.match(text) or not FIRST <= text <= LAST:
        raise InvalidInput(INVALID, field="month")
    return text


def month_parts(month: str) -> tuple[int, int]:
    """``"2026-11"`` -> ``(2026, 11)``."""
    year, m = parse_month(month).split("-")
    return int(year), int(m)


def shift_month(month: str, months: int) -> str:
    """``shift_month("2026-11", 2)`` -> ``"2027-01"``; negative goes back."""
    year, m = month_parts(month)
    index = year * 12 + (m - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def quarter_of(month: str) -> str:
    """``"2026-11"`` -> ``"2026-Q4"``."""
    year, m = month_parts(month)
    return f"{year}-Q{(m - 1) // 3 + 1}"


def whole_months(earlier: date, later: date) -> int:
    """``relativedelta(later, earlier)`` in months (years * 12 + months), without building one.

    Screening and the profile count months and ages for every vehicle of a store; this is the
    same calendar rule at a fraction of the cost.
    """
    if later < earlier:
        delta = relativedelta(later, earlier)
        return delta.years * 12 + delta.months
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    # The month's length matters only when the later day is the smaller one.
    if later.day < earlier.day and later.day < monthrange(later.year, later.month)[1]:
        months -= 1
    return months


def add_months(day: date, months: int) -> date:
    """``day + relativedelta(months=months)`` without building one: the same month arithmetic,
    the day clipped to the month's last (31 Jan + 1 month = 28 Feb). The care calendar adds
    months for every car of a store every day; relativedelta cost ~40 us a time."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def age_years(birth: date, as_of: date) -> int:
    """``relativedelta(as_of, birth).years``: whole years of age on ``as_of``."""
    months = whole_months(birth, as_of)
    return months // 12 if months >= 0 else -((-months) // 12)


def latest_with_months(later: date, months: int) -> date:
    """The latest date ``d`` with ``whole_months(d, later) >= months`` (``months`` >= 0).

    ``whole_months(d, later) >= months`` holds exactly for ``d <= latest_with_months(later,
    months)``, so a bucket by whole months (or years of age) is a comparison of a date column
    with a constant, which SQL evaluates the same way on every database.
    """
    if later.day == monthrange(later.year, later.month)[1]:
        # At a month's end every day of the month ``months`` back is a whole month away.
        first = later.replace(day=1) - relativedelta(months=months)
        return first.replace(day=monthrange(first.year, first.month)[1])
    return later - relativedelta(months=months)


def rate_years(first: date, as_of: date) -> float:
    """The years a per-year rate is taken over: first visit to ``as_of``, at least a month."""
    return max((as_of - first).days / DAYS_PER_YEAR, MIN_RATE_YEARS)


def per_year(amount: float, first: date, as_of: date) -> float:
    """``amount`` (visits, yuan) per year between the first visit and ``as_of``."""
    return amount / rate_years(first, as_of)
