"""Benchmark: duplicate detection when many customers share one phone number (issue 20).

    .venv/bin/python bench/duplicates.py                 # 4,000 customers on one number, SQLite
    .venv/bin/python bench/duplicates.py --shared 20000  # a bigger switchboard number

A fresh SQLite file holds one store whose customers all carry the same (valid) number, as a
company's switchboard or a placeholder typed for customers without a phone does, plus 0.5 %
repeated names. Timed: ``merges.find_duplicates`` against its baseline in the same run, the bare
read of the same rows (one SELECT, fetched in full). Peak memory (max RSS) is printed too.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, select

import db.migrate
import winback.models  # noqa: F401
from winback.accounts.models import Store
from winback.customers import merges
from winback.customers.models import Customer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=int, default=4000, help="customers on the one number")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/dup.db"
        db.migrate.upgrade(url)
        engine = create_engine(url)
        rng = random.Random(20)
        now = datetime(2026, 11, 1, tzinfo=UTC)
        with engine.begin() as conn:
            store = conn.execute(
                insert(Store).values(code="S1", name="bench", settings={}, created_at=now).returning(Store.id)
            ).scalar_one()
            names = [f"客户{i}" for i in range(args.shared)]
            for i in rng.sample(range(1, args.shared), args.shared // 200):
                names[i] = names[i - 1]  # the same person entered twice
            conn.execute(
                insert(Customer),
                [
                    dict(
                        store_id=store,
                        dms_code=f"C{i:06d}",
                        name=n,
                        phone="13900000000",
                        phone_valid=True,
                        created_at=now,
                    )
                    for i, n in enumerate(names)
                ],
            )
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            stmt = select(Customer.id, Customer.name, Customer.phone, Customer.phone_valid, Customer.address)
            session.execute(stmt.where(Customer.store_id == store)).all()  # warm: statement and pages
            t0 = time.perf_counter()
            session.execute(
                select(
                    Customer.id, Customer.name, Customer.phone, Customer.phone_valid, Customer.address
                ).where(Customer.store_id == store)
            ).all()
            bare = time.perf_counter() - t0
            t0 = time.perf_counter()
            pairs = merges.find_duplicates(session=session, store_id=store)
            took = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"customers on one number: {args.shared:,}; pairs proposed: {len(pairs):,}")
        print(f"bare read: {bare:.3f} s; find_duplicates: {took:.3f} s; ratio {took / bare:.1f}x")
        print(f"peak memory (max RSS of the process): {rss:.0f} MB")


if __name__ == "__main__":
    main()
