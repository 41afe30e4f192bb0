"""The care calendar's daily pass for one store: fulfil, mark missed, make the items that enter
the look-ahead window, then the touches due today.

Set-based and idempotent: items are inserted with ON CONFLICT DO NOTHING on their natural key
(vehicle, kind, key), so the same day twice adds nothing; each statement covers the whole store.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock, collector
from winback.accounts.models import Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.care import forecasting, holdout, schedules
from winback.care.fulfilment import fulfil, mark_missed
from winback.care.models import (
    CareItem,
    CareKind,
    CareStatus,
)
from winback.care.touches import dialect_insert, make_touches
from winback.config import ProcessDefaults
from winback.customers.models import MileageFlag
from winback.cycles.models import Target
from winback.errors import NotFound
from winback.surveys.models import SurveyTask

# Follow-up calls are made for repair orders of the last this-many days only (not the archive).
FOLLOW_UP_LOOKBACK_DAYS = 7


# ---- the daily pass -----------------------------------------------------------------------


def plan(*, session: Session, store_id: int, actor: Actor, as_of: date | None = None) -> dict[str, int]:
    """One pass of the care calendar for one store: fulfil, mark missed, make the items that
    enter the look-ahead window, and the touches due today. Returns counts."""
    with collector.young_collections_only():  # a store's car histories are alive at once
        return _plan(session=session, store_id=store_id, actor=actor, as_of=as_of)


def _plan(*, session: Session, store_id: int, actor: Actor, as_of: date | None) -> dict[str, int]:
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound("no store {store_id}", store_id=store_id)
    rules = effective_settings(store)
    today = as_of or clock.today()
    counts = {"fulfilled": fulfil(session=session, store_id=store_id, today=today, rules=rules)}
    counts["missed"] = mark_missed(session, store_id, today, rules)
    recent_since = today - timedelta(days=rules.care_follow_up_days + FOLLOW_UP_LOOKBACK_DAYS)
    cars, flags = forecasting.store_histories(
        session=session, store_id=store_id, as_of=today, rules=rules, recent_since=recent_since
    )
    counts["mileage_flags"] = _record_flags(session, store_id, flags, today)
    collector.collect_young()  # what reading the histories let go of
    held = holdout.for_month(
        session=session, store_id=store_id, month=today.strftime("%Y-%m"), cars=cars, rules=rules
    )
    rows = _item_rows(session, store, cars, held, today, rules)
    counts["items"] = _insert_items(session, rows)
    del rows
    collector.collect_young()
    # an item made today for a car already in today (or since it was due): closed before any touch
    counts["fulfilled"] += fulfil(session=session, store_id=store_id, today=today, rules=rules)
    counts.update(make_touches(session, store, cars, today, rules))
    counts["holdout_cars"] = len(held)
    if any(v for k, v in counts.items() if k != "holdout_cars"):
        audit_service.record(
            session=session,
            actor=actor,
            action="care.planned",
            entity_type="store",
            entity_id=store_id,
            store_id=store_id,
            changes={"as_of": today.isoformat(), **counts},
        )
    session.flush()
    return counts


def _item_rows(
    session: Session,
    store: Store,
    cars: dict[int, forecasting.History],
    held: set[int],
    today: date,
    rules: ProcessDefaults,
) -> list[dict[str, Any]]:
    """The rows of every car's care items due within the look-ahead window (or missed lately)."""
    horizon = today + timedelta(days=rules.care_lookahead_days)
    oldest = today - timedelta(days=rules.care_missed_after_days)
    sched = schedules.load(session=session, store_id=store.id, rules=rules)
    now = clock.now()
    rows: list[dict[str, Any]] = []
    open_ = CareStatus.open.value
    for car in cars.values():
        for kind, key, due, basis, forecast, source_id in _due_items(
            car, sched, today, rules, oldest, horizon
        ):
            rows.append(
                {
                    "store_id": store.id,
                    "vehicle_id": car.vehicle_id,
                    "customer_id": car.customer_id,
                    "kind": kind.value,
                    "key": key,
                    "due_on": due,
                    "basis": basis,
                    "forecast": forecast,
                    "holdout": car.vehicle_id in held,
                    "status": open_,
                    "created_on": today,
                    "source_id": source_id,
                    "created_at": now,
                }
            )
    rows += _complaint_rows(session, store.id, cars, held, today, rules, now)
    return rows


