"""Closing the loop: a repair order of the matching kind (or a renewed policy) fulfils an open
item and stops its touches; items long past due are marked missed."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from db.bulk import one_of
from winback import clock
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.care.models import (
    CareItem,
    CareKind,
    CareStatus,
    CareTouch,
    TouchStatus,
)
from winback.config import ProcessDefaults
from winback.customers.models import ServiceVisit, Vehicle

# ---- closing the loop ---------------------------------------------------------------------


def fulfil(*, session: Session, store_id: int, today: date, rules: ProcessDefaults | None = None) -> int:
    """A repair order of the matching kind (or a renewed policy, a later inspection validity)
    fulfils the open item and stops its touches; the item keeps the last touch sent before the
    visit. Returns items fulfilled."""
    rules = rules or effective_settings(session.get(Store, store_id))
    done = _fulfilled_by_visits(session, store_id, today, rules)
    for item_id in _renewed(session, store_id):
        done[item_id] = {"id": item_id, "fulfilled_on": today, "fulfilled_visit_id": None}
    for item_id in _inspected(session, store_id):
        done.setdefault(item_id, {"id": item_id, "fulfilled_on": today, "fulfilled_visit_id": None})
    if not done:
        return 0
    touches = session.execute(
        select(CareTouch.item_id, CareTouch.id, CareTouch.sent_at)
        .where(one_of(session, CareTouch.item_id, list(done)), CareTouch.status == TouchStatus.sent)
        .order_by(CareTouch.sent_at)
    ).all()
    for item_id, touch_id, sent_at in touches:
        if sent_at is not None and clock.local(sent_at).date() <= done[item_id]["fulfilled_on"]:
            done[item_id]["preceding_touch_id"] = touch_id
    values = [
        {**d, "status": CareStatus.fulfilled.value, "preceding_touch_id": d.get("preceding_touch_id")}
        for d in done.values()
    ]
    session.execute(update(CareItem), values)
    session.execute(
        update(CareTouch)
        .where(one_of(session, CareTouch.item_id, list(done)), CareTouch.status == TouchStatus.pending)
        .values(status=TouchStatus.cancelled)
    )
    return len(done)


def _fulfilled_by_visits(
    session: Session, store_id: int, today: date, rules: ProcessDefaults
) -> dict[int, dict]:
    """Open items with a matching repair order since they were made: the first one fulfils."""
    matches = or_(
        CareItem.kind == CareKind.warranty_end,
        and_(
            CareItem.kind == CareKind.maintenance,
            ServiceVisit.category.in_(list(rules.care_maintenance_categories)),
        ),
        and_(
            CareItem.kind == CareKind.inspection,
            ServiceVisit.category.in_(list(rules.care_inspection_categories)),
        ),
    )
    visits = (
        select(CareItem.id, ServiceVisit.visit_date, ServiceVisit.id)
        .join(ServiceVisit, ServiceVisit.vehicle_id == CareItem.vehicle_id)
        .where(
            CareItem.store_id == store_id,
            CareItem.status == CareStatus.open,
            ServiceVisit.visit_date >= CareItem.created_on,
            ServiceVisit.visit_date <= today,
            matches,
        )
        .order_by(CareItem.id, ServiceVisit.visit_date, ServiceVisit.id)
    )
    done: dict[int, dict] = {}
    for item_id, day, visit_id in session.execute(visits):
        if item_id not in done:
            done[item_id] = {"id": item_id, "fulfilled_on": day, "fulfilled_visit_id": visit_id}
    return done


def _renewed(session: Session, store_id: int) -> list[int]:
    """Open insurance items whose every policy was imported again with a later end date."""
    rows = session.execute(
        select(
            CareItem.id,
            CareItem.due_on,
            CareItem.forecast,
            Vehicle.compulsory_insurance_end,
            Vehicle.commercial_insurance_end,
        )
        .join(Vehicle, Vehicle.id == CareItem.vehicle_id)
        .where(
            CareItem.store_id == store_id,
            CareItem.status == CareStatus.open,
            CareItem.kind == CareKind.insurance,
        )
    ).all()
    renewed = []
    for item_id, due, forecast, compulsory, commercial in rows:
        now_ends = {"compulsory": compulsory, "commercial": commercial}
        names = (forecast or {}).get("policies") or []
        if names and all(now_ends.get(n) is not None and now_ends[n] > due for n in names):
            renewed.append(item_id)
    return renewed


def _inspected(session: Session, store_id: int) -> list[int]:
    """Open inspection items whose car has a validity date (检验有效期至) past the due date."""
    return list(
        session.scalars(
            select(CareItem.id)
            .join(Vehicle, Vehicle.id == CareItem.vehicle_id)
            .where(
                CareItem.store_id == store_id,
                CareItem.status == CareStatus.open,
                CareItem.kind == CareKind.inspection,
                Vehicle.inspection_valid_until > CareItem.due_on,
            )
        )
    )


def mark_missed(session: Session, store_id: int, today: date, rules: ProcessDefaults) -> int:
    result = session.execute(
        update(CareItem)
        .where(
            CareItem.store_id == store_id,
            CareItem.status == CareStatus.open,
            CareItem.due_on < today - timedelta(days=rules.care_missed_after_days),
        )
        .values(status=CareStatus.missed)
    )
    return result.rowcount or 0
