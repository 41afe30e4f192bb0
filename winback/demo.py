"""Deterministic demo data: one 4S store with a story the process should find.

The story: the SUV "劲客 Kicks" loses customers far more than other models; the new
"远郊新区" district lies far from the store; advisor 赵磊 (zhaolei) has left the company,
so his former customers are handed to the others. Dates are relative to the clock, so the
demo always has at-risk and lost customers; the same clock gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock, stores
from winback.accounts import service as accounts
from winback.accounts.models import Role, Staff, Store
from winback.actor import Actor
from winback.customers.models import (
    Customer,
    CustomerType,
    ServiceVisit,
    Vehicle,
    VehicleGrade,
    VehicleStatus,
)

DEMO_PASSWORD = "winback-demo"
STORE_CODE = "S01"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    name: str
    roles: tuple[Role, ...]
    active: bool = True


ACCOUNTS = (
    DemoAccount("admin", "行政 李娜", (Role.admin,)),
    DemoAccount("supervisor", "前台主管 王芳", (Role.supervisor,)),
    DemoAccount("advisor1", "服务顾问 张伟", (Role.advisor,)),
    DemoAccount("advisor2", "服务顾问 刘洋", (Role.advisor,)),
    DemoAccount("advisor3", "服务顾问 陈静", (Role.advisor,)),
    DemoAccount("zhaolei", "服务顾问 赵磊（已离职）", (Role.advisor,), active=False),
    DemoAccount("manager", "服务经理 周强", (Role.manager,)),
    DemoAccount("auditor", "审计 吴敏", (Role.auditor,)),
)

MODELS = [
    # model, grade, weight, yearly chance of churning (the Kicks is the story)
    ("轩逸 Sylphy", VehicleGrade.economy, 30, 0.10),
    ("天籁 Altima", VehicleGrade.mid, 20, 0.10),
    ("奇骏 X-Trail", VehicleGrade.mid, 20, 0.12),
    ("逍客 Qashqai", VehicleGrade.lower_mid, 15, 0.12),
    ("劲客 Kicks", VehicleGrade.economy, 15, 0.45),
]
DISTRICTS = [("高新区", 30), ("老城区", 30), ("开发区", 25), ("远郊新区", 15)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚"
CATEGORIES = [
    ("保养", "常规保养 机油机滤", 480),
    ("维修", "刹车片更换", 1200),
    ("保养", "大保养", 1500),
    ("事故", "钣金喷漆", 3500),
    ("保修", "保修检查", 0),
]


def _weighted(rng: random.Random, items):
    return rng.choices(items, weights=[i[-2] if len(i) == 4 else i[-1] for i in items])[0]


KICKS = "劲客 Kicks"
# Share of the Kicks owners who left that left in the wave of six months ago (so they cross
# the at-risk red line in the demo month: the abnormal-churn alarm's story), and share of the
# Kicks owners still coming whose frequent visits have just stopped (overdue against their own
# rhythm, not yet at the red line: the likely-lost list's story).
KICKS_WAVE_SHARE = 0.6
KICKS_DRIFT_SHARE = 0.5


def _kicks_wave(
    wave: random.Random, visits: list[ServiceVisit], *, churned: bool, today: date
) -> list[ServiceVisit]:
    """Reshape one Kicks history for the demo's story (see KICKS_WAVE_SHARE)."""
    if not visits:
        return visits
    last = visits[-1]
    if churned and wave.random() < KICKS_WAVE_SHARE:
        # The last visit six months (and 0..today.day-1 days) ago: the red line is crossed
        # this month, up to today.
        on = today - relativedelta(months=6) - timedelta(days=wave.randint(0, today.day - 1))
        kept = [v for v in visits if v.visit_date < on - timedelta(days=60)]
        return [*kept, _again(last, on, len(kept) + 1)]
    if not churned and wave.random() < KICKS_DRIFT_SHARE:
        # A busy car (ride-hailing, long commutes): in every 40-65 days, until 110-170 days ago.
        stop = today - timedelta(days=wave.randint(110, 170))
        d, out = visits[0].visit_date, []
        while d <= stop:
            out.append(_again(last, d, len(out) + 1))
            d += timedelta(days=wave.randint(40, 65))
        return out or visits
    return visits


