"""Retention KPIs dealers lack (PROCESS.md): first and second maintenance return rates, churn
rate overall and by segment, on today's archive."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from winback import clock
from winback.config import ProcessDefaults
from winback.customers import visits as vehicle_visits
from winback.customers.models import Customer, Vehicle, VehicleStatus
from winback.evaluation.calculation import pct

MAINTENANCE = "保养"  # repair-order category of a maintenance visit (首保, 二保...)


def retention_kpis(*, session: Session, store_id: int, rules: ProcessDefaults) -> dict[str, Any]:
    """Retention KPIs dealers lack (PROCESS.md), on today's archive of active vehicles.

    * first / second maintenance return rate (首保/二保回厂率): of the vehicles old enough to be
      due (one / two expected intervals since purchase), the share with at least one / two
      maintenance repair orders;
    * churn rate (流失率): share of active vehicles without a visit for more than ``lost_months``,
      overall and by segment (grade, customer type).
    """
    today = clock.today()
    interval = float(rules.expected_visit_interval_months)
    lost_before = today - relativedelta(months=rules.lost_months)
    rows = _active_vehicles(session, store_id=store_id, today=today)
    first_due = today - relativedelta(days=round(interval * 30.44))
    second_due = today - relativedelta(days=round(2 * interval * 30.44))
    f_n = f_ok = s_n = s_ok = 0
    churn = {"grade": defaultdict(lambda: [0, 0]), "customer_type": defaultdict(lambda: [0, 0])}
    lost = 0
    for _vid, purchase, grade, ctype, last_visit, maint in rows:
        maint = int(maint or 0)
        if purchase is not None and purchase <= first_due:
            f_n += 1
            f_ok += maint >= 1
        if purchase is not None and purchase <= second_due:
            s_n += 1
            s_ok += maint >= 2
        reference = last_visit or purchase
        is_lost = reference is not None and reference < lost_before
        lost += is_lost
        for key, value in (("grade", grade), ("customer_type", ctype)):
            cell = churn[key][getattr(value, "value", value) or "-"]
            cell[0] += 1
            cell[1] += is_lost
    return {
        "as_of": today.isoformat(),
        "active_vehicles": len(rows),
        "first_maintenance_return_pct": pct(f_ok, f_n),
        "first_maintenance_due": f_n,
        "second_maintenance_return_pct": pct(s_ok, s_n),
        "second_maintenance_due": s_n,
        "churn_rate_pct": pct(lost, len(rows)),
        "lost_vehicles": lost,
        "churn_by_segment": {
            key: {
                seg: {"vehicles": n, "lost": k, "rate_pct": pct(k, n)}
                for seg, (n, k) in sorted(cells.items())
            }
            for key, cells in churn.items()
        },
    }


def _active_vehicles(session: Session, *, store_id: int, today: date) -> list[Row]:
    """Each active vehicle: (id, purchase date, grade, customer type, last visit, maintenance visits)."""
    per_vehicle = vehicle_visits.totals(
        store_id=store_id,
        as_of=today,
        maintenance=MAINTENANCE,
        postgresql=session.get_bind().dialect.name == "postgresql",
    )
    return session.execute(
        select(
            Vehicle.id,
            Vehicle.purchase_date,
            Vehicle.grade,
            Customer.customer_type,
            per_vehicle.c.last_visit,
            per_vehicle.c.maintenance_visits,
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(per_vehicle, per_vehicle.c.vehicle_id == Vehicle.id)
        .where(Vehicle.store_id == store_id, Vehicle.status == VehicleStatus.active)
    ).all()
