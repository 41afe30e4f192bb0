"""The care lists (front desk, advisor's queue) and a customer's care calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, Store
from winback.accounts.service import effective_settings
from winback.care import forecasting, schedules
from winback.care.models import (
    CALL_KINDS,
    CareItem,
    CareKind,
    CareStatus,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus
from winback.paging import Page, paginate

# ---- lists --------------------------------------------------------------------------------


@dataclass
class Row:
    item: CareItem
    touch: CareTouch | None
    customer: Customer
    vehicle: Vehicle


VIEWS = ("today", "week", "overdue", "all")


def _visible(stmt, viewer: Staff | None):
    """An advisor sees the items of their customers and the calls in their queue."""
    if viewer is None or viewer.has_role(Role.admin, Role.supervisor, Role.manager, Role.auditor):
        return stmt
    mine = select(CareTouch.item_id).where(CareTouch.advisor_id == viewer.id)
    return stmt.where(or_(Customer.advisor_id == viewer.id, CareItem.id.in_(mine)))


def items_page(
    *,
    session: Session,
    store_ids: list[int],
    viewer: Staff | None = None,
    kind: CareKind | None = None,
    status: CareStatus | None = None,
    due_within_days: int | None = None,
    view: str = "all",
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """Care items, soonest first: ``view`` today (touches planned today), week (due within 7
    days), overdue (open, past due) or all; filtered by kind, status, days ahead."""
    today = clock.today()
    last_touch = (
        select(CareTouch.item_id, func.max(CareTouch.id).label("touch_id"))
        .group_by(CareTouch.item_id)
        .subquery()
    )
    stmt = (
        select(CareItem, CareTouch, Customer, Vehicle)
        .join(Customer, Customer.id == CareItem.customer_id)
        .join(Vehicle, Vehicle.id == CareItem.vehicle_id)
        .outerjoin(last_touch, last_touch.c.item_id == CareItem.id)
        .outerjoin(CareTouch, CareTouch.id == last_touch.c.touch_id)
        .where(CareItem.store_id.in_(store_ids))
    )
    stmt = _visible(stmt, viewer)
    if kind is not None:
        stmt = stmt.where(CareItem.kind == kind)
    if status is not None:
        stmt = stmt.where(CareItem.status == status)
    if due_within_days is not None:
        stmt = stmt.where(CareItem.due_on <= today + timedelta(days=due_within_days))
        if status is None:
            stmt = stmt.where(CareItem.status == CareStatus.open)
    if view == "today":
        stmt = stmt.where(CareTouch.planned_on == today)
    elif view == "week":
        stmt = stmt.where(
            CareItem.status == CareStatus.open,
            CareItem.due_on >= today,
            CareItem.due_on <= today + timedelta(days=7),
        )
    elif view == "overdue":
        stmt = stmt.where(CareItem.status == CareStatus.open, CareItem.due_on < today)
    stmt = stmt.order_by(CareItem.due_on, CareItem.id)
    pg = paginate(session, stmt, page=page, page_size=page_size, scalars=False)
    return Page([Row(*r) for r in pg.items], pg.total, pg.page, pg.page_size, pg.filtered)


def calls_page(*, session: Session, store_ids: list[int], viewer: Staff, page: int = 1) -> Page:
    """Open care calls: an advisor's own queue; the supervisor and manager see every call."""
    stmt = (
        select(CareItem, CareTouch, Customer, Vehicle)
        .join(CareItem, CareItem.id == CareTouch.item_id)
        .join(Customer, Customer.id == CareItem.customer_id)
        .join(Vehicle, Vehicle.id == CareItem.vehicle_id)
        .where(
            CareTouch.store_id.in_(store_ids),
            CareTouch.channel == TouchChannel.call,
            CareTouch.status == TouchStatus.pending,
        )
        .order_by(CareItem.due_on, CareTouch.id)
    )
    if not viewer.has_role(Role.supervisor, Role.manager, Role.admin):
        stmt = stmt.where(CareTouch.advisor_id == viewer.id)
    pg = paginate(session, stmt, page=page, scalars=False)
    return Page([Row(*r) for r in pg.items], pg.total, pg.page, pg.page_size, pg.filtered)


def pending_exports(*, session: Session, store_ids: list[int]) -> int:
    return (
        session.scalar(
            select(func.count(CareTouch.id)).where(
                CareTouch.store_id.in_(store_ids),
                CareTouch.channel == TouchChannel.export,
                CareTouch.status == TouchStatus.pending,
            )
        )
        or 0
    )


