"""The daily import-visits flow: files the DMS drops are imported once and moved to done/."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from winback.customers.models import ImportBatch, ServiceVisit, Vehicle

pytestmark = pytest.mark.flow


def test_dropped_repair_orders_are_imported_once(db_url, demo_store, session, prefect_harness, tmp_path):
    from flows.import_visits import import_visits
    from winback import clock

    clock.set_now("2026-11-21T05:30")  # the morning after the repair orders

    vins = session.scalars(select(Vehicle.vin).where(Vehicle.store_id == demo_store).limit(2)).all()
    before = session.scalar(select(func.count()).select_from(ServiceVisit))
    inbox = tmp_path / "inbox" / "S01"
    inbox.mkdir(parents=True)
    (inbox / "ro-2026-11-20.csv").write_text(
        "工单号,车架号,进厂日期,维修类别,结算金额\n"
        f"DROP-1,{vins[0]},2026-11-20,保养,480\n"
        f"DROP-2,{vins[1]},2026-11-20,维修,1200.50\n"
        "DROP-3,NOSUCHVIN00000000,2026-11-20,维修,99\n",
        encoding="gb18030",
    )
    (inbox / "readme.txt").write_text("not an export")

    results = import_visits(drop_dir=str(tmp_path / "inbox"), store_codes=["S01"])
    assert [(r["file"], r["new"], r["inserted"], r["failed"]) for r in results] == [
        ("ro-2026-11-20.csv", True, 2, 1)
    ]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ServiceVisit)) == before + 2
    assert not (inbox / "ro-2026-11-20.csv").exists() and (inbox / "done" / "ro-2026-11-20.csv").exists()
    assert (inbox / "readme.txt").exists()  # not an export: left alone

    # the same export dropped again: it had a row error, so it is read again (the cause may be
    # fixed by now), and the rows already in double nothing
    (inbox / "done" / "ro-2026-11-20.csv").rename(inbox / "ro-2026-11-20.csv")
    again = import_visits(drop_dir=str(tmp_path / "inbox"), store_codes=["S01"])
    assert [(r["new"], r["inserted"], r["failed"]) for r in again] == [(True, 0, 1)]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ServiceVisit)) == before + 2
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 2