def _again(like: ServiceVisit, on: date, n: int) -> ServiceVisit:
    """A repair order like ``like`` on another day (the ``n``-th of the vehicle)."""
    return ServiceVisit(
        store_id=like.store_id,
        ro_number=f"{like.ro_number.rsplit('-', 1)[0]}-{n:03d}",
        vehicle_id=like.vehicle_id,
        customer_id=like.customer_id,
        visit_date=on,
        mileage=5000 * n + 1000,
        category=like.category,
        items=like.items,
        amount=like.amount,
        advisor_id=like.advisor_id,
        created_at=like.created_at,
    )


def load_demo(*, session: Session, customers: int = 240, seed: int = 20261101) -> Store:
    """Create the demo store, its staff and archive. Does nothing if the store exists."""
    existing = session.scalar(select(Store).where(Store.code == STORE_CODE))
    if existing is not None:
        return existing
    rng = random.Random(seed)
    # The Kicks' recent wave draws from its own generator: the rest of the demo stays the same.
    wave = random.Random(seed + 1)
    system = Actor.system(label="demo")
    store = stores.create_store(
        session=session, code=STORE_CODE, name="示范日产4S店 Demo Nissan", actor=system
    )
    staff = _demo_staff(session, store, system)
    serving = [staff["advisor1"], staff["advisor2"], staff["advisor3"], staff["zhaolei"]]
    today = clock.today()
    now = clock.now()
    vehicles: list[Vehicle] = []
    for i in range(customers):
        # The draws happen in this order (customer, vehicle, then visits) so a seed always
        # gives the same archive.
        model, grade, _w, churn = _weighted(rng, MODELS)
        district = _weighted(rng, DISTRICTS)[0]
        if district == "远郊新区":
            churn += 0.25
        purchase = today - timedelta(days=rng.randint(200, 6 * 365))
        c = _demo_customer(session, store, rng, i, district=district, today=today, now=now)
        v = _demo_vehicle(session, store, rng, i, c, model=model, grade=grade, purchase=purchase, now=now)
        vehicles.append(v)
        advisor = serving[i % len(serving)]
        _demo_visits(session, store, rng, wave, i, v, advisor, model=model, churn=churn, today=today, now=now)
    session.flush()
    _care_mix(session, store, vehicles, today, random.Random(seed + 19))
    session.flush()
    return store


def _demo_staff(session: Session, store: Store, system: Actor) -> dict[str, Staff]:
    staff: dict[str, Staff] = {}
    for acc in ACCOUNTS:
        s = accounts.create_staff(
            session=session,
            store_id=store.id,
            username=acc.username,
            display_name=acc.name,
            password=DEMO_PASSWORD,
            roles=list(acc.roles),
            actor=system,
        )
        s.active = acc.active
        staff[acc.username] = s
    return staff


def _demo_customer(
    session: Session, store: Store, rng: random.Random, i: int, *, district: str, today: date, now: datetime
) -> Customer:
    ctype = rng.choices(list(CustomerType), weights=[70, 15, 10, 5])[0]
    phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
    if i % 37 == 5:
        phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"  # cleanup normalizes spacing
    if i % 53 == 7:
        phone = "12345"  # a bad number the cleanup flags
    c = Customer(
        store_id=store.id,
        dms_code=f"C{i + 1:05d}",
        name=rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else ""),
        phone=phone,
        gender=rng.choice(["男", "女"]),
        birth_date=date(today.year - rng.randint(23, 65), rng.randint(1, 12), rng.randint(1, 28)),
        occupation=rng.choice(["企业职员", "个体经营", "公务员", "教师", "司机", "其他"]),
        district=district,
        address=f"{district}{rng.randint(1, 300)}号",
        customer_type=ctype,
        created_at=now,
    )
    session.add(c)
    session.flush()
    return c


