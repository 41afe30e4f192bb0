"""Benchmark: the daily care pass (issue 19) at store scale, against the bare SQL it reads.

    .venv/bin/python bench/care.py --url sqlite:////tmp/care-bench.db
    .venv/bin/python bench/care.py --url postgresql+psycopg://postgres@127.0.0.1:5432/wb_care_bench

Generates one store of a realistic shape (default 30,000 cars, ~400,000 repair orders) into a
freshly migrated database with no statistics (no ANALYZE: the trap of issue 17), then times:

* ``bare SQL``: the two statements the pass stands on (the store's active cars with their owner,
  and the ordered scan of their repair orders), read whole in batches;
* ``plan (first)``: ``planning.plan`` on an empty calendar (every item and touch of the window made,
  the monthly holdout drawn, the churn model fitted for the "worth a call" rule);
* ``plan (again)``: the same day again (idempotent: nothing new, the cost of the daily pass);
* ``plan (next day)``.

Wall and CPU seconds of the process are both printed, each also as a multiple of the warm bare
SQL (on a shared machine the wall time mostly measures the neighbours).

The shape: a third of the cars came once; visit counts otherwise spread widely (mean ~13);
two in a thousand are fleet cars with 100-200 repair orders; most of the archive long lost;
km/day log-normal around 35; 1 % of mileage readings are typos (a dropped or added digit);
three quarters of the cars carry imported insurance dates. The archive is written as ``winback
import`` leaves it: phones, VINs and check digits checked on the way in and marked as checked. Each run rolls back nothing: the
database is regenerated per run.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select, text

import db.migrate
import db.session
import winback.models  # noqa: F401
from winback import clock
from winback.accounts.models import Role, Staff, StaffRole, Store
from winback.actor import Actor
from winback.care import forecasting, planning
from winback.customers import identifiers
from winback.customers.models import Customer, ServiceVisit, Vehicle, VehicleStatus

AS_OF = date(2026, 11, 2)
MODELS = ["Sylphy", "Altima", "X-Trail", "Qashqai", "Kicks", "Teana", "Tiida", "Patrol"]
CATEGORIES = ["保养"] * 5 + ["维修"] * 3 + ["事故", "保修"]


def reset(url: str) -> None:
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        Path(engine.url.database).unlink(missing_ok=True)
    engine.dispose()
    db.migrate.upgrade(url)


def visits_of(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.002:
        return rng.randint(100, 200)  # a fleet car
    if r < 0.33:
        return 1
    return min(80, 2 + int(rng.expovariate(1 / 22)))


def generate(url: str, cars: int, seed: int = 19, stores: int = 1) -> int:
    """``cars`` cars (one owner each) dealt round-robin to ``stores`` stores of eight advisors."""
    rng = random.Random(seed)
    engine = create_engine(url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ro = 0
    with engine.begin() as conn:
        conn.execute(
            Store.__table__.insert(),
            [
                {"id": k, "code": f"S{k:02d}", "name": f"Bench {k}", "settings": {}, "created_at": now}
                for k in range(1, stores + 1)
            ],
        )
        store_advisors: dict[int, list[int]] = {}
        for a in range(1, 8 * stores + 1):
            store = (a - 1) // 8 + 1
            conn.execute(
                Staff.__table__.insert(),
                [
                    {
                        "id": a,
                        "store_id": store,
                        "username": f"adv{a}",
                        "display_name": f"顾问{a}",
                        "password_hash": "x",
                        "active": True,
                        "created_at": now,
                    }
                ],
            )
            conn.execute(StaffRole.__table__.insert(), [{"staff_id": a, "role": Role.advisor.value}])
            store_advisors.setdefault(store, []).append(a)
        bc, bv, bs = [], [], []
        for c in range(1, cars + 1):
            store = (c - 1) % stores + 1
            advisors = store_advisors[store]
            buy = AS_OF - timedelta(days=rng.randint(30, 12 * 365))
            bc.append(
                {
                    "id": c,
                    "store_id": store,
                    "dms_code": f"C{c}",
                    "name": f"客户{c}",
                    "phone": f"13{rng.randint(100000000, 999999999)}",
                    "phone_valid": rng.random() > 0.03,  # 3 % of the numbers typed a digit short
                    "do_not_call": rng.random() < 0.01,
                    "advisor_id": rng.choice(advisors) if rng.random() < 0.6 else None,
                    "customer_type": "private",
                    "created_at": now,
                }
            )
            _as_imported(bc[-1])
            anniversary = buy + timedelta(days=365 * max(1, math.ceil((AS_OF - buy).days / 365)))
            insured = rng.random() < 0.75
            bv.append(
                {
                    "id": c,
                    "store_id": store,
                    "customer_id": c,
                    "vin": f"LSV{c:014d}",
                    "vin_valid": True,
                    "model": rng.choice(MODELS),
                    "grade": rng.choice(["economy", "mid", "lower_mid", "luxury"]),
                    "status": "active" if rng.random() > 0.04 else "sold",
                    "purchase_date": buy,
                    "warranty_end": buy + timedelta(days=3 * 365),
                    "compulsory_insurance_end": anniversary if insured else None,
                    "commercial_insurance_end": anniversary if insured and rng.random() < 0.8 else None,
                    "created_at": now,
                }
            )
            _as_imported_vehicle(bv[-1])
            n = visits_of(rng)
            kmpd = rng.lognormvariate(math.log(35), 0.5)
            # most of the archive is long lost: visits stop somewhere in the car's life
            stop = (
                AS_OF
                if rng.random() < 0.35
                else buy + timedelta(days=rng.randint(30, max(31, (AS_OF - buy).days)))
            )
            d = buy + timedelta(days=rng.randint(20, 120))
            gap = max(7, (stop - d).days // max(n, 1)) if n > 1 else 0
            for _ in range(n):
                if d > stop:
                    break
                ro += 1
                km = int(kmpd * (d - buy).days) + rng.randint(0, 300)
                if rng.random() < 0.01:
                    km = km // 10 if rng.random() < 0.5 else km * 10  # a typo
                bs.append(
                    {
                        "store_id": store,
                        "ro_number": f"RO{ro}",
                        "vehicle_id": c,
                        "customer_id": c,
                        "visit_date": d,
                        "mileage": km if rng.random() > 0.05 else None,
                        "category": rng.choice(CATEGORIES),
                        "amount": rng.randint(200, 4000),
                        "advisor_id": rng.choice(advisors),
                        "created_at": now,
                    }
                )
                d += timedelta(days=max(1, int(gap * rng.uniform(0.5, 1.5))))
            if len(bs) >= 50_000 or c == cars:
                if stores > 1 and c % 100_000 < len(bc):
                    print(f"  {c:,} cars, {ro:,} repair orders", flush=True)
                _bulk(conn, Customer.__table__, bc)
                _bulk(conn, Vehicle.__table__, bv)
                _bulk(conn, ServiceVisit.__table__, bs)
                bc, bv, bs = [], [], []
    engine.dispose()
    return ro


def _as_imported(customer: dict) -> None:
    """The customer as ``winback import`` leaves it: the phone checked on the way in
    (``phone_valid`` from the number itself, ``phone_checked`` set), so the next archive cleanup
    checks only what changed since, as it does for an imported archive."""
    if not customer["phone_valid"]:
        customer["phone"] = customer["phone"][:10]
    customer["phone_valid"] = identifiers.phone_is_valid(customer["phone"])
    customer["phone_checked"] = customer["phone"]


def _as_imported_vehicle(vehicle: dict) -> None:
    """The vehicle as ``winback import`` leaves it: VIN and check digit checked, marked."""
    vehicle["vin_valid"] = identifiers.vin_is_valid(vehicle["vin"])
    vehicle["vin_check_digit_ok"] = identifiers.vin_check_digit_ok(vehicle["vin"])
    vehicle["identifiers_checked"] = identifiers.identifiers_marker(vehicle["vin"], None)


def _bulk(conn, table, rows: list[dict]) -> None:
    """An executemany insert; psycopg's COPY on PostgreSQL (a group's 10M rows in minutes)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def bare_sql(session, store_id: int = 1) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    # Core and batched fetches, as the pass reads them (no ORM row wrapping; the history through
    # a server-side cursor on PostgreSQL, the cheapest of the ways tried to read it whole)
    conn = session.connection()
    conn.execute(
        select(Vehicle.id, Vehicle.model, Vehicle.purchase_date, Customer.phone)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .where(Vehicle.store_id == store_id, Vehicle.status == VehicleStatus.active)
    ).all()
    history = forecasting.history_statement(store_id=store_id, as_of=AS_OF)
    for _row in conn.execute(history.execution_options(yield_per=10_000)):
        pass
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--cars", type=int, default=30_000)
    ap.add_argument(
        "--stores", type=int, default=1, help="a dealer group: the cars dealt to this many stores"
    )
    ap.add_argument("--keep", action="store_true", help="time the data generated before (group runs only)")
    args = ap.parse_args()
    if not args.keep:
        reset(args.url)
        t0 = time.perf_counter()
        ros = generate(args.url, args.cars, stores=args.stores)
        print(
            f"generated {args.cars} cars, {ros} repair orders in {time.perf_counter() - t0:.0f} s (no ANALYZE)"
        )
    db.session.configure(args.url)
    if args.stores > 1:
        group(args.stores)
        return
    clock.set_now(f"{AS_OF}T06:45")
    rows = []
    with db.session.session_scope() as s:
        rows.append(("bare SQL (cars + ordered repair-order scan)", *bare_sql(s), None))
    for label, day in (
        ("plan (first)", AS_OF),
        ("plan (again, same day)", AS_OF),
        ("plan (next day)", AS_OF + timedelta(days=1)),
    ):
        clock.set_now(f"{day}T06:45")
        with db.session.session_scope() as s:
            t0, c0 = time.perf_counter(), time.process_time()
            counts = planning.plan(session=s, store_id=1, actor=Actor.system(label="bench"), as_of=day)
            rows.append((label, time.perf_counter() - t0, time.process_time() - c0, counts))
    with db.session.session_scope() as s:
        rows.append(("bare SQL again (warm)", *bare_sql(s), None))
    bare, bare_cpu = rows[-1][1], rows[-1][2]
    # CPU seconds of this process too: on a shared machine the wall time mostly measures the
    # neighbours (SQLite runs in the process, so its work is in the CPU time).
    print(f"{'stage':<44} {'wall s':>7} {'x bare':>7} {'cpu s':>7} {'x bare':>7}  counts")
    for label, secs, cpu, counts in rows:
        print(f"{label:<44} {secs:7.2f} {secs / bare:7.1f} {cpu:7.2f} {cpu / bare_cpu:7.1f}  {counts or ''}")


