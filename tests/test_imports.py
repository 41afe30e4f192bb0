"""DMS import: good files in three encodings and two header languages, the bad-file corpus,
re-imports that change nothing, newer exports that update and record what changed, the CLI."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from winback import clock, collector, stores
from winback.accounts import service as accounts
from winback.accounts.models import Role
from winback.actor import Actor
from winback.audit.models import AuditEvent
from winback.customers import import_columns, import_reports, imports
from winback.customers.models import (
    Customer,
    ImportKind,
    ImportRowError,
    ImportStatus,
    ServiceVisit,
    Vehicle,
)
from winback.cycles import returns

CORPUS = Path(__file__).parent / "data" / "imports"
ADMIN = Actor.system(label="test import")


@pytest.fixture
def store(session) -> int:
    clock.set_now("2026-11-02T09:00")
    s = stores.create_store(session=session, code="T01", name="测试店", actor=ADMIN)
    accounts.create_staff(
        session=session,
        store_id=s.id,
        username="advisor1",
        display_name="李娜",
        password="x" * 12,
        roles=[Role.advisor],
        actor=ADMIN,
    )
    session.flush()
    return s.id


def run(session, store_id: int, kind: str, name: str | Path):
    return imports.import_file(
        session=session, store_id=store_id, kind=kind, source=CORPUS / name, actor=ADMIN
    )


def errors(session, batch) -> list[tuple[int, str, str]]:
    return [
        (e.row_number, e.column, e.text("en"))
        for e in import_reports.row_errors(session=session, batch_id=batch.id)
    ]


@pytest.mark.parametrize(
    "name", ["customers_utf8.csv", "customers_utf8_bom.csv", "customers_gbk.csv", "customers_utf16.csv"]
)
def test_customers_in_each_encoding_import_the_same(session, store, name):
    batch, is_new = run(session, store, "customers", name)
    assert is_new and batch.status == ImportStatus.done
    assert (batch.rows_total, batch.inserted, batch.failed) == (5, 5, 0)
    c1 = session.scalar(select(Customer).where(Customer.store_id == store, Customer.dms_code == "C001"))
    assert (c1.name, c1.phone, c1.phone_valid, c1.birth_date, c1.district) == (
        "张伟",
        "13800138000",
        True,
        date(1980, 3, 5),
        "城东区",
    )
    c2 = session.scalar(select(Customer).where(Customer.dms_code == "C002"))
    c3 = session.scalar(select(Customer).where(Customer.dms_code == "C003"))
    c5 = session.scalar(select(Customer).where(Customer.dms_code == "C005"))
    assert c2.phone == "13912345678" and c2.birth_date == date(1985, 7, 20)
    assert c3.phone == "02012345678" and c3.phone_valid and c3.birth_date == date(1975, 11, 2)
    assert c3.customer_type.value == "company"
    assert c5.phone_valid is False  # imported, flagged
    assert batch.quality["invalid"]["phone"] == 1
    assert Path(batch.stored_path).read_bytes() == (CORPUS / name).read_bytes()
    assert batch.encoding == {"customers_gbk.csv": "gb18030", "customers_utf16.csv": "utf-16"}.get(
        name, "utf-8"
    )


def test_same_file_again_changes_nothing_and_newer_export_records_changes(session, store):
    first, _ = run(session, store, "customers", "customers_utf8.csv")
    events_before = session.scalar(select(func.count()).select_from(AuditEvent))
    again, is_new = run(session, store, "customers", "customers_utf8.csv")
    assert not is_new and again.id == first.id
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before
    # The same rows in another encoding are another file, but no row changes.
    same_rows, is_new = run(session, store, "customers", "customers_gbk.csv")
    assert is_new and (same_rows.inserted, same_rows.updated, same_rows.unchanged) == (0, 0, 5)
    newer, _ = run(session, store, "customers", "customers_newer.csv")
    assert (newer.inserted, newer.updated, newer.unchanged, newer.failed) == (1, 1, 4, 0)
    assert session.scalar(select(func.count()).where(Customer.store_id == store)) == 6
    c2 = session.scalar(select(Customer).where(Customer.dms_code == "C002"))
    assert (c2.phone, c2.district) == ("13912345679", "城北区")
    change = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "customer.updated_by_import", AuditEvent.entity_id == c2.id
        )
    )
    assert change.changes["district"] == {"before": "城西区", "after": "城北区"}
    assert change.changes["import_batch"] == newer.id


def test_bad_rows_are_reported_with_row_column_and_reason(session, store):
    batch, _ = run(session, store, "customers", "customers_bad_rows.csv")
    # row 4's gender and birth date are unreadable: not keys, so the row is imported with them
    # empty and a warning each (issue 15); rows 3 (no name) and 5 (a duplicate) are not imported
    assert (batch.rows_total, batch.inserted, batch.failed) == (4, 2, 2)
    assert batch.inserted + batch.updated + batch.unchanged + batch.failed == batch.rows_total
    found = errors(session, batch)
    assert (3, "客户姓名", "empty: a value is required") in found
    assert (4, "性别", "gender must be 男 or 女; the row is imported with this cell empty") in found
    assert any(r == 4 and col == "出生日期" for r, col, _ in found)
    assert (5, "客户编号", "duplicate of row 2 in this file; skipped") in found
    # Stored as a code and its parameters, read in either language.
    stored = {
        (e.row_number, e.column): e for e in import_reports.row_errors(session=session, batch_id=batch.id)
    }
    assert stored[(5, "客户编号")].code == "duplicate" and '"first":2' in stored[(5, "客户编号")].reason
    assert stored[(5, "客户编号")].text("zh") == "与本文件第 2 行重复，已跳过"
    assert (
        stored[(4, "性别")].text() == "性别应为 男 或 女；已留空导入该行"
    )  # Chinese unless English is asked for
    wb = load_workbook(BytesIO(import_reports.errors_xlsx(session=session, batch_id=batch.id)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert wb.active.title == "未导入的行"
    assert rows[0] == ("行号", "列", "原因", "值") and len(rows) == 1 + len(found)
    assert rows[1][:3] == (3, "客户姓名", "不能为空")
    assert (5, "客户编号", "与本文件第 2 行重复，已跳过") in [r[:3] for r in rows]
    wb = load_workbook(BytesIO(import_reports.errors_xlsx(session=session, batch_id=batch.id, locale="en")))
    rows = list(wb.active.iter_rows(values_only=True))
    assert wb.active.title == "Rows not imported"
    assert rows[0] == ("Row", "Column", "Reason", "Value")
    assert rows[1][:3] == (3, "客户姓名", "empty: a value is required")
    assert (5, "客户编号", "duplicate of row 2 in this file; skipped") in [r[:3] for r in rows]


def test_row_errors_stored_as_english_sentences_still_read_in_both_languages(session, store):
    """Rows imported before the codes hold an English sentence: known ones translate, others show as they are."""
    from winback.customers.import_errors import decode, describe, encode

    batch, _ = run(session, store, "customers", "customers_bad_rows.csv")
    for reason in (
        "duplicate of row 7 in this file; skipped",
        "a VIN has 17 characters, this has 19",
        "something the code no longer says",
    ):
        session.add(ImportRowError(batch_id=batch.id, row_number=99, column="x", reason=reason))
    session.flush()
    old = [e for e in import_reports.row_errors(session=session, batch_id=batch.id) if e.row_number == 99]
    assert [e.text("zh") for e in old] == [
        "与本文件第 7 行重复，已跳过",
        "车架号应为 17 位，此值有 19 位",
        "something the code no longer says",
    ]
    assert [e.text("en") for e in old][:2] == [
        "duplicate of row 7 in this file; skipped",
        "a VIN has 17 characters, this has 19",
    ]
    assert [e.code for e in old] == ["duplicate", "vin_length", None]
    assert decode(encode("too_long", max=40)) == ("too_long", {"max": 40})
    assert describe(encode("too_long", max=40), "en") == "longer than 40 characters"
    assert describe('{"code": "no_such_code"}', "zh") == '{"code": "no_such_code"}'


def test_english_headers_title_row_serial_and_text_dates(session, store):
    batch, _ = run(session, store, "customers", "customers_english.xlsx")
    assert batch.status == ImportStatus.done, batch.message
    assert (batch.rows_total, batch.inserted, batch.failed) == (3, 3, 0)
    got = {c.dms_code: c for c in session.scalars(select(Customer).where(Customer.store_id == store))}
    assert got["E001"].phone == "13511112222" and got["E001"].gender == "男"
    assert got["E001"].birth_date == date(1988, 4, 1)
    assert got["E002"].birth_date == date(1987, 8, 11)  # Excel serial 32000
    assert got["E003"].birth_date == date(2024, 3, 5)  # 2024年3月5日


def _archive(session, store):
    run(session, store, "customers", "customers_utf8.csv")
    return run(session, store, "vehicles", "vehicles.xlsx")[0]


def test_vehicles_vin_and_plate_checks(session, store):
    batch = _archive(session, store)
    assert (batch.rows_total, batch.inserted, batch.failed) == (6, 5, 1)
    assert errors(session, batch) == [
        (7, "客户编号", "no customer with this code/phone; import the customers first")
    ]
    vs = {v.plate: v for v in session.scalars(select(Vehicle).where(Vehicle.store_id == store))}
    assert vs["粤B12345"].vin_valid and vs["粤B12345"].vin_check_digit_ok and vs["粤B12345"].plate_valid
    assert vs["粤BD12345"].plate_valid  # new-energy plate
    assert vs["粤B1234"].plate_valid is False
    assert vs["粤B1234"].purchase_date == date(2020, 6, 18)  # Excel serial 44000
    assert vs["粤A88888"].vin_valid and vs["粤A88888"].vin_check_digit_ok is False  # flagged, kept
    assert vs["粤A66666"].vin_valid is False
    assert vs["粤B12345"].warranty_end == date(2024, 4, 30)


def test_visits_amounts_dates_duplicates_and_unknown_vins(session, store):
    _archive(session, store)
    batch, _ = run(session, store, "visits", "visits.csv")
    assert batch.encoding == "gb18030"
    assert (batch.rows_total, batch.inserted, batch.failed) == (7, 4, 3)
    visits = {
        v.ro_number: v for v in session.scalars(select(ServiceVisit).where(ServiceVisit.store_id == store))
    }
    assert visits["RO1001"].amount == Decimal("1234.50") and visits["RO1001"].mileage == 12000
    assert visits["RO1001"].visit_date == date(2024, 3, 5) and visits["RO1001"].advisor_id is not None
    assert visits["RO1002"].amount == Decimal("860.00") and visits["RO1002"].visit_date == date(2024, 9, 5)
    assert visits["RO1003"].visit_date == date(2024, 3, 5) and visits["RO1003"].mileage == 5000
    assert visits["RO1004"].amount == Decimal("3200.00") and visits["RO1004"].visit_date == date(2023, 3, 15)
    found = errors(session, batch)
    assert (6, "工单号", "duplicate of row 3 in this file; skipped") in found
    assert (7, "车架号", "no vehicle with this VIN/plate; import the vehicles first") in found
    assert {(r, c) for r, c, _ in found if r == 8} == {(8, "进厂日期"), (8, "结算金额")}


def test_formulas_and_merged_cells_are_reported(session, store):
    _archive(session, store)
    batch, _ = run(session, store, "visits", "visits_formulas_merged.xlsx")
    assert (batch.rows_total, batch.inserted, batch.failed) == (3, 1, 2)
    reasons = {(r, c): why for r, c, why in errors(session, batch)}
    assert "formula" in reasons[(2, "金额")]
    assert reasons[(4, "车架号")] == "empty: a value is required"


@pytest.mark.parametrize(
    "name, kind, message",
    [
        ("zero_bytes.csv", "customers", "the file is empty (0 bytes)"),
        ("binary_renamed.xlsx", "customers", "is named like an Excel file but is not one"),
        ("empty_sheets.xlsx", "customers", "no sheet with data"),
        (
            "visits_missing_columns.csv",
            "visits",
            "required column(s) missing: 车架号/VIN / 车牌; 进厂日期",
        ),
        ("header_only.csv", "customers", "a header but no data rows"),
        ("not_a_table.txt", "customers", "required column(s) missing"),
        ("customers_latin1.csv", "customers", "required column(s) missing"),
    ],
)
def test_files_that_are_not_tables_get_one_message(session, store, name, kind, message):
    batch, _ = run(session, store, kind, name)
    assert batch.status == ImportStatus.failed
    assert message in batch.message_text("en")  # kept as an id and parameters, read per language
    assert batch.message_text("zh") != batch.message_text("en")
    assert session.scalar(select(func.count()).where(ImportRowError.batch_id == batch.id)) == 0
    assert session.scalar(select(func.count()).where(Customer.store_id == store)) == 0


def test_saved_column_mapping_reads_unknown_headers(session, store, tmp_path):
    path = tmp_path / "mapped.csv"
    path.write_text("档案号,称呼,移动电话\nM01,钱七,13300001111\n", encoding="utf-8")
    try:
        failed, _ = run(session, store, "customers", path)
        assert failed.status == ImportStatus.failed and "客户姓名" in failed.message
        import_columns.save_column_mapping(
            session=session,
            store_id=store,
            kind=ImportKind.customers,
            mapping={"档案号": "dms_code", "称呼": "name", "移动电话": "phone"},
            actor=ADMIN,
        )
        path.write_text("档案号,称呼,移动电话\nM01,钱七,13300001111\n\n", encoding="utf-8")  # another file
        batch, _ = run(session, store, "customers", path)
        assert batch.status == ImportStatus.done and batch.inserted == 1
    finally:
        path.unlink()
    with pytest.raises(Exception, match="unknown field"):
        import_columns.save_column_mapping(
            session=session, store_id=store, kind=ImportKind.customers, mapping={"x": "nonsense"}, actor=ADMIN
        )


def test_cli_imports_and_reports_bad_files_in_one_line(db_url):
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES")}
    env.update({"WINBACK_DATABASE_URL": db_url, "WINBACK_NOW": "2026-11-02T09:00"})
    from db.session import session_scope

    with session_scope() as s:
        stores.create_store(session=s, code="T01", name="测试店", actor=ADMIN)

    def cli(*args, **extra_env):
        return subprocess.run(
            [sys.executable, "-m", "winback.cli", *args],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = cli("import", "customers", str(CORPUS / "customers_gbk.csv"), "--store", "T01", "--lang", "en")
    assert ok.returncode == 0, ok.stderr
    assert "5 rows: 5 new" in ok.stdout
    # Row errors in Chinese by default, in English when LANG says so (or --lang en).
    zh = cli("import", "customers", str(CORPUS / "customers_bad_rows.csv"), "--store", "T01")
    assert zh.returncode == 0, zh.stderr
    assert (
        "4 行：" in zh.stdout
        and "有错误 2" in zh.stdout
        and "第 4 行，性别：性别应为 男 或 女；已留空导入该行（X）" in zh.stdout
    )
    assert "与本文件第 2 行重复，已跳过" in zh.stdout and "duplicate" not in zh.stdout
    # A file with row errors is imported again (its cause may be fixed); its rows in land unchanged.
    en = cli(
        "import", "customers", str(CORPUS / "customers_bad_rows.csv"), "--store", "T01", LANG="en_US.UTF-8"
    )
    assert "4 rows: 0 new, 0 updated, 2 unchanged, 2 with errors" in en.stdout
    assert "row 5, 客户编号: duplicate of row 2 in this file; skipped" in en.stdout
    # Only a file whose every row landed is answered "already imported".
    again = cli(
        "import", "customers", str(CORPUS / "customers_gbk.csv"), "--store", "T01", LANG="en_US.UTF-8"
    )
    assert "already imported as import #" in again.stdout
    bad = cli("import", "visits", str(CORPUS / "binary_renamed.xlsx"), "--store", "T01")
    assert bad.returncode != 0
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("winback: error:")
    assert "的文件名像 Excel 文件，但内容不是" in bad.stderr  # the command's language: Chinese by default
    bad_en = cli("import", "visits", str(CORPUS / "binary_renamed.xlsx"), "--store", "T01", "--lang", "en")
    assert bad_en.returncode != 0 and "is named like an Excel file but is not one" in bad_en.stderr
    assert "Traceback" not in bad.stderr + bad.stdout


def test_repair_orders_after_the_cycle_started_mark_targets_who_came_back(session, surveying_cycle, tmp_path):
    from winback.cycles.models import MonthlyCycle, Target

    cycle = session.get(MonthlyCycle, surveying_cycle)
    targets = list(
        session.scalars(select(Target).where(Target.cycle_id == cycle.id).order_by(Target.id).limit(2))
    )
    clock.set_now("2026-12-01T09:00")
    path = tmp_path / "ro.csv"
    path.write_text(
        "工单号,车架号,进厂日期,维修类别,结算金额\n"
        f"NEW-1,{targets[0].vehicle.vin},2026-11-20,保养,500\n"
        f"OLD-1,{targets[1].vehicle.vin},2025-01-10,保养,300\n",  # before the cycle: not a return
        encoding="utf-8",
    )
    batch, _ = returns.import_file(
        session=session, store_id=cycle.store_id, kind="visits", source=path, actor=ADMIN
    )
    assert (batch.inserted, batch.returned_targets) == (2, 1)
    assert (
        session.scalar(select(ServiceVisit.customer_id).where(ServiceVisit.ro_number == "NEW-1"))
        == targets[0].customer_id
    )


def test_values_the_database_cannot_hold_are_row_errors(session, store, tmp_path):
    _archive(session, store)
    vin = session.scalar(select(Vehicle.vin).where(Vehicle.plate == "粤B12345"))
    path = tmp_path / "big.csv"
    path.write_text(
        "工单号,车架号,进厂日期,里程,结算金额\n"
        f"{'R' * 41},{vin},2024-01-01,100,1\n"
        f"RO-M,{vin},2024-01-01,99999999999,1\n"
        f"RO-A,{vin},2024-01-01,1,99999999999\n"
        f"RO-OK,{vin},2024-01-01,1,1\n",
        encoding="utf-8",
    )
    batch, _ = run(session, store, "visits", path)
    # the mileage is not a key: that row is imported without it, with a warning (issue 15)
    assert (batch.inserted, batch.failed) == (2, 2)
    assert [(r, c) for r, c, _ in errors(session, batch)] == [(2, "工单号"), (3, "里程"), (4, "结算金额")]


@pytest.mark.parametrize("beyond_header_search", [False, True])
def test_a_csv_that_breaks_half_way_keeps_the_rows_before_the_break(
    session, store, tmp_path, monkeypatch, small_csv_limit, beyond_header_search
):
    """A cell larger than the CSV reader takes (``small_csv_limit``), like a damaged export,
    stops the file where it is:
    the good rows before it land, also those of a chunk not yet written, and the message
    names the file's last row read, in both languages."""
    _archive(session, store)
    monkeypatch.setattr(imports, "CHUNK", 2)  # the break falls after a written chunk and in the next
    vin = session.scalar(select(Vehicle.vin).where(Vehicle.plate == "粤B12345"))
    path = tmp_path / "broken.csv"
    lines = [
        "工单号,车架号,进厂日期,里程,结算金额",
        *(f"RO-{i},{vin},2024-01-0{i},100,1" for i in range(1, 4)),
    ]
    lines += ["", f'RO-X,{vin},2024-01-05,100,"{"x" * 200_000}"', f"RO-9,{vin},2024-01-09,100,1"]
    if beyond_header_search:  # the break after the rows read to find the header
        lines[4:4] = [f"RO-1{i},{vin},2024-02-{i:02d},100,1" for i in range(1, 13)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch, _ = run(session, store, "visits", path)
    assert batch.status == ImportStatus.failed
    assert gc.isenabled()  # the collector paused during the import runs again after a break
    good = 15 if beyond_header_search else 3
    assert (batch.rows_total, batch.inserted) == (good, good)
    last = good + 1  # the header and the good rows (then a blank line, then the row that broke)
    assert batch.message_text("en").startswith(f"the file cannot be read past row {last}: field larger than")
    assert batch.message_text("zh").startswith(f"第 {last} 行之后的内容无法读取：field larger than")
    stored = set(session.scalars(select(ServiceVisit.ro_number).where(ServiceVisit.store_id == store)))
    assert len(stored) == good and "RO-X" not in stored and "RO-9" not in stored


def test_the_collector_paused_by_an_import_is_left_as_it_was():
    with collector.young_collections_only():
        assert not gc.isenabled()
        with collector.young_collections_only():  # a second import at once
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first one still runs
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.young_collections_only():
            pass
        assert not gc.isenabled()  # paused by someone else before: not ours to enable
    finally:
        gc.enable()


def test_a_csv_that_breaks_in_its_first_row_is_not_a_table(session, store, tmp_path, small_csv_limit):
    path = tmp_path / "broken_first.csv"
    path.write_text(f'工单号,"{"x" * 200_000}"\nRO-1,x\n', encoding="utf-8")
    batch, _ = run(session, store, "visits", path)
    assert batch.status == ImportStatus.failed
    assert batch.message_text("en") == "the file cannot be read: field larger than field limit (150000)"
    assert batch.message_text("zh") == "文件无法读取：field larger than field limit (150000)"


@pytest.mark.parametrize(
    "name, kind",
    [
        ("customers_utf8.csv", "customers"),
        ("customers_utf16.csv", "customers"),
        ("customers_gbk.csv", "customers"),
    ],
)
def test_progress_knows_the_total_before_the_rows_and_ends_exact(session, store, monkeypatch, name, kind):
    """rows_done of rows_total for the report page's progress bar: the total is known (estimated
    from the file) before the first row is written; at the end both are the rows counted."""
    monkeypatch.setattr(imports, "CHUNK", 2)
    seen: list[tuple[int, int]] = []
    batch, _ = imports.start_import(
        session=session, store_id=store, kind=kind, source=CORPUS / name, filename=name, actor=ADMIN
    )
    imports.run_import(
        session=session,
        batch_id=batch.id,
        actor=ADMIN,
        on_chunk=lambda b: seen.append((b.rows_done, b.rows_total)),
    )
    assert seen[0] == (0, 5)  # the file opened: nothing written yet, five rows to go
    assert [done for done, _ in seen[1:]] == [2, 4, 5, 5]  # chunks of two, then the finished batch
    assert all(total >= done for done, total in seen)
    assert (batch.status, batch.rows_done, batch.rows_total) == (ImportStatus.done, 5, 5)


def test_progress_total_of_a_workbook_and_a_blank_line_estimate(session, store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["客户编号", "客户姓名", "手机"])
    for i in range(7):
        wb.active.append([f"X{i}", f"客户{i}", f"1390000000{i}"])
    wb.save(tmp_path / "c.xlsx")
    seen: list[tuple[int, int]] = []
    batch, _ = imports.start_import(
        session=session,
        store_id=store,
        kind="customers",
        source=tmp_path / "c.xlsx",
        filename="c.xlsx",
        actor=ADMIN,
    )
    imports.run_import(
        session=session,
        batch_id=batch.id,
        actor=ADMIN,
        on_chunk=lambda b: seen.append((b.rows_done, b.rows_total)),
    )
    assert seen[0] == (0, 7) and (batch.rows_done, batch.rows_total) == (7, 7)

    # Blank lines count in the estimate but not as rows: the total ends as the rows counted.
    (tmp_path / "blank.csv").write_text(
        "客户编号,客户姓名,手机\nB1,甲,13900000001\n\n\nB2,乙,13900000002\n", encoding="utf-8"
    )
    seen.clear()
    batch, _ = imports.start_import(
        session=session,
        store_id=store,
        kind="customers",
        source=tmp_path / "blank.csv",
        filename="blank.csv",
        actor=ADMIN,
    )
    imports.run_import(
        session=session,
        batch_id=batch.id,
        actor=ADMIN,
        on_chunk=lambda b: seen.append((b.rows_done, b.rows_total)),
    )
    assert seen[0] == (0, 4) and (batch.rows_done, batch.rows_total, batch.inserted) == (2, 2, 2)


def test_a_date_that_does_not_exist_is_a_bad_date_in_both_languages(session, store, tmp_path):
    """2024/13/5 matches the date pattern but has no month 13: the stored code is bad_date, not Python's words."""
    run(session, store, "customers", "customers_utf8.csv")
    run(session, store, "vehicles", "vehicles.xlsx")
    vin = session.scalar(select(Vehicle.vin).where(Vehicle.store_id == store).limit(1))
    path = tmp_path / "ro.csv"
    path.write_text(f"工单号,车架号,进厂日期\nRO-X1,{vin},2024/13/5\n", encoding="utf-8")
    batch, _ = imports.import_file(session=session, store_id=store, kind="visits", source=path, actor=ADMIN)
    (e,) = import_reports.row_errors(session=session, batch_id=batch.id)
    assert (e.row_number, e.column, e.code, e.value) == (2, "进厂日期", "bad_date", "2024/13/5")
    assert e.text("en") == "not a date" and e.text("zh").startswith("不是有效的日期")
