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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Float, cast, select
from sqlalchemy.orm import Session

from winback.config import ProcessDefaults
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus

# A model's median needs this many cars with their own readings.
MIN_CARS_FOR_MEDIAN = 3

# Repair orders fetched at a time while reading a store's history.
READ_BATCH = 10_000


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
    by_visit: dict[int, int] = {}
    flags: list[Flag] = []
    accepted = 0
    first_day = first_km = None
    prev_day, prev_km = purchase, 0  # before the first accepted reading: 0 km at purchase
    for visit_id, day, km in readings:
        if km is None or km <= 0:
            continue
        if accepted and km < prev_km:
            flags.append(Flag(visit_id, vehicle_id, "lower", km))
            continue
        gain = km - prev_km
        # (a gain within one day's maximum needs no date arithmetic: at least a day is allowed)
        if (
            prev_day is not None
            and gain > max_km_per_day
            and gain > max_km_per_day * max((day - prev_day).days, 1)
        ):
            flags.append(Flag(visit_id, vehicle_id, "jump", km))
            continue
        if not accepted:
            first_day, first_km = day, km
        accepted += 1
        prev_day, prev_km = day, km
        by_visit[visit_id] = km
    if not accepted:
        return Usage(None, "", 0, None, None), flags, by_visit
    days = (prev_day - first_day).days
    if accepted >= 2 and days > 0:
        return Usage((prev_km - first_km) / days, "own", accepted, prev_day, prev_km), flags, by_visit
    return Usage(None, "", accepted, prev_day, prev_km), flags, by_visit


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
    spend: float = 0.0  # yuan, summed as floats: it ranks customers, it is no account
    recent_visits: list[tuple[int, date, int | None]] = field(default_factory=list)

    @property
    def spend_per_year(self) -> float:
        if self.first_visit is None or self.last_visit is None:
            return 0.0
        years = max((self.last_visit - self.first_visit).days / 365.25, 1.0)
        return self.spend / years


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
            cast(ServiceVisit.amount, Float),  # a float: the spend only ranks and scales (no Decimal per row)
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
    max_km_per_day = rules.care_max_km_per_day
    flags: list[Flag] = []
    # Through Core, streamed in batches (a server-side cursor on PostgreSQL): the ORM would wrap
    # each of a store's ~400,000 rows once more, and a row-at-a-time fetch costs as much again.
    # The rows come grouped by car: each car's are gathered, then summed up once (``_summarize``).
    session.flush()
    result = session.connection().execute(visits.execution_options(yield_per=READ_BATCH))
    for vehicle_id, rows in groupby(_read_ahead(result), itemgetter(0)):
        car = cars.get(vehicle_id)
        if car is not None:  # else a car that is not active
            _summarize(car, list(rows), service_categories, max_km_per_day, recent_since, flags)
    _fill_medians(cars.values(), rules)
    return cars, flags


def _read_ahead(result) -> Iterator:
    """The result's rows, its next batch fetched by a thread while the caller works on this one:
    the database reads and sends a batch (half the time of the read, measured) while Python sums
    up the last. Only the thread touches the connection until the rows are all read."""
    with ThreadPoolExecutor(1, thread_name_prefix="care-read-ahead") as pool:
        batches = result.partitions()
        coming = pool.submit(next, batches, None)
        while (batch := coming.result()) is not None:
            coming = pool.submit(next, batches, None)
            yield from batch


def _summarize(car, rows, service_categories, max_km_per_day, recent_since, flags) -> None:
    """One car's repair orders (in date order) into its history: counts, dates, spend, the
    last advisor, the maintenance services and the usage from the accepted readings."""
    u, found, by_visit = usage(
        [(r[1], r[2], r[3]) for r in rows],
        vehicle_id=car.vehicle_id,
        purchase=car.purchase,
        max_km_per_day=max_km_per_day,
    )
    car.usage = u
    if found:
        flags.extend(found)
    services = [r for r in rows if r[4] in service_categories]
    if services:
        last = services[-1]
        car.services, car.last_service, car.last_service_km = len(services), last[2], by_visit.get(last[1])
    car.first_visit, car.last_visit, car.visits = rows[0][2], rows[-1][2], len(rows)
    car.last_advisor_id = next((r[6] for r in reversed(rows) if r[6]), None)
    car.spend = sum([r[5] for r in rows if r[5]], 0.0)
    if recent_since is not None and rows[-1][2] >= recent_since:
        car.recent_visits = [(r[1], r[2], r[6]) for r in rows if r[2] >= recent_since]


def _active_cars(session: Session, store_id: int) -> dict[int, History]:
    """The store's active cars with their owner's contact details, by vehicle id (no visits yet)."""
    # The columns in History's order: each row becomes a History as it is (no lookup by name).
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
            Customer.advisor_id,
            Customer.phone,
            Customer.phone_valid,
            Customer.do_not_call,
            Customer.name,
            Vehicle.plate,
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .where(Vehicle.store_id == store_id, Vehicle.status == VehicleStatus.active)
    )
    session.flush()
    cars: dict[int, History] = {}
    for (
        vid,
        cid,
        model,
        grade,
        *dates,
        advisor,
        phone,
        valid,
        dnc,
        name,
        plate,
    ) in session.connection().execute(vehicles):
        grade = grade.value if grade else None
        cars[vid] = History(
            vid, cid, model, grade, *dates, advisor, phone, bool(valid), bool(dnc), name, plate
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
