"""Ordinary DMS data never breaks an import (issue 15, item 6): an empty or unknown value in a
column that is not a key lands empty (or the default) with a warning in the report, the row
is kept; a field over the CSV reader's 128 KiB limit is a row error with its row, column and
reason; no database error text reaches anyone. Through the API and the CLI, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import insert, select

from tests.pages import login
from winback.customers import import_rows
from winback.customers.models import Customer, CustomerType

HUGE = "长" * (140 * 1024 // 3 + 10)  # over 128 KiB in UTF-8


def _files(tmp_path):
    # the demo has C0001... customers: row 2 updates one of them with an empty type
    empty_type = tmp_path / "empty_type.csv"
    empty_type.write_text(
        "客户编号,客户姓名,手机,客户类型,性别\n"
        "C00001,王一,13800138001,,\n"
        "N0001,新客户甲,13800138002,,男\n"
        "N0002,新客户乙,13800138003,外星人,X\n"
        "N0003,新客户丙,13800138004,单位用车,女\n",
        encoding="utf-8",
    )
    oversize = tmp_path / "oversize.csv"
    oversize.write_text(
        f"客户编号,客户姓名,手机,地址\nN0101,大字段,13800138011,{HUGE}\nN0102,正常,13800138012,北\x00京\n",
        encoding="utf-8",
    )
    return empty_type, oversize


def _no_database_text(text: str) -> None:
    for word in ("INSERT", "UPDATE ", "SELECT", "IntegrityError", "NOT NULL", "psycopg", "sqlite3", "[SQL"):
        assert word not in text, (word, text[:500])
    assert "13800138" not in text, text[:500]  # nobody's phone in an error


def test_api_imports_keep_rows_and_never_500(client, session, tmp_path):
    empty_type, oversize = _files(tmp_path)
    login(client, "admin")
    first = session.scalar(select(Customer).where(Customer.dms_code == "C00001"))
    assert first is not None
    type_before = first.customer_type

    r = client.post(
        "/api/imports",
        data={"kind": "customers"},
        files={"file": ("empty_type.csv", empty_type.read_bytes(), "text/csv")},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 200, r.text
    _no_database_text(r.text)
    report = r.json()
    assert report["status"] == "done" and report["failed"] == 0, report
    assert report["inserted"] == 3 and report["rows"] == 4
    warnings = {(e["row"], e["column"]): e for e in report["errors"]}
    assert set(warnings) == {(4, "客户类型"), (4, "性别")}, report["errors"]
    assert all(e["warning"] for e in report["errors"])
    assert warnings[(4, "客户类型")]["code"] == "bad_customer_type"
    assert "已留空" in warnings[(4, "客户类型")]["reason"]
    session.expire_all()
    by_code = {c.dms_code: c for c in session.scalars(select(Customer).where(Customer.dms_code.like("N%")))}
    assert by_code["N0001"].customer_type == CustomerType.private and by_code["N0001"].gender == "男"
    assert by_code["N0002"].customer_type == CustomerType.private and by_code["N0002"].gender is None
    assert by_code["N0003"].customer_type == CustomerType.company
    assert session.get(Customer, first.id).customer_type == type_before  # an empty cell keeps the value

    r = client.post(
        "/api/imports",
        data={"kind": "customers"},
        files={"file": ("oversize.csv", oversize.read_bytes(), "text/csv")},
    )
    assert r.status_code == 200, r.text[:300]
    _no_database_text(r.text)
    report = r.json()
    assert report["status"] == "done" and report["failed"] == 1 and report["inserted"] == 1, {
        k: v for k, v in report.items() if k != "errors"
    }
    (error,) = report["errors"]
    assert (error["row"], error["column"], error["code"], error["warning"]) == (
        2,
        "地址",
        "field_too_large",
        False,
    )
    assert "128" in error["reason"] and len(error["value"] or "") <= 500
    session.expire_all()
    assert (
        session.scalar(select(Customer.address).where(Customer.dms_code == "N0102")) == "北京"
    )  # NUL dropped
    page = client.get(f"/archive/imports/{report['id']}")
    assert page.status_code == 200 and "128" in page.text


def test_cli_imports_keep_rows_and_print_no_sql(db_url, demo_store, tmp_path):
    empty_type, oversize = _files(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES")}
    env.update({"WINBACK_DATABASE_URL": db_url, "WINBACK_NOW": "2026-11-02T09:00"})

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "winback.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )

    zh = cli("import", "customers", str(empty_type))
    assert zh.returncode == 0, zh.stderr
    _no_database_text(zh.stdout + zh.stderr)
    assert "4 行" in zh.stdout and "有错误 0" in zh.stdout, zh.stdout
    assert "第 4 行，客户类型：" in zh.stdout and "已留空" in zh.stdout
    en = cli("import", "customers", str(oversize), "--lang", "en")
    assert en.returncode == 0, en.stderr
    _no_database_text(en.stdout + en.stderr)
    assert "1 with errors" in en.stdout and "row 2, 地址:" in en.stdout and "128" in en.stdout, en.stdout


@pytest.mark.parametrize("memory_keys", [None, 1], ids=["keys in memory", "keys on disk"])
def test_a_row_the_database_refuses_is_a_row_error_and_the_others_stay(
    session, demo_store, tmp_path, memory_keys
):
    """The safety net under the importer: a chunk the database refuses is written again row by
    row in savepoints; the refused row is reported (without the database's words), the rest stay,
    and only the rows that landed count as met (whether the keys met are in memory or on disk)."""
    from winback import clock
    from winback.actor import Actor
    from winback.customers import imports
    from winback.customers.import_cells import write_rows
    from winback.customers.import_errors import describe, encode
    from winback.customers.import_seen import SeenKeys

    path = tmp_path / "c.csv"
    path.write_text("客户编号,客户姓名\nR1,甲\n", encoding="utf-8")
    actor = Actor.system(label="test")
    batch, _ = imports.start_import(
        session=session, store_id=demo_store, kind="customers", source=path, filename="c.csv", actor=actor
    )
    ctx = import_rows.ImportContext(
        session, batch, {}, actor, clock.now(), SeenKeys(memory_keys=memory_keys), []
    )

    def writer(ctx, rows):  # NULL in a NOT NULL column: the database itself refuses row 3
        for number, (code, ctype) in rows:
            ctx.seen[code] = number
            session.execute(
                insert(Customer.__table__),
                [
                    {
                        "store_id": demo_store,
                        "dms_code": code,
                        "name": code,
                        "customer_type": ctype,
                        "phone_valid": True,
                        "created_at": clock.now(),
                    }
                ],
            )

    rows = [(2, ("R1", "private")), (3, ("R2", None)), (4, ("R3", "company"))]
    write_rows(ctx, writer, rows, encode("db_refused"))
    codes = set(session.scalars(select(Customer.dms_code).where(Customer.dms_code.in_(["R1", "R2", "R3"]))))
    assert codes == {"R1", "R3"}
    assert [(e["row_number"], describe(e["reason"], "en")) for e in ctx.errors] == [
        (3, "the database could not store this row (details in the server log)")
    ]
    assert [ctx.seen.get(code) for code in ("R1", "R2", "R3")] == [2, None, 4]
    ctx.seen.close()
    session.commit()  # the transaction is usable after the refused row
