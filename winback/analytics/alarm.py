"""The abnormal-churn alarm: a segment's red-line crossings this month against its trailing
12 months, flagged when improbably many (the signal PROCESS.md asks for: churn that stops
being background noise)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import numpy as np
from dateutil.relativedelta import relativedelta
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Store
from winback.accounts.service import effective_settings, staff_with_role
from winback.config import ProcessDefaults
from winback.customers import visits as vehicle_visits
from winback.customers.models import Customer, Vehicle, VehicleStatus

SEGMENTS = ("model", "district", "advisor", "customer_type", "warranty")


def _month_start(d: date) -> date:
    return d.replace(day=1)


def churn_alarm(*, session: Session, store_id: int, as_of: date | None = None) -> list[dict[str, Any]]:
    """Red-line crossings per segment this month against the trailing 12 months.

    A churn event is a vehicle crossing the at-risk red line: a visit followed by no other
    visit for ``at_risk_months``. Such a crossing happens in the month ``at_risk_months`` after
    the visit, so one windowed query (LEAD over each vehicle's visits) gives 13 months of events.
    This month is compared with the baseline scaled to the days elapsed. Counts of rare,
    independent events are Poisson; when the 12 months vary more than Poisson allows the tail
    comes from a negative binomial with the same mean and variance, so a noisy segment needs a
    bigger rise before it is flagged.
    """
    rules = effective_settings(session.get(Store, store_id))
    as_of = as_of or clock.today()
    counts = _monthly_crossings(session, store_id, as_of, rules.at_risk_months)
    return _judge(counts, as_of, rules)


def _monthly_crossings(
    session: Session, store_id: int, as_of: date, k: int
) -> dict[tuple[str, str], np.ndarray]:
    """Per (segment, value): the red-line crossings of each of the 13 months up to ``as_of``."""
    this_month = _month_start(as_of)
    first_month = this_month - relativedelta(months=12)
    visit_from = first_month - relativedelta(months=k)
    visit_to = as_of - relativedelta(months=k)

    # The next visit after one in the window is itself in the window: no need to walk the
    # store's whole history (customers/visits.py: read through the per-vehicle index).
    visits = vehicle_visits.visits_with_next(store_id=store_id, since=visit_from, as_of=as_of)
    stmt = (
        select(
            visits.c.visit_date,
            visits.c.next_visit,
            visits.c.advisor_id,
            Vehicle.model,
            Vehicle.warranty_end,
            Customer.district,
            Customer.customer_type,
        )
        .join(Vehicle, Vehicle.id == visits.c.vehicle_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .where(
            Vehicle.status == VehicleStatus.active,
            visits.c.visit_date >= visit_from,
            visits.c.visit_date <= visit_to,
        )
    )
    advisors = {
        s.id: s.display_name
        for s in staff_with_role(session=session, store_id=store_id, role=Role.advisor, active_only=False)
    }
    counts: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(13))
    for visit_date, next_visit, advisor_id, model, warranty_end, district, ctype in session.execute(stmt):
        crossing = visit_date + relativedelta(months=k)
        if crossing > as_of or (next_visit is not None and next_visit <= crossing):
            continue
        idx = (crossing.year - first_month.year) * 12 + crossing.month - first_month.month
        if not 0 <= idx <= 12:
            continue
        keys = (
            ("model", model or "?"),
            ("district", district or "?"),
            ("advisor", advisors.get(advisor_id, "?") if advisor_id else "?"),
            ("customer_type", ctype.value if ctype else "?"),
            ("warranty", "in_warranty" if warranty_end and warranty_end >= crossing else "out_of_warranty"),
        )
        for key in keys:
            counts[key][idx] += 1
    return counts


def _judge(
    counts: dict[tuple[str, str], np.ndarray], as_of: date, rules: ProcessDefaults
) -> list[dict[str, Any]]:
    """This month of each segment against its 12 before, flagged when improbably high."""
    this_month = _month_start(as_of)
    days_in_month = ((this_month + relativedelta(months=1)) - this_month).days
    elapsed = as_of.day / days_in_month
    out = []
    for (segment, value), series in counts.items():
        history, current = series[:12], int(series[12])
        mean = float(history.mean())
        var = float(history.var(ddof=1))
        expected = mean * elapsed
        p = _upper_tail(current, expected, mean, var, elapsed)
        ratio = current / expected if expected > 0 else (float("inf") if current else 0.0)
        flagged = (
            current >= rules.alarm_min_count and ratio >= rules.alarm_min_ratio and p < rules.alarm_p_value
        )
        out.append(
            {
                "segment": segment,
                "value": value,
                "current": current,
                "baseline_per_month": round(mean, 2),
                "expected_so_far": round(expected, 2),
                "ratio": None if ratio == float("inf") else round(ratio, 2),
                "p_value": float(p),
                "flagged": bool(flagged),
                "history": [int(c) for c in history],
            }
        )
    out.sort(key=lambda r: (not r["flagged"], r["p_value"], r["segment"], r["value"]))
    return out


def _upper_tail(k: int, expected: float, mean: float, var: float, elapsed: float) -> float:
    """P(X >= k) under the baseline: Poisson, or negative binomial when over-dispersed."""
    if k <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    if var > mean > 0:
        # Method of moments on the monthly series, scaled to the elapsed part of the month.
        size = mean * mean / (var - mean)
        p = size / (size + expected)
        return float(stats.nbinom.sf(k - 1, size * 1.0, p))
    return float(stats.poisson.sf(k - 1, expected))
