"""A dealer's real exports pass (issue 16, part 3): a repair-order file without RO numbers
(keys derived, the same file twice doubles nothing), a file imported again once its cause is
fixed, every error and warning of a row, the words DMS exports use for closed-list values
(公务车, 私人, 先生...), a store's own words for them, and an unknown value landing empty with a
warning. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from tests.pages import login
from winback import clock, stores
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers import import_reports, import_value_map, imports
from winback.customers.models import (
    Customer,
    CustomerType,
    ImportStatus,
    ServiceVisit,
    Vehicle,
    VehicleGrade,
)
from winback.errors import InvalidInput

ADMIN = Actor.system(label="test import")

CUSTOMERS = (
    "客户编号,客户姓名,手机,性别,客户类型\n"
    "C001,张伟,13800138000,男,私家车\n"
    "C002,王芳,13912345678,女,私家车\n"
    "C003,李强,13700000003,男,单位用车\n"
)
VEHICLES = (
    "车架号,车牌号,车型,购车日期,客户编号\n"
    "LGBH52E02HY000001,粤B12345,轩逸,2021/5/1,C001\n"
    "LGBH52E04HY000002,粤BD12345,劲客,2022/8/8,C002\n"
    "LGBH52E06HY000003,粤B77777,天籁,2020/6/18,C003\n"
)
# A DMS history export without an RO-number column; row 3 by plate only; row 5 repeats row 4.
VISITS_NO_RO = (
    "车架号,车牌号,进厂日期,维修类别,结算金额,里程\n"
    'LGBH52E02HY000001,粤B12345,2024/3/5,保养,"¥1,234.50",12000\n'
    ",粤BD12345,2024-06-01,常规保养,300,8000\n"
    "LGBH52E06HY000003,,2024年7月1日,维修,800,30000\n"
    "LGBH52E06HY000003,,2024年7月1日,维修,800,30000\n"
)


@pytest.fixture
def store(session) -> int:
    clock.set_now("2026-11-02T09:00")
    s = stores.create_store(session=session, code="T01", name="测试店", actor=ADMIN)
    session.flush()
    return s.id


def _file(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _import(session, store_id, kind, path):
    return imports.import_file(session=session, store_id=store_id, kind=kind, source=path, actor=ADMIN)


def _archive(session, store_id, tmp_path):
    for kind, text in (("customers", CUSTOMERS), ("vehicles", VEHICLES)):
        batch, _ = _import(session, store_id, kind, _file(tmp_path, f"{kind}.csv", text))
        assert (batch.status, batch.failed) == (ImportStatus.done, 0), import_reports.row_errors(
            session=session, batch_id=batch.id
        )


def _report(session, batch, locale="en") -> list[tuple[int, str, str]]:
    return [
        (e.row_number, e.column, e.text(locale))
        for e in import_reports.row_errors(session=session, batch_id=batch.id)
    ]


def _visits(session, store_id) -> int:
    return session.scalar(
        select(func.count()).select_from(ServiceVisit).where(ServiceVisit.store_id == store_id)
    )


def test_repair_orders_without_ro_numbers_import_once_with_derived_keys(session, store, tmp_path):
    _archive(session, store, tmp_path)
    path = _file(tmp_path, "history.csv", VISITS_NO_RO)
    first, is_new = _import(session, store, "visits", path)
    assert is_new and first.status == ImportStatus.done, first.message
    assert first.key_derived is True
    assert (first.rows_total, first.inserted, first.failed) == (4, 3, 1)
    # the repeated row is a duplicate, shown by its vehicle, date, amount and category (not a hash)
    assert _report(session, first) == [
        (5, "车架号", "duplicate of row 4 in this file; skipped"),
    ]
    dup = import_reports.row_errors(session=session, batch_id=first.id)[0]
    assert dup.value == "LGBH52E06HY000003 2024-07-01 800.00 维修"
    rows = session.execute(
        select(ServiceVisit.ro_number, ServiceVisit.category, ServiceVisit.amount).where(
            ServiceVisit.store_id == store
        )
    ).all()
    assert sorted(str(a) for _, _, a in rows) == ["1234.50", "300.00", "800.00"]
    assert {c for _, c, _ in rows} == {"保养", "维修"}  # 常规保养 read as 保养
    assert all(ro.startswith("~") and len(ro) <= 40 for ro, _, _ in rows)

    # The same file again (it had a duplicate row, so it is read again): nothing doubles.
    again, is_new = _import(session, store, "visits", path)
    assert is_new and (again.inserted, again.unchanged, again.failed) == (0, 3, 1)
    assert _visits(session, store) == 3
    # The same repair orders in another export (GBK, other column order, no repeated row).
    other = _file(
        tmp_path,
        "history_gbk.csv",
        "进厂日期,结算金额,维修类别,车架号,车牌号\n"
        "2024-07-01,800.00,维修,LGBH52E06HY000003,\n"
        "2024-03-05,1234.5,保养,LGBH52E02HY000001,粤B12345\n"
        "2024-06-01,300,常规保养,,粤BD12345\n",
        encoding="gb18030",
    )
    clean, _ = _import(session, store, "visits", other)
    assert clean.key_derived and (clean.inserted, clean.unchanged, clean.failed) == (0, 3, 0)
    assert _visits(session, store) == 3
    # Every row of that file landed: now it is "already imported".
    twice, is_new = _import(session, store, "visits", other)
    assert not is_new and twice.id == clean.id
    done = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "import.completed", AuditEvent.entity_id == first.id)
    )
    assert done.changes["key_derived"] is True
    # A file with RO numbers is not derived.
    with_ro = _file(tmp_path, "ro.csv", "工单号,车架号,进厂日期,金额\nRO9,LGBH52E02HY000001,2024-10-01,10\n")
    batch, _ = _import(session, store, "visits", with_ro)
    assert batch.key_derived is False and batch.inserted == 1
    assert (
        session.scalar(select(ServiceVisit.ro_number).where(ServiceVisit.import_batch_id == batch.id))
        == "RO9"
    )


def test_a_file_imported_again_after_the_cause_is_fixed_lands_its_rows(session, store, tmp_path):
    _import(session, store, "customers", _file(tmp_path, "customers.csv", CUSTOMERS))
    visits = _file(
        tmp_path,
        "ro.csv",
        "工单号,车架号,进厂日期,金额\n"
        "RO1,LGBH52E02HY000001,2024-03-05,100\n"
        "RO2,LGBH52E04HY000002,2024-04-05,200\n",
    )
    # The vehicles are not imported yet: every row is refused.
    nothing, _ = _import(session, store, "visits", visits)
    assert (nothing.status, nothing.inserted, nothing.failed) == (ImportStatus.done, 0, 2)
    # The cause fixed (the vehicles imported), the same file again imports the rows now valid.
    _import(session, store, "vehicles", _file(tmp_path, "vehicles.csv", VEHICLES))
    fixed, is_new = _import(session, store, "visits", visits)
    assert is_new and fixed.id != nothing.id
    assert (fixed.inserted, fixed.failed) == (2, 0)
    assert _visits(session, store) == 2
    # Only now, every row landed, is it "already imported".
    third, is_new = _import(session, store, "visits", visits)
    assert not is_new and third.id == fixed.id
    assert _visits(session, store) == 2


def test_a_partly_imported_file_imports_the_rest_once_mapped(session, store, tmp_path):
    """Some rows in, a value mapping saved: the same file fills the empty cells, doubles nothing."""
    path = _file(
        tmp_path,
        "c.csv",
        "客户编号,客户姓名,手机,客户类型\nK1,甲,13800000001,公家车\nK2,乙,13800000002,私人\n",
    )
    first, _ = _import(session, store, "customers", path)
    assert (first.inserted, first.failed) == (2, 0)
    assert [(r, c) for r, c, _ in _report(session, first)] == [(2, "客户类型")]  # a warning
    import_value_map.save_value_mapping(
        session=session, store_id=store, field="customer_type", mapping={"公家车": "单位用车"}, actor=ADMIN
    )
    second, is_new = _import(session, store, "customers", path)
    assert is_new and (second.inserted, second.updated, second.unchanged) == (0, 1, 1)
    k1 = session.scalar(select(Customer).where(Customer.store_id == store, Customer.dms_code == "K1"))
    assert k1.customer_type == CustomerType.company
    assert not _report(session, second)
    assert not _import(session, store, "customers", path)[1]  # all landed: already imported


def test_every_error_and_warning_of_a_row_is_reported(session, store, tmp_path):
    _archive(session, store, tmp_path)
    customers = _file(
        tmp_path,
        "many.csv",
        "客户编号,客户姓名,手机,性别,出生日期,客户类型\n"
        # no name (error), a phone of 50 digits (error), gender, birth date and type unreadable (warnings)
        f"M1,,{'1' * 50},X,1980/13/45,外星车\n"
        "M2,好行,13800000009,先生,1990-01-01,公务车\n",
    )
    batch, _ = _import(session, store, "customers", customers)
    assert (batch.rows_total, batch.inserted, batch.failed) == (2, 1, 1)
    found = _report(session, batch)
    row2 = sorted((c, why) for r, c, why in found if r == 2)
    assert row2 == sorted(
        [
            ("客户姓名", "empty: a value is required"),
            ("手机", "not a phone number (too long)"),
            ("性别", "gender must be 男 or 女; the row is imported with this cell empty"),
            ("出生日期", "not a date; the row is imported with this cell empty"),
            (
                "客户类型",
                "customer type must be 私家车, 单位用车, 保险事故车 or 出租车; the row is imported with this cell empty",
            ),
        ]
    )
    assert all(r == 2 for r, _, _ in found)
    # in the reader's language, in the workbook too
    zh = [why for _, _, why in _report(session, batch, "zh")]
    assert "不能为空" in zh and all("must" not in why and "empty" not in why for why in zh)
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(import_reports.errors_xlsx(session=session, batch_id=batch.id))).active
    assert len(list(sheet.iter_rows(values_only=True))) == 1 + 5

    # A repair order: no vehicle, an unreadable date and amount, a negative mileage: all four.
    visits = _file(
        tmp_path,
        "v.csv",
        "工单号,车架号,车牌号,进厂日期,金额,里程\n"
        "R1,,,昨天,abc,-5\n"
        "R2,LGBH52E02HY000001,,2030-01-01,-10,100\n",
    )
    vb, _ = _import(session, store, "visits", visits)
    assert (vb.inserted, vb.failed) == (0, 2)
    by_row = {}
    for r, c, why in _report(session, vb):
        by_row.setdefault(r, set()).add((c, why.split(";")[0]))
    assert by_row[2] == {
        ("车架号", "empty: a value is required"),
        ("进厂日期", "not a date"),
        ("金额", "not an amount"),
        ("里程", "mileage must be between 0 and 9,999,999 km"),
    }
    # checks after reading: a negative amount and a date in the future, both told
    assert by_row[3] == {("金额", "amount is negative"), ("进厂日期", "visit date is in the future")}


def test_dms_words_for_closed_lists_land_as_their_values(session, store, tmp_path):
    path = _file(
        tmp_path,
        "words.csv",
        "客户编号,客户姓名,手机,性别,客户类型\n"
        "W1,甲,13800000001,先生,公务车\n"
        "W2,乙,13800000002,女士,私人\n"
        "W3,丙,13800000003,男士,出租\n"
        "W4,丁,13800000004,外星人,外星车\n",
    )
    batch, _ = _import(session, store, "customers", path)
    assert (batch.inserted, batch.failed) == (4, 0)  # no row dropped for a value
    got = {
        c.dms_code: (c.gender, c.customer_type)
        for c in session.scalars(select(Customer).where(Customer.store_id == store))
    }
    assert got["W1"] == ("男", CustomerType.company)  # 公务车 = 单位用车
    assert got["W2"] == ("女", CustomerType.private)  # 私人 = 私家车
    assert got["W3"] == ("男", CustomerType.taxi)
    # unknown: empty gender, the default type, and a warning for each
    assert got["W4"] == (None, CustomerType.private)
    warnings = [(r, c) for r, c, why in _report(session, batch) if why.endswith("this cell empty")]
    assert warnings == [(5, "性别"), (5, "客户类型")]
    # Vehicle grades by their DMS words; an unknown one empty with a warning.
    grades = _file(
        tmp_path,
        "grades.csv",
        "车架号,车型,车辆级别,客户编号\n"
        "LGBH52E02HY000011,轩逸,豪华型,W1\n"
        "LGBH52E02HY000012,劲客,紧凑型,W2\n"
        "LGBH52E02HY000013,天籁,超跑,W3\n",
    )
    vb, _ = _import(session, store, "vehicles", grades)
    assert (vb.inserted, vb.failed) == (3, 0)
    assert dict(
        session.execute(select(Vehicle.vin, Vehicle.grade).where(Vehicle.store_id == store)).all()
    ) == {
        "LGBH52E02HY000011": VehicleGrade.luxury,
        "LGBH52E02HY000012": VehicleGrade.lower_mid,
        "LGBH52E02HY000013": None,
    }
    assert _report(session, vb, "zh") == [
        (4, "车辆级别", "车辆级别应为 豪华、中级、中低级 或 经济型；已留空导入该行")
    ]


def test_a_stores_own_words_apply_and_a_bad_one_is_refused(session, store, tmp_path):
    _archive(session, store, tmp_path)
    import_value_map.save_value_mapping(
        session=session, store_id=store, field="customer_type", mapping={"政府车": "单位用车"}, actor=ADMIN
    )
    import_value_map.save_value_mapping(
        session=session, store_id=store, field="gender", mapping={"Mr": "男", " 帅哥 ": "男"}, actor=ADMIN
    )
    import_value_map.save_value_mapping(
        session=session, store_id=store, field="category", mapping={"PM": "保养"}, actor=ADMIN
    )
    assert import_value_map.get_value_mappings(session=session, store_id=store)["gender"] == {
        "Mr": "男",
        "帅哥": "男",
    }
    with pytest.raises(InvalidInput) as refused:
        import_value_map.save_value_mapping(
            session=session, store_id=store, field="customer_type", mapping={"飞机": "飞行器"}, actor=ADMIN
        )
    assert "私家车、单位用车、保险事故车、出租车" in refused.value.message.translate("zh")
    with pytest.raises(InvalidInput):
        import_value_map.save_value_mapping(
            session=session, store_id=store, field="colour", mapping={"红": "red"}, actor=ADMIN
        )
    # the refused save changed nothing; the saves are audited
    assert import_value_map.get_value_mappings(session=session, store_id=store)["customer_type"] == {
        "政府车": "单位用车"
    }
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "import.value_mapping_saved")
        )
        == 3
    )
    path = _file(
        tmp_path,
        "own.csv",
        "客户编号,客户姓名,手机,性别,客户类型\nO1,甲,13800000011,帅哥,政府车\nO2,乙,13800000012,MR,私家车\n",
    )
    batch, _ = _import(session, store, "customers", path)
    assert (batch.inserted, batch.failed) == (2, 0) and not _report(session, batch)
    got = {c.dms_code: c for c in session.scalars(select(Customer).where(Customer.store_id == store))}
    assert (got["O1"].gender, got["O1"].customer_type) == ("男", CustomerType.company)
    assert got["O2"].gender == "男"
    visits = _file(
        tmp_path, "pm.csv", "工单号,车架号,进厂日期,维修类别,金额\nP1,LGBH52E02HY000001,2024-05-05,pm,99\n"
    )
    vb, _ = _import(session, store, "visits", visits)
    assert vb.inserted == 1
    assert session.scalar(select(ServiceVisit.category).where(ServiceVisit.ro_number == "P1")) == "保养"


def test_the_page_and_the_api_say_the_key_was_derived_and_edit_the_words(client, session, tmp_path):
    login(client, "admin")
    # the demo's vehicles: two repair orders without RO numbers for the first two
    vins = list(session.scalars(select(Vehicle.vin).order_by(Vehicle.id).limit(2)))
    text = "车架号,进厂日期,维修类别,金额\n" + "".join(
        f"{v},2026-10-0{i + 1},保养,100\n" for i, v in enumerate(vins)
    )
    r = client.post(
        "/api/imports",
        data={"kind": "visits"},
        files={"file": ("history.csv", text.encode("utf-8"), "text/csv")},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key_derived"] is True and body["inserted"] == 2
    assert body["key_derived_note"].startswith("文件没有工单号列")
    page = client.get(f"/archive/imports/{body['id']}")
    assert page.status_code == 200 and "文件没有工单号列" in page.text
    english = client.get(f"/archive/imports/{body['id']}?lang=en")
    assert "key was derived from its vehicle" in english.text
    client.get("/archive?lang=zh")

    # the words, on the page: saved, shown, and a bad line refused in Chinese with nothing lost
    ok = client.post(
        "/archive/value-mappings", data={"field": "customer_type", "mapping": "公家车 = 单位用车\n"}
    )
    assert ok.status_code == 303
    archive = client.get("/archive")
    assert "公家车 = 单位用车" in archive.text and "客户类型" in archive.text
    bad = client.post("/archive/value-mappings", data={"field": "customer_type", "mapping": "飞机 = 飞行器"})
    assert bad.status_code == 422
    assert "不能表示" in bad.text and "飞机 = 飞行器" in bad.text  # the input kept for correction
    assert "cannot mean" not in bad.text
    # and through the API
    got = client.get("/api/archive/value-mappings").json()
    assert got["mappings"] == {"customer_type": {"公家车": "单位用车"}}
    assert got["fields"]["customer_type"] == ["私家车", "单位用车", "保险事故车", "出租车"]
    put = client.put("/api/archive/value-mappings/gender", json={"mapping": {"帅哥": "男"}})
    assert put.status_code == 200 and put.json()["mappings"]["gender"] == {"帅哥": "男"}
    refused = client.put(
        "/api/archive/value-mappings/gender",
        json={"mapping": {"x": "外星"}},
        headers={"Accept-Language": "zh-CN"},
    )
    assert refused.status_code == 422 and "不能表示" in refused.json()["detail"]


def test_cli_reports_derived_keys_and_every_error_in_chinese(db_url, tmp_path):
    from db.session import session_scope

    with session_scope() as s:
        stores.create_store(session=s, code="T01", name="测试店", actor=ADMIN)
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env.update(
        {"WINBACK_DATABASE_URL": db_url, "WINBACK_NOW": "2026-11-02T09:00", "WINBACK_DATA_DIR": str(tmp_path)}
    )

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "winback.cli", *args], env=env, capture_output=True, text=True, timeout=180
        )

    for kind, text in (("customers", CUSTOMERS), ("vehicles", VEHICLES)):
        assert (
            cli("import", kind, str(_file(tmp_path, f"{kind}.csv", text)), "--store", "T01").returncode == 0
        )
    history = _file(tmp_path, "history.csv", VISITS_NO_RO + "LGBH52E02HY000001,,昨天,保养,abc,-1\n")
    r = cli("import", "visits", str(history), "--store", "T01")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "文件没有工单号列" in out
    assert "第 5 行，车架号：与本文件第 4 行重复，已跳过" in out
    # row 6: every problem on its own line
    assert "第 6 行，进厂日期：" in out and "第 6 行，结算金额：" in out and "第 6 行，里程：" in out
    assert not any(word in out for word in ("duplicate", "not a date", "derived", "row "))
    # a file that is not a repair-order file: one Chinese line, no English sentence after it
    bad = cli("import", "visits", str(_file(tmp_path, "bad.csv", "a,b\n1,2\n")), "--store", "T01")
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1
    assert "缺少必需的列" in bad.stderr and "required" not in bad.stderr and " or " not in bad.stderr


def test_a_repair_order_the_database_refuses_is_a_row_error_and_the_chunk_stays(
    session, store, tmp_path, monkeypatch
):
    """The bulk insert (COPY on PostgreSQL, executemany elsewhere) refused for one row, e.g. an RO
    number written meanwhile by another import: that row is reported, the other rows land."""
    from sqlalchemy import insert

    from winback.customers import import_visit_rows

    _archive(session, store, tmp_path)
    vehicle = session.scalar(select(Vehicle).where(Vehicle.vin == "LGBH52E02HY000001"))
    real = import_visit_rows.bulk_insert

    def meanwhile(
        session_, table, columns, shared
    ):  # RO2 written by someone else between the look-up and the insert
        if "RO2" not in columns["ro_number"]:
            return real(session_, table, columns, shared)
        session_.execute(
            insert(ServiceVisit.__table__),
            [
                {
                    "store_id": store,
                    "ro_number": "RO2",
                    "vehicle_id": vehicle.id,
                    "customer_id": vehicle.customer_id,
                    "visit_date": clock.today(),
                    "category": "保养",
                    "amount": 1,
                    "created_at": clock.now(),
                }
            ],
        )
        return real(session_, table, columns, shared)

    monkeypatch.setattr(import_visit_rows, "bulk_insert", meanwhile)
    path = _file(
        tmp_path,
        "ro.csv",
        "工单号,车架号,进厂日期,金额\n"
        "RO1,LGBH52E02HY000001,2024-03-05,100\n"
        "RO2,LGBH52E04HY000002,2024-04-05,200\n"
        "RO3,LGBH52E06HY000003,2024-05-05,300\n",
    )
    batch, _ = _import(session, store, "visits", path)
    assert (batch.status, batch.inserted, batch.failed) == (ImportStatus.done, 2, 1), (
        _report(session, batch),
        batch.updated,
        batch.unchanged,
        batch.rows_total,
    )
    assert _report(session, batch) == [
        (3, None, "the database could not store this row (details in the server log)")
    ]
    landed = dict(session.execute(select(ServiceVisit.ro_number, ServiceVisit.amount)).all())
    # the other writer's RO2 went with the refused attempts (savepoints); RO1 and RO3 stay
    assert {k: str(v) for k, v in landed.items()} == {"RO1": "100.00", "RO3": "300.00"}