# ---- the car's calendar (customer page) ---------------------------------------------------


@dataclass
class CalendarEntry:
    kind: str
    due_on: date | None
    basis: str | None
    detail: dict[str, Any]
    status: str | None = None


def calendar(*, session: Session, customer_id: int) -> dict[int, list[CalendarEntry]]:
    """Per vehicle of the customer: next maintenance (with its forecast basis), inspection,
    insurance and warranty end, computed now from the car's own repair orders; plus the open
    items of the calls."""
    vehicles = session.scalars(
        select(Vehicle).where(Vehicle.customer_id == customer_id, Vehicle.status == VehicleStatus.active)
    ).all()
    if not vehicles:
        return {}
    store = session.get(Store, vehicles[0].store_id)
    rules = effective_settings(store)
    sched = schedules.load(session=session, store_id=store.id, rules=rules)
    today = clock.today()
    out: dict[int, list[CalendarEntry]] = {}
    for v in vehicles:
        entries = _maintenance_entry(session, v, sched, today, rules)
        inspection = schedules.next_inspection(
            registered_on=v.registered_on,
            purchase=v.purchase_date,
            valid_until=v.inspection_valid_until,
            as_of=today,
            rules=rules,
        )
        if inspection is not None:
            entries.append(
                CalendarEntry("inspection", inspection.due_on, inspection.basis, inspection.detail)
            )
        for policy, end in (
            ("compulsory", v.compulsory_insurance_end),
            ("commercial", v.commercial_insurance_end),
        ):
            if end:
                entries.append(CalendarEntry("insurance", end, "date", {"policy": policy}))
        if v.warranty_end:
            entries.append(CalendarEntry("warranty_end", v.warranty_end, "date", {}))
        for item in session.scalars(
            select(CareItem)
            .where(
                CareItem.vehicle_id == v.id, CareItem.kind.in_(CALL_KINDS), CareItem.status == CareStatus.open
            )
            .order_by(CareItem.due_on)
        ):
            entries.append(
                CalendarEntry(item.kind.value, item.due_on, item.basis, dict(item.forecast or {}), "open")
            )
        entries.sort(key=lambda e: e.due_on or date.max)
        out[v.id] = entries
    return out


def _maintenance_entry(session: Session, v: Vehicle, sched, today: date, rules) -> list[CalendarEntry]:
    """The car's next maintenance from its own readings. A car with fewer than two readings
    takes the km/day its last care item was planned with (its model's median), else the store's
    default. A list of zero or one entry."""
    visits = session.execute(
        select(ServiceVisit.id, ServiceVisit.visit_date, ServiceVisit.mileage, ServiceVisit.category)
        .where(ServiceVisit.vehicle_id == v.id, ServiceVisit.visit_date <= today)
        .order_by(ServiceVisit.visit_date, ServiceVisit.id)
    ).all()
    u, _flags, by_visit = forecasting.usage(
        [(i, d, km) for i, d, km, _c in visits],
        vehicle_id=v.id,
        purchase=v.purchase_date,
        max_km_per_day=rules.care_max_km_per_day,
    )
    if u.source != "own":
        planned = session.scalar(
            select(CareItem.forecast)
            .where(CareItem.vehicle_id == v.id, CareItem.kind == CareKind.maintenance)
            .order_by(CareItem.id.desc())
            .limit(1)
        )
        if planned and planned.get("km_per_day"):
            u.km_per_day, u.source = planned["km_per_day"], planned.get("source") or "model"
        else:
            u.km_per_day, u.source = rules.care_default_km_per_day, "default"
    services = [(i, d) for i, d, _km, c in visits if c in set(rules.care_maintenance_categories)]
    last = services[-1] if services else None
    m = schedules.maintenance_due(
        schedule=sched.of(v.model, v.grade.value if v.grade else None),
        purchase=v.purchase_date,
        last_service=last[1] if last else None,
        last_service_km=by_visit.get(last[0]) if last else None,
        services=len(services),
        reading_on=u.last_on,
        reading_km=u.last_km,
        km_per_day=u.km_per_day,
    )
    if m is None:
        return []
    detail = {
        "number": m.number,
        "target_km": m.target_km,
        "km_per_day": round(u.km_per_day, 1) if u.km_per_day else None,
        "source": u.source,
        "readings": u.readings,
        "last_km": u.last_km,
    }
    return [CalendarEntry("maintenance", m.due_on, m.basis, detail)]


# ---- settings: per-store schedules --------------------------------------------------------
