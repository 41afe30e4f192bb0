"""The rules that say when a car is due: maintenance by model or grade (time or mileage,
whichever comes first), the annual-inspection rule, warranty end. Pure functions of dates and
numbers, so each rule is tested on its own; the store's settings come in as arguments."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.care.models import CareSchedule
from winback.config import ProcessDefaults
from winback.months import add_months


@dataclass(frozen=True)
class Schedule:
    first_km: int
    first_months: int
    interval_km: int
    interval_months: int

    def milestone_km(self, n: int) -> int:
        """The mileage of service number ``n`` (1 = the first service 首保)."""
        return self.first_km + (n - 1) * self.interval_km

    def next_number(self, serviced_km: int | None, services: int) -> int:
        """The number of the next service: after the last service's mileage on the grid (a
        service done at 14,600 km was the 15,000 km one), else after the count of services."""
        if serviced_km is None:
            return services + 1
        # Within a fifth of an interval of a milestone counts as that milestone (done early/late).
        slack = self.interval_km / 5
        n = 1
        while self.milestone_km(n) - slack <= serviced_km:
            n += 1
        return n


class Schedules:
    """A store's schedules: a model's row wins over its grade's, which wins over the defaults."""

    def __init__(
        self,
        default: Schedule,
        by_model: dict[str, Schedule],
        by_grade: dict[str, Schedule],
        inspection: tuple | None = None,
    ):
        self.default, self.by_model, self.by_grade = default, by_model, by_grade
        self.inspection = inspection  # ``inspection_rule`` of the store's settings

    def of(self, model: str | None, grade: str | None) -> Schedule:
        return self.by_model.get(model or "") or self.by_grade.get(grade or "") or self.default


def default_schedule(rules: ProcessDefaults) -> Schedule:
    return Schedule(
        rules.care_first_service_km,
        rules.care_first_service_months,
        rules.care_service_interval_km,
        rules.care_service_interval_months,
    )


def load(*, session: Session, store_id: int, rules: ProcessDefaults) -> Schedules:
    by_model: dict[str, Schedule] = {}
    by_grade: dict[str, Schedule] = {}
    for row in session.scalars(select(CareSchedule).where(CareSchedule.store_id == store_id)):
        s = Schedule(row.first_km, row.first_months, row.interval_km, row.interval_months)
        if row.model:
            by_model[row.model] = s
        elif row.grade:
            by_grade[row.grade] = s
    return Schedules(default_schedule(rules), by_model, by_grade, inspection_rule(rules))


@dataclass(frozen=True)
class MaintenanceDue:
    due_on: date
    basis: str  # "time" or "mileage": which came first
    number: int  # 1 = 首保, 2 = 二保, ...
    target_km: int
    time_due: date
    km_due: date | None


def maintenance_due(
    *,
    schedule: Schedule,
    purchase: date | None,
    last_service: date | None,
    last_service_km: int | None,
    services: int,
    reading_on: date | None,
    reading_km: int | None,
    km_per_day: float | None,
) -> MaintenanceDue | None:
    """The next maintenance: the earlier of the time benchmark (months after the last service,
    or after purchase for the first) and the day the forecast mileage reaches the next milestone."""
    number = schedule.next_number(last_service_km, services)
    target = schedule.milestone_km(number)
    if last_service is not None:
        time_due = add_months(last_service, schedule.interval_months)
    elif purchase is not None:
        time_due = add_months(purchase, schedule.first_months)
    else:
        return None
    km_due = None
    if km_per_day and km_per_day > 0:
        if reading_on is None:  # no reading: a new car, counted from 0 km at purchase
            reading_on, reading_km = purchase, 0
        if reading_on is not None and reading_km is not None:
            km_due = reading_on + timedelta(days=math.ceil(max(target - reading_km, 0) / km_per_day))
    if km_due is not None and km_due < time_due:
        return MaintenanceDue(km_due, "mileage", number, target, time_due, km_due)
    return MaintenanceDue(time_due, "time", number, target, time_due, km_due)


def inspection_due(*, registered: date, as_of: date, rules: ProcessDefaults) -> tuple[date, bool]:
    """The first inspection date on or after ``as_of`` and whether it is on-site (上线检验)
    rather than the inspection-free sticker (免检标志).

    Years in ``care_inspection_years`` up to ``care_inspection_yearly_after``; then yearly up to
    ``care_inspection_half_yearly_after``; then every six months."""
    return _inspection_due(registered, as_of, *inspection_rule(rules))


def inspection_rule(rules: ProcessDefaults) -> tuple:
    """The inspection settings as ``_inspection_due`` takes them (a pass makes it once)."""
    return (
        tuple(sorted(rules.care_inspection_years)),
        frozenset(rules.care_inspection_onsite_years),
        rules.care_inspection_yearly_after,
        rules.care_inspection_half_yearly_after,
    )


@lru_cache(maxsize=65536)
def _inspection_due(
    registered: date, as_of: date, years: tuple[int, ...], onsite: frozenset[int], yearly: int, half: int
) -> tuple[date, bool]:
    # Cached: a store's cars share registration days (a daily pass asks the same question for
    # ~30,000 cars and ~4,000 distinct days).
    months: list[tuple[int, bool]] = [(12 * y, y in onsite) for y in years if y <= yearly]
    months += [(12 * y, True) for y in range(yearly + 1, half + 1)]
    for m, on in months:
        when = add_months(registered, m)
        if when >= as_of:
            return when, on
    m = 12 * max(half, yearly)
    while True:
        m += 6
        when = add_months(registered, m)
        if when >= as_of:
            return when, True


@dataclass(frozen=True)
class InspectionDue:
    due_on: date
    basis: str  # "date": the imported 检验有效期至; "rule": counted from registration or purchase
    detail: dict


def next_inspection(
    *,
    registered_on: date | None,
    purchase: date | None,
    valid_until: date | None,
    as_of: date,
    rules: ProcessDefaults,
    rule: tuple | None = None,
) -> InspectionDue | None:
    """The car's next inspection: the imported validity date (检验有效期至) while it is recent,
    else the rule counted from the registration date (初次登记日期), else from the purchase.

    A validity date long past (older than the missed window) is stale: the car was inspected
    since and nobody imported it, so the rule decides."""
    if valid_until is not None and valid_until >= as_of - timedelta(days=rules.care_missed_after_days):
        return InspectionDue(valid_until, "date", {"source": "licence"})
    start, source = (registered_on, "registered") if registered_on else (purchase, "purchase")
    if start is None:
        return None
    due, onsite = _inspection_due(start, as_of, *(rule or inspection_rule(rules)))
    return InspectionDue(due, "rule", {"onsite": onsite, "source": source})
