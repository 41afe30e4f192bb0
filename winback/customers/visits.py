"""Each vehicle's repair-order history in one pass: its last repair order and its totals.

Every reader of "when did this car last come in, and what was done" (screening and the
assignment that follows it, the profile analysis, the abnormal-churn alarm, the red-line
digest, the evaluation's retention figures, the care calendar) builds on these functions, so
there is one definition and one plan.

The plan is the point. Every statement here starts from the store's vehicles (the index on
``vehicles.store_id``) and reaches their repair orders through the per-vehicle index
``(vehicle_id, visit_date)``; the repair orders themselves carry no ``store_id`` condition (a
vehicle belongs to one store, so it would be redundant). Without statistics SQLite could once
choose the store-wide ``(store_id, visit_date)`` index for a per-car lookup and walk the
store's whole history for every car (quadratic: a fresh store-scale database did not finish
screening in 21 minutes); here that index matches nothing, so the only plan is linear in the
store's history, whatever the statistics (``db.session.refresh_statistics`` keeps them
current anyway, after imports and migrations).

PostgreSQL (``postgresql=True``, the callers pass their session's dialect) reads the same
figures in another shape: the store's own repair orders as one range of ``(store_id,
visit_date)``, grouped per vehicle first, then joined to the store's vehicles. Given the plan
above, PostgreSQL with statistics read a dealer group's whole history for each store (parallel
scans of every store's repair orders, hashed against the store's vehicles: 2.9 s of one
store's profile rows at nine stores and 4.2M repair orders), so a store's cycle grew with the
group. Aggregated first, nothing can loop over the range (no per-car walk, with or without
statistics; ``tests/test_query_plans.py`` checks both engines), and each store reads its own.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, Select, Subquery, case, cast, func, literal_column, select

from winback.customers.models import ServiceVisit, Vehicle, VehicleStatus


def store_visits(
    *, store_id: int, as_of: date | None = None, since: date | None = None, active_only: bool = False
) -> Select:
    """The store's repair orders (dated ``since`` .. ``as_of`` inclusive when given; of active
    vehicles only with ``active_only``), reached from its vehicles: a ``select`` of no columns
    yet, to add columns to."""
    stmt = (
        select()
        .select_from(Vehicle)
        .join(ServiceVisit, ServiceVisit.vehicle_id == Vehicle.id)
        .where(Vehicle.store_id == store_id)
    )
    if active_only:
        stmt = stmt.where(Vehicle.status == VehicleStatus.active)
    if as_of is not None:
        stmt = stmt.where(ServiceVisit.visit_date <= as_of)
    if since is not None:
        stmt = stmt.where(ServiceVisit.visit_date >= since)
    return stmt


def _store_range(*, store_id: int, as_of: date) -> Select:
    """PostgreSQL: the store's own repair orders up to ``as_of`` (one range of its
    ``(store_id, visit_date)`` index), no columns yet."""
    return (
        select()
        .select_from(ServiceVisit)
        .where(ServiceVisit.store_id == store_id, ServiceVisit.visit_date <= as_of)
    )


def _of_the_stores_vehicles(per_vehicle: Subquery, store_id: int, *columns) -> Select:
    """PostgreSQL: ``per_vehicle`` (grouped first) joined to the store's vehicles."""
    return (
        select(per_vehicle.c.vehicle_id, *columns)
        .select_from(per_vehicle)
        .join(Vehicle, Vehicle.id == per_vehicle.c.vehicle_id)
        .where(Vehicle.store_id == store_id)
    )


# PostgreSQL packs (date, id) into one bigint: days since this date above, the id below.
_DAY_ZERO = date(2000, 1, 1)
_ID_BITS = 40  # ids up to 2**40 (1.1 trillion repair orders); the days fill the 23 bits above


def _last_id() -> Any:
    """PostgreSQL, in a pass grouped per vehicle: the id of the vehicle's last repair order
    (latest date, then highest id), from one ``max()`` over a bigint that packs the day above
    the id, so that the numbers sort as (date, id) do; the id is read back from the low bits.

    A plain ``max()`` can be aggregated in a hash table and in parallel parts. The ordered
    ``array_agg`` it replaces could not: PostgreSQL sorted the store's repair orders by
    vehicle on disk first (one store of the thirty-store template, 463,000 repair orders:
    650-680 ms against 455-480 ms). Dates before ``_DAY_ZERO`` give negative days; the packed
    numbers still sort by (date, id), and the mask reads the id from two's complement."""
    days = cast(ServiceVisit.visit_date - _DAY_ZERO, BigInteger)
    # the shift as written in the statement: PostgreSQL's << takes an int4, a bound int is int8
    packed = func.max(days.bitwise_lshift(literal_column(str(_ID_BITS))).bitwise_or(ServiceVisit.id))
    return packed.bitwise_and((1 << _ID_BITS) - 1)


def _last_id_sqlite() -> Any:
    """SQLite, in a pass grouped per vehicle: the id of the vehicle's last repair order (latest
    date, then highest id), from one ``max()`` over "date|id" strings, the id zero-padded so
    that the strings sort as (date, id) do (PostgreSQL packs a bigint the same way: ``_last_id``).
    SQLite has no ordered aggregate; a second pass for
    the last date and a join back to its repair orders cost the profile analysis more than the
    totals themselves (0.5 s of 0.7 s at store scale). SQLite's own functions: on PostgreSQL
    ``_last_id`` does this."""
    # The id is read back as the last 19 characters, whatever the date's text looks like (an
    # expression naming the max() twice would have SQLite aggregate it twice).
    last = func.max(func.printf("%s|%019d", ServiceVisit.visit_date, ServiceVisit.id))
    return cast(func.substr(last, -19), Integer)


