"""Each active car's usage from the mileage on its repair orders, in one pass over the store.

One ordered scan of the repair orders (vehicle, date) feeds every car's history; the
readings are filtered for typos in Python (a reading lower than the previous accepted one, or a
jump faster than ``care_max_km_per_day``, is ignored and reported), km per day is taken from
the first and last accepted readings, and cars with fewer than two readings get their model's
median (the store's median, then the setting, when the model has too few cars). No query runs
per car: the store's history is read once, in index order.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback.config import ProcessDefaults
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus

# A model's median needs this many cars with their own readings.
MIN_CARS_FOR_MEDIAN = 3


@dataclass(slots=True)
class Flag:
    visit_id: int
    vehicle_id: int
    reason: str  # "lower" or "jump"
    mileage: int


@dataclass(slots=True)
class Usage:
    km_per_day: float | None
    source: str  # "own" (its readings), "model" (median of its model), "store", "default"
    readings: int  # accepted readings
    last_on: date | None = None
    last_km: int | None = None


def usage(
    readings: list[tuple[int, date, int | None]],
    *,
    vehicle_id: int,
    purchase: date | None,
    max_km_per_day: float,
) -> tuple[Usage, list[Flag], dict[int, int]]:
    """km/day from (visit id, date, mileage) in date order; the flagged typos; accepted readings by visit id."""
    accepted: list[tuple[date, int]] = []
    by_visit: dict[int, int] = {}
    flags: list[Flag] = []
    for visit_id, day, km in readings:
        if km is None or km <= 0:
            continue
        prev_day, prev_km = accepted[-1] if accepted else (purchase, 0)
        if accepted and km < prev_km:
            flags.append(Flag(visit_id, vehicle_id, "lower", km))
            continue
        if prev_day is not None and km - prev_km > max_km_per_day * max((day - prev_day).days, 1):
            flags.append(Flag(visit_id, vehicle_id, "jump", km))
            continue
        accepted.append((day, km))
        by_visit[visit_id] = km
    if len(accepted) >= 2 and (accepted[-1][0] - accepted[0][0]).days > 0:
        (d0, k0), (d1, k1) = accepted[0], accepted[-1]
        rate = (k1 - k0) / (d1 - d0).days
        return Usage(rate, "own", len(accepted), d1, k1), flags, by_visit
    last = accepted[-1] if accepted else (None, None)
    return Usage(None, "", len(accepted), last[0], last[1]), flags, by_visit


@dataclass(slots=True)
class History:
    vehicle_id: int
    customer_id: int
    model: str
    grade: str | None
    purchase: date | None
    warranty_end: date | None
    compulsory_insurance_end: date | None
    commercial_insurance_end: date | None
    registered_on: date | None
    inspection_valid_until: date | None
    customer_advisor_id: int | None
    phone: str | None
    phone_valid: bool
    do_not_call: bool
    name: str
    plate: str | None
    usage: Usage = field(default_factory=lambda: Usage(None, "", 0))
    services: int = 0  # maintenance repair orders
    last_service: date | None = None
    last_service_km: int | None = None
    first_visit: date | None = None
    last_visit: date | None = None
    visits: int = 0  # repair orders up to the pass's day
    last_advisor_id: int | None = None
    spend: Decimal = Decimal(0)
    recent_visits: list[tuple[int, date, int | None]] = field(default_factory=list)

    @property
    def spend_per_year(self) -> float:
        if self.first_visit is None or self.last_visit is None:
            return 0.0
        years = max((self.last_visit - self.first_visit).days / 365.25, 1.0)
        return float(self.spend) / years


def history_statement(*, store_id: int, as_of: date):
    """One ordered pass over the store's repair orders of active cars.

    The vehicle's store is the filter (a join on the primary key), not service_visits.store_id:
    with that condition SQLite, without statistics, walks the (store, date) index instead and
    scans the store's history (issue 17)."""
    return (
        select(
            ServiceVisit.vehicle_id,
            ServiceVisit.id,
            ServiceVisit.visit_date,
            ServiceVisit.mileage,
            ServiceVisit.category,
            ServiceVisit.amount,
            ServiceVisit.advisor_id,
        )
        .join(Vehicle, Vehicle.id == ServiceVisit.vehicle_id)
        .where(
            Vehicle.store_id == store_id,
            Vehicle.status == VehicleStatus.active,
            ServiceVisit.visit_date <= as_of,
        )
        .order_by(ServiceVisit.vehicle_id, ServiceVisit.visit_date, ServiceVisit.id)
    )


