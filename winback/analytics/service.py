"""Churn seen before it is a year old: the visit model's scores of a store's vehicles and outlook.

The abnormal-churn alarm is ``alarm.py``, the red-line digest ``redline.py``, the reports
(tally shares, the profile workbook) ``reports.py``.

Everything here reads the archive with set-based SQL (one grouped query per question) and does
the arithmetic in NumPy; nothing is written except the audit event and notification of the
daily red-line digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from dateutil.relativedelta import relativedelta
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from db.bulk import read_rows
from winback import clock
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.analytics import bgnbd
from winback.config import ProcessDefaults
from winback.customers import visits as vehicle_visits
from winback.customers.models import Customer, Vehicle, VehicleStatus
from winback.paging import Page, matches, paginate_list, words

WEEK = 7.0
FIT_SAMPLE = 5000


# ---- model scores ----------------------------------------------------------------------


@dataclass
class Scores:
    """Per active vehicle of a store: the MBG/NBD fit and what it says about each vehicle."""

    fit: bgnbd.Fit | None
    vehicle_id: np.ndarray
    customer_id: np.ndarray
    last_visit: list[date]
    visits: np.ndarray
    spend_per_year: np.ndarray
    p_alive: np.ndarray
    expected_visits: np.ndarray
    # The same grouped query's first visit and exact spend (Decimal), so screening reads the
    # per-vehicle totals once instead of grouping the repair orders again.
    first_visit: list[date] | None = None
    spend: list[Any] | None = None
    # Which rule scored the vehicles: "model" (the MBG/NBD fit) or "overdue" (the fit was not
    # sound: ``problems`` says why, and ``overdue`` is each vehicle's time since its last visit
    # in units of its own usual interval, 2.0 = twice as long as usual).
    rule: str = "model"
    problems: tuple[str, ...] = ()
    overdue: np.ndarray | None = None

    @property
    def priority(self) -> np.ndarray:
        """Value x risk: yearly spend at stake times the chance the customer is gone."""
        return self.spend_per_year * (1.0 - self.p_alive)

    def by_vehicle(self) -> dict[int, dict[str, float]]:
        pr = self.priority
        return {
            int(v): {
                "p_alive": round(float(p), 4),
                "expected_visits": round(float(e), 2),
                "priority": round(float(q), 2),
            }
            for v, p, e, q in zip(self.vehicle_id, self.p_alive, self.expected_visits, pr)
        }


def score_store(
    *, session: Session, store_id: int, as_of: date, rules: ProcessDefaults | None = None
) -> Scores:
    """Fit MBG/NBD on the store's visit histories up to ``as_of`` and score every active vehicle."""
    rules = rules or effective_settings(session.get(Store, store_id))
    rows = _visit_summary(session, store_id=store_id, as_of=as_of)
    return score_totals(rows, store_id=store_id, as_of=as_of, rules=rules)


# The per-vehicle totals the model reads (``customers/visits.py totals``' columns), in the
# order ``score_totals`` takes them.
MODEL_INPUT = ("vehicle_id", "customer_id", "first_visit", "last_visit", "visits", "spend")


def model_input(per: Any) -> list[Any]:
    """``MODEL_INPUT``'s columns of a ``totals`` subquery (or CTE), to select first."""
    return [per.c[name] for name in MODEL_INPUT]


