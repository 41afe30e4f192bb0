"""Profile analysis (分析调研对象): a cycle's targets against the store's active base.

One analysis, used by the flow (stored on the cycle for its page), the profile page and its
workbook. Twelve dimensions, each a count of targets and of the active base per value, with
shares and ``index`` = target share / base share (above 1.5 a group is over-represented among
the targets: the model with unusually many lost customers sets a recall campaign's theme).

The definitions, pinned by ``tests/test_profile_analysis.py``:

* every unknown value is ``"?"``;
* age and "months since the last visit" are whole calendar months with the day counted
  (``winback.months``): born 1990-06-15 is 29 on 2020-06-14 and 30 on 2020-06-15;
* visits and spend per year are taken over the years from the first visit to the cycle's
  as-of date, at least a month (``winback.months.rate_years``);
* only repair orders up to the as-of date count; the last category is that of the latest
  repair order (latest date, then the highest id on that date).

Set-based: one statement takes each vehicle's totals and last repair order from the shared
per-vehicle pass (``winback.customers.visits``), derives every dimension's bucket in SQL once
(a materialized CTE), and counts all twelve dimensions with grouped queries over those rows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, String, and_, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from winback import collector
from winback.actor import Actor
from winback.customers import visits
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.cycles.service import advance, get_cycle
from winback.months import DAYS_PER_YEAR, MIN_RATE_YEARS, latest_with_months

PROFILE_DIMENSIONS = (
    "band",
    "model",
    "grade",
    "age_band",
    "gender",
    "district",
    "customer_type",
    "warranty",
    "visits_per_year",
    "spend_per_year",
    "last_category",
    "last_visit",
)
UNKNOWN = "?"
# (upper bound, label) pairs of the bucketed dimensions; the last label has no upper bound.
AGE_BANDS = ((30, "<30"), (40, "30-39"), (50, "40-49"), (60, "50-59"), (None, "60+"))
VISITS_PER_YEAR = ((1, "<1"), (2, "1-2"), (4, "2-4"), (None, "4+"))
SPEND_PER_YEAR = ((1000, "<1000"), (3000, "1000-3000"), (6000, "3000-6000"), (None, "6000+"))
MONTHS_SINCE_VISIT = ((6, "<6m"), (12, "6-12m"), (24, "12-24m"), (None, "24m+"))


def _known(column) -> Any:
    return func.coalesce(cast(column, String), UNKNOWN)


def _by_months_since(column, as_of: date, bands, months_per_unit: int) -> Any:
    """The band of ``column`` (a date) by whole months (or years) before ``as_of``, as a CASE
    of date comparisons: ``whole_months(d, as_of) < k`` is ``d > latest_with_months(as_of, k)``."""
    whens = [
        (column > latest_with_months(as_of, upper * months_per_unit), label)
        for upper, label in bands
        if upper is not None
    ]
    return case(*whens, else_=bands[-1][1])


def _by_rate(amount, years, bands) -> Any:
    rate = cast(amount, Float) / years
    return case(*[(rate < upper, label) for upper, label in bands if upper is not None], else_=bands[-1][1])


def _days_since(column, as_of: date, dialect: str) -> Any:
    """Whole days from ``column`` (a date) to ``as_of``."""
    if dialect == "sqlite":
        return func.julianday(literal(as_of.isoformat())) - func.julianday(column)
    return literal(as_of) - column  # PostgreSQL: date - date is a number of days


def _rows(session: Session, cycle: MonthlyCycle):
    """One row per vehicle in scope (active, or a target of the cycle) with every dimension's
    bucket and whether it counts in the base and among the targets."""
    as_of, store_id = cycle.as_of, cycle.store_id
    postgresql = session.get_bind().dialect.name == "postgresql"
    per_vehicle = visits.totals(store_id=store_id, as_of=as_of, postgresql=postgresql, last_order=True)
    if postgresql:
        per_vehicle = per_vehicle.element.cte("vehicle_totals").prefix_with("MATERIALIZED")
    last_order = ServiceVisit.__table__.alias("last_order")
    days = _days_since(per_vehicle.c.first_visit, as_of, session.get_bind().dialect.name)
    years = case(
        (days < DAYS_PER_YEAR * MIN_RATE_YEARS, MIN_RATE_YEARS), else_=cast(days, Float) / DAYS_PER_YEAR
    )
    is_target = Target.id.is_not(None)
    return (
        select(
            func.coalesce(cast(Target.band, String), "active").label("band"),
            _known(Vehicle.model).label("model"),
            _known(Vehicle.grade).label("grade"),
            case(
                (Customer.birth_date.is_(None), UNKNOWN),
                else_=_by_months_since(Customer.birth_date, as_of, AGE_BANDS, 12),
            ).label("age_band"),
            _known(Customer.gender).label("gender"),
            _known(Customer.district).label("district"),
            _known(Customer.customer_type).label("customer_type"),
            case((Vehicle.warranty_end >= as_of, "in_warranty"), else_="out_of_warranty").label("warranty"),
            _by_rate(per_vehicle.c.visits, years, VISITS_PER_YEAR).label("visits_per_year"),
            _by_rate(per_vehicle.c.spend, years, SPEND_PER_YEAR).label("spend_per_year"),
            _known(last_order.c.category).label("last_category"),
            _by_months_since(per_vehicle.c.last_visit, as_of, MONTHS_SINCE_VISIT, 1).label("last_visit"),
            case((Vehicle.status == VehicleStatus.active, 1), else_=0).label("in_base"),
            case((is_target, 1), else_=0).label("is_target"),
        )
        .select_from(Vehicle)
        .join(per_vehicle, per_vehicle.c.vehicle_id == Vehicle.id)
        .join(last_order, last_order.c.id == per_vehicle.c.visit_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(Target, and_(Target.vehicle_id == Vehicle.id, Target.cycle_id == cycle.id))
        .where(Vehicle.store_id == store_id, (Vehicle.status == VehicleStatus.active) | is_target)
        # Materialized: the twelve grouped counts below read these rows; inlined, SQLite
        # re-ran the per-vehicle passes once per dimension (54 s at store scale instead of 4).
        .cte("profile_rows")
        .prefix_with("MATERIALIZED")
    )


def _counts(session: Session, cycle: MonthlyCycle) -> dict[str, dict[str, tuple[int, int]]]:
    """dimension -> value -> (targets, base): one statement, a grouped query per dimension."""
    rows = _rows(session, cycle)
    grouped = union_all(
        *(
            select(
                literal(d).label("dimension"),
                rows.c[d].label("value"),
                func.sum(rows.c.is_target).label("targets"),
                func.sum(rows.c.in_base).label("base"),
            ).group_by(rows.c[d])
            for d in PROFILE_DIMENSIONS
        )
    )
    out: dict[str, dict[str, tuple[int, int]]] = {d: {} for d in PROFILE_DIMENSIONS}
    for dimension, value, targets, base in session.execute(grouped):
        out[dimension][value] = (int(targets or 0), int(base or 0))
    return out


def profile_analysis(*, session: Session, cycle_id: int) -> dict[str, Any]:
    """The profile of the cycle's targets against the store's active base (read-only)."""
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    counts = _counts(session, cycle)
    n_targets = sum(t for t, _b in counts["band"].values())
    n_base = sum(b for _t, b in counts["band"].values())
    spend = session.scalar(
        select(func.coalesce(func.sum(Target.total_spend), 0)).where(Target.cycle_id == cycle.id)
    )
    dims = {}
    for d in PROFILE_DIMENSIONS:
        dim_rows = []
        for value, (t, b) in counts[d].items():
            if d == "band" and value == "active":
                continue  # the base's vehicles that are not targets
            share = 100 * t / n_targets if n_targets else 0.0
            base_share = 100 * b / n_base if n_base else 0.0
            dim_rows.append(
                {
                    "value": value,
                    "targets": t,
                    "base": b,
                    "share_pct": round(share, 1),
                    "base_share_pct": round(base_share, 1),
                    "index": round(share / base_share, 2) if base_share and n_targets else None,
                }
            )
        dim_rows.sort(key=lambda r: (-r["targets"], -r["base"], r["value"]))
        dims[d] = dim_rows
    return {
        "cycle_id": cycle.id,
        "month": cycle.month,
        "as_of": cycle.as_of.isoformat(),
        "targets": n_targets,
        "base": n_base,
        "total_spend": str(Decimal(spend).quantize(Decimal("0.01"))),
        "dimensions": dims,
    }


@collector.young_collections_only()  # a set-based pass: winback/collector.py
def analyze_profiles(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, Any]:
    """分析调研对象: the profile analysis, stored on the cycle for its page; the stage moves on."""
    profile = profile_analysis(session=session, cycle_id=cycle_id)
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    cycle.profile = profile
    advance(session=session, cycle=cycle, to=CycleStage.profiled, actor=actor)
    return profile
