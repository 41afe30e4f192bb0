"""A dealer's archive as dealers have it: the "realistic" shape of the benchmarks.

    .venv/bin/python bench/realistic.py --url sqlite:////tmp/real.db            # 30k customers
    .venv/bin/python bench/realistic.py --url ... --customers 1000000 --stores 30

``bench/screening.py`` and ``bench/cycle.py`` call ``generate`` with ``--shape realistic``.
What makes it realistic (every knob is a field of ``Shape``, documented in bench/README.md):

* many one-visit vehicles (a single repair, an insurance job, a car bought elsewhere);
* the first/second maintenance drop: many owners leave after the free first maintenance
  (首保) or the second (二保), then a steady yearly hazard: most of a ten-year archive is
  long lost;
* each car its own rhythm (usual interval between visits, log-normal around 2.3 months) and
  seasonal use (visits pushed out of the Spring Festival month, crowded before summer and
  before the New Year);
* fleets: a company's cars come in bursts, the whole fleet within a few days;
* a few cars with 100+ repair orders (taxis and ride-hailing cars serviced every 1-3 weeks);
* typos in mileage (an extra zero, a lost digit) and missing mileage;
* missing fields: most archives hold little beyond name and phone;
* distinct phone numbers (a few shared inside a family) and advisors per store, some of
  whom have left.

Deterministic: the same arguments give the same archive. Rows are bulk-inserted (no ORM, no
audit: this is the DMS's history, not winback's doing) and no statistics are gathered, so the
database is as fresh as one after a first import would be without ``ANALYZE``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine

import winback.models  # noqa: F401
from winback.accounts.models import Role, Staff, StaffRole, Store
from winback.customers import identifiers
from winback.customers.models import Customer, ServiceVisit, Vehicle

AS_OF = date(2026, 11, 2)
MODELS = [
    ("轩逸 Sylphy", "economy", 28),
    ("天籁 Altima", "mid", 14),
    ("奇骏 X-Trail", "mid", 16),
    ("逍客 Qashqai", "lower_mid", 14),
    ("劲客 Kicks", "economy", 10),
    ("骐达 Tiida", "economy", 10),
    ("楼兰 Murano", "luxury", 4),
    ("途乐 Patrol", "luxury", 4),
]
DISTRICTS = ["高新区", "老城区", "开发区", "远郊新区", "滨江区", "北郊", "南湖区", "东城区"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红梅玉琴云飞鹏辉宇浩然子轩欣怡佳琪"


@dataclass(frozen=True)
class Shape:
    """The knobs of the realistic archive (defaults: a mid-size 4S store's DMS history)."""

    # Purchases spread evenly over this many years before the as-of date.
    years: float = 12.0
    # Vehicles with exactly one repair order in the archive.
    one_visit_share: float = 0.25
    # Of the others: leave right after the first maintenance (首保), after the second (二保).
    first_drop: float = 0.22
    second_drop: float = 0.15
    # Afterwards: chance per year of leaving.
    yearly_hazard: float = 0.11
    # Each car's usual interval between visits: log-normal, median and spread (sigma).
    interval_median_months: float = 2.3
    interval_sigma: float = 0.35
    # Relative chance a visit lands in each month (Jan..Dec): the Spring Festival month is
    # quiet, spring (before summer trips and air-conditioning) and December busy.
    season: tuple[float, ...] = (0.75, 0.45, 1.1, 1.15, 1.1, 1.0, 1.0, 0.95, 1.0, 1.05, 1.0, 1.2)
    # Fleets per 10,000 customers, their size, and the days a burst spreads over.
    fleets_per_10k: float = 20.0
    fleet_size: tuple[int, int] = (15, 60)
    fleet_burst_days: int = 5
    # Cars serviced every 7-20 days for years (taxis): 100+ repair orders each.
    heavy_per_10k: float = 3.0
    # Mileage: a typo (an extra zero or a lost digit), or not recorded at all.
    mileage_typo: float = 0.01
    mileage_missing: float = 0.05
    # Share of customers missing each field (archives hold little beyond name and phone).
    missing: dict[str, float] = field(
        default_factory=lambda: {
            "gender": 0.45,
            "birth_date": 0.75,
            "occupation": 0.85,
            "district": 0.55,
            "address": 0.65,
            "plate": 0.08,
            "advisor": 0.10,
        }
    )
    # Customers sharing a phone number with another (a family's cars).
    shared_phone: float = 0.02
    # Service advisors per store, and how many of them have left.
    advisors: int = 8
    advisors_left: int = 2


CATEGORY_MIX = [("保养", 0.60), ("维修", 0.25), ("事故", 0.08), ("保修", 0.07)]
ITEMS = {"保养": "常规保养 机油机滤", "维修": "刹车片更换", "事故": "钣金喷漆", "保修": "保修检查"}
AMOUNT = {"保养": (600, 0.4), "维修": (1500, 0.8), "事故": (4000, 0.9), "保修": (0, 0.0)}


def _seasonal(rng: random.Random, d: date, shape: Shape) -> date:
    """Push ``d`` forward, a week or two at a time, until a visit in its month is accepted."""
    top = max(shape.season)
    for _ in range(6):
        if rng.random() * top <= shape.season[d.month - 1]:
            return d
        d += timedelta(days=rng.randint(7, 16))
    return d


def _history(rng: random.Random, purchase: date, shape: Shape, heavy: bool) -> list[date]:
    """One car's visit dates up to AS_OF."""
    if heavy:
        d, out = AS_OF - timedelta(days=rng.randint(1000, 1800)), []
        while d <= AS_OF:
            out.append(d)
            d += timedelta(days=rng.randint(5, 15))
        return out
    span = (AS_OF - purchase).days
    if rng.random() < shape.one_visit_share:
        return [purchase + timedelta(days=rng.randint(0, max(span, 1)))] if span > 0 else [AS_OF]
    interval = 30.44 * shape.interval_median_months * math.exp(rng.gauss(0, shape.interval_sigma))
    leave_per_visit = 1 - (1 - shape.yearly_hazard) ** (interval / 365.25)
    d = purchase + timedelta(days=rng.randint(30, 100))
    out: list[date] = []
    while d <= AS_OF:
        out.append(d)
        n = len(out)
        if (
            (n == 1 and rng.random() < shape.first_drop)
            or (n == 2 and rng.random() < shape.second_drop)
            or (n > 2 and rng.random() < leave_per_visit)
        ):
            break
        d = _seasonal(rng, d + timedelta(days=max(7, int(rng.gammavariate(6, interval / 6)))), shape)
    return out


def _mileage(rng: random.Random, purchase: date, on: date, per_month: float, shape: Shape) -> int | None:
    if rng.random() < shape.mileage_missing:
        return None
    km = int(per_month * max((on - purchase).days, 1) / 30.44) + rng.randint(0, 500)
    if rng.random() < shape.mileage_typo:
        km = km * 10 if rng.random() < 0.5 else km // 10
    return km


def _category(rng: random.Random, n: int) -> str:
    if n <= 2:
        return "保养"
    x, acc = rng.random(), 0.0
    for cat, p in CATEGORY_MIX:
        acc += p
        if x < acc:
            return cat
    return "保养"


def _vehicle_checks(vin: str, plate: str | None) -> dict:
    return {
        "vin_valid": identifiers.vin_is_valid(vin),
        "vin_check_digit_ok": identifiers.vin_check_digit_ok(vin),
        "plate_valid": identifiers.plate_is_valid(plate),
        "identifiers_checked": identifiers.identifiers_marker(vin, plate),
    }


def generate(
    url: str,
    customers: int,
    stores: int = 1,
    seed: int = 17,
    shape: Shape | None = None,
    as_imported: bool = False,
) -> dict:
    """Fill a database migrated to head (and empty) with the realistic archive. Returns counts."""
    shape = shape or Shape()
    rng = random.Random(seed)
    engine = create_engine(url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    counts = {"customers": 0, "vehicles": 0, "visits": 0, "one_visit": 0, "heavy": 0, "fleets": 0}
    with engine.begin() as conn:
        conn.execute(
            Store.__table__.insert(),
            [
                {"id": s, "code": f"S{s:02d}", "name": f"Store {s}", "settings": {}, "created_at": now}
                for s in range(1, stores + 1)
            ],
        )
        staff, roles, advisors = [], [], {}
        sid = 0
        for s in range(1, stores + 1):
            advisors[s] = []
            for a in range(shape.advisors):
                sid += 1
                staff.append(
                    {
                        "id": sid,
                        "store_id": s,
                        "username": f"s{s:02d}-advisor{a + 1}",
                        "display_name": f"服务顾问 {rng.choice(SURNAMES)}{rng.choice(GIVEN)}",
                        "password_hash": "!",  # no log-in: benchmark staff
                        "active": a >= shape.advisors_left,
                        "created_at": now,
                    }
                )
                roles.append({"staff_id": sid, "role": Role.advisor.value})
                advisors[s].append(sid)
        conn.execute(Staff.__table__.insert(), staff)
        conn.execute(StaffRole.__table__.insert(), roles)

        fleets_left = max(0, round(customers * shape.fleets_per_10k / 10_000))
        heavy_p = shape.heavy_per_10k / 10_000
        batch_c, batch_v, batch_s = [], [], []
        vid = ro = 0
        phones: list[str] = []
        for c in range(1, customers + 1):
            store = (c - 1) % stores + 1
            m = shape.missing
            is_fleet = fleets_left > 0 and rng.random() < fleets_left / max(customers - c + 1, 1) * 1.0
            if is_fleet:
                fleets_left -= 1
                counts["fleets"] += 1
            if phones and rng.random() < shape.shared_phone:
                phone = rng.choice(phones[-200:])
            else:
                phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{c % 100_000_000:08d}"
                phones.append(phone)
            district = None if rng.random() < m["district"] else rng.choice(DISTRICTS)
            batch_c.append(
                {
                    "id": c,
                    "store_id": store,
                    "dms_code": f"C{c:08d}",
                    "name": (f"{rng.choice(DISTRICTS)}物流公司" if is_fleet else "")
                    or rng.choice(SURNAMES)
                    + rng.choice(GIVEN)
                    + (rng.choice(GIVEN) if rng.random() < 0.5 else ""),
                    "phone": phone,
                    # as_imported: checked as winback's import checks each new customer's phone
                    "phone_valid": identifiers.phone_is_valid(phone) if as_imported else True,
                    "phone_checked": phone if as_imported else None,
                    "gender": None if rng.random() < m["gender"] else rng.choice("男女"),
                    "birth_date": None
                    if rng.random() < m["birth_date"]
                    else date(AS_OF.year - rng.randint(22, 70), rng.randint(1, 12), rng.randint(1, 28)),
                    "occupation": None
                    if rng.random() < m["occupation"]
                    else rng.choice(["企业职员", "个体经营", "公务员", "教师", "司机"]),
                    "district": district,
                    "address": None
                    if rng.random() < m["address"]
                    else f"{district or ''}{rng.randint(1, 300)}号",
                    "customer_type": "company"
                    if is_fleet
                    else rng.choices(["private", "company", "insurance", "taxi"], [85, 6, 6, 3])[0],
                    "advisor_id": None if rng.random() < 0.5 else rng.choice(advisors[store]),
                    "do_not_call": False,
                    "created_at": now,
                }
            )
            n_cars = rng.randint(*shape.fleet_size) if is_fleet else 1
            fleet_days: list[date] = []
            if is_fleet:  # the whole fleet comes in every ~3 months, for its last few years
                d = AS_OF - timedelta(days=rng.randint(700, 2500))
                stop = AS_OF if rng.random() < 0.5 else AS_OF - timedelta(days=rng.randint(200, 900))
                while d <= stop:
                    fleet_days.append(d)
                    d += timedelta(days=rng.randint(75, 110))
            for _ in range(n_cars):
                vid += 1
                model, grade, _w = rng.choices(MODELS, weights=[w for *_, w in MODELS])[0]
                if fleet_days:
                    purchase = fleet_days[0] - timedelta(days=rng.randint(0, 60))
                else:
                    purchase = AS_OF - timedelta(days=rng.randint(100, int(shape.years * 365)))
                heavy = not is_fleet and rng.random() < heavy_p
                if heavy:  # serviced here since at least the start of its history
                    purchase = min(purchase, AS_OF - timedelta(days=1830))
                if fleet_days:
                    dates = [
                        d + timedelta(days=rng.randint(0, shape.fleet_burst_days - 1))
                        for d in fleet_days
                        if rng.random() < 0.85
                    ] or [fleet_days[0]]
                    dates = [d for d in dates if d <= AS_OF]
                else:
                    dates = _history(rng, purchase, shape, heavy)
                counts["one_visit"] += len(dates) == 1
                counts["heavy"] += len(dates) >= 100
                vin = f"LGB{vid:014d}"
                plate = None if rng.random() < m["plate"] else f"粤B{vid % 100000:05d}"
                batch_v.append(
                    {
                        "id": vid,
                        "store_id": store,
                        "customer_id": c,
                        "vin": vin,
                        "vin_valid": True,
                        "plate": plate,
                        # as_imported: the checks winback's import makes of each new vehicle
                        **(_vehicle_checks(vin, plate) if as_imported else {}),
                        "model": model,
                        "grade": grade,
                        "status": "active",
                        "purchase_date": purchase,
                        "warranty_end": purchase + timedelta(days=3 * 365),
                        "created_at": now,
                    }
                )
                per_month = rng.uniform(800, 2500) * (4 if heavy else 1)
                advisor = rng.choice(advisors[store])
                for n, d in enumerate(dates, start=1):
                    ro += 1
                    cat = _category(rng, n)
                    base, spread = AMOUNT[cat]
                    if rng.random() < 0.3:
                        advisor = rng.choice(advisors[store])
                    batch_s.append(
                        {
                            "store_id": store,
                            "ro_number": f"RO{ro:09d}",
                            "vehicle_id": vid,
                            "customer_id": c,
                            "visit_date": d,
                            "mileage": _mileage(rng, purchase, d, per_month, shape),
                            "category": cat,
                            "items": ("首保" if n == 1 else "二保" if n == 2 else ITEMS[cat])
                            if cat == "保养"
                            else ITEMS[cat],
                            "amount": round(base * math.exp(rng.gauss(0, spread)), 2) if base else 0,
                            "advisor_id": None if rng.random() < m["advisor"] else advisor,
                            "created_at": now,
                        }
                    )
            if len(batch_s) >= 50_000 or c == customers:
                conn.execute(Customer.__table__.insert(), batch_c)
                conn.execute(Vehicle.__table__.insert(), batch_v)
                if batch_s:
                    conn.execute(ServiceVisit.__table__.insert(), batch_s)
                counts["visits"] += len(batch_s)
                batch_c, batch_v, batch_s = [], [], []
        counts["customers"], counts["vehicles"] = customers, vid
    engine.dispose()
    return counts


def describe(url: str) -> dict:
    """What the archive looks like at AS_OF: the share lost, at risk, seen once (for README)."""
    from sqlalchemy import text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT max(visit_date), count(*) FROM service_visits GROUP BY vehicle_id")
        ).all()
    engine.dispose()
    n = len(rows)
    last = [r[0] if isinstance(r[0], date) else date.fromisoformat(r[0]) for r in rows]
    lost = sum((AS_OF - d).days > 365 for d in last)
    risk = sum(183 <= (AS_OF - d).days <= 365 for d in last)
    return {
        "vehicles_with_visits": n,
        "lost_pct": round(100 * lost / n, 1),
        "at_risk_pct": round(100 * risk / n, 1),
        "one_visit_pct": round(100 * sum(r[1] == 1 for r in rows) / n, 1),
        "max_visits": max(r[1] for r in rows),
        "cars_100_plus": sum(r[1] >= 100 for r in rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="a database; emptied and migrated first")
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--stores", type=int, default=1)
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args()
    from bench.screening import reset

    t0 = time.perf_counter()
    reset(a.url)
    counts = generate(a.url, a.customers, a.stores, a.seed)
    print(counts, f"{time.perf_counter() - t0:.0f} s")
    print(describe(a.url))


if __name__ == "__main__":
    main()
