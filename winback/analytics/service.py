"""Churn seen before it is a year old: model scores, the abnormal-churn alarm, red-line crossings.

Everything here reads the archive with set-based SQL (one grouped query per question) and does
the arithmetic in NumPy; nothing is written except the audit event and notification of the
daily red-line digest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from dateutil.relativedelta import relativedelta
from scipy import stats
from sqlalchemy import Date, and_, func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Store
from winback.accounts.service import effective_settings, staff_with_role
from winback.actor import Actor
from winback.analytics import bgnbd
from winback.audit import service as audit_service
from winback.config import ProcessDefaults
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.notifications import service as notifications
from winback.notifications.messages import Text
from winback.notifications.models import Notification
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
    stmt = (
        select(
            Vehicle.id,
            Vehicle.customer_id,
            func.min(ServiceVisit.visit_date),
            func.max(ServiceVisit.visit_date),
            func.count(),
            func.coalesce(func.sum(ServiceVisit.amount), 0),
        )
        .join(ServiceVisit, ServiceVisit.vehicle_id == Vehicle.id)
        .where(
            Vehicle.store_id == store_id,
            Vehicle.status == VehicleStatus.active,
            ServiceVisit.visit_date <= as_of,
        )
        .group_by(Vehicle.id, Vehicle.customer_id)
    )
    rows = session.execute(stmt).all()
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
    if n < 10:
        return Scores(None, vid, cid, last, visits, spend_per_year, np.ones(n), np.zeros(n), first, spend_raw)
    # Four parameters need no 30,000 histories: fit on a fixed random sample (whole weeks, so
    # identical histories collapse), score everyone. Same data, same sample, same scores.
    sample = np.random.default_rng(store_id).choice(n, size=min(n, FIT_SAMPLE), replace=False)
    fitted = bgnbd.fit(x[sample], np.floor(t_x[sample]), np.floor(T[sample]), "mbg")
    horizon = rules.forecast_months * 365.25 / 12 / WEEK
    pa = bgnbd.p_alive(fitted.params, x, t_x, T, "mbg")
    ev = bgnbd.expected_visits(fitted.params, horizon, x, t_x, T, "mbg")
    return Scores(fitted, vid, cid, last, visits, spend_per_year, pa, ev, first, spend_raw)


def likely_lost(*, scores: Scores, as_of: date, rules: ProcessDefaults) -> list[int]:
    """Vehicles not yet past the at-risk red line that the model already gives up on,
    highest value x risk first (预测流失: likely lost, not yet past the red line)."""
    line = as_of - relativedelta(months=rules.at_risk_months)
    pr = scores.priority
    picks = [
        i
        for i, last in enumerate(scores.last_visit)
        if last > line and scores.p_alive[i] < rules.likely_lost_p_alive_below
    ]
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
        ids = [v for v in ids if v in found]
    index = {int(v): i for i, v in enumerate(scores.vehicle_id)}
    pr = scores.priority
    shown = paginate_list(ids, page=page, page_size=page_size, filtered=bool(words(search)))
    top = []
    if shown.items:
        info = {v.id: v for v in session.scalars(select(Vehicle).where(Vehicle.id.in_(shown.items)))}
        for v in shown.items:
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
                    "expected_visits": round(float(scores.expected_visits[i]), 2),
                    "spend_per_year": round(float(scores.spend_per_year[i]), 0),
                    "priority": round(float(pr[i]), 0),
                }
            )
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
        "likely_lost": likely_lost_count,
        "threshold": rules.likely_lost_p_alive_below,
        "top": Page(top, shown.total, shown.page, shown.page_size, shown.filtered),
    }


# ---- abnormal-churn alarm --------------------------------------------------------------

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
    store = session.get(Store, store_id)
    rules = effective_settings(store)
    as_of = as_of or clock.today()
    k = rules.at_risk_months
    this_month = _month_start(as_of)
    first_month = this_month - relativedelta(months=12)
    visit_from = first_month - relativedelta(months=k)
    visit_to = as_of - relativedelta(months=k)

    nxt = func.lead(ServiceVisit.visit_date, type_=Date).over(
        partition_by=ServiceVisit.vehicle_id, order_by=(ServiceVisit.visit_date, ServiceVisit.id)
    )
    visits = (
        select(
            ServiceVisit.vehicle_id.label("vehicle_id"),
            ServiceVisit.visit_date.label("visit_date"),
            ServiceVisit.advisor_id.label("advisor_id"),
            nxt.label("next_visit"),
        )
        # The next visit after one in the window is itself in the window: no need to walk
        # the store's whole history.
        .where(
            ServiceVisit.store_id == store_id,
            ServiceVisit.visit_date >= visit_from,
            ServiceVisit.visit_date <= as_of,
        )
        .subquery()
    )
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


# ---- the red line raises itself --------------------------------------------------------


def redline_crossings(
    *, session: Session, store_id: int, since: date, until: date
) -> dict[str, list[dict[str, Any]]]:
    """Active vehicles whose owner crossed a red line on a day in (since, until].

    At risk on day d: last visit <= d - at_risk_months; lost: last visit < d - lost_months.
    """
    rules = effective_settings(session.get(Store, store_id))
    last = (
        select(
            ServiceVisit.vehicle_id.label("vehicle_id"), func.max(ServiceVisit.visit_date).label("last_visit")
        )
        .where(ServiceVisit.store_id == store_id, ServiceVisit.visit_date <= until)
        .group_by(ServiceVisit.vehicle_id)
        .subquery()
    )
    windows = {
        "at_risk": (
            since - relativedelta(months=rules.at_risk_months),
            until - relativedelta(months=rules.at_risk_months),
            False,
        ),
        # crossed "more than lost_months" on d: the last visit is d - lost_months - 1 day.
        "lost": (
            since - relativedelta(months=rules.lost_months) - timedelta(days=1),
            until - relativedelta(months=rules.lost_months) - timedelta(days=1),
            False,
        ),
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for band, (lo, hi, _) in windows.items():
        stmt = (
            select(Vehicle.id, Vehicle.plate, Vehicle.model, Customer.name, last.c.last_visit)
            .join(last, last.c.vehicle_id == Vehicle.id)
            .join(Customer, Customer.id == Vehicle.customer_id)
            .where(
                Vehicle.store_id == store_id,
                Vehicle.status == VehicleStatus.active,
                and_(last.c.last_visit > lo, last.c.last_visit <= hi),
            )
            .order_by(last.c.last_visit, Vehicle.id)
        )
        out[band] = [
            {
                "vehicle_id": r[0],
                "plate": r[1],
                "model": r[2],
                "customer": r[3],
                "last_visit": r[4].isoformat(),
            }
            for r in session.execute(stmt)
        ]
    return out


def queue_redline_digest(*, session: Session, store_id: int, actor: Actor) -> dict[str, int]:
    """One message a day to the store's admins: who crossed a red line since the last digest.

    Idempotent: the window starts at the day of the last digest (so a missed day is covered
    by the next one) and the dedupe key carries the day (a second run the same day adds nothing).
    """
    today = clock.today()
    last_sent = session.scalar(
        select(func.max(Notification.created_at)).where(
            Notification.store_id == store_id, Notification.kind == "redline_digest"
        )
    )
    since = clock.local(last_sent).date() if last_sent else today - timedelta(days=1)
    if since >= today:
        return {"at_risk": 0, "lost": 0, "queued": 0}
    crossed = redline_crossings(session=session, store_id=store_id, since=since, until=today)
    n_risk, n_lost = len(crossed["at_risk"]), len(crossed["lost"])
    queued = 0
    if n_risk or n_lost:
        names = [
            Text(
                "{customer}（{vehicle}）",
                "{customer} ({vehicle})",
                customer=c["customer"],
                vehicle=c["plate"] or c["model"],
            )
            for c in (crossed["lost"] + crossed["at_risk"])[:5]
        ]
        for admin in staff_with_role(session=session, store_id=store_id, role=Role.admin):
            queued += notifications.enqueue(
                session=session,
                recipient=admin,
                kind="redline_digest",
                dedupe_key=f"redline_digest:{store_id}:{today.isoformat()}:{admin.id}",
                date=today,
                at_risk=n_risk,
                lost=n_lost,
                names=names or "-",
            )
        audit_service.record(
            session=session,
            actor=actor,
            action="analytics.redline_crossed",
            entity_type="store",
            entity_id=store_id,
            store_id=store_id,
            changes={
                "since": since,
                "until": today,
                "at_risk": [c["vehicle_id"] for c in crossed["at_risk"]],
                "lost": [c["vehicle_id"] for c in crossed["lost"]],
            },
        )
    return {"at_risk": n_risk, "lost": n_lost, "queued": queued}


# ---- profile analysis (分析调研对象) -----------------------------------------------------


def tally_report(*, tally: dict[str, Any] | None) -> dict[str, Any] | None:
    """The tally (结果统计) with shares: reasons overall, serviced elsewhere, unreachable."""
    if not tally:
        return None
    tasks = tally.get("tasks") or 0
    reached = max(tasks - (tally.get("unreachable") or 0), 0)
    total_mentions = sum(tally.get("reasons", {}).values()) or 1
    return {
        **tally,
        "unreachable_pct": round(100 * (tally.get("unreachable") or 0) / tasks, 1) if tasks else 0.0,
        "elsewhere_pct": round(100 * (tally.get("serviced_elsewhere") or 0) / reached, 1) if reached else 0.0,
        "reason_rows": [
            {
                "value": k,
                "count": v,
                "pct": round(100 * v / total_mentions, 1),
                # the shape the page's bar chart draws (no base to compare a reason with)
                "targets": v,
                "share_pct": round(100 * v / total_mentions, 1),
                "base": 0,
                "base_share_pct": 0,
                "index": None,
            }
            for k, v in tally.get("reasons", {}).items()
        ],
    }


def profile_workbook(*, report: dict[str, Any], tally: dict[str, Any] | None, translate=lambda s: s) -> bytes:
    """The profile analysis as an XLSX workbook: one sheet per dimension, one for the tally."""
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    _ = translate
    wb = Workbook()
    summary = wb.active
    summary.title = _("Summary")[:31]
    summary.append([_("Month"), report["month"]])
    summary.append([_("As of"), report["as_of"]])
    summary.append([_("Targets"), report["targets"]])
    summary.append([_("Active base"), report["base"]])
    for d, rows in report["dimensions"].items():
        ws = wb.create_sheet(_(d)[:31])
        ws.append(
            [_(d), _("Targets"), _("Share") + " %", _("Active base"), _("Base share") + " %", _("Index")]
        )
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in rows:
            ws.append(
                [_(r["value"]), r["targets"], r["share_pct"], r["base"], r["base_share_pct"], r["index"]]
            )
        if rows:
            chart = BarChart()
            chart.type = "bar"
            chart.title = _(d)
            chart.add_data(
                Reference(ws, min_col=3, max_col=3, min_row=1, max_row=len(rows) + 1), titles_from_data=True
            )
            chart.add_data(
                Reference(ws, min_col=5, max_col=5, min_row=1, max_row=len(rows) + 1), titles_from_data=True
            )
            chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(rows) + 1))
            ws.add_chart(chart, "H2")
    if tally:
        ws = wb.create_sheet(_("Tally")[:31])
        ws.append([_("Reason"), _("Count"), "%"])
        for r in tally["reason_rows"]:
            ws.append([_(r["value"]), r["count"], r["pct"]])
        ws.append([])
        ws.append([_("unreachable"), tally.get("unreachable"), tally["unreachable_pct"]])
        ws.append([_("Serviced elsewhere"), tally.get("serviced_elsewhere"), tally["elsewhere_pct"]])
        for seg, by in (tally.get("by_segment") or {}).items():
            ws.append([])
            ws.append([_(seg)])
            for value, reasons in by.items():
                ws.append([_(value)] + [f"{_(k)}: {v}" for k, v in reasons.items()])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
