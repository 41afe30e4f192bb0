"""Writes the DMS import corpus under tests/data/imports/ (the files are committed; run this
again only to change them): `.venv/bin/python tests/data/make_import_corpus.py`.

Good files for a small store (customers, vehicles, repair orders in the shapes Chinese DMS
exports take) and bad ones: wrong encodings, missing columns, merged cells, empty sheets,
formulas, Excel serial and text dates, amounts with ¥ and thousands separators, duplicated
rows, a 0-byte file and a binary file renamed .xlsx.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).parent / "imports"

# VINs with a correct check digit except VIN_NOCHECK (common in China) and VIN_BAD (has an O).
VINS = ["LGBH52E05HY000001", "LGBH52E07HY000002", "LGBH52E09HY000003", "LGBH52E00HY000004"]
VIN_NOCHECK = "LGBH52E01HY000005"
VIN_BAD = "LGBH52EO5HY00000"  # 16 characters with an O


def _fix_check_digit(vin: str) -> str:
    from winback.customers.identifiers import _TRANSLIT, _WEIGHTS

    total = sum(_TRANSLIT[ch] * w for ch, w in zip(vin, _WEIGHTS))
    digit = "X" if total % 11 == 10 else str(total % 11)
    return vin[:8] + digit + vin[9:]


def _csv(rows: list[list], encoding: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


CUSTOMER_HEADER = ["客户编号", "客户姓名", "手机号", "性别", "出生日期", "地址", "区县", "客户类型"]
CUSTOMERS = [
    ["C001", "张伟", "138 0013 8000", "男", "1980/3/5", "城东区幸福路12号", "城东区", "私家车"],
    ["C002", "王芳", "+86 139-1234-5678", "女", "1985-07-20", "城西区和平街3号", "城西区", "私家车"],
    ["C003", "李强", "020-12345678", "男", "1975年11月2日", "远郊新区工业园8号", "远郊新区", "单位用车"],
    ["C004", "张伟 ", "13800138000", "男", "", "城东区幸福路12号", "城东区", "私家车"],  # duplicate of C001
    ["C005", "赵敏", "12345", "女", "1990/1/1", "", "城南区", "出租车"],  # bad phone
]


def main() -> None:
    vins = [_fix_check_digit(v) for v in VINS]
    OUT.mkdir(parents=True, exist_ok=True)
    for p in OUT.iterdir():
        p.unlink()
    rows = [CUSTOMER_HEADER, *CUSTOMERS]
    (OUT / "customers_utf8.csv").write_bytes(_csv(rows, "utf-8"))
    (OUT / "customers_utf8_bom.csv").write_bytes(_csv(rows, "utf-8-sig"))
    (OUT / "customers_gbk.csv").write_bytes(_csv(rows, "gb18030"))
    # A newer export: C002 moved district and has a new phone, a new customer C006.
    newer = [
        CUSTOMER_HEADER,
        *CUSTOMERS[:1],
        ["C002", "王芳", "13912345679", "女", "1985-07-20", "城北区新村5号", "城北区", "私家车"],
        *CUSTOMERS[2:],
        ["C006", "孙丽", "13700001111", "女", "1992/6/6", "城南区", "城南区", "私家车"],
    ]
    (OUT / "customers_newer.csv").write_bytes(_csv(newer, "utf-8"))
    # Bad rows: missing name, gender nonsense, date nonsense, duplicated row.
    bad = [
        CUSTOMER_HEADER,
        CUSTOMERS[0],
        ["C010", "", "13600001234", "男", "", "", "", ""],
        ["C011", "周杰", "13600001235", "X", "1980/13/45", "", "", ""],
        CUSTOMERS[0],
    ]
    (OUT / "customers_bad_rows.csv").write_bytes(_csv(bad, "utf-8"))
    # Wrong encoding: Latin-1 bytes that are neither UTF-8 nor sensible GB18030 text plus NULs.
    (OUT / "customers_utf16.csv").write_bytes(_csv(rows, "utf-16"))  # Excel's "Unicode text": readable
    # A European export in Latin-1: decodes to nonsense, so no known column is found.
    (OUT / "customers_latin1.csv").write_bytes(
        "Numéro,Nom,Téléphone\n1,Dupont,0123456789\n".encode("latin-1")
    )

    # English headers in an XLSX with a title row, Excel serial dates and dates as text, merged title.
    wb = Workbook()
    ws = wb.active
    ws.title = "Customers"
    ws.append(["Customer export 2026-11 (DMS)"])
    ws.merge_cells("A1:F1")
    ws.append(["Customer code", "Name", "Mobile", "Gender", "Date of birth", "District"])
    ws.append(["E001", "Liu Yang", 13511112222, "M", date(1988, 4, 1), "城东区"])
    ws.append(["E002", "Chen Jing", "13511113333", "F", 32000, "城西区"])  # serial 32000 = 1987-08-11
    ws.append(["E003", "Huang Lei", "13511114444", "male", "2024年3月5日", "城南区"])
    wb.save(OUT / "customers_english.xlsx")

    # Vehicles with customer codes; one bad VIN, one without check digit, an unknown customer.
    wb = Workbook()
    ws = wb.active
    ws.append(["车架号", "车牌号", "车型", "购车日期", "客户编号"])
    ws.append([vins[0], "粤B12345", "轩逸 Sylphy", "2021/5/1", "C001"])
    ws.append([vins[1], "粤BD12345", "劲客 Kicks", date(2022, 8, 8), "C002"])  # new-energy plate
    ws.append([vins[2], "粤B1234", "天籁 Teana", 44000, "C003"])  # bad plate, serial date
    ws.append([VIN_NOCHECK, "粤A88888", "奇骏 X-Trail", "2020-01-15", "C005"])
    ws.append([VIN_BAD, "粤A66666", "轩逸 Sylphy", "2020-01-15", "C004"])
    ws.append([vins[3], "粤C11111", "轩逸 Sylphy", "2019-09-09", "C999"])  # unknown customer
    wb.save(OUT / "vehicles.xlsx")

    # Repair orders: amounts with ¥ and separators, three date spellings, a duplicated row.
    visits = [
        ["工单号", "车架号", "进厂日期", "里程", "维修类别", "维修项目", "结算金额", "服务顾问"],
        ["RO1001", vins[0], "2024/3/5", "12,000", "保养", "机油机滤", "¥1,234.50", "advisor1"],
        ["RO1002", vins[0], "2024-09-05", "18000", "维修", "刹车片", "￥ 860", ""],
        ["RO1003", vins[1], "2024年3月5日", "5000 km", "保养", "首保", "0", ""],
        ["RO1004", vins[2], "45000", "30000", "事故", "钣金喷漆", "3,200.00元", ""],
        ["RO1002", vins[0], "2024-09-05", "18000", "维修", "刹车片", "￥ 860", ""],  # duplicated row
        ["RO1005", "LNOTKNOWN00000000", "2024-01-01", "", "保养", "", "100", ""],  # unknown VIN
        ["RO1006", vins[1], "yesterday", "", "保养", "", "abc", ""],  # bad date and amount
    ]
    (OUT / "visits.csv").write_bytes(_csv(visits, "gb18030"))

    # Formulas without cached values (as written by a script, not Excel) and merged cells.
    wb = Workbook()
    ws = wb.active
    ws.append(["工单号", "车架号", "进厂日期", "维修类别", "金额"])
    ws.append(["RO2001", vins[0], date(2024, 10, 1), "保养", "=100+200"])
    ws.append(["RO2002", vins[1], date(2024, 10, 2), "保养", 300])
    ws.append(["RO2003", None, date(2024, 10, 3), "保养", 300])
    ws.merge_cells("B3:B4")  # merged VIN cell: the second row has no VIN of its own
    wb.save(OUT / "visits_formulas_merged.xlsx")

    (OUT / "visits_missing_columns.csv").write_bytes(_csv([["工单号", "金额"], ["RO1", "100"]], "utf-8"))
    wb = Workbook()
    wb.active.title = "空表"
    wb.create_sheet("Sheet2")
    wb.save(OUT / "empty_sheets.xlsx")
    (OUT / "zero_bytes.csv").write_bytes(b"")
    (OUT / "binary_renamed.xlsx").write_bytes(bytes(range(256)) * 8)
    (OUT / "header_only.csv").write_bytes(_csv([["客户编号", "客户姓名", "手机号"]], "utf-8"))
    (OUT / "not_a_table.txt").write_bytes("这不是表格。\n只是一段文字，没有列。\n".encode())


if __name__ == "__main__":
    main()