def _due_items(
    car: forecasting.History, sched, today: date, rules: ProcessDefaults, oldest: date, horizon: date
):
    """``(kind, key, due, basis, forecast, source_id)`` of each care item of one car due between
    ``oldest`` and ``horizon``: the next maintenance, the inspection, each insurance end, the
    warranty end and the follow-up calls of its recent repair orders. Pure: the car's history
    and the rules in, the dates out. (The window is checked before an item's words are made:
    most of a store's cars have nothing due in it.)"""
    u = car.usage
    m = schedules.maintenance_due(
        schedule=sched.of(car.model, car.grade),
        purchase=car.purchase,
        last_service=car.last_service,
        last_service_km=car.last_service_km,
        services=car.services,
        reading_on=u.last_on,
        reading_km=u.last_km,
        km_per_day=u.km_per_day,
    )
    if m is not None and oldest <= m.due_on <= horizon:
        forecast = {
            "number": m.number,
            "target_km": m.target_km,
            "km_per_day": round(u.km_per_day, 1) if u.km_per_day else None,
            "source": u.source,
            "readings": u.readings,
            "time_due": m.time_due.isoformat(),
            "km_due": m.km_due.isoformat() if m.km_due else None,
        }
        yield CareKind.maintenance, f"maintenance:{m.target_km}", m.due_on, m.basis, forecast, None
    inspection = schedules.next_inspection(
        registered_on=car.registered_on,
        purchase=car.purchase,
        valid_until=car.inspection_valid_until,
        as_of=today,
        rules=rules,
        rule=sched.inspection,
    )
    if inspection is not None and oldest <= inspection.due_on <= horizon:
        due = inspection.due_on
        yield (
            CareKind.inspection,
            f"inspection:{due.isoformat()}",
            due,
            inspection.basis,
            inspection.detail,
            None,
        )
    policies: dict[date, list[str]] = {}
    for policy, end in (
        ("compulsory", car.compulsory_insurance_end),
        ("commercial", car.commercial_insurance_end),
    ):
        if end is not None:
            policies.setdefault(end, []).append(policy)
    for end, names in policies.items():  # one reminder when both policies end the same day
        if oldest <= end <= horizon:
            yield CareKind.insurance, f"insurance:{end.isoformat()}", end, "date", {"policies": names}, None
    if car.warranty_end is not None and car.warranty_end >= today:
        due = max(car.warranty_end - timedelta(days=rules.care_warranty_lead_days), today)
        if due <= horizon:
            end = car.warranty_end.isoformat()
            yield CareKind.warranty_end, f"warranty_end:{end}", due, "date", {"warranty_end": end}, None
    for visit_id, day, advisor in car.recent_visits:
        due = day + timedelta(days=rules.care_follow_up_days)
        if not oldest <= due <= horizon:
            continue
        forecast = {"visit_on": day.isoformat(), "advisor_id": advisor}
        yield CareKind.follow_up_call, f"follow_up_call:{visit_id}", due, "date", forecast, visit_id


def _complaint_rows(session, store_id, cars, held, today, rules, now) -> list[dict[str, Any]]:
    """A complaint answered on a survey task: call the customer again within N days."""
    since = clock.now() - timedelta(days=rules.care_complaint_recall_days + FOLLOW_UP_LOOKBACK_DAYS)
    stmt = (
        select(SurveyTask.id, SurveyTask.complaint_answered_at, Target.vehicle_id, Target.customer_id)
        .join(Target, Target.id == SurveyTask.target_id)
        .where(
            SurveyTask.store_id == store_id,
            SurveyTask.complaint_answered_at.is_not(None),
            SurveyTask.complaint_answered_at >= since,
        )
    )
    rows = []
    for task_id, answered, vehicle_id, customer_id in session.execute(stmt):
        if vehicle_id not in cars:
            continue
        answered_on = clock.local(answered).date()
        rows.append(
            dict(
                store_id=store_id,
                vehicle_id=vehicle_id,
                customer_id=customer_id,
                kind=CareKind.complaint_recall.value,
                key=f"complaint_recall:{task_id}",
                due_on=answered_on + timedelta(days=rules.care_complaint_recall_days),
                basis="date",
                forecast={"answered_on": answered_on.isoformat(), "task_id": task_id},
                holdout=False,  # a complaint is always called back: no holdout for a promise
                status=CareStatus.open.value,
                created_on=today,
                source_id=task_id,
                created_at=now,
            )
        )
    return rows


def _insert_items(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the items not there yet. The keys already made are read in one query and left
    out (the daily pass mostly finds its items made); ON CONFLICT DO NOTHING keeps two passes
    running at once from doubling one."""
    if not rows:
        return 0
    store_id = rows[0]["store_id"]
    oldest = min(r["due_on"] for r in rows)
    known = {
        (v, getattr(k, "value", k), key)
        for v, k, key in session.execute(
            select(CareItem.vehicle_id, CareItem.kind, CareItem.key).where(
                CareItem.store_id == store_id, CareItem.due_on >= oldest
            )
        )
    }
    new = [r for r in rows if (r["vehicle_id"], r["kind"], r["key"]) not in known]
    table = CareItem.__table__
    stmt = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=["vehicle_id", "kind", "key"])
    made = 0
    for i in range(0, len(new), 2000):
        made += len(session.execute(stmt.returning(table.c.id), new[i : i + 2000]).all())
    return made


def _record_flags(session: Session, store_id: int, flags: list[forecasting.Flag], today: date) -> int:
    """Mileage readings ignored as typos, kept for the archive cleanup's findings (once each)."""
    if not flags:
        return 0
    known = set(session.scalars(select(MileageFlag.visit_id).where(MileageFlag.store_id == store_id)))
    new = [
        dict(
            store_id=store_id,
            visit_id=f.visit_id,
            vehicle_id=f.vehicle_id,
            reason=f.reason,
            mileage=f.mileage,
            found_on=today,
        )
        for f in flags
        if f.visit_id not in known
    ]
    if new:
        session.execute(MileageFlag.__table__.insert(), new)
    return len(new)


def mileage_flags(*, session: Session, store_id: int) -> int:
    """How many repair orders carry a mileage the forecast ignores (archive findings)."""
    return session.scalar(select(func.count(MileageFlag.id)).where(MileageFlag.store_id == store_id)) or 0
