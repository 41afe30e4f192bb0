"""The one profile analysis (分析调研对象), counted by hand on a store of a few vehicles.

Pins the definitions (winback/cycles/profiles.py): twelve dimensions, "?" for every unknown,
ages and months with the day counted, per-year rates over first visit -> as-of (at least a
month), only repair orders up to the as-of date, the last repair order by date then id; and
that the flow's stored profile, the page and the workbook show the same analysis.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from winback import clock, months, stores
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.analytics import reports
from winback.customers.models import (
    Customer,
    CustomerType,
    ServiceVisit,
    Vehicle,
    VehicleGrade,
    VehicleStatus,
)
from winback.cycles import profiles
from winback.cycles import service as cycles
from winback.cycles.models import Band, CycleStage, Target

AS_OF = date(2026, 11, 2)


def _vehicle(
    session, store, n, *, model, grade=None, status=VehicleStatus.active, warranty_end=None, owner, visits
):
    now = clock.now()
    customer = Customer(store_id=store.id, dms_code=f"C{n}", name=f"客户{n}", created_at=now, **owner)
    session.add(customer)
    session.flush()
    v = Vehicle(
        store_id=store.id,
        customer_id=customer.id,
        vin=f"LSVAB{n:012d}",
        model=model,
        grade=grade,
        status=status,
        warranty_end=warranty_end,
        plate=f"京A{n:05d}",
        created_at=now,
    )
    session.add(v)
    session.flush()
    for i, (day, category, amount) in enumerate(visits):
        session.add(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"RO{n}-{i}",
                vehicle_id=v.id,
                customer_id=customer.id,
                visit_date=day,
                category=category,
                amount=Decimal(amount),
                created_at=now,
            )
        )
        session.flush()  # ids in list order: the later entry of a day is the last
    return v


def _target(session, cycle, v, band, spend):
    session.add(
        Target(
            store_id=cycle.store_id,
            cycle_id=cycle.id,
            customer_id=v.customer_id,
            vehicle_id=v.id,
            band=band,
            last_visit_date=AS_OF,
            months_since_visit=0,
            in_warranty=False,
            visit_count=1,
            total_spend=Decimal(spend),
            profile={},
            created_at=clock.now(),
        )
    )


@pytest.fixture
def profiled(session):
    clock.set_now("2026-11-02T09:00")
    store = stores.create_store(session=session, code="P01", name="Profile", actor=Actor.system())
    admin = accounts.create_staff(
        session=session,
        store_id=store.id,
        username="admin-p01",
        display_name="Admin",
        password="x" * 12,
        roles=[Role.admin],
        actor=Actor.system(),
    )
    private = CustomerType.private
    # A: 30 today (born the same day), in warranty to the day; three repair orders up to
    # as-of (two on its last day: the later entry, the accident, is the last) and one after.
    a = _vehicle(
        session,
        store,
        1,
        model="Kicks",
        grade=VehicleGrade.economy,
        warranty_end=AS_OF,
        owner=dict(birth_date=date(1996, 11, 2), gender="男", district="远郊新区", customer_type=private),
        visits=[
            (date(2024, 11, 2), "maintenance", "1000"),
            (date(2025, 5, 2), "repair", "1000"),
            (date(2025, 5, 2), "accident", "1000"),
            (date(2026, 12, 1), "repair", "999"),
        ],
    )
    # B: 29 (30 tomorrow); last visit 5 whole months ago (the 6th is reached on the 3rd).
    _vehicle(
        session,
        store,
        2,
        model="Kicks",
        grade=VehicleGrade.economy,
        owner=dict(birth_date=date(1996, 11, 3), gender="女", district="城区", customer_type=private),
        visits=[(date(2026, 5, 3), "repair", "500")],
    )
    # C: nothing known of the owner (the type is private by default); first seen a week ago:
    # its rate is taken over a month.
    _vehicle(session, store, 3, model="Sylphy", owner={}, visits=[(date(2026, 10, 26), "maintenance", "300")])
    # D: 66; warranty ended yesterday; a company car.
    d = _vehicle(
        session,
        store,
        4,
        model="Sylphy",
        grade=VehicleGrade.mid,
        warranty_end=date(2026, 11, 1),
        owner=dict(
            birth_date=date(1960, 1, 1), gender="男", district="城区", customer_type=CustomerType.company
        ),
        visits=[(date(2025, 5, 2), "maintenance", "8000")],
    )
    # H: 40 today; last visit exactly 6 months ago.
    h = _vehicle(
        session,
        store,
        5,
        model="Teana",
        grade=VehicleGrade.mid,
        owner=dict(birth_date=date(1986, 11, 2), gender="女", district="远郊新区", customer_type=private),
        visits=[(date(2026, 5, 2), "repair", "600")],
    )
    # Not in the base: a sold vehicle, and a vehicle without any repair order.
    _vehicle(
        session,
        store,
        6,
        model="Kicks",
        status=VehicleStatus.sold,
        owner={},
        visits=[(date(2024, 1, 1), "repair", "100")],
    )
    _vehicle(session, store, 7, model="Kicks", owner={}, visits=[])
    cycle, _ = cycles.start_cycle(session=session, store=store, month="2026-11", actor=Actor.person(admin))
    _target(session, cycle, a, Band.lost, "3000")
    _target(session, cycle, d, Band.lost, "8000")
    _target(session, cycle, h, Band.at_risk, "600")
    session.flush()
    return cycle, admin


def _counts(report, dimension):
    return {r["value"]: (r["targets"], r["base"]) for r in report["dimensions"][dimension]}


def test_profile_counted_by_hand(session, profiled):
    cycle, admin = profiled
    report = profiles.analyze_profiles(session=session, cycle_id=cycle.id, actor=Actor.person(admin))
    assert (report["targets"], report["base"], report["total_spend"]) == (3, 5, "11600.00")
    assert (
        list(report["dimensions"]) == list(profiles.PROFILE_DIMENSIONS)
        and len(profiles.PROFILE_DIMENSIONS) == 12
    )
    expected = {
        "band": {"lost": (2, 2), "at_risk": (1, 1)},
        "model": {"Kicks": (1, 2), "Sylphy": (1, 2), "Teana": (1, 1)},
        "grade": {"economy": (1, 2), "mid": (2, 2), "?": (0, 1)},
        "age_band": {"30-39": (1, 1), "60+": (1, 1), "40-49": (1, 1), "<30": (0, 1), "?": (0, 1)},
        "gender": {"男": (2, 2), "女": (1, 2), "?": (0, 1)},
        "district": {"远郊新区": (2, 2), "城区": (1, 2), "?": (0, 1)},
        "customer_type": {"private": (2, 4), "company": (1, 1)},  # private unless told
        "warranty": {"out_of_warranty": (2, 4), "in_warranty": (1, 1)},
        # A: 3 visits over 730 days -> 1.50 a year; B: 1 over 183 days -> 2.0 (1.996);
        # C: 1 over a week, taken over a month -> 12; D: 1 over 549 days -> 0.66; H: 1 over 184 days -> 1.98
        "visits_per_year": {"1-2": (2, 3), "<1": (1, 1), "4+": (0, 1)},
        # A 1501, B 998, C 3600, D 5322, H 1191 yuan a year
        "spend_per_year": {"1000-3000": (2, 2), "3000-6000": (1, 2), "<1000": (0, 1)},
        "last_category": {"accident": (1, 1), "maintenance": (1, 2), "repair": (1, 2)},
        # A, D 18 whole months; H exactly 6; B 5 (the day not reached); C a week
        "last_visit": {"12-24m": (2, 2), "6-12m": (1, 1), "<6m": (0, 2)},
    }
    assert {d: _counts(report, d) for d in expected} == expected
    lost = report["dimensions"]["band"][0]
    assert (lost["share_pct"], lost["base_share_pct"], lost["index"]) == (66.7, 40.0, 1.67)
    # The flow's stored profile is this analysis, and the cycle moved on.
    assert cycle.profile == report and cycle.stage == CycleStage.profiled
    # The same analysis read again (the page) and written out (the workbook).
    assert profiles.profile_analysis(session=session, cycle_id=cycle.id) == report
    book = load_workbook(BytesIO(reports.profile_workbook(report=report, tally=None)))
    sheet = {row[0]: row[1:4] for row in book["last_visit"].iter_rows(min_row=2, values_only=True)}
    assert sheet == {"12-24m": (2, 66.7, 2), "6-12m": (1, 33.3, 1), "<6m": (0, 0.0, 2)}


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31)), st.integers(1, 900))
def test_month_bounds_are_the_whole_months_rule(later, k):
    """A bucket by whole months is a date comparison: the bound agrees with whole_months."""
    bound = months.latest_with_months(later, k)
    assert months.whole_months(bound, later) >= k
    assert months.whole_months(bound + timedelta(days=1), later) < k