def store_histories(
    *, session: Session, store_id: int, as_of: date, rules: ProcessDefaults, recent_since: date | None = None
) -> tuple[dict[int, History], list[Flag]]:
    """Every active car of the store with its usage and service history up to ``as_of``."""
    cars = _active_cars(session, store_id)
    visits = history_statement(store_id=store_id, as_of=as_of)
    service_categories = set(rules.care_maintenance_categories)
    flags: list[Flag] = []
    readings: list[tuple[int, date, int | None]] = []
    services: list[tuple[int, date]] = []
    current: History | None = None

    def finish(car: History | None) -> None:
        if car is None:
            return
        u, found, by_visit = usage(
            readings,
            vehicle_id=car.vehicle_id,
            purchase=car.purchase,
            max_km_per_day=rules.care_max_km_per_day,
        )
        car.usage = u
        flags.extend(found)
        if services:
            visit_id, day = services[-1]
            car.services, car.last_service, car.last_service_km = len(services), day, by_visit.get(visit_id)

    # Through Core, streamed in batches (a server-side cursor on PostgreSQL): the ORM would wrap
    # each of a store's ~400,000 rows once more, and a row-at-a-time fetch costs as much again.
    session.flush()
    result = session.connection().execute(visits.execution_options(yield_per=10_000))
    for vid, visit_id, day, km, category, amount, advisor in result:
        if current is None or current.vehicle_id != vid:
            finish(current)
            readings.clear()
            services.clear()
            current = cars.get(vid)
            if current is None:
                continue
        readings.append((visit_id, day, km))
        if category in service_categories:
            services.append((visit_id, day))
        current.first_visit = current.first_visit or day
        current.last_visit = day
        current.visits += 1
        current.last_advisor_id = advisor or current.last_advisor_id
        current.spend += amount or 0
        if recent_since is not None and day >= recent_since:
            current.recent_visits.append((visit_id, day, advisor))
    finish(current)
    _fill_medians(cars.values(), rules)
    return cars, flags


def _active_cars(session: Session, store_id: int) -> dict[int, History]:
    """The store's active cars with their owner's contact details, by vehicle id (no visits yet)."""
    cars: dict[int, History] = {}
    vehicles = (
        select(
            Vehicle.id,
            Vehicle.customer_id,
            Vehicle.model,
            Vehicle.grade,
            Vehicle.purchase_date,
            Vehicle.warranty_end,
            Vehicle.compulsory_insurance_end,
            Vehicle.commercial_insurance_end,
            Vehicle.registered_on,
            Vehicle.inspection_valid_until,
            Vehicle.plate,
            Customer.advisor_id,
            Customer.phone,
            Customer.phone_valid,
            Customer.do_not_call,
            Customer.name,
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .where(Vehicle.store_id == store_id, Vehicle.status == VehicleStatus.active)
    )
    session.flush()
    for r in session.connection().execute(vehicles):
        cars[r.id] = History(
            vehicle_id=r.id,
            customer_id=r.customer_id,
            model=r.model,
            grade=r.grade.value if r.grade else None,
            purchase=r.purchase_date,
            warranty_end=r.warranty_end,
            compulsory_insurance_end=r.compulsory_insurance_end,
            commercial_insurance_end=r.commercial_insurance_end,
            registered_on=r.registered_on,
            inspection_valid_until=r.inspection_valid_until,
            customer_advisor_id=r.advisor_id,
            phone=r.phone,
            phone_valid=bool(r.phone_valid),
            do_not_call=bool(r.do_not_call),
            name=r.name,
            plate=r.plate,
        )
    return cars


def _fill_medians(cars, rules: ProcessDefaults) -> None:
    """Cars with fewer than two readings drive like the median car of their model."""
    by_model: dict[str, list[float]] = defaultdict(list)
    own = []
    for car in cars:
        if car.usage.source == "own":
            by_model[car.model].append(car.usage.km_per_day)
            own.append(car.usage.km_per_day)
    medians = {m: statistics.median(v) for m, v in by_model.items() if len(v) >= MIN_CARS_FOR_MEDIAN}
    store = statistics.median(own) if len(own) >= MIN_CARS_FOR_MEDIAN else None
    for car in cars:
        if car.usage.source == "own":
            continue
        if car.model in medians:
            car.usage.km_per_day, car.usage.source = medians[car.model], "model"
        elif store is not None:
            car.usage.km_per_day, car.usage.source = store, "store"
        else:
            car.usage.km_per_day, car.usage.source = rules.care_default_km_per_day, "default"
