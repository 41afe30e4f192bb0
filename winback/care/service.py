"""The care calendar's business actions: the daily pass (items, touches, fulfilment), the
message delivery and the bulk-SMS export, the call outcomes, the lists and the calendar.

The daily pass is set-based and idempotent: items and touches are inserted with ON CONFLICT DO
NOTHING on their natural keys (vehicle, kind, key) and (item, step), so the same day twice adds
nothing; each statement covers the whole store.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import apprise
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, StaffRole, Store
from winback.accounts.service import effective_settings
from winback.actor import Actor
from winback.analytics import service as analytics
from winback.audit import service as audit_service
from winback.care import forecasting, holdout, messages, schedules
from winback.care.models import (
    CALL_KINDS,
    CallOutcome,
    CareItem,
    CareKind,
    CareSchedule,
    CareStatus,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.config import ProcessDefaults
from winback.customers.models import Customer, MileageFlag, ServiceVisit, Vehicle, VehicleStatus
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.i18n import gettext
from winback.paging import Page, paginate
from winback.surveys.models import SurveyTask

# Messages through the store's channel are tried this many times (one pass a day each).
MAX_SEND_ATTEMPTS = 3
# Follow-up calls are made for repair orders of the last this-many days only (not the archive).
FOLLOW_UP_LOOKBACK_DAYS = 7


def _insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# ---- the daily pass -----------------------------------------------------------------------


def plan(*, session: Session, store_id: int, actor: Actor, as_of: date | None = None) -> dict[str, int]:
    """One pass of the care calendar for one store: fulfil, mark missed, make the items that
    enter the look-ahead window, and the touches due today. Returns counts."""
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound("no store {store_id}", store_id=store_id)
    rules = effective_settings(store)
    today = as_of or clock.today()
    counts = {"fulfilled": fulfil(session=session, store_id=store_id, today=today, rules=rules)}
    counts["missed"] = _mark_missed(session, store_id, today, rules)
    recent_since = today - timedelta(days=rules.care_follow_up_days + FOLLOW_UP_LOOKBACK_DAYS)
    cars, flags = forecasting.store_histories(
        session=session, store_id=store_id, as_of=today, rules=rules, recent_since=recent_since
    )
    counts["mileage_flags"] = _record_flags(session, store_id, flags, today)
    held = holdout.for_month(
        session=session, store_id=store_id, month=today.strftime("%Y-%m"), cars=cars, rules=rules
    )
    rows = _item_rows(session, store, cars, held, today, rules)
    counts["items"] = _insert_items(session, rows)
    # an item made today for a car already in today (or since it was due): closed before any touch
    counts["fulfilled"] += fulfil(session=session, store_id=store_id, today=today, rules=rules)
    counts.update(_make_touches(session, store, cars, today, rules))
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
    horizon = today + timedelta(days=rules.care_lookahead_days)
    oldest = today - timedelta(days=rules.care_missed_after_days)
    sched = schedules.load(session=session, store_id=store.id, rules=rules)
    now = clock.now()
    rows: list[dict[str, Any]] = []

    def add(car, kind: CareKind, key: str, due: date, basis: str, forecast: dict, source_id=None) -> None:
        if oldest <= due <= horizon:
            rows.append(
                dict(
                    store_id=store.id,
                    vehicle_id=car.vehicle_id,
                    customer_id=car.customer_id,
                    kind=kind.value,
                    key=key,
                    due_on=due,
                    basis=basis,
                    forecast=forecast,
                    holdout=car.vehicle_id in held,
                    status=CareStatus.open.value,
                    created_on=today,
                    source_id=source_id,
                    created_at=now,
                )
            )

    for car in cars.values():
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
        if m is not None:
            add(
                car,
                CareKind.maintenance,
                f"maintenance:{m.target_km}",
                m.due_on,
                m.basis,
                {
                    "number": m.number,
                    "target_km": m.target_km,
                    "km_per_day": round(u.km_per_day, 1) if u.km_per_day else None,
                    "source": u.source,
                    "readings": u.readings,
                    "time_due": m.time_due.isoformat(),
                    "km_due": m.km_due.isoformat() if m.km_due else None,
                },
            )
        if car.purchase is not None:
            due, onsite = schedules.inspection_due(registered=car.purchase, as_of=today, rules=rules)
            add(car, CareKind.inspection, f"inspection:{due.isoformat()}", due, "rule", {"onsite": onsite})
        policies: dict[date, list[str]] = {}
        for policy, end in (
            ("compulsory", car.compulsory_insurance_end),
            ("commercial", car.commercial_insurance_end),
        ):
            if end is not None:
                policies.setdefault(end, []).append(policy)
        for end, names in policies.items():  # one reminder when both policies end the same day
            add(car, CareKind.insurance, f"insurance:{end.isoformat()}", end, "date", {"policies": names})
        if car.warranty_end is not None and car.warranty_end >= today:
            due = car.warranty_end - timedelta(days=rules.care_warranty_lead_days)
            add(
                car,
                CareKind.warranty_end,
                f"warranty_end:{car.warranty_end.isoformat()}",
                max(due, today),
                "date",
                {"warranty_end": car.warranty_end.isoformat()},
            )
        for visit_id, day, advisor in car.recent_visits:
            due = day + timedelta(days=rules.care_follow_up_days)
            add(
                car,
                CareKind.follow_up_call,
                f"follow_up_call:{visit_id}",
                due,
                "date",
                {"visit_on": day.isoformat(), "advisor_id": advisor},
                source_id=visit_id,
            )
    rows += _complaint_rows(session, store.id, cars, held, today, rules, now)
    return rows


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
    stmt = _insert(session)(table).on_conflict_do_nothing(index_elements=["vehicle_id", "kind", "key"])
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


def winback_targets(session: Session, store_id: int) -> set[int]:
    """Cars that are targets of a win-back cycle still open: they are not also reminded."""
    stmt = (
        select(Target.vehicle_id)
        .join(MonthlyCycle, MonthlyCycle.id == Target.cycle_id)
        .where(
            MonthlyCycle.store_id == store_id,
            MonthlyCycle.stage.not_in([CycleStage.evaluated, CycleStage.cancelled]),
        )
    )
    return set(session.scalars(stmt))


def _advisors(session: Session, store_id: int) -> set[int]:
    stmt = (
        select(Staff.id)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(Staff.store_id == store_id, Staff.active.is_(True), StaffRole.role == Role.advisor)
    )
    return set(session.scalars(stmt))


def _step_now(due: date, today: date, steps: list[int]) -> int | None:
    """The touch of the sequence whose day has come (the latest one passed), None when the due
    date has passed or the first touch is still ahead."""
    passed = [s for s in steps if today >= due - timedelta(days=s)]
    if due < today or not passed:
        return None
    return min(passed)


def _make_touches(
    session: Session, store: Store, cars: dict[int, forecasting.History], today: date, rules: ProcessDefaults
) -> dict[str, int]:
    steps = sorted(set(rules.care_touch_days), reverse=True)
    first = max(steps) if steps else 0
    open_items = session.execute(
        select(CareItem.id, CareItem.vehicle_id, CareItem.kind, CareItem.due_on, CareItem.forecast)
        .where(
            CareItem.store_id == store.id,
            CareItem.status == CareStatus.open,
            CareItem.holdout.is_(False),
            CareItem.due_on >= today - timedelta(days=rules.care_missed_after_days),
            CareItem.due_on <= today + timedelta(days=max(first, rules.care_lookahead_days)),
        )
        .order_by(CareItem.id)
    ).all()
    excluded = winback_targets(session, store.id)
    advisors = _advisors(session, store.id)
    url = rules.care_apprise_url.strip()
    p_alive: dict[int, float] | None = None
    rows: list[dict[str, Any]] = []
    skipped = {"winback_target": 0, "no_contact": 0}
    now = clock.now()
    for item_id, vehicle_id, kind, due, forecast in open_items:
        car = cars.get(vehicle_id)
        if car is None:
            continue
        call_kind = kind in CALL_KINDS
        step = 0 if call_kind else _step_now(due, today, steps)
        if step is None:
            continue
        if vehicle_id in excluded and not call_kind:
            skipped["winback_target"] += 1
            continue
        if car.do_not_call or not car.phone or not car.phone_valid:
            skipped["no_contact"] += 1
            continue
        why = "call_kind" if call_kind else None
        if why is None and car.spend_per_year >= rules.care_call_min_spend_per_year > 0:
            why = "high_value"
        if why is None and rules.care_call_p_alive_below > 0:
            if p_alive is None:
                p_alive = _p_alive(session, store.id, today, rules)
            if p_alive.get(vehicle_id, 1.0) < rules.care_call_p_alive_below:
                why = "drifting"
        if why is not None:
            channel = TouchChannel.call
            advisor = forecast.get("advisor_id") if kind == CareKind.follow_up_call else None
            for candidate in (advisor, car.customer_advisor_id, car.last_advisor_id):
                if candidate in advisors:
                    advisor = candidate
                    break
            else:
                advisor = None
        else:
            channel = TouchChannel.message if url else TouchChannel.export
            advisor = None
        body = None
        if channel != TouchChannel.call:
            body = messages.render(
                kind.value, store=store.name, name=car.name, plate=car.plate, due=due, forecast=forecast or {}
            )
        rows.append(
            dict(
                store_id=store.id,
                item_id=item_id,
                step=step,
                channel=channel.value,
                status=TouchStatus.pending.value,
                planned_on=today,
                why=why,
                advisor_id=advisor,
                phone=car.phone,
                body=body,
                attempts=0,
                created_at=now,
            )
        )
    made = 0
    if rows:
        open_items = select(CareItem.id).where(
            CareItem.store_id == store.id, CareItem.status == CareStatus.open
        )
        known = set(
            session.execute(
                select(CareTouch.item_id, CareTouch.step).where(CareTouch.item_id.in_(open_items))
            ).all()
        )
        rows = [r for r in rows if (r["item_id"], r["step"]) not in known]
        table = CareTouch.__table__
        stmt = _insert(session)(table).on_conflict_do_nothing(index_elements=["item_id", "step"])
        for i in range(0, len(rows), 2000):
            made += len(session.execute(stmt.returning(table.c.id), rows[i : i + 2000]).all())
    return {
        "touches": made,
        "skipped_winback_target": skipped["winback_target"],
        "skipped_no_contact": skipped["no_contact"],
    }


def _p_alive(session: Session, store_id: int, today: date, rules: ProcessDefaults) -> dict[int, float]:
    """The churn model's P(alive) per car (the store's MBG/NBD fit, as screening uses)."""
    scores = analytics.score_store(session=session, store_id=store_id, as_of=today, rules=rules)
    if scores.fit is None:  # too few histories to fit: nobody is called "drifting"
        return {}
    return {int(v): float(p) for v, p in zip(scores.vehicle_id.tolist(), scores.p_alive.tolist())}


# ---- closing the loop ---------------------------------------------------------------------


def fulfil(*, session: Session, store_id: int, today: date, rules: ProcessDefaults | None = None) -> int:
    """A repair order of the matching kind (or a renewed policy) fulfils the open item and stops
    its touches; the item keeps the last touch sent before the visit. Returns items fulfilled."""
    rules = rules or effective_settings(session.get(Store, store_id))
    maintenance = list(rules.care_maintenance_categories)
    inspection = list(rules.care_inspection_categories)
    matches = or_(
        CareItem.kind == CareKind.warranty_end,
        and_(CareItem.kind == CareKind.maintenance, ServiceVisit.category.in_(maintenance)),
        and_(CareItem.kind == CareKind.inspection, ServiceVisit.category.in_(inspection)),
    )
    # Every matching visit since each open item was made, in date order: the first one fulfils.
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
    done: dict[int, dict[str, Any]] = {}
    for item_id, day, visit_id in session.execute(visits):
        if item_id not in done:
            done[item_id] = {"id": item_id, "fulfilled_on": day, "fulfilled_visit_id": visit_id}
    # Insurance: every policy of the item imported again with a later date: renewed.
    renewed = session.execute(
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
    for item_id, due, forecast, compulsory, commercial in renewed:
        now_ends = {"compulsory": compulsory, "commercial": commercial}
        names = (forecast or {}).get("policies") or []
        if names and all(now_ends.get(n) is not None and now_ends[n] > due for n in names):
            done[item_id] = {"id": item_id, "fulfilled_on": today, "fulfilled_visit_id": None}
    if not done:
        return 0
    touches = session.execute(
        select(CareTouch.item_id, CareTouch.id, CareTouch.sent_at)
        .where(CareTouch.item_id.in_(done), CareTouch.status == TouchStatus.sent)
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
        .where(CareTouch.item_id.in_(done), CareTouch.status == TouchStatus.pending)
        .values(status=TouchStatus.cancelled)
    )
    return len(done)


def _mark_missed(session: Session, store_id: int, today: date, rules: ProcessDefaults) -> int:
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


# ---- delivery -----------------------------------------------------------------------------


def deliver_messages(*, session: Session, store_id: int) -> dict[str, int]:
    """Send the pending message touches through the store's Apprise URL, the customer's phone
    put in for ``{phone}``. A refused message is retried on the next pass, then marked failed."""
    rules = effective_settings(session.get(Store, store_id))
    url = rules.care_apprise_url.strip()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not url:
        return counts
    pending = session.scalars(
        select(CareTouch)
        .where(
            CareTouch.store_id == store_id,
            CareTouch.channel == TouchChannel.message,
            CareTouch.status == TouchStatus.pending,
        )
        .order_by(CareTouch.id)
    ).all()
    for touch in pending:
        target = url.replace("{phone}", quote(touch.phone or "", safe=""))
        notifier = apprise.Apprise()
        ok, error = False, None
        if not notifier.add(target):
            error = "not a valid notification URL"
        else:
            try:
                ok = bool(notifier.notify(title="", body=touch.body or ""))
                error = None if ok else "the receiver did not accept the message"
            except Exception as exc:  # a broken plugin must not stop the pass
                error = f"{type(exc).__name__}: {exc}"
        touch.attempts += 1
        if ok:
            touch.status, touch.sent_at, touch.last_error = TouchStatus.sent, clock.now(), None
            counts["sent"] += 1
        elif touch.attempts >= MAX_SEND_ATTEMPTS:
            touch.status, touch.last_error = TouchStatus.failed, error
            counts["failed"] += 1
        else:
            touch.last_error = error
            counts["retry"] += 1
    session.flush()
    return counts


# The columns bulk-SMS platforms take (their own format, in Chinese whatever the reader's language).
SMS_SHEET = "短信"
SMS_HEADERS = ("手机号码", "短信内容", "客户姓名", "车牌号", "提醒类型", "到期日")


def export_pending(*, session: Session, store_ids: list[int], actor: Actor) -> tuple[bytes, int]:
    """The pending export touches as a bulk-SMS workbook (手机号码, 短信内容 first: the columns
    SMS platforms take); the exported touches are marked sent. Audited as an export."""
    from openpyxl import Workbook

    rows = session.execute(
        select(CareTouch, CareItem, Customer.name, Vehicle.plate)
        .join(CareItem, CareItem.id == CareTouch.item_id)
        .join(Customer, Customer.id == CareItem.customer_id)
        .join(Vehicle, Vehicle.id == CareItem.vehicle_id)
        .where(
            CareTouch.store_id.in_(store_ids),
            CareTouch.channel == TouchChannel.export,
            CareTouch.status == TouchStatus.pending,
        )
        .order_by(CareTouch.id)
    ).all()
    wb = Workbook()
    ws = wb.active
    ws.title = SMS_SHEET
    ws.append(SMS_HEADERS)
    now = clock.now()
    for touch, item, name, plate in rows:
        ws.append(
            [
                touch.phone,
                touch.body,
                name,
                plate,
                gettext(messages.KIND_NAMES[item.kind.value], "zh"),
                item.due_on,
            ]
        )
        touch.status, touch.sent_at = TouchStatus.sent, now
    for col, width in zip("ABCDEF", (16, 80, 12, 12, 10, 12)):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    for store_id in store_ids:
        n = sum(1 for t, *_ in rows if t.store_id == store_id)
        if n:
            audit_service.record_export(
                session=session, actor=actor, store_id=store_id, what="care_sms", filters={}, rows=n
            )
    session.flush()
    return buf.getvalue(), len(rows)


# ---- calls --------------------------------------------------------------------------------


def record_call(
    *, session: Session, touch_id: int, outcome: CallOutcome, note: str | None, actor_staff: Staff
) -> CareTouch:
    """The advisor records how a care call went, like a survey attempt. A follow-up call or a
    complaint re-call made fulfils its item; "serviced elsewhere" and "not interested" are kept
    for the report's tally of reasons."""
    touch = session.get(CareTouch, touch_id)
    if touch is None or touch.store_id not in actor_staff.all_store_ids or touch.channel != TouchChannel.call:
        raise NotFound("no care call {touch_id}", touch_id=touch_id)
    mine = touch.advisor_id == actor_staff.id
    if not mine and not actor_staff.has_role(Role.supervisor, Role.manager, Role.admin):
        raise Forbidden("this call is in another advisor's queue")
    if touch.status != TouchStatus.pending:
        raise Conflict("care call {touch_id} is already closed", touch_id=touch_id, code="closed")
    note = (note or "").strip()[:500] or None
    item = session.get(CareItem, touch.item_id)
    touch.outcome, touch.outcome_note = outcome, note
    touch.attempts += 1
    if outcome != CallOutcome.unreachable:
        touch.status, touch.sent_at = TouchStatus.sent, clock.now()
    if item.kind in CALL_KINDS and outcome != CallOutcome.unreachable:
        item.status, item.fulfilled_on = CareStatus.fulfilled, clock.today()
        item.preceding_touch_id = touch.id
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="care.call_recorded",
        entity_type="care_touch",
        entity_id=touch.id,
        store_id=touch.store_id,
        customer_id=item.customer_id,
        changes={"outcome": outcome.value, "note": note, "kind": item.kind.value},
    )
    session.flush()
    return touch


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
    items of the calls. A car with fewer than two readings takes the km/day its last care item
    was planned with (its model's median), else the store's default."""
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
        entries: list[CalendarEntry] = []
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
        if m is not None:
            entries.append(
                CalendarEntry(
                    "maintenance",
                    m.due_on,
                    m.basis,
                    {
                        "number": m.number,
                        "target_km": m.target_km,
                        "km_per_day": round(u.km_per_day, 1) if u.km_per_day else None,
                        "source": u.source,
                        "readings": u.readings,
                        "last_km": u.last_km,
                    },
                )
            )
        if v.purchase_date:
            due, onsite = schedules.inspection_due(registered=v.purchase_date, as_of=today, rules=rules)
            entries.append(CalendarEntry("inspection", due, "rule", {"onsite": onsite}))
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


# ---- settings: per-store schedules --------------------------------------------------------


def list_schedules(*, session: Session, store_id: int) -> list[CareSchedule]:
    return list(
        session.scalars(
            select(CareSchedule)
            .where(CareSchedule.store_id == store_id)
            .order_by(CareSchedule.model, CareSchedule.grade)
        )
    )


def save_schedule(
    *,
    session: Session,
    store_id: int,
    model: str | None,
    grade: str | None,
    first_km: int,
    first_months: int,
    interval_km: int,
    interval_months: int,
    actor: Actor,
) -> CareSchedule:
    """Set the maintenance schedule of one model (or one grade) of the store (the manager)."""
    model = (model or "").strip() or None
    grade = (grade or "").strip() or None
    if (model is None) == (grade is None):
        raise InvalidInput("give either a model or a grade", field="model")
    for name, value, low, high in (
        ("first_km", first_km, 500, 50000),
        ("first_months", first_months, 1, 36),
        ("interval_km", interval_km, 1000, 100000),
        ("interval_months", interval_months, 1, 36),
    ):
        if not low <= value <= high:
            raise InvalidInput(
                "{name} must lie between {low} and {high}", name=name, low=low, high=high, field=name
            )
    row = session.scalar(
        select(CareSchedule).where(
            CareSchedule.store_id == store_id,
            CareSchedule.model.is_(None) if model is None else CareSchedule.model == model,
            CareSchedule.grade.is_(None) if grade is None else CareSchedule.grade == grade,
        )
    )
    values = dict(
        first_km=first_km, first_months=first_months, interval_km=interval_km, interval_months=interval_months
    )
    if row is None:
        row = CareSchedule(store_id=store_id, model=model, grade=grade, **values)
        session.add(row)
        session.flush()
        changes = {"created": {"model": model, "grade": grade, **values}}
    else:
        changes = audit_service.diff(row, values)
        for k, v in values.items():
            setattr(row, k, v)
    audit_service.record(
        session=session,
        actor=actor,
        action="care.schedule_saved",
        entity_type="care_schedule",
        entity_id=row.id,
        store_id=store_id,
        changes=changes,
    )
    session.flush()
    return row


def delete_schedule(*, session: Session, store_id: int, schedule_id: int, actor: Actor) -> None:
    row = session.get(CareSchedule, schedule_id)
    if row is None or row.store_id != store_id:
        raise NotFound("no schedule {schedule_id}", schedule_id=schedule_id)
    audit_service.record(
        session=session,
        actor=actor,
        action="care.schedule_deleted",
        entity_type="care_schedule",
        entity_id=row.id,
        store_id=store_id,
        changes={"model": row.model, "grade": row.grade},
    )
    session.delete(row)
    session.flush()
