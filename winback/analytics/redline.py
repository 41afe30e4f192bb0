"""The red line raises itself: vehicles that crossed a red line since the last digest, and the
daily digest queued to the store's managers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Store
from winback.accounts.service import effective_settings, staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers import visits as vehicle_visits
from winback.customers.models import Customer, Vehicle, VehicleStatus
from winback.notifications import service as notifications
from winback.notifications.messages import Message
from winback.notifications.models import Notification


def redline_crossings(
    *, session: Session, store_id: int, since: date, until: date
) -> dict[str, list[dict[str, Any]]]:
    """Active vehicles whose owner crossed a red line on a day in (since, until].

    At risk on day d: last visit <= d - at_risk_months; lost: last visit < d - lost_months.
    """
    rules = effective_settings(session.get(Store, store_id))
    last = vehicle_visits.last_visit_dates(
        store_id=store_id, as_of=until, postgresql=session.get_bind().dialect.name == "postgresql"
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
            Message(
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
                about=("analytics", None),
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
