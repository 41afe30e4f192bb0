"""Benchmark: import N repair orders (default 1,000,000) from a CSV and print rows per second
and peak memory, against a plain bulk load of the same file in the same run. Not a test: run
it by hand and write the figures (and the load average) into bench/README.md.

    .venv/bin/python bench/import_visits.py [--rows 1000000] [--db sqlite|URL] [--no-ro]

It creates a store with 20,000 customers and vehicles, writes a GB18030 CSV of N repair orders
(amounts like ¥1,234.50, dates as 2024/3/5) and imports it through the same service as the CLI.
The baseline then loads the same file into the same table for a second store with nothing but
the csv module, a split of the date, a strip of the amount and one bulk insert per 2,000 rows
(``executemany`` on SQLite, psycopg's ``COPY`` on PostgreSQL): no row errors, no audit, no
progress. ``--no-ro`` writes the file without its RO-number column (keys derived).
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
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--vehicles", type=int, default=20_000)
    ap.add_argument("--db", default="sqlite", help="sqlite (a fresh temporary file) or a SQLAlchemy URL")
    ap.add_argument("--no-ro", action="store_true", help="a file without the RO-number column")
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
        other = stores.create_store(session=s, code=f"X{rng.randint(100, 999)}", name="baseline", actor=actor)
        s.flush()
        s.execute(
            insert(Vehicle),
            [
                {
                    "store_id": other.id,
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
        other_id = other.id
    path = work / "visits.csv"
    skip = 1 if args.no_ro else 0
    with open(path, "w", encoding="gb18030", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["工单号", "车架号", "进厂日期", "里程", "维修类别", "维修项目", "结算金额"][skip:])
        for i in range(args.rows):
            w.writerow(
                [
                    f"RO{i:08d}",
                    vins[i % args.vehicles],
                    f"{2015 + i % 11}/{1 + i % 12}/{1 + i % 28}",
                    f"{(i % 200) * 500:,}",
                    "保养",
                    "机油机滤",
                    f"¥{1000 + i % 5000:,}.{i % 100:02d}",
                ][skip:]
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
    print(
        f"winback:  {elapsed:.1f} s, {counts[0] / elapsed:,.0f} rows/s, peak memory (max RSS) {peak_mb:.0f} MB"
    )
    base = baseline(path, other_id, skip)
    print(f"baseline: {base:.1f} s, {args.rows / base:,.0f} rows/s (plain bulk load of the same file)")
    print(f"ratio winback / baseline: {elapsed / base:.2f}x; load average {os.getloadavg()[0]:.1f}")


def baseline(path: Path, store_id: int, skip: int) -> float:
    """The same file into the same table with nothing but a bulk insert; seconds."""
    import hashlib
    from datetime import date, datetime
    from decimal import Decimal

    from sqlalchemy import insert, select

    import db.session
    from winback.customers.models import ServiceVisit, Vehicle

    started = time.perf_counter()
    now = datetime.now(UTC)
    cols = ["store_id", "ro_number", "vehicle_id", "customer_id", "visit_date", "mileage", "category"]
    cols += ["items", "amount", "created_at"]
    with db.session.session_scope() as s:
        vehicles = {
            vin: (vid, cid)
            for vin, vid, cid in s.execute(
                select(Vehicle.vin, Vehicle.id, Vehicle.customer_id).where(Vehicle.store_id == store_id)
            )
        }
        postgres = s.get_bind().dialect.name == "postgresql"
        with open(path, encoding="gb18030", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            chunk: list[tuple] = []
            for row in reader:
                row = ([""] * skip) + row
                ro = row[0] or hashlib.sha256("|".join(row).encode()).hexdigest()[:32]
                y, m, d = row[2].split("/")
                vid, cid = vehicles[row[1]]
                amount = Decimal(row[6].replace("¥", "").replace(",", ""))
                mileage = int(row[3].replace(",", ""))
                values = (
                    store_id,
                    ro,
                    vid,
                    cid,
                    date(int(y), int(m), int(d)),
                    mileage,
                    row[4],
                    row[5],
                    amount,
                    now,
                )
                chunk.append(values)
                if len(chunk) >= 2000:
                    _bulk(s, chunk, cols, postgres, insert(ServiceVisit.__table__))
                    chunk = []
            if chunk:
                _bulk(s, chunk, cols, postgres, insert(ServiceVisit.__table__))
    return time.perf_counter() - started


def _bulk(s, chunk, cols, postgres, stmt) -> None:
    if postgres:
        raw = s.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY service_visits ({', '.join(cols)}) FROM STDIN") as copy:
            for values in chunk:
                copy.write_row(values)
    else:
        s.execute(stmt, [dict(zip(cols, values, strict=True)) for values in chunk])
    s.commit()


if __name__ == "__main__":
    main()