def group(stores: int) -> None:
    """One pass per store, one after another (as one run per store on a worker does), each
    against its own bare SQL read warm just before; the sums and the worst store's ratio."""
    import resource

    clock.set_now(f"{AS_OF}T06:45")
    totals = {"bare": 0.0, "first": 0.0, "again": 0.0}
    worst = 0.0
    print(
        f"{'store':>5} {'bare s':>7} {'first s':>8} {'again s':>8} {'x bare':>7}  first pass counts",
        flush=True,
    )
    for store_id in range(1, stores + 1):
        with db.session.session_scope() as s:
            bare_sql(s, store_id)  # warm the store's pages
            bare, _cpu = bare_sql(s, store_id)
        times, first_counts = [], None
        for _ in range(2):
            with db.session.session_scope() as s:
                t0 = time.perf_counter()
                counts = planning.plan(
                    session=s, store_id=store_id, actor=Actor.system(label="bench"), as_of=AS_OF
                )
                times.append(time.perf_counter() - t0)
                first_counts = first_counts or counts
        totals["bare"] += bare
        totals["first"] += times[0]
        totals["again"] += times[1]
        worst = max(worst, times[1] / bare)
        print(
            f"{store_id:>5} {bare:7.2f} {times[0]:8.2f} {times[1]:8.2f} {times[1] / bare:7.1f}  {first_counts}",
            flush=True,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"group of {stores}: bare SQL {totals['bare']:.1f} s, first pass {totals['first']:.1f} s"
        f" ({totals['first'] / totals['bare']:.1f}x), daily pass again {totals['again']:.1f} s"
        f" ({totals['again'] / totals['bare']:.1f}x); worst store's daily pass {worst:.1f}x;"
        f" peak memory of this process {peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
