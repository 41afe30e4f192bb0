"""Repair orders are parsed column by column (each distinct cell once) and written by column;
a row with anything to report goes through the cell-by-cell parser. The report is the same
either way: every error and warning with its row number, column and reason, across chunk
boundaries, and the same repair orders land."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from tests.test_imports import CORPUS
from winback import clock, stores
from winback.actor import Actor
from winback.customers import import_cells, import_reports, import_visit_rows, imports
from winback.customers.import_rows import UNDECIDED, _Cells, cell_outcome
from winback.customers.import_seen import SeenKeys
from winback.customers.import_values import cell_mileage, parse_date
from winback.customers.models import ServiceVisit

ADMIN = Actor.system(label="test import by column")
VIN1, VIN2, VIN3 = "LGBH52E02HY000001", "LGBH52E04HY000002", "LGBH52E06HY000003"

# Row 2 is the first data row. CHUNK is 3 in the test: chunks are rows 2-4, 5-7, 8-10, 11-13, 14.
VISITS = (
    "工单号,车架号,进厂日期,里程,维修类别,维修项目,结算金额\n"
    f'RO1,{VIN1},2024/3/5,"12,000",保养,机油机滤,"¥1,234.50"\n'  # 2
    f"RO2,{VIN2},2024年3月5日,5000,常规保养,机油,860元\n"  # 3
    f"RO3,{VIN1},2024/13/45,100,保养,,100\n"  # 4: not a date
    f"RO1,{VIN3},2024/3/6,100,保养,,100\n"  # 5: duplicate of row 2, in the next chunk
    f"RO5,{VIN3},2024-03-07,很多,维修,刹车,￥ 300\n"  # 6: mileage unreadable -> warning, kept
    "RO6,,2024/3/5,100,保养,,100\n"  # 7: no VIN
    f"RO7,{VIN1},2099/1/1,100,保养,,100\n"  # 8: in the future
    f"RO8,{VIN2},2024/3/5,100,保养,,-5\n"  # 9: negative amount
    f"RO9,{VIN2},2024/3/5,100,保养,,\n"  # 10: empty amount
    "RO10,LGBH52E0XHY999999,2024/3/5,100,保养,,100\n"  # 11: no such vehicle
    f'RO11,{VIN3},20240305,"1,000 km",事故, 喷漆 ,1234.5\n'  # 12: cells trimmed
    f'RO12,{VIN1},2024/3/5,"12,000",保养,机油机滤,"¥1,234.50"\n'  # 13: same cells as row 2
    f'RO13,{VIN2},2024/3/5,"12,000",保养,,abc\n'  # 14: not an amount
)


def _store(session, code: str) -> int:
    clock.set_now("2026-11-02T09:00")
    store = stores.create_store(session=session, code=code, name=code, actor=ADMIN).id
    session.flush()
    for kind, name in (("customers", "customers_utf8.csv"), ("vehicles", "vehicles.xlsx")):
        imports.import_file(session=session, store_id=store, kind=kind, source=CORPUS / name, actor=ADMIN)
    return store


def _import(session, store: int, path):
    batch, _ = imports.import_file(session=session, store_id=store, kind="visits", source=path, actor=ADMIN)
    report = [
        (e.row_number, e.column, e.text("en"))
        for e in import_reports.row_errors(session=session, batch_id=batch.id)
    ]
    landed = {
        v.ro_number: (v.visit_date, v.mileage, v.category, v.items, v.amount)
        for v in session.scalars(select(ServiceVisit).where(ServiceVisit.store_id == store))
    }
    return (batch.rows_total, batch.inserted, batch.failed), report, landed


def test_a_chunk_parsed_by_column_reports_what_cell_by_cell_does(session, tmp_path, monkeypatch):
    path = tmp_path / "visits.csv"
    path.write_text(VISITS, encoding="gb18030")
    monkeypatch.setattr(imports, "CHUNK", 3)
    by_column = _import(session, _store(session, "C01"), path)

    def every_row_undecided(ctx, rows, spec, accept):
        return {}, set(range(len(rows)))

    monkeypatch.setattr(import_visit_rows, "parse_columns", every_row_undecided)
    cell_by_cell = _import(session, _store(session, "C02"), path)
    assert by_column == cell_by_cell

    counts, report, landed = by_column
    assert counts == (13, 5, 8)
    assert report == [
        (4, "进厂日期", "not a date"),
        (5, "工单号", "duplicate of row 2 in this file; skipped"),
        (6, "里程", "not a number; the row is imported with this cell empty"),
        (7, "车架号", "empty: a value is required"),
        (8, "进厂日期", "visit date is in the future"),
        (9, "结算金额", "amount is negative"),
        (10, "结算金额", report[6][2]),  # the empty-amount sentence
        (11, "车架号", "no vehicle with this VIN/plate; import the vehicles first"),
        (14, "结算金额", "not an amount"),
    ]
    assert report[6][2].startswith("empty amount")
    assert landed == {
        "RO1": (date(2024, 3, 5), 12000, "保养", "机油机滤", Decimal("1234.50")),
        "RO2": (date(2024, 3, 5), 5000, "保养", "机油", Decimal("860.00")),
        "RO5": (date(2024, 3, 7), None, "维修", "刹车", Decimal("300.00")),
        "RO11": (date(2024, 3, 5), 1000, "事故", "喷漆", Decimal("1234.50")),
        "RO12": (date(2024, 3, 5), 12000, "保养", "机油机滤", Decimal("1234.50")),
    }


def test_a_workbook_cell_is_remembered_under_its_type() -> None:
    """1, 1.0 and True are equal dictionary keys; True is not a mileage of 1."""
    cells = _Cells(cell_outcome(cell_mileage, None, None))
    assert cells.outcomes([1, True, 1.0, "1", "1", None]) == [1, UNDECIDED, 1, 1, 1, None]
    dates = _Cells(cell_outcome(parse_date, None, None))
    assert dates.outcomes(["2024/3/5", "2024年3月5日", "2024/13/5", " 2024/3/5 "]) == [
        date(2024, 3, 5),
        date(2024, 3, 5),
        UNDECIDED,
        date(2024, 3, 5),
    ]


def test_a_column_of_unique_cells_stops_being_remembered() -> None:
    cells = _Cells(cell_outcome(str.upper, None, None))
    for start in range(0, _Cells.SAMPLE + 10_000, 10_000):
        assert cells.outcomes([f"ro{n}" for n in range(start, start + 10_000)])[-1] == f"RO{start + 9999}"
    assert not cells.on and not cells


@pytest.mark.parametrize("refused", [[], [7], [0, 1], [3, 12, 13, 19]])
def test_the_rows_the_database_refuses_are_found_by_halves(refused) -> None:
    """A refused chunk is tried again by halves: each refused row is one row error, in order,
    and every other row is written."""
    written: list[int] = []
    attempts = []

    def writer(ctx, rows):
        attempts.append(len(rows))
        if any(n in refused for n, _cells in rows):
            raise SQLAlchemyError("refused")
        written.extend(n for n, _cells in rows)

    ctx = SimpleNamespace(
        session=SimpleNamespace(begin_nested=nullcontext),
        batch=SimpleNamespace(id=1),
        errors=[],
        seen=SeenKeys(),
    )
    import_cells.write_rows(ctx, writer, [(n, []) for n in range(20)], "db_refused")
    assert [e["row_number"] for e in ctx.errors] == refused
    assert sorted(written) == [n for n in range(20) if n not in refused]
    assert len(attempts) <= 1 + 2 * len(refused) * 5  # about log2(20) attempts per refused row


def test_an_import_longer_than_the_keys_kept_in_memory_reports_the_same(session, tmp_path, monkeypatch):
    """The keys met are kept in memory up to a bound, then in a scratch file: a file longer
    than the bound reports the same duplicates (with the row first met) and lands the same
    rows; the scratch file is gone when the import ends."""
    from winback.customers import import_seen

    path = tmp_path / "visits.csv"
    path.write_text(VISITS, encoding="gb18030")
    monkeypatch.setattr(imports, "CHUNK", 3)
    in_memory = _import(session, _store(session, "M01"), path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(import_seen.tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(import_seen, "MEMORY_KEYS", 2)
    spilled = _import(session, _store(session, "M02"), path)
    assert spilled == in_memory
    assert (5, "工单号", "duplicate of row 2 in this file; skipped") in spilled[1]
    assert list(scratch.iterdir()) == []


def test_seen_keys_move_to_disk_and_forget_a_refused_chunk(tmp_path, monkeypatch):
    from winback.customers import import_seen

    monkeypatch.setattr(import_seen.tempfile, "tempdir", str(tmp_path))
    seen = import_seen.SeenKeys(memory_keys=3)
    for number, key in enumerate(["A", "B", "C", "D", "E"], start=2):
        assert seen.setdefault(key, number) == number
    assert len(seen.recent) < 3 and len(list(tmp_path.iterdir())) == 1  # A-C moved to disk
    assert [seen.get(k) for k in "ABCDEF"] == [2, 3, 4, 5, 6, None]
    assert seen.setdefault("A", 99) == 2 and seen.setdefault("E", 99) == 6
    seen.forget_rows([3, 6])  # B on disk, E in memory: a refused chunk's rows
    assert [seen.get(k) for k in "ABCDE"] == [2, None, 4, 5, None]
    assert seen.setdefault("B", 10) == 10
    assert len(seen) == 4
    # a chunk's keys at once: the first row of each, on disk, in memory or in the chunk itself
    assert seen.first_rows(["A", "F", "B", "F", "G"], [11, 12, 13, 14, 15]) == [2, 12, 10, 12, 15]
    fresh = import_seen.SeenKeys(memory_keys=100)
    assert fresh.first_rows(["X", "Y", "X"], [2, 3, 4]) == [2, 3, 2] and fresh._disk is None
    seen.close()
    assert list(tmp_path.iterdir()) == []
