"""Edge cases of the set-based screening and profile (issue 11): the last repair order, the
exclusions evaluated once as sets, and the calendar arithmetic that replaced relativedelta."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from winback import clock, months, stores
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.customers.models import Customer, CustomerType, ServiceVisit, Vehicle
from winback.cycles import profiles, screening
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, Target

_dates = st.dates(min_value=date(1930, 1, 1), max_value=date(2060, 12, 31))


@given(_dates, _dates)
def test_whole_months_and_age_match_relativedelta(a, b):
    delta = relativedelta(b, a)
    assert months.whole_months(a, b) == delta.years * 12 + delta.months
    assert months.age_years(a, b) == delta.years


@given(_dates, st.integers(min_value=-400, max_value=400))
def test_add_months_matches_relativedelta(day, n):
    """The care calendar's month arithmetic (every car, every day) is relativedelta's."""
    assert months.add_months(day, n) == day + relativedelta(months=n)


def test_month_ends_and_leap_days():
    assert months.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert months.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert months.whole_months(date(2026, 1, 31), date(2026, 2, 28)) == 1
    assert months.whole_months(date(2026, 1, 31), date(2026, 2, 27)) == 0
    assert months.age_years(date(2000, 2, 29), date(2026, 2, 28)) == 26
    assert months.age_years(date(2000, 2, 29), date(2024, 2, 28)) == 23


def _store(session):
    actor = Actor.system()
    store = stores.create_store(session=session, code="S11", name="Sets", actor=actor)
    admin = accounts.create_staff(
        session=session,
        store_id=store.id,
        username="admin-s11",
        display_name="Admin",
        password="x" * 12,
        roles=[Role.admin],
        actor=actor,
    )
    session.flush()
    return store, admin


def _vehicle(session, store, n, visits, *, customer=None, do_not_call=False):
    now = clock.now()
    if customer is None:
        customer = Customer(
            store_id=store.id,
            dms_code=f"C{n}",
            name=f"客户{n}",
            customer_type=CustomerType.private,
            district="Haidian",
            do_not_call=do_not_call,
            birth_date=date(1980, 2, 29),
            created_at=now,
        )
        session.add(customer)
        session.flush()
    v = Vehicle(
        store_id=store.id,
        customer_id=customer.id,
        vin=f"LSVAB{n:012d}",
        model="Sagitar",
        plate=f"京A{n:05d}",
        created_at=now,
    )
    session.add(v)
    session.flush()
    for i, (d, category, items, advisor) in enumerate(visits):
        session.add(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"RO{n}-{i}",
                vehicle_id=v.id,
                customer_id=customer.id,
                visit_date=d,
                category=category,
                items=items,
                amount=Decimal("500.50"),
                advisor_id=advisor,
                created_at=now,
            )
        )
        session.flush()
    return v


def test_last_repair_order_exclusions_and_totals(session):
    clock.set_now("2026-11-02T09:00")
    store, admin = _store(session)
    actor = Actor.person(admin)
    old = date(2025, 3, 1)
    # Two repair orders on the last day: the later-entered one (higher id) is the last; a
    # repair order after the cycle's as-of date does not count.
    tie = _vehicle(
        session,
        store,
        1,
        [
            (date(2024, 1, 5), "repair", "brakes", None),
            (old, "maintenance", "oil", None),
            (old, "accident", "bumper", admin.id),
        ],
    )
    later = _vehicle(
        session, store, 2, [(old, "repair", "clutch", None), (date(2026, 11, 20), "accident", "door", None)]
    )
    quiet = _vehicle(session, store, 3, [(old, "repair", None, None)], do_not_call=True)
    recent = _vehicle(session, store, 4, [(date(2026, 10, 1), "repair", None, None)])

    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=actor)
    result = screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    targets = {t.vehicle_id: t for t in session.scalars(select(Target).where(Target.cycle_id == cycle.id))}
    assert set(targets) == {tie.id, later.id} and result["added"] == 2
    assert quiet.id not in targets and recent.id not in targets
    t = targets[tie.id]
    assert (t.profile["last_category"], t.profile["last_items"], t.profile["last_advisor_id"]) == (
        "accident",
        "bumper",
        admin.id,
    )
    assert t.visit_count == 3 and t.total_spend == Decimal("1501.50") and t.months_since_visit == 20
    assert t.profile["age"] == 46 and t.last_visit_date == old
    assert t.p_alive is not None and t.priority is not None
    assert targets[later.id].profile["last_category"] == "repair" and targets[later.id].visit_count == 1

    report = profiles.profile_analysis(session=session, cycle_id=cycle.id)
    cats = {r["value"]: (r["targets"], r["base"]) for r in report["dimensions"]["last_category"]}
    assert cats == {"accident": (1, 1), "repair": (1, 3)}
    assert report["targets"] == 2 and report["base"] == 4

    # Screening again adds nothing; once this cycle is evaluated its customers can be
    # screened by the next cycle, while a customer of a still-open cycle cannot.
    assert screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)["added"] == 0
    dec, _ = cycles.start_cycle(session=session, store=store, month="2026-12", actor=actor)
    assert screening.screen_targets(session=session, cycle_id=dec.id, actor=actor)["added"] == 0
    cycle.stage = CycleStage.evaluated
    session.flush()
    clock.set_now("2026-12-01T09:00")  # January may be started from December on (one month ahead)
    jan, _ = cycles.start_cycle(session=session, store=store, month="2027-01", actor=actor)
    jan.as_of = cycle.as_of  # measured from the same day as the others
    clock.set_now("2026-11-02T09:00")
    added = {t.vehicle_id for t in session.scalars(select(Target).where(Target.cycle_id == jan.id))}
    assert added == set()
    screening.screen_targets(session=session, cycle_id=jan.id, actor=actor)
    added = {t.vehicle_id for t in session.scalars(select(Target).where(Target.cycle_id == jan.id))}
    assert added == {tie.id, later.id}
