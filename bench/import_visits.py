"""Benchmark: import N repair orders (default 1,000,000) from a CSV and print rows per second
and peak memory. Not a test: run it by hand and write the figure into bench/README.md.

    .venv/bin/python bench/import_visits.py [--rows 1000000] [--db sqlite|URL]

It creates a store with 20,000 customers and vehicles, writes a GB18030 CSV of N repair orders
(amounts like ¥1,234.50, dates as 2024/3/5) and imports it through the same service as the CLI.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--vehicles", type=int, default=20_000)
    ap.add_argument("--db", default="sqlite", help="sqlite (a fresh temporary file) or a SQLAlchemy URL")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="winback-bench-"))
    os.environ["WINBACK_DATA_DIR"] = str(work)
    url = f"sqlite:///{work / 'bench.db'}" if args.db == "sqlite" else args.db

    from sqlalchemy import insert

    import db.migrate
    import db.session
    from winback import clock, stores
    from winback.actor import Actor
    from winback.customers.models import Customer, Vehicle
    from winback.cycles import returns

    clock.set_now("2026-11-02T09:00")
    db.migrate.upgrade(url)
    db.session.configure(url)
    actor = Actor.system(label="bench")
    rng = random.Random(1)
    with db.session.session_scope() as s:
        store = stores.create_store(session=s, code=f"B{rng.randint(100, 999)}", name="bench", actor=actor)
        s.flush()
        now = clock.now()
        s.execute(
            insert(Customer),
            [
                {
                    "store_id": store.id,
                    "dms_code": f"C{i:06d}",
                    "name": f"客户{i}",
                    "phone": f"138{i:08d}",
                    "phone_valid": True,
                    "customer_type": "private",
                    "created_at": now,
                }
                for i in range(args.vehicles)
            ],
        )
        ids = [
            cid
            for (cid,) in s.execute(
                Customer.__table__.select()
                .with_only_columns(Customer.id)
                .where(Customer.store_id == store.id)
                .order_by(Customer.id)
            )
        ]
        vins = [f"LGB{i:014d}" for i in range(args.vehicles)]
        s.execute(
            insert(Vehicle),
            [
                {
                    "store_id": store.id,
                    "customer_id": ids[i],
                    "vin": vins[i],
                    "model": "轩逸",
                    "vin_valid": True,
                    "status": "active",
                    "created_at": now,
                }
                for i in range(args.vehicles)
            ],
        )
        store_id = store.id
    path = work / "visits.csv"
    with open(path, "w", encoding="gb18030", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["工单号", "车架号", "进厂日期", "里程", "维修类别", "维修项目", "结算金额"])
        for i in range(args.rows):
            w.writerow(
                [
                    f"RO{i:08d}",
                    vins[i % args.vehicles],
                    f"{2015 + i % 11}/{1 + i % 12}/{1 + i % 28}",
                    f"{(i % 200) * 500:,}",
                    "保养",
                    "机油机滤",
                    f"¥{1000 + i % 5000:,}.50",
                ]
            )
    size_mb = path.stat().st_size / 1e6
    print(
        f"{args.rows:,} repair orders, {size_mb:.0f} MB CSV (GB18030), database {db.session.get_engine().dialect.name}"
    )
    started = time.perf_counter()
    with db.session.session_scope() as s:
        batch, _ = returns.import_file(
            session=s,
            store_id=store_id,
            kind="visits",
            source=path,
            actor=actor,
            on_chunk=lambda _b: s.commit(),
        )
        counts = (batch.rows_total, batch.inserted, batch.failed)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows={counts[0]:,} inserted={counts[1]:,} failed={counts[2]:,}")
    print(f"{elapsed:.1f} s, {counts[0] / elapsed:,.0f} rows/s, peak memory (max RSS) {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
