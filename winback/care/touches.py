"""The touch sequence of each open item (30/14/3 days before due by default): a message through
the store's channel, or a call task in an advisor's queue when the car is worth a call.

Touches are inserted with ON CONFLICT DO NOTHING on (item, step): the same day twice adds nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, StaffRole, Store
from winback.analytics import service as analytics
from winback.care import forecasting, messages
from winback.care.models import (
    CALL_KINDS,
    CareItem,
    CareKind,
    CareStatus,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.config import ProcessDefaults
from winback.cycles.models import CycleStage, MonthlyCycle, Target


def dialect_insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


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
    days_left = (due - today).days
    if days_left < 0:
        return None
    return min((s for s in steps if s >= days_left), default=None)


def make_touches(
    session: Session, store: Store, cars: dict[int, forecasting.History], today: date, rules: ProcessDefaults
) -> dict[str, int]:
    """The touches due today for the store's open items: load the items in the window, decide
    each one's touch (pure, ``_touch_of``), insert the new ones."""
    steps = sorted(set(rules.care_touch_days), reverse=True)
    excluded = winback_targets(session, store.id)
    advisors = _advisors(session, store.id)
    p_alive = _LazyPAlive(cars, store.id, today, rules)
    rows: list[dict[str, Any]] = []
    skipped = {"winback_target": 0, "no_contact": 0}
    now = clock.now()
    for item_id, vehicle_id, kind, due, forecast in _items_in_window(session, store.id, today, rules, steps):
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
        why = "call_kind" if call_kind else _worth_a_call(car, rules, p_alive)
        row = dict(store_id=store.id, item_id=item_id, step=step, status=TouchStatus.pending.value)
        row.update(planned_on=today, why=why, phone=car.phone, attempts=0, created_at=now)
        if why is not None:
            advisor = forecast.get("advisor_id") if kind == CareKind.follow_up_call else None
            candidates = (advisor, car.customer_advisor_id, car.last_advisor_id)
            row.update(channel=TouchChannel.call.value, body=None)
            row["advisor_id"] = next((a for a in candidates if a in advisors), None)
        else:
            channel = TouchChannel.message if rules.care_apprise_url.strip() else TouchChannel.export
            body = messages.render(
                kind.value, store=store.name, name=car.name, plate=car.plate, due=due, forecast=forecast or {}
            )
            row.update(channel=channel.value, body=body, advisor_id=None)
        rows.append(row)
    return {
        "touches": _insert_touches(session, store.id, rows),
        "skipped_winback_target": skipped["winback_target"],
        "skipped_no_contact": skipped["no_contact"],
    }


def _items_in_window(session: Session, store_id: int, today: date, rules: ProcessDefaults, steps: list[int]):
    """The store's open items (not held out) whose touch sequence may have a step today."""
    first = max(steps) if steps else 0
    return session.execute(
        select(CareItem.id, CareItem.vehicle_id, CareItem.kind, CareItem.due_on, CareItem.forecast)
        .where(
            CareItem.store_id == store_id,
            CareItem.status == CareStatus.open,
            CareItem.holdout.is_(False),
            CareItem.due_on >= today - timedelta(days=rules.care_missed_after_days),
            CareItem.due_on <= today + timedelta(days=max(first, rules.care_lookahead_days)),
        )
        .order_by(CareItem.id)
    ).all()


class _LazyPAlive:
    """The churn model's P(alive) per car, fitted the first time a car needs it (the fit is the
    slow part of the pass, and most days no car needs it)."""

    def __init__(
        self, cars: dict[int, forecasting.History], store_id: int, today: date, rules: ProcessDefaults
    ) -> None:
        self._args = (cars, store_id, today, rules)
        self._values: dict[int, float] | None = None

    def get(self, vehicle_id: int) -> float:
        if self._values is None:
            self._values = _p_alive(*self._args)
        return self._values.get(vehicle_id, 1.0)


def _worth_a_call(car: forecasting.History, rules: ProcessDefaults, p_alive: _LazyPAlive) -> str | None:
    """Why a reminder is a call rather than a message: a high-value customer, or one the churn
    model sees drifting away; None for a message."""
    if car.spend_per_year >= rules.care_call_min_spend_per_year > 0:
        return "high_value"
    if rules.care_call_p_alive_below > 0 and p_alive.get(car.vehicle_id) < rules.care_call_p_alive_below:
        return "drifting"
    return None


def _insert_touches(session: Session, store_id: int, rows: list[dict[str, Any]]) -> int:
    """Insert the touches not made yet (ON CONFLICT DO NOTHING on item and step); how many."""
    if not rows:
        return 0
    open_items = select(CareItem.id).where(CareItem.store_id == store_id, CareItem.status == CareStatus.open)
    known = set(
        session.execute(
            select(CareTouch.item_id, CareTouch.step).where(CareTouch.item_id.in_(open_items))
        ).all()
    )
    rows = [r for r in rows if (r["item_id"], r["step"]) not in known]
    table = CareTouch.__table__
    stmt = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=["item_id", "step"])
    made = 0
    for i in range(0, len(rows), 2000):
        made += len(session.execute(stmt.returning(table.c.id), rows[i : i + 2000]).all())
    return made


def _p_alive(
    cars: dict[int, forecasting.History], store_id: int, today: date, rules: ProcessDefaults
) -> dict[int, float]:
    """The churn model's P(alive) per car (the store's MBG/NBD fit, as screening uses), from the
    totals of the histories the pass has read (no second pass over the repair orders)."""
    totals = [
        (c.vehicle_id, c.customer_id, c.first_visit, c.last_visit, c.visits, c.spend)
        for c in cars.values()
        if c.visits
    ]
    scores = analytics.score_totals(totals, store_id=store_id, as_of=today, rules=rules)
    if scores.fit is None:  # too few histories to fit: nobody is called "drifting"
        return {}
    return {int(v): float(p) for v, p in zip(scores.vehicle_id.tolist(), scores.p_alive.tolist())}