def _demo_vehicle(
    session: Session,
    store: Store,
    rng: random.Random,
    i: int,
    c: Customer,
    *,
    model: str,
    grade: str,
    purchase: date,
    now: datetime,
) -> Vehicle:
    vin = "LGB" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(14))
    v = Vehicle(
        store_id=store.id,
        customer_id=c.id,
        vin=vin,
        plate=f"粤B{rng.randint(10000, 99999)}",
        model=model,
        grade=grade,
        purchase_date=purchase,
        warranty_end=purchase + timedelta(days=3 * 365),
        status=VehicleStatus.active,
        created_at=now,
    )
    if i % 41 == 3:
        v.status, v.status_note = VehicleStatus.sold, "客户告知已卖车"
    session.add(v)
    session.flush()
    return v


def _demo_visits(
    session: Session,
    store: Store,
    rng: random.Random,
    wave: random.Random,
    i: int,
    v: Vehicle,
    advisor: Staff,
    *,
    model: str,
    churn: float,
    today: date,
    now: datetime,
) -> None:
    # Visits every ~3-5 months from purchase; a churner stops 6-24 months before today.
    purchase = v.purchase_date
    stop = today
    if rng.random() < churn:
        stop = today - timedelta(days=rng.randint(190, 720))
    elif rng.random() < 0.15:
        stop = today - timedelta(days=rng.randint(100, 170))
    d = purchase + timedelta(days=rng.randint(60, 120))
    n = 0
    visits = []
    while d <= stop:
        cat, items, base = rng.choice(CATEGORIES)
        n += 1
        visits.append(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"RO{i + 1:05d}-{n:03d}",
                vehicle_id=v.id,
                customer_id=v.customer_id,
                visit_date=d,
                mileage=5000 * n + rng.randint(0, 3000),
                category=cat,
                items=items,
                amount=Decimal(base + rng.randint(0, 400)),
                advisor_id=advisor.id,
                created_at=now,
            )
        )
        d += timedelta(days=rng.randint(85, 150))
    if model == KICKS:
        visits = _kicks_wave(wave, visits, churned=stop < today - timedelta(days=180), today=today)
    session.add_all(visits)
    if not visits:  # everyone in the archive came at least once
        session.add(
            ServiceVisit(
                store_id=store.id,
                ro_number=f"RO{i + 1:05d}-001",
                vehicle_id=v.id,
                customer_id=v.customer_id,
                visit_date=purchase + timedelta(days=30),
                mileage=1000,
                category="保养",
                items="首保",
                amount=Decimal("0"),
                advisor_id=advisor.id,
                created_at=now,
            )
        )


def _care_mix(
    session: Session, store: Store, vehicles: list[Vehicle], today: date, rng: random.Random
) -> None:
    """What the care calendar needs on top of the story (its own random stream, so the story's
    figures stay as they were): insurance policies imported with most cars (renewed on the
    purchase anniversary, so about one car in twelve expires next month), and a few customers'
    second cars bought in the last months that have not had their first service yet."""
    for v in vehicles:
        if v.purchase_date is None or rng.random() > 0.75:
            continue
        end = v.purchase_date + relativedelta(years=today.year - v.purchase_date.year)
        if end <= today:
            end += relativedelta(years=1)
        v.compulsory_insurance_end = end
        if rng.random() < 0.8:
            v.commercial_insurance_end = end
    for v in vehicles[::16]:
        if v.status != VehicleStatus.active:
            continue
        bought = today - timedelta(days=rng.randint(20, 170))
        session.add(
            Vehicle(
                store_id=store.id,
                customer_id=v.customer_id,
                vin="LGB" + "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(14)),
                plate=f"粤B{rng.randint(10000, 99999)}",
                model=rng.choice(MODELS)[0],
                grade=v.grade,
                purchase_date=bought,
                warranty_end=bought + timedelta(days=3 * 365),
                compulsory_insurance_end=bought + relativedelta(years=1),
                commercial_insurance_end=bought + relativedelta(years=1),
                status=VehicleStatus.active,
                created_at=clock.now(),
            )
        )
