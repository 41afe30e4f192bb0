"""The care calendar (issue 19): forecasting, the inspection rule, the daily pass (idempotent,
fulfilment, holdout, win-back exclusion), delivery to a loopback receiver, the bulk-SMS export,
the retention funnel against a hand count, the pages, the API and the CLI."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from tests.pages import login
from winback import clock
from winback.accounts.models import Store
from winback.actor import Actor
from winback.care import calls, delivery, forecasting, lists, planning, report, schedules
from winback.care.models import (
    CallOutcome,
    CareHoldout,
    CareItem,
    CareKind,
    CareStatus,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.config import ProcessDefaults
from winback.customers.models import Customer, MileageFlag, ServiceVisit, Vehicle, VehicleStatus
from winback.cycles import screening

RULES = ProcessDefaults()
SYSTEM = Actor.system(label="test")


# ---- forecasting and the rules (pure) -------------------------------------------------------


def test_forecast_from_two_readings_gives_the_mileage_due_date_or_the_time_one_if_sooner():
    """5,000 km on day 0 (the first service) and 10,400 km on day 180: 30 km/day, so the
    15,000 km service falls on day 180 + 4,600 / 30 = day 333.3 -> day 334, before the
    12-month benchmark (day 365). At 10 km/day the 12-month service comes first."""
    day0 = date(2026, 1, 10)
    readings = [(1, day0, 5000), (2, day0 + timedelta(days=180), 10400)]
    u, flags, by_visit = forecasting.usage(
        readings, vehicle_id=7, purchase=date(2025, 7, 1), max_km_per_day=400
    )
    assert flags == []
    assert u.source == "own" and u.km_per_day == pytest.approx(30.0)
    sched = schedules.default_schedule(RULES)
    due = schedules.maintenance_due(
        schedule=sched,
        purchase=date(2025, 7, 1),
        last_service=day0,
        last_service_km=by_visit[1],
        services=1,
        reading_on=u.last_on,
        reading_km=u.last_km,
        km_per_day=u.km_per_day,
    )
    assert (due.number, due.target_km) == (2, 15000)
    assert due.basis == "mileage" and due.due_on == day0 + timedelta(days=334)
    assert due.time_due == date(2027, 1, 10)

    slow = [(1, day0, 5000), (2, day0 + timedelta(days=180), 6800)]  # 10 km/day
    u, _, by_visit = forecasting.usage(slow, vehicle_id=7, purchase=None, max_km_per_day=400)
    due = schedules.maintenance_due(
        schedule=sched,
        purchase=None,
        last_service=day0,
        last_service_km=5000,
        services=1,
        reading_on=u.last_on,
        reading_km=u.last_km,
        km_per_day=u.km_per_day,
    )
    assert due.basis == "time" and due.due_on == date(2027, 1, 10)


def test_a_typo_reading_is_ignored_and_reported():
    """A reading lower than the one before and an impossible jump are both left out (and
    flagged); the rate comes from the readings that make sense."""
    d = date(2026, 1, 1)
    readings = [
        (1, d, 5000),
        (2, d + timedelta(days=60), 700),  # lower: a digit dropped
        (3, d + timedelta(days=90), 980000),  # 975,000 km in 90 days
        (4, d + timedelta(days=180), 10400),
    ]
    u, flags, by_visit = forecasting.usage(readings, vehicle_id=3, purchase=None, max_km_per_day=400)
    assert [(f.visit_id, f.reason) for f in flags] == [(2, "lower"), (3, "jump")]
    assert u.km_per_day == pytest.approx(30.0) and u.readings == 2 and set(by_visit) == {1, 4}


@pytest.mark.parametrize(
    ("years", "months", "expected_years", "expected_months", "onsite"),
    [
        (2, 0, 2, 0, False),  # registered exactly 2 years ago: the sticker of year 2, today
        (2, 1, 4, 0, False),  # just past year 2: the sticker of year 4
        (6, 0, 6, 0, True),  # year 6: on site
        (6, 1, 8, 0, False),  # then the sticker of year 8
        (11, 0, 11, 0, True),  # yearly after year 10
        (11, 1, 12, 0, True),
        (16, 0, 16, 0, True),  # every six months after year 15
        (16, 1, 16, 6, True),
    ],
)
def test_inspection_dates_follow_the_rule(years, months, expected_years, expected_months, onsite):
    from dateutil.relativedelta import relativedelta

    as_of = date(2026, 11, 2)
    registered = as_of - relativedelta(years=years, months=months)
    due, on_site = schedules.inspection_due(registered=registered, as_of=as_of, rules=RULES)
    assert due == registered + relativedelta(years=expected_years, months=expected_months)
    assert on_site is onsite


def test_the_inspection_rule_is_a_setting():
    rules = ProcessDefaults(care_inspection_years=[1, 2, 3], care_inspection_onsite_years=[1, 2, 3])
    due, onsite = schedules.inspection_due(registered=date(2025, 3, 1), as_of=date(2026, 1, 1), rules=rules)
    assert due == date(2026, 3, 1) and onsite


# ---- the daily pass on a database ---------------------------------------------------------


def _car(
    session,
    store_id: int,
    *,
    purchase: date,
    readings: list[tuple[date, int, str]],
    phone="13800138000",
    **kw,
):
    """A customer with one car and its repair orders (date, km, category)."""
    n = session.scalar(select(func.count(Customer.id))) + 1
    now = clock.now()
    c = Customer(store_id=store_id, dms_code=f"T{n:05d}", name=f"测试{n}", phone=phone, created_at=now)
    session.add(c)
    session.flush()
    v = Vehicle(
        store_id=store_id,
        customer_id=c.id,
        vin=f"LTEST{n:012d}",
        plate=f"粤T{n:05d}",
        model=kw.pop("model", "测试车 Test"),
        purchase_date=purchase,
        warranty_end=kw.pop("warranty_end", purchase + timedelta(days=3 * 365)),
        status=VehicleStatus.active,
        created_at=now,
        **kw,
    )
    session.add(v)
    session.flush()
    for i, (day, km, cat) in enumerate(readings):
        session.add(
            ServiceVisit(
                store_id=store_id,
                ro_number=f"T{n:05d}-{i}",
                vehicle_id=v.id,
                customer_id=c.id,
                visit_date=day,
                mileage=km,
                category=cat,
                amount=Decimal("300"),
                created_at=now,
            )
        )
    session.flush()
    return v


@pytest.fixture
def store(session) -> int:
    """An empty store (no holdout unless a test asks) on the clock of 2026-11-02."""
    from winback.accounts import service as accounts

    clock.set_now("2026-11-02T09:00")
    s = accounts.create_store(session=session, code="C01", name="关怀测试店", actor=SYSTEM)
    s.settings = {"care_holdout_pct": 0, "care_call_p_alive_below": 0}
    session.commit()
    return s.id


def _items(session, vehicle_id):
    return session.scalars(
        select(CareItem).where(CareItem.vehicle_id == vehicle_id).order_by(CareItem.id)
    ).all()


def test_the_daily_pass_makes_the_forecast_item_and_nothing_the_second_time(session, store):
    today = clock.today()
    # 30 km/day; the 15,000 km service falls 20 days from today (inside the 45-day window).
    last = today - timedelta(days=(15000 - 10400) // 30 - 20 + 1)
    v = _car(
        session,
        store,
        purchase=today - timedelta(days=700),
        readings=[(last - timedelta(days=180), 5000, "保养"), (last, 10400, "维修")],
    )
    first = planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    items = [i for i in _items(session, v.id) if i.kind == CareKind.maintenance]
    assert len(items) == 1
    item = items[0]
    assert item.key == "maintenance:15000" and item.basis == "mileage"
    assert item.forecast["km_per_day"] == 30.0 and item.forecast["source"] == "own"
    assert item.due_on == last + timedelta(days=154)  # ceil(4600 / 30)
    touches = session.scalars(select(CareTouch).where(CareTouch.item_id == item.id)).all()
    assert [(t.step, t.channel) for t in touches] == [(30, TouchChannel.export)]
    assert "第二次保养（15,000公里）" in touches[0].body
    counts_items = session.scalar(select(func.count(CareItem.id)))
    counts_touches = session.scalar(select(func.count(CareTouch.id)))
    assert first["items"] == counts_items and first["touches"] == counts_touches

    second = planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    assert second["items"] == 0 and second["touches"] == 0
    assert session.scalar(select(func.count(CareItem.id))) == counts_items
    assert session.scalar(select(func.count(CareTouch.id))) == counts_touches


def test_a_repair_order_fulfils_the_item_and_the_next_touch_is_not_sent(session, store):
    today = clock.today()
    last = today - timedelta(days=134)  # 30 km/day: the 15,000 km service is due in 20 days
    v = _car(
        session,
        store,
        purchase=today - timedelta(days=700),
        readings=[(last - timedelta(days=180), 5000, "保养"), (last, 10400, "维修")],
    )
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    item = next(i for i in _items(session, v.id) if i.kind == CareKind.maintenance)
    # The export goes out (the touch is "sent"), then the customer comes in for the service.
    body, n = delivery.export_pending(session=session, store_ids=[store], actor=SYSTEM)
    assert n >= 1
    session.commit()
    sent = session.scalar(select(CareTouch).where(CareTouch.item_id == item.id))
    assert sent.status == TouchStatus.sent
    visit_day = today + timedelta(days=3)
    session.add(
        ServiceVisit(
            store_id=store,
            ro_number="RO-CARE-1",
            vehicle_id=v.id,
            customer_id=v.customer_id,
            visit_date=visit_day,
            mileage=15100,
            category="保养",
            amount=Decimal("600"),
            created_at=clock.now(),
        )
    )
    session.commit()
    # The day of the 14-day touch comes; the item is fulfilled first and gets no new touch.
    clock.set_now(f"{visit_day + timedelta(days=1)}T09:00")
    later = item.due_on - timedelta(days=13)
    counts = planning.plan(session=session, store_id=store, actor=SYSTEM, as_of=max(later, visit_day))
    session.commit()
    session.refresh(item)
    assert counts["fulfilled"] >= 1
    assert item.status == CareStatus.fulfilled and item.fulfilled_on == visit_day
    assert item.preceding_touch_id == sent.id
    assert item.fulfilled_visit_id is not None
    steps = session.scalars(select(CareTouch.step).where(CareTouch.item_id == item.id)).all()
    assert steps == [sent.step]


def test_a_pending_touch_is_stopped_when_the_car_comes_in(session, store):
    today = clock.today()
    # No reading: the store's default 40 km/day reaches 5,000 km 125 days after purchase.
    v = _car(session, store, purchase=today - timedelta(days=110), readings=[])
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    item = next(i for i in _items(session, v.id) if i.kind == CareKind.maintenance)
    assert item.key == "maintenance:5000" and item.forecast["number"] == 1
    touch = session.scalar(select(CareTouch).where(CareTouch.item_id == item.id))
    assert touch.status == TouchStatus.pending
    session.add(
        ServiceVisit(
            store_id=store,
            ro_number="RO-FIRST",
            vehicle_id=v.id,
            customer_id=v.customer_id,
            visit_date=today,
            mileage=4300,
            category="首保",
            amount=Decimal("0"),
            created_at=clock.now(),
        )
    )
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    session.refresh(touch)
    session.refresh(item)
    assert item.status == CareStatus.fulfilled and item.preceding_touch_id is None
    assert touch.status == TouchStatus.cancelled
    _body, n = delivery.export_pending(session=session, store_ids=[store], actor=SYSTEM)
    assert n == 0  # the cancelled reminder is not exported


def test_typos_in_the_archive_are_reported_once(session, store):
    today = clock.today()
    v = _car(
        session,
        store,
        purchase=today - timedelta(days=500),
        readings=[
            (today - timedelta(days=400), 5000, "保养"),
            (today - timedelta(days=300), 500, "维修"),
            (today - timedelta(days=100), 14000, "保养"),
        ],
    )
    first = planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    flags = session.scalars(select(MileageFlag)).all()
    assert [(f.vehicle_id, f.reason, f.mileage) for f in flags] == [(v.id, "lower", 500)]
    assert first["mileage_flags"] == 1 and planning.mileage_flags(session=session, store_id=store) == 1
    assert planning.plan(session=session, store_id=store, actor=SYSTEM)["mileage_flags"] == 0
    from winback.customers import cleanup

    assert cleanup.cleanup_archive(session=session, store_id=store, actor=SYSTEM)["mileage_typos"] == 1


def test_a_car_with_one_reading_drives_like_the_median_of_its_model(session, store):
    today = clock.today()
    for rate in (20, 30, 40):
        _car(
            session,
            store,
            purchase=today - timedelta(days=900),
            readings=[
                (today - timedelta(days=400), 5000, "保养"),
                (today - timedelta(days=100), 5000 + 300 * rate, "维修"),
            ],
            model="轩逸 Sylphy",
        )
    single = _car(
        session,
        store,
        purchase=today - timedelta(days=300),
        readings=[(today - timedelta(days=200), 4000, "保养")],
        model="轩逸 Sylphy",
    )
    cars, _flags = forecasting.store_histories(session=session, store_id=store, as_of=today, rules=RULES)
    assert cars[single.id].usage.source == "model" and cars[single.id].usage.km_per_day == pytest.approx(30.0)


def test_histories_read_in_small_batches_are_the_histories_read_whole(session, store, monkeypatch):
    """The history is read a batch ahead (a thread fetches the next while the pass sums up this
    one): a car whose repair orders straddle two batches is summed up once, whole."""
    today = clock.today()
    for n in (1, 4, 7, 2):
        _car(
            session,
            store,
            purchase=today - timedelta(days=1000),
            readings=[(today - timedelta(days=900 - 100 * k), 5000 + 3000 * k, "保养") for k in range(n)],
        )
    session.commit()
    whole, flags = forecasting.store_histories(session=session, store_id=store, as_of=today, rules=RULES)
    monkeypatch.setattr(forecasting, "READ_BATCH", 3)
    batched, batched_flags = forecasting.store_histories(
        session=session, store_id=store, as_of=today, rules=RULES
    )
    assert batched == whole and batched_flags == flags
    assert sorted(c.visits for c in batched.values() if c.visits) == [1, 2, 4, 7]


def test_a_holdout_car_gets_nothing_and_the_draw_is_reproducible(session, store):
    today = clock.today()
    s = session.get(Store, store)
    s.settings = {**s.settings, "care_holdout_pct": 50}
    cars = [
        _car(session, store, purchase=today - timedelta(days=100 + i), readings=[], grade=None)
        for i in range(10)
    ]
    session.commit()
    counts = planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    held = set(session.scalars(select(CareHoldout.vehicle_id)))
    assert counts["holdout_cars"] == len(held) == 5
    for v in cars:
        items = _items(session, v.id)
        assert items, "every car has its first service due"
        n_touches = session.scalar(
            select(func.count(CareTouch.id)).where(CareTouch.item_id.in_([i.id for i in items]))
        )
        if v.id in held:
            assert all(i.holdout for i in items) and n_touches == 0
        else:
            assert not any(i.holdout for i in items) and n_touches >= 1
    # Same store, same month, same cars: the same draw.
    from winback.care import holdout

    again = holdout.draw_holdout.draw(
        [{"vehicle_id": v.id, "band": "care", "profile": {"grade": None}} for v in cars],
        share_pct=50,
        seed=f"care:{store}:{today:%Y-%m}",
    )
    assert again == held


def test_a_winback_target_gets_no_reminder(session, demo_store, staff):
    """A car screened into an open win-back cycle is not also reminded."""
    from winback.cycles import service as cycles
    from winback.cycles.models import Target

    s = session.get(Store, demo_store)
    s.settings = {"care_holdout_pct": 0, "care_call_p_alive_below": 0}
    cycle, _ = cycles.start_cycle(
        session=session, store=s, month="2026-11", actor=Actor.person(staff("admin"))
    )
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=SYSTEM)
    session.commit()
    targets = set(session.scalars(select(Target.vehicle_id).where(Target.cycle_id == cycle.id)))
    assert targets
    counts = planning.plan(session=session, store_id=demo_store, actor=SYSTEM)
    session.commit()
    assert counts["skipped_winback_target"] > 0
    reminded = set(
        session.scalars(
            select(CareItem.vehicle_id)
            .join(CareTouch, CareTouch.item_id == CareItem.id)
            .where(CareItem.kind.not_in([CareKind.follow_up_call, CareKind.complaint_recall]))
        )
    )
    assert reminded and not (reminded & targets)


def test_messages_reach_the_stores_channel_with_the_phone_put_in(session, store, webhook):
    today = clock.today()
    s = session.get(Store, store)
    s.settings = {**s.settings, "care_apprise_url": webhook.url + "?to={phone}"}
    _car(session, store, purchase=today - timedelta(days=110), readings=[], phone="13912345678")
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    touch = session.scalar(select(CareTouch))
    assert touch.channel == TouchChannel.message and touch.status == TouchStatus.pending
    assert delivery.deliver_messages(session=session, store_id=store) == {"sent": 1, "retry": 0, "failed": 0}
    session.commit()
    assert len(webhook.delivered) == 1
    assert "首次保养" in webhook.delivered[0]["message"]
    session.refresh(touch)
    assert touch.status == TouchStatus.sent and touch.sent_at is not None
    # A refused message is retried on the next pass, then marked failed.
    webhook.down()
    other = _car(session, store, purchase=today - timedelta(days=111), readings=[], phone="13987654321")
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    outcomes = [delivery.deliver_messages(session=session, store_id=store) for _ in range(3)]
    assert [o["failed"] for o in outcomes] == [0, 0, 1]
    failed = session.scalar(
        select(CareTouch)
        .join(CareItem, CareItem.id == CareTouch.item_id)
        .where(CareItem.vehicle_id == other.id)
    )
    assert failed.status == TouchStatus.failed and failed.last_error


def test_the_bulk_sms_workbook_has_phone_and_text_and_marks_the_touches_sent(session, store):
    today = clock.today()
    _car(session, store, purchase=today - timedelta(days=110), readings=[], phone="13700001111")
    _car(
        session,
        store,
        purchase=today - timedelta(days=1000),
        readings=[],
        phone="13700002222",
        compulsory_insurance_end=today + timedelta(days=20),
        commercial_insurance_end=today + timedelta(days=20),
    )
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    body, n = delivery.export_pending(session=session, store_ids=[store], actor=SYSTEM)
    session.commit()
    ws = load_workbook(io.BytesIO(body)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:2] == ("手机号码", "短信内容")
    assert n == len(rows) - 1 >= 2
    phones = {r[0] for r in rows[1:]}
    assert {"13700001111", "13700002222"} <= phones
    assert any("保险" in r[1] for r in rows[1:])  # one insurance reminder for both policies
    assert sum(1 for r in rows[1:] if r[0] == "13700002222" and "保险" in r[1]) == 1
    assert lists.pending_exports(session=session, store_ids=[store]) == 0
    assert session.scalar(select(func.count(CareTouch.id)).where(CareTouch.status == TouchStatus.sent)) == n


def test_renewed_insurance_fulfils_the_item(session, store):
    today = clock.today()
    v = _car(
        session,
        store,
        purchase=today - timedelta(days=1000),
        readings=[],
        compulsory_insurance_end=today + timedelta(days=10),
    )
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    item = next(i for i in _items(session, v.id) if i.kind == CareKind.insurance)
    v.compulsory_insurance_end = today + timedelta(days=375)  # the renewed policy imported
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    session.refresh(item)
    assert item.status == CareStatus.fulfilled


def test_a_follow_up_call_lands_in_the_advisors_queue_and_the_outcome_closes_it(session, demo_store, staff):
    s = session.get(Store, demo_store)
    s.settings = {"care_holdout_pct": 0}
    session.commit()
    planning.plan(session=session, store_id=demo_store, actor=SYSTEM)
    session.commit()
    call_touches = session.scalars(
        select(CareTouch)
        .join(CareItem, CareItem.id == CareTouch.item_id)
        .where(CareItem.kind == CareKind.follow_up_call)
    ).all()
    assert call_touches and all(t.channel == TouchChannel.call for t in call_touches)
    advisor = staff("advisor1")
    mine = [t for t in call_touches if t.advisor_id == advisor.id]
    assert mine
    page = lists.calls_page(session=session, store_ids=[demo_store], viewer=advisor)
    queue = set(
        session.scalars(
            select(CareTouch.id).where(
                CareTouch.channel == TouchChannel.call, CareTouch.advisor_id == advisor.id
            )
        )
    )
    assert {r.touch.id for r in page.items} == queue >= {t.id for t in mine}
    calls.record_call(
        session=session, touch_id=mine[0].id, outcome=CallOutcome.done, note="满意", actor_staff=advisor
    )
    session.commit()
    item = session.get(CareItem, mine[0].item_id)
    assert item.status == CareStatus.fulfilled and item.preceding_touch_id == mine[0].id
    from winback.errors import Conflict, Forbidden

    with pytest.raises(Conflict):
        calls.record_call(
            session=session, touch_id=mine[0].id, outcome=CallOutcome.done, note="", actor_staff=advisor
        )
    others = [t for t in call_touches if t.advisor_id not in (None, advisor.id)]
    if others:
        with pytest.raises(Forbidden):
            calls.record_call(
                session=session, touch_id=others[0].id, outcome=CallOutcome.done, note="", actor_staff=advisor
            )


def test_the_plan_reads_the_history_in_one_pass_on_the_vehicle_index(session, store):
    """On a fresh database (no statistics) the history scan of the daily pass is one pass: on
    SQLite it walks the per-vehicle index, not the store's (store, date) index, and nothing is
    a correlated sub-query per car (issue 17); on PostgreSQL no sub-plan either."""
    stmt = forecasting.history_statement(store_id=store, as_of=date(2026, 11, 2))
    dialect = session.get_bind().dialect
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        plan = " | ".join(r[3] for r in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "ix_service_visits_vehicle_date" in plan, plan
        assert "ix_service_visits_store_date" not in plan and "CORRELATED" not in plan, plan
    else:
        plan = " | ".join(r[0] for r in session.execute(text("EXPLAIN " + sql)))
        assert "SubPlan" not in plan and "service_visits" in plan, plan


# ---- the demo, the report, the pages, the API ----------------------------------------------


def test_the_demo_has_a_believable_mix(session, planned_demo):
    today = clock.today()
    kinds = dict(session.execute(select(CareItem.kind, func.count()).group_by(CareItem.kind)).all())
    assert {CareKind.maintenance, CareKind.inspection, CareKind.insurance, CareKind.follow_up_call} <= set(
        kinds
    )
    # new cars before their first service
    firsts = session.scalars(select(CareItem).where(CareItem.key == "maintenance:5000")).all()
    assert any(i.forecast["readings"] == 0 for i in firsts)
    # insurance expiring next month
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    expiring = session.scalar(
        select(func.count(Vehicle.id)).where(
            Vehicle.compulsory_insurance_end >= next_month,
            Vehicle.compulsory_insurance_end < (next_month + timedelta(days=32)).replace(day=1),
        )
    )
    assert expiring >= 5
    # holdout drawn (5 % of the active cars), and a mix of channels
    assert session.scalar(select(func.count(CareHoldout.id))) == round(
        0.05 * session.scalar(select(func.count(Vehicle.id)).where(Vehicle.status == VehicleStatus.active))
    )
    channels = set(session.scalars(select(CareTouch.channel).distinct()))
    assert {TouchChannel.call, TouchChannel.export} <= channels


def test_the_funnel_matches_a_hand_count_on_the_demo(session, planned_demo):
    today = clock.today()
    rep = report.report(session=session, store_id=planned_demo, as_of=today)
    # the hand count: walk every car and its repair orders
    by_model: dict[str, list[int]] = {}
    for v in session.scalars(select(Vehicle).where(Vehicle.store_id == planned_demo)):
        visits = session.scalars(
            select(ServiceVisit).where(ServiceVisit.vehicle_id == v.id, ServiceVisit.visit_date <= today)
        ).all()
        services = sum(1 for s in visits if s.category in RULES.care_maintenance_categories)
        ended = v.warranty_end is not None and v.warranty_end < today
        back = ended and any(s.visit_date > v.warranty_end for s in visits)
        row = by_model.setdefault(v.model, [0, 0, 0, 0, 0, 0])
        for i, hit in enumerate((True, services >= 1, services >= 2, services >= 3, ended, back)):
            row[i] += int(hit)
    got = {r["key"]: r for r in rep["by_model"]}
    for model, (cars, first, second, third, ended, back) in by_model.items():
        r = got[model]
        assert (
            r["cars"],
            r["first"],
            r["second"],
            r["third"],
            r["warranty_ended"],
            r["out_of_warranty"],
        ) == (
            cars,
            first,
            second,
            third,
            ended,
            back,
        )
    total = got["*"]
    assert total["cars"] == sum(v[0] for v in by_model.values())
    assert total["second_pct"] == round(100 * total["second"] / total["first"], 1)
    assert sum(r["cars"] for r in rep["by_month"] if r["key"] != "*") == total["cars"]


def test_lift_against_the_holdout_counts_matured_items(session, store):
    """Reminded items that came in vs holdout items that came in, with the Newcombe interval."""
    today = clock.today()
    now = clock.now()
    v = _car(session, store, purchase=today - timedelta(days=900), readings=[])
    rows = []
    for n, (held, done) in enumerate(
        [(False, True)] * 6 + [(False, False)] * 4 + [(True, True)] * 2 + [(True, False)] * 3
    ):
        rows.append(
            CareItem(
                store_id=store,
                vehicle_id=v.id,
                customer_id=v.customer_id,
                kind=CareKind.maintenance,
                key=f"maintenance:t{n}",
                due_on=today - timedelta(days=5),
                basis="time",
                forecast={},
                holdout=held,
                status=CareStatus.fulfilled if done else CareStatus.open,
                created_on=today - timedelta(days=40),
                created_at=now,
            )
        )
    session.add_all(rows)
    session.commit()
    lift = report.report(session=session, store_id=store, as_of=today)["lift"]
    assert (lift["reminded"], lift["reminded_fulfilled"], lift["holdout"], lift["holdout_fulfilled"]) == (
        10,
        6,
        5,
        2,
    )
    assert lift["lift_pts"] == 20.0 and lift["low_pts"] < 20.0 < lift["high_pts"]
    assert lift["caused"] == 2


def test_care_pages_for_the_front_desk_the_advisor_and_the_manager(client, session, planned_demo, staff):
    login(client, "supervisor")
    for url in (
        "/care",
        "/care?view=week",
        "/care?view=overdue&kind=maintenance",
        "/care?view=all&kind=insurance",
    ):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "关怀日历" in r.text
    assert "年检" in client.get("/care?view=all&kind=inspection").text
    assert client.get("/care?kind=nonsense").status_code == 422
    r = client.post("/care/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "手机号码" and len(rows) > 1
    r = client.post("/care/export")  # nothing left: back to the list with a message
    assert r.status_code == 303
    assert "没有待导出的短信提醒" in client.get("/care").text

    login(client, "advisor1")
    r = client.get("/care/calls")
    assert r.status_code == 200 and "关怀回访" in r.text
    advisor = staff("advisor1")
    touch = session.scalar(
        select(CareTouch).where(CareTouch.advisor_id == advisor.id, CareTouch.status == TouchStatus.pending)
    )
    assert f"/care/calls/{touch.id}" in r.text and "tel:" in r.text
    assert client.post(f"/care/calls/{touch.id}", data={"outcome": "bogus"}).status_code == 422
    r = client.post(f"/care/calls/{touch.id}", data={"outcome": "appointment", "note": "周六上午"})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(CareTouch, touch.id).outcome == CallOutcome.appointment
    assert client.get("/care/report").status_code == 403
    assert client.get("/care/settings").status_code == 403

    login(client, "manager")
    r = client.get("/care/report")
    assert r.status_code == 200 and "首保" in r.text and "二保" in r.text
    r = client.get("/care/report.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert "按车型漏斗" in wb.sheetnames
    assert client.get("/care/report?lang=en").text.count("First service") >= 1
    r = client.get("/care/settings?lang=zh")
    assert r.status_code == 200 and "首保里程" in r.text
    # The channel's URL syntax is technical detail: named in words, its {phone} behind 详情.
    assert "短信通道地址（由 IT 人员设置）" in r.text
    assert "{phone}" in r.text and "{phone}" not in re.sub(r"<details.*?</details>", "", r.text, flags=re.S)
    r = client.post("/care/settings", data={"care_touch_days": "21, 7", "care_follow_up_days": "2"})
    assert r.status_code == 303
    session.expire_all()
    s = session.get(Store, planned_demo)
    assert s.settings["care_touch_days"] == [21, 7] and s.settings["care_follow_up_days"] == 2
    assert client.post("/care/settings", data={"care_touch_days": "a, b"}).status_code == 422
    r = client.post(
        "/care/schedules",
        data={
            "model": "劲客 Kicks",
            "first_km": 3000,
            "first_months": 3,
            "interval_km": 7500,
            "interval_months": 6,
        },
    )
    assert r.status_code == 303
    assert "劲客 Kicks" in client.get("/care/settings").text
    assert client.post("/care/schedules", data={"first_km": 3000}).status_code == 422  # no model nor grade


def test_the_customer_page_shows_the_cars_care_calendar(client, session, planned_demo):
    item = session.scalar(select(CareItem).where(CareItem.kind == CareKind.maintenance).order_by(CareItem.id))
    login(client, "admin")
    r = client.get(f"/customers/{item.customer_id}")
    assert r.status_code == 200
    assert "关怀日历" in r.text and "保养" in r.text and "公里/天" in r.text and "年检" in r.text


def test_api_care_lists_filters_and_scopes(client, session, planned_demo, staff):
    login(client, "manager")
    r = client.get("/api/care")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"items", "total"} and body["total"] == session.scalar(
        select(func.count(CareItem.id))
    )
    first = body["items"][0]
    assert {"kind", "due_on", "vehicle_id", "customer_id", "status"} <= set(first)
    assert first["kind"] in {k.value for k in CareKind}
    r = client.get("/api/care", params={"kind": "insurance", "due_within_days": 30})
    items = r.json()["items"]
    assert items and all(i["kind"] == "insurance" and i["status"] == "open" for i in items)
    assert all(date.fromisoformat(i["due_on"]) <= clock.today() + timedelta(days=30) for i in items)
    assert client.get("/api/care", params={"kind": "nope"}).status_code == 422
    assert client.get("/api/care", params={"status": "fulfilled"}).json()["total"] == 0
    page2 = client.get("/api/care", params={"page": 2}).json()
    assert page2["total"] == body["total"] and page2["items"][0]["id"] != first["id"]

    login(client, "advisor1")
    mine = client.get("/api/care").json()
    advisor = staff("advisor1")
    own = session.scalar(
        select(func.count(CareItem.id))
        .join(Customer, Customer.id == CareItem.customer_id)
        .where(
            (Customer.advisor_id == advisor.id)
            | CareItem.id.in_(select(CareTouch.item_id).where(CareTouch.advisor_id == advisor.id))
        )
    )
    assert 0 < mine["total"] == own < body["total"]
    login(client, "auditor")
    assert client.get("/api/care").status_code == 403


# ---- the daily flow and the CLI -----------------------------------------------------------


@pytest.mark.flow
def test_the_daily_flow_delivers_once_and_makes_nothing_the_second_time(
    prefect_harness, session, demo_store, webhook
):
    from flows.plan_care import plan_care

    s = session.get(Store, demo_store)
    s.settings = {"care_apprise_url": webhook.url + "?to={phone}", "care_call_p_alive_below": 0}
    session.commit()
    first = plan_care(store_codes=["S01"])
    session.expire_all()
    messages = session.scalar(
        select(func.count(CareTouch.id)).where(
            CareTouch.channel == TouchChannel.message, CareTouch.status == TouchStatus.sent
        )
    )
    assert first["items"] > 0 and first["touches"] > 0
    assert first["messages_sent"] == messages == len(webhook.delivered) > 0
    second = plan_care(store_codes=["S01"])
    assert second["items"] == 0 and second["touches"] == 0 and second["messages_sent"] == 0
    assert len(webhook.delivered) == messages
    from winback.cycles.models import FlowRunRecord

    runs = session.scalars(select(FlowRunRecord).where(FlowRunRecord.flow_name == "plan_care")).all()
    assert len(runs) == 2 and all(r.state.value == "completed" for r in runs)


@pytest.mark.flow
def test_the_cli_plans_and_lists(prefect_harness, session, demo_store):
    from typer.testing import CliRunner

    from winback.cli import app as cli
    from winback.errors import NotFound

    r = CliRunner().invoke(cli, ["care", "plan", "--store", "S01", "--as-of", "2026-11-02T09:00"])
    assert r.exit_code == 0, r.output
    assert "今日计划触达" in r.output  # Chinese unless --lang en
    r = CliRunner().invoke(cli, ["care", "list", "--due-within", "7"])
    assert r.exit_code == 0, r.output
    session.expire_all()
    open_soon = session.scalar(
        select(func.count(CareItem.id)).where(
            CareItem.status == CareStatus.open, CareItem.due_on <= clock.today() + timedelta(days=7)
        )
    )
    assert f"7 天内到期的未完成关怀事项：{open_soon} 项" in r.output
    assert len(r.output.strip().splitlines()) == open_soon + 1
    r = CliRunner().invoke(cli, ["care", "plan", "--store", "NOPE"])
    assert r.exit_code != 0 and isinstance(r.exception, NotFound)


def test_the_care_migration_goes_down_and_up_with_data(db_url, session, planned_demo):
    """0011 removes its tables and the insurance columns (the vehicles keep their rows and
    their repair orders), and comes back."""
    from alembic import command
    from sqlalchemy import inspect

    import db.migrate
    import db.session

    vehicles = session.scalar(select(func.count(Vehicle.id)))
    session.close()
    cfg = db.migrate.alembic_config(db_url)
    command.downgrade(cfg, "0010")
    with db.session.get_engine().connect() as conn:
        assert "care_items" not in inspect(conn).get_table_names()
        assert "compulsory_insurance_end" not in {c["name"] for c in inspect(conn).get_columns("vehicles")}
        assert conn.scalar(text("SELECT count(*) FROM vehicles")) == vehicles
    command.upgrade(cfg, "head")
    with db.session.get_engine().connect() as conn:
        assert {"care_items", "care_touches"} <= set(inspect(conn).get_table_names())


def test_insurance_dates_come_with_the_vehicle_import_and_a_renewal_updates_them(session, store, tmp_path):
    """交强险到期日 / 商业险到期日 in the DMS's vehicle export land on the vehicle; a newer
    export with the renewed dates updates them (and the care item is then fulfilled)."""
    from winback.customers import imports

    today = clock.today()
    v = _car(session, store, purchase=today - timedelta(days=1000), readings=[])
    code = session.get(Customer, v.customer_id).dms_code
    first = tmp_path / "vehicles.csv"
    first.write_text(
        f"客户编号,车架号,车型,购车日期,交强险到期日,商业险到期日\n{code},{v.vin},测试车 Test,"
        f"{v.purchase_date:%Y/%m/%d},{today + timedelta(days=12):%Y年%m月%d日},{today + timedelta(days=12):%Y-%m-%d}\n",
        encoding="utf-8",
    )
    batch, _ = imports.import_file(
        session=session, store_id=store, kind="vehicles", source=first, actor=SYSTEM
    )
    session.commit()
    session.refresh(v)
    assert batch.failed == 0 and batch.updated == 1
    assert v.compulsory_insurance_end == v.commercial_insurance_end == today + timedelta(days=12)
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    item = next(i for i in _items(session, v.id) if i.kind == CareKind.insurance)
    assert item.forecast["policies"] == ["compulsory", "commercial"]
    renewed = tmp_path / "vehicles-renewed.csv"
    renewed.write_text(
        first.read_text(encoding="utf-8").replace(
            f"{today + timedelta(days=12):%Y年%m月%d日},{today + timedelta(days=12):%Y-%m-%d}",
            f"{today + timedelta(days=377):%Y-%m-%d},{today + timedelta(days=377):%Y-%m-%d}",
        ),
        encoding="utf-8",
    )
    imports.import_file(session=session, store_id=store, kind="vehicles", source=renewed, actor=SYSTEM)
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    session.refresh(item)
    assert item.status == CareStatus.fulfilled
    rep = report.report(session=session, store_id=store, as_of=today + timedelta(days=20))
    assert rep["insurance"] == {"due": 1, "renewed": 1, "pct": 100.0}


def test_the_inspection_counts_from_the_registration_date_and_a_stale_validity_falls_back():
    as_of = date(2026, 6, 1)
    bought, registered = date(2020, 1, 10), date(2024, 6, 20)  # a used car, registered later
    due = schedules.next_inspection(
        registered_on=registered, purchase=bought, valid_until=None, as_of=as_of, rules=RULES
    )
    assert (due.due_on, due.basis, due.detail) == (
        date(2026, 6, 20),
        "rule",
        {"onsite": False, "source": "registered"},
    )
    by_purchase = schedules.next_inspection(
        registered_on=None, purchase=bought, valid_until=None, as_of=as_of, rules=RULES
    )
    assert by_purchase.due_on == date(2028, 1, 10) and by_purchase.detail["source"] == "purchase"
    licence = schedules.next_inspection(
        registered_on=registered, purchase=bought, valid_until=date(2026, 7, 31), as_of=as_of, rules=RULES
    )
    assert (licence.due_on, licence.basis) == (date(2026, 7, 31), "date")
    stale = date(2021, 1, 31)  # inspected since, never imported: the rule decides
    assert schedules.next_inspection(
        registered_on=registered, purchase=bought, valid_until=stale, as_of=as_of, rules=RULES
    ).due_on == date(2026, 6, 20)
    assert (
        schedules.next_inspection(
            registered_on=None, purchase=None, valid_until=None, as_of=as_of, rules=RULES
        )
        is None
    )


def test_registration_and_inspection_validity_come_with_the_vehicle_import_and_a_renewal_fulfils(
    session, store, tmp_path
):
    """初次登记日期 / 检验有效期至 in the vehicle export land on the vehicle; the inspection item is
    due on the imported validity; a newer export with the renewed validity fulfils it."""
    from winback.customers import imports

    today = clock.today()
    v = _car(session, store, purchase=today - timedelta(days=3000), readings=[])
    code = session.get(Customer, v.customer_id).dms_code
    registered, valid = today - timedelta(days=2900), today + timedelta(days=25)
    first = tmp_path / "vehicles.csv"
    first.write_text(
        f"客户编号,车架号,车型,初次登记日期,检验有效期至\n{code},{v.vin},测试车 Test,"
        f"{registered:%Y/%m/%d},{valid:%Y年%m月%d日}\n",
        encoding="utf-8",
    )
    batch, _ = imports.import_file(
        session=session, store_id=store, kind="vehicles", source=first, actor=SYSTEM
    )
    session.commit()
    session.refresh(v)
    assert batch.failed == 0 and batch.updated == 1
    assert (v.registered_on, v.inspection_valid_until) == (registered, valid)
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    item = next(i for i in _items(session, v.id) if i.kind == CareKind.inspection)
    assert (item.due_on, item.basis) == (valid, "date")
    renewed = tmp_path / "vehicles-renewed.csv"
    renewed.write_text(
        first.read_text(encoding="utf-8").replace(
            f"{valid:%Y年%m月%d日}", f"{valid + timedelta(days=365):%Y-%m-%d}"
        ),
        encoding="utf-8",
    )
    imports.import_file(session=session, store_id=store, kind="vehicles", source=renewed, actor=SYSTEM)
    session.commit()
    planning.plan(session=session, store_id=store, actor=SYSTEM)
    session.commit()
    session.refresh(item)
    assert item.status == CareStatus.fulfilled
    cal = lists.calendar(session=session, customer_id=v.customer_id)[v.id]
    nxt = next(e for e in cal if e.kind == "inspection")
    assert (nxt.due_on, nxt.basis) == (valid + timedelta(days=365), "date")


def test_care_call_outcomes_go_into_the_cycles_tally(session, surveying_cycle, staff):
    """What active customers said on care calls while the surveys ran is counted in the cycle's
    tally beside the survey reasons; a call recorded after the tally leaves it unchanged."""
    from winback.cycles.models import MonthlyCycle
    from winback.surveys import service as surveys

    cycle = session.get(MonthlyCycle, surveying_cycle)
    s = session.get(Store, cycle.store_id)
    s.settings = {**(s.settings or {}), "care_holdout_pct": 0}
    session.commit()
    planning.plan(session=session, store_id=cycle.store_id, actor=SYSTEM)
    session.commit()
    pending = session.scalars(
        select(CareTouch)
        .where(CareTouch.channel == TouchChannel.call, CareTouch.status == TouchStatus.pending)
        .order_by(CareTouch.id)
    ).all()
    assert len(pending) >= 4
    supervisor = staff("supervisor")
    for touch, outcome in zip(
        pending,
        (CallOutcome.serviced_elsewhere, CallOutcome.serviced_elsewhere, CallOutcome.not_interested),
    ):
        calls.record_call(
            session=session, touch_id=touch.id, outcome=outcome, note=None, actor_staff=supervisor
        )
    calls.record_call(
        session=session,
        touch_id=pending[3].id,
        outcome=CallOutcome.unreachable,
        note=None,
        actor_staff=supervisor,
    )
    session.commit()
    surveys.tally_reasons(session=session, cycle_id=cycle.id, actor=SYSTEM)
    counts = calls.add_to_tally(session=session, cycle_id=cycle.id)
    session.commit()
    expected = {"appointment": 0, "not_interested": 1, "serviced_elsewhere": 2, "done": 0}
    assert counts == expected
    session.refresh(cycle)
    assert cycle.tally["care_calls"] == expected and "reasons" in cycle.tally
    later = session.scalars(
        select(CareTouch).where(
            CareTouch.channel == TouchChannel.call, CareTouch.status == TouchStatus.pending
        )
    ).first()
    calls.record_call(
        session=session,
        touch_id=later.id,
        outcome=CallOutcome.not_interested,
        note=None,
        actor_staff=supervisor,
    )
    assert calls.add_to_tally(session=session, cycle_id=cycle.id) == expected