def score_totals(
    rows: Sequence[Sequence[Any]], *, store_id: int, as_of: date, rules: ProcessDefaults
) -> Scores:
    """``score_store`` on per-vehicle totals a caller already holds: one row per active vehicle
    with a visit up to ``as_of``, ``(vehicle id, customer id, first visit, last visit, visits,
    spend)``. The care calendar's daily pass reads every car's history anyway and passes its
    totals here instead of grouping the repair orders a second time."""
    # The fit's sample is drawn by position: the same vehicles in the same order, whatever order
    # the database or the caller gave them in.
    rows = sorted(rows, key=lambda r: r[0])
    n = len(rows)
    vid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    cid = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
    first = [r[2] for r in rows]
    last = [r[3] for r in rows]
    visits = np.fromiter((r[4] for r in rows), dtype=float, count=n)
    spend_raw = [r[5] for r in rows]
    spend = np.fromiter((float(v) for v in spend_raw), dtype=float, count=n)
    T = np.fromiter(((as_of - f).days / WEEK for f in first), dtype=float, count=n)
    t_x = np.fromiter(((la - f).days / WEEK for f, la in zip(first, last)), dtype=float, count=n)
    x = visits - 1
    years = np.maximum(T * WEEK / 365.25, 1.0)
    spend_per_year = spend / years
    horizon = rules.forecast_months * 365.25 / 12 / WEEK
    fitted = None
    if n >= 10:
        # Four parameters need no 30,000 histories: fit on a fixed random sample (whole weeks,
        # so identical histories collapse), score everyone. Same data, same sample, same scores.
        sample = np.random.default_rng(store_id).choice(n, size=min(n, FIT_SAMPLE), replace=False)
        fitted = bgnbd.fit(x[sample], np.floor(t_x[sample]), np.floor(T[sample]), "mbg")
        problems = bgnbd.diagnose(fitted, x[sample], min_repeaters=rules.churn_model_min_repeaters)
    else:
        problems = bgnbd.diagnose(None, x, min_repeaters=rules.churn_model_min_repeaters)
    if not problems:
        pa = bgnbd.p_alive(fitted.params, x, t_x, T, "mbg")
        ev = bgnbd.expected_visits(fitted.params, horizon, x, t_x, T, "mbg")
        return Scores(fitted, vid, cid, last, visits, spend_per_year, pa, ev, first, spend_raw)
    pa, ev, overdue = _overdue_rule(x, t_x, T, horizon=horizon, rules=rules)
    return Scores(
        fitted,
        vid,
        cid,
        last,
        visits,
        spend_per_year,
        pa,
        ev,
        first,
        spend_raw,
        rule="overdue",
        problems=tuple(problems),
        overdue=overdue,
    )


def _visit_summary(session: Session, *, store_id: int, as_of: date) -> list[Row]:
    """Per active vehicle of the store up to ``as_of``: (vehicle id, customer id, first visit,
    last visit, visits, spend): the shared per-vehicle totals (``customers/visits.py``), the
    same figures screening reads with its targets' columns."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    per = vehicle_visits.totals(store_id=store_id, as_of=as_of, postgresql=postgresql)
    stmt = (
        select(*model_input(per))
        .join(Vehicle, Vehicle.id == per.c.vehicle_id)
        .where(Vehicle.status == VehicleStatus.active)
    )
    return read_rows(session, stmt)


def _overdue_rule(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, horizon: float, rules: ProcessDefaults
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(alive), expected visits and how overdue each vehicle is, by the rule staff understand."""
    # The fit is not sound: the rule staff understand. Each vehicle's usual interval is the
    # mean gap between its visits; a vehicle seen once gets the store's expected interval.
    # Floored at half the expected interval, so a fleet's same-week repair orders do not make
    # a car "overdue" a month later.
    expected_weeks = rules.expected_visit_interval_months * 365.25 / 12 / WEEK
    usual = np.where(x > 0, t_x / np.maximum(x, 1), expected_weeks)
    usual = np.maximum(usual, expected_weeks / 2)
    overdue = (T - t_x) / usual
    # Shown where the model's P(alive) is: 1 within the usual interval, 1/2 at twice it...
    pa = np.minimum(1.0, 1.0 / np.maximum(overdue, 1e-9))
    ev = pa * horizon / usual
    return pa, ev, overdue


def likely_lost(*, scores: Scores, as_of: date, rules: ProcessDefaults) -> list[int]:
    """Vehicles not yet past the at-risk red line that the model already gives up on,
    highest value x risk first (预测流失: likely lost, not yet past the red line)."""
    line = as_of - relativedelta(months=rules.at_risk_months)
    pr = scores.priority
    if scores.rule == "overdue":  # the model is not sound: away for N times the usual interval
        gone = scores.overdue >= rules.likely_lost_overdue_factor
    else:
        gone = scores.p_alive < rules.likely_lost_p_alive_below
    picks = [i for i, last in enumerate(scores.last_visit) if last > line and gone[i]]
    picks.sort(key=lambda i: -pr[i])
    return [int(scores.vehicle_id[i]) for i in picks]


