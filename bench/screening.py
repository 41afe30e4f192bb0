"""Benchmark: screening, profile analysis and the churn analytics at dealer scale.

    .venv/bin/python bench/screening.py --url sqlite:////tmp/bench.db            # both shapes
    .venv/bin/python bench/screening.py --url sqlite:////tmp/bench.db --shape realistic
    .venv/bin/python bench/screening.py --url postgresql+psycopg://postgres@127.0.0.1:5432/wb_bench
    .venv/bin/python bench/screening.py --url ... --customers 1000000 --visits 10000000 --stores 30

Generates the data (bulk inserts into a database migrated to head; the database is emptied
first), then times, per stage, the service as the Prefect task runs it and the bare SQL query
it is built on. Everything runs in one transaction per store that is rolled back, so ``--keep``
times the same data again; ``--memory`` reports peak Python memory (tracemalloc) in a separate
run, since tracemalloc slows the timed code several-fold. Results are printed as a table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, delete, func, select, text

import db.migrate
import db.session
import winback.models  # noqa: F401
from db.base import Base
from winback import clock
from winback.accounts.models import Store
from winback.actor import Actor
from winback.analytics import alarm
from winback.customers.models import Customer, ServiceVisit, Vehicle
from winback.cycles import profiles, screening
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, Target

AS_OF = date(2026, 11, 2)
MODELS = ["Sagitar", "Lavida", "Bora", "Tiguan", "Passat", "Magotan", "Kicks", "Tayron"]
DISTRICTS = [f"D{i:02d}" for i in range(12)]


def reset(url: str) -> None:
    if db.session.is_configured():  # an earlier run in this process: let go of the old file
        db.session.get_engine().dispose()
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{engine.url.database}{suffix}").unlink(missing_ok=True)
    engine.dispose()
    db.migrate.upgrade(url)


def generate(url: str, customers: int, visits: int, stores: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    engine = create_engine(url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    per_vehicle = visits / customers
    with engine.begin() as conn:
        conn.execute(
            Store.__table__.insert(),
            [
                {
                    "id": s + 1,
                    "code": f"S{s + 1:02d}",
                    "name": f"Store {s + 1}",
                    "settings": {},
                    "created_at": now,
                }
                for s in range(stores)
            ],
        )
        batch_c, batch_v, batch_s = [], [], []
        ro = 0
        for c in range(1, customers + 1):
            store = (c - 1) % stores + 1
            batch_c.append(
                {
                    "id": c,
                    "store_id": store,
                    "dms_code": f"C{c}",
                    "name": f"客户{c}",
                    "phone": f"138{c % 100_000_000:08d}",  # one number each (duplicates: realistic.py)
                    "phone_valid": True,
                    "district": rng.choice(DISTRICTS),
                    "customer_type": "private",
                    "gender": rng.choice("男女"),
                    "created_at": now,
                }
            )
            buy = AS_OF - timedelta(days=rng.randint(200, 3000))
            batch_v.append(
                {
                    "id": c,
                    "store_id": store,
                    "customer_id": c,
                    "vin": f"LSV{c:014d}",
                    "vin_valid": True,
                    "model": rng.choice(MODELS),
                    "status": "active",
                    "purchase_date": buy,
                    "warranty_end": buy + timedelta(days=3 * 365),
                    "created_at": now,
                }
            )
            # visits every ~3 months with a per-vehicle rate; a quarter stop at some point
            n = max(1, int(rng.expovariate(1 / per_vehicle)))
            stop = AS_OF - timedelta(days=rng.randint(0, 900)) if rng.random() < 0.25 else AS_OF
            d = buy + timedelta(days=rng.randint(0, 60))
            gap = max(20, (stop - d).days // max(n, 1))
            for _ in range(n):
                if d > stop:
                    break
                ro += 1
                batch_s.append(
                    {
                        "store_id": store,
                        "ro_number": f"RO{ro}",
                        "vehicle_id": c,
                        "customer_id": c,
                        "visit_date": d,
                        "category": rng.choice(("maintenance", "repair", "accident")),
                        "amount": rng.randint(300, 3000),
                        "created_at": now,
                    }
                )
                d += timedelta(days=int(gap * rng.uniform(0.6, 1.4)))
            if len(batch_s) >= 50_000 or c == customers:
                conn.execute(Customer.__table__.insert(), batch_c)
                conn.execute(Vehicle.__table__.insert(), batch_v)
                conn.execute(ServiceVisit.__table__.insert(), batch_s)
                batch_c, batch_v, batch_s = [], [], []
        if engine.dialect.name == "postgresql":
            for t in Base.metadata.sorted_tables:
                conn.execute(text(f'ANALYZE "{t.name}"'))
    engine.dispose()
    print(f"generated {customers} customers, {ro} visits in {stores} stores", flush=True)


def timed(fn, memory: bool = False):
    """Wall time of ``fn``; with ``memory``, the peak of Python allocations instead of the time
    (tracemalloc hooks every allocation and slowed the timed stages 3-6x, so the two are
    measured in separate runs)."""
    if memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    peak = 0
    if memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, elapsed, peak / 2**20


def bare_sql(session, store_id: int) -> float:
    """The grouped per-vehicle query screening and profile stand on, fetched in full."""
    stmt = (
        select(
            ServiceVisit.vehicle_id,
            func.max(ServiceVisit.visit_date),
            func.min(ServiceVisit.visit_date),
            func.count(),
            func.sum(ServiceVisit.amount),
        )
        .where(ServiceVisit.store_id == store_id, ServiceVisit.visit_date <= AS_OF)
        .group_by(ServiceVisit.vehicle_id)
    )
    t0 = time.perf_counter()
    session.execute(stmt).all()
    return time.perf_counter() - t0


def run(url: str, stores: int, memory: bool = False) -> None:
    db.session.configure(url)
    clock.set_now(f"{AS_OF.isoformat()}T09:00")
    actor = Actor.system(label="bench")
    rows = []
    Session = db.session.new_session
    total = {"screen": 0.0, "profile": 0.0, "alarm": 0.0, "sql": 0.0}
    peak = 0.0
    for store_id in range(1, stores + 1):
        with Session() as s:
            store = s.get(Store, store_id)
            code = store.code
            cycle, created = cycles.start_cycle(session=s, store=store, month="2026-11", actor=actor)
            if not created:  # left committed by an older run of this script: screen it afresh
                s.execute(delete(Target).where(Target.cycle_id == cycle.id))
                cycle.stage = CycleStage.started
                s.flush()
            sql = bare_sql(s, store_id)
            res, t_screen, m1 = timed(
                lambda: screening.screen_targets(session=s, cycle_id=cycle.id, actor=actor), memory
            )
            _, t_prof, m2 = timed(lambda: profiles.profile_analysis(session=s, cycle_id=cycle.id), memory)
            _, t_alarm, m3 = timed(lambda: alarm.churn_alarm(session=s, store_id=store_id), memory)
            # Rolled back, so the stages can be timed again on the same data (--keep).
            s.rollback()
        total["screen"] += t_screen
        total["profile"] += t_prof
        total["alarm"] += t_alarm
        total["sql"] += sql
        peak = max(peak, m1, m2, m3)
        if store_id <= 3 or store_id == stores:
            rows.append((code, res["total"], sql, t_screen, t_prof, t_alarm, max(m1, m2, m3)))
    print(
        f"{'store':6} {'targets':>8} {'bare SQL s':>10} {'screen s':>9} {'profile s':>9} {'alarm s':>8} {'peak MiB':>9}"
    )
    for r in rows:
        print(f"{r[0]:6} {r[1]:>8} {r[2]:>10.2f} {r[3]:>9.2f} {r[4]:>9.2f} {r[5]:>8.2f} {r[6]:>9.1f}")
    print(
        f"all {stores} stores: bare SQL {total['sql']:.1f} s, screening {total['screen']:.1f} s, "
        f"profile {total['profile']:.1f} s, alarm {total['alarm']:.1f} s, peak {peak:.0f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--visits", type=int, default=400_000)
    ap.add_argument("--stores", type=int, default=1)
    ap.add_argument(
        "--shape",
        choices=("uniform", "realistic", "both"),
        default="both",
        help="the archive: uniform (every car alike), realistic (bench/realistic.py) or both in turn",
    )
    ap.add_argument("--keep", action="store_true", help="reuse the data already in the database")
    ap.add_argument(
        "--memory",
        action="store_true",
        help="measure peak Python memory (tracemalloc) instead of honest times",
    )
    a = ap.parse_args()
    import os

    os.environ["WINBACK_DATABASE_URL"] = a.url
    if a.keep:
        run(a.url, a.stores, a.memory)
        return
    for shape in ("uniform", "realistic") if a.shape == "both" else (a.shape,):
        t0 = time.perf_counter()
        reset(a.url)
        if shape == "uniform":
            generate(a.url, a.customers, a.visits, a.stores)
        else:
            from bench import realistic

            counts = realistic.generate(a.url, a.customers, a.stores)
            print(f"generated (realistic) {counts}", flush=True)
        print(f"{shape}: data ready in {time.perf_counter() - t0:.0f} s (no statistics gathered)", flush=True)
        run(a.url, a.stores, a.memory)


if __name__ == "__main__":
    main()