def totals(
    *,
    store_id: int,
    as_of: date,
    maintenance: str | None = None,
    postgresql: bool = False,
    last_order: bool = False,
) -> Subquery:
    """Per vehicle of the store with a repair order up to ``as_of``: ``vehicle_id``,
    ``customer_id``, ``first_visit``, ``last_visit``, ``visits`` (count) and ``spend`` (sum of
    amounts); with ``maintenance`` (a category) also ``maintenance_visits``; with
    ``last_order`` also ``visit_id``, the last repair order's id (as ``last_visits`` gives it).
    One grouped pass."""
    figures = [
        func.min(ServiceVisit.visit_date).label("first_visit"),
        func.max(ServiceVisit.visit_date).label("last_visit"),
        func.count().label("visits"),
        func.coalesce(func.sum(ServiceVisit.amount), 0).label("spend"),
    ]
    if maintenance is not None:
        is_maintenance = case((ServiceVisit.category == maintenance, 1), else_=0)
        figures.append(func.sum(is_maintenance).label("maintenance_visits"))
    if last_order:
        figures.append((_last_id() if postgresql else _last_id_sqlite()).label("visit_id"))
    if postgresql:
        per = (
            _store_range(store_id=store_id, as_of=as_of)
            .add_columns(ServiceVisit.vehicle_id.label("vehicle_id"), *figures)
            .group_by(ServiceVisit.vehicle_id)
            .subquery("store_totals")
        )
        names = [f.name for f in figures]
        return _of_the_stores_vehicles(
            per, store_id, Vehicle.customer_id.label("customer_id"), *(per.c[n] for n in names)
        ).subquery("vehicle_totals")
    return (
        store_visits(store_id=store_id, as_of=as_of)
        .add_columns(Vehicle.id.label("vehicle_id"), Vehicle.customer_id.label("customer_id"), *figures)
        .group_by(Vehicle.id, Vehicle.customer_id)
        .subquery("vehicle_totals")
    )


def last_visit_dates(*, store_id: int, as_of: date, postgresql: bool = False) -> Subquery:
    """Per vehicle of the store with a repair order up to ``as_of``: ``vehicle_id`` and
    ``last_visit`` (its date). One grouped pass covered by the per-vehicle index."""
    if postgresql:
        per = (
            _store_range(store_id=store_id, as_of=as_of)
            .add_columns(
                ServiceVisit.vehicle_id.label("vehicle_id"),
                func.max(ServiceVisit.visit_date).label("last_visit"),
            )
            .group_by(ServiceVisit.vehicle_id)
            .subquery("store_last_dates")
        )
        return _of_the_stores_vehicles(per, store_id, per.c.last_visit).subquery("last_visit_dates")
    return (
        store_visits(store_id=store_id, as_of=as_of)
        .add_columns(
            ServiceVisit.vehicle_id.label("vehicle_id"), func.max(ServiceVisit.visit_date).label("last_visit")
        )
        .group_by(ServiceVisit.vehicle_id)
        .subquery("last_visit_dates")
    )


def last_visits(*, store_id: int, as_of: date, postgresql: bool = False) -> Subquery:
    """Per vehicle of the store with a repair order up to ``as_of``: ``vehicle_id``,
    ``last_visit`` (its date) and ``visit_id``, the id of that repair order (the highest id
    on the last date: the same tie-break as ordering by date, then id).

    Two grouped passes over the per-vehicle index, both covered by it (no table rows read):
    the latest date per vehicle, then the highest id on that date. Join ``visit_id`` to
    ``service_visits.id`` for the repair order's columns (one primary-key seek per vehicle).
    """
    if postgresql:  # one grouped pass: the latest date and, from one packed max(), its id
        per = (
            _store_range(store_id=store_id, as_of=as_of)
            .add_columns(
                ServiceVisit.vehicle_id.label("vehicle_id"),
                func.max(ServiceVisit.visit_date).label("last_visit"),
                _last_id().label("visit_id"),
            )
            .group_by(ServiceVisit.vehicle_id)
            .subquery("store_last_visits")
        )
        return _of_the_stores_vehicles(per, store_id, per.c.last_visit, per.c.visit_id).subquery(
            "last_visits"
        )
    latest = last_visit_dates(store_id=store_id, as_of=as_of)
    on_day = ServiceVisit.__table__.alias("latest_visit")
    return (
        select(
            latest.c.vehicle_id,
            latest.c.last_visit,
            func.max(on_day.c.id).label("visit_id"),
        )
        .select_from(latest)
        .join(
            on_day,
            (on_day.c.vehicle_id == latest.c.vehicle_id) & (on_day.c.visit_date == latest.c.last_visit),
        )
        .group_by(latest.c.vehicle_id, latest.c.last_visit)
        .subquery("last_visits")
    )


def visits_with_next(*, store_id: int, since: date, as_of: date) -> Subquery:
    """The store's repair orders dated ``since`` .. ``as_of``, each with ``next_visit``, the
    date of the same vehicle's next repair order in that window (None: none yet). Columns
    ``vehicle_id``, ``visit_date``, ``advisor_id``, ``next_visit``: one pass and one window
    over each vehicle's history (the churn alarm's "no visit for k months after this one")."""
    nxt = func.lead(ServiceVisit.visit_date, type_=Date).over(
        partition_by=ServiceVisit.vehicle_id, order_by=(ServiceVisit.visit_date, ServiceVisit.id)
    )
    return (
        store_visits(store_id=store_id, as_of=as_of, since=since)
        .add_columns(
            ServiceVisit.vehicle_id.label("vehicle_id"),
            ServiceVisit.visit_date.label("visit_date"),
            ServiceVisit.advisor_id.label("advisor_id"),
            nxt.label("next_visit"),
        )
        .subquery("visits_with_next")
    )