def store_outlook(
    *,
    session: Session,
    store_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    """The dashboard's view: the fit, the likely-lost count and the callbacks by value x risk,
    a page at a time (``top``, a ``Page``); ``search`` matches the customer's name, the plate or
    the model."""
    store = session.get(Store, store_id)
    rules = effective_settings(store)
    as_of = clock.today()
    scores = score_store(session=session, store_id=store_id, as_of=as_of, rules=rules)
    ids = likely_lost(scores=scores, as_of=as_of, rules=rules)
    likely_lost_count = len(ids)
    if words(search) and ids:
        ids = _matching_search(session, ids, search)
    shown = paginate_list(ids, page=page, page_size=page_size, filtered=bool(words(search)))
    top = _outlook_rows(session, scores, shown.items)
    return {
        "as_of": as_of.isoformat(),
        "vehicles": int(len(scores.vehicle_id)),
        "model": None
        if scores.fit is None
        else {
            "name": "MBG/NBD",
            **{k: round(v, 4) for k, v in scores.fit.params.as_dict().items()},
            "log_likelihood": round(scores.fit.log_likelihood, 1),
        },
        # Which rule lists the likely lost: "model" (MBG/NBD) or "overdue" (the fit was not
        # sound; ``problems``: why, as bgnbd.diagnose codes). The page says it in words.
        "rule": scores.rule,
        "problems": list(scores.problems),
        "likely_lost": likely_lost_count,
        "threshold": rules.likely_lost_p_alive_below,
        "overdue_factor": rules.likely_lost_overdue_factor,
        "top": Page(top, shown.total, shown.page, shown.page_size, shown.filtered),
    }


def _matching_search(session: Session, ids: list[int], search: str | None) -> list[int]:
    """The vehicles among ``ids`` whose customer's name, plate, VIN or model match, in order."""
    found: set[int] = set()
    for start in range(0, len(ids), 5000):
        found.update(
            session.scalars(
                select(Vehicle.id)
                .join(Customer, Customer.id == Vehicle.customer_id)
                .where(
                    Vehicle.id.in_(ids[start : start + 5000]),
                    matches(search, Customer.name, Vehicle.plate, Vehicle.vin, Vehicle.model),
                )
            )
        )
    return [v for v in ids if v in found]


def _outlook_rows(session: Session, scores: Scores, vehicle_ids: list[int]) -> list[dict[str, Any]]:
    """One dashboard row per vehicle shown, with its figures from the store's scores."""
    index = {int(v): i for i, v in enumerate(scores.vehicle_id)}
    pr = scores.priority
    top: list[dict[str, Any]] = []
    if vehicle_ids:
        info = {v.id: v for v in session.scalars(select(Vehicle).where(Vehicle.id.in_(vehicle_ids)))}
        for v in vehicle_ids:
            i = index[v]
            veh = info[v]
            top.append(
                {
                    "vehicle_id": v,
                    "customer": veh.customer.name,
                    "plate": veh.plate,
                    "model": veh.model,
                    "last_visit": scores.last_visit[i].isoformat(),
                    "visits": int(scores.visits[i]),
                    "p_alive": round(float(scores.p_alive[i]), 3),
                    # under the overdue rule: away for this many times the usual interval
                    "overdue": None if scores.overdue is None else round(float(scores.overdue[i]), 1),
                    "expected_visits": round(float(scores.expected_visits[i]), 2),
                    "spend_per_year": round(float(scores.spend_per_year[i]), 0),
                    "priority": round(float(pr[i]), 0),
                }
            )
    return top


# ---- abnormal-churn alarm --------------------------------------------------------------


# ---- the red line raises itself --------------------------------------------------------


# ---- profile analysis (分析调研对象) -----------------------------------------------------
