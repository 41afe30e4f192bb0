"""Reading one cell of a dealer's file: dates in every shape Excel and people write them,
amounts, integers, gender, customer type, VINs, phones, names, bounded text."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from winback.customers import identifiers
from winback.customers.import_errors import RowProblem
from winback.customers.models import (
    CustomerType,
)


def cell_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # Excel stores 13800138000 as a number
    if isinstance(v, datetime):
        v = v.date()
    s = str(v).strip()
    return s or None


_EXCEL_EPOCH = date(1899, 12, 30)


_EIGHT_DIGITS = re.compile(r"\d{8}")


_SERIAL_TEXT = re.compile(r"\d{5}(\.0+)?")


_AMOUNT_JUNK = re.compile(r"[¥￥,，\s元]|RMB|CNY", re.I)


_INT_JUNK = re.compile(r"[,，\s]|km|公里", re.I)


_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")


def parse_date(v: Any) -> date | None:
    """Excel dates, Excel serial numbers and 2024/3/5, 2024-03-05, 2024年3月5日, 20240305."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        if isinstance(v, int | float) and not isinstance(v, bool):
            if 1 <= v < 2958466:  # Excel serial (days since 1899-12-30)
                return _EXCEL_EPOCH + timedelta(days=int(v))
            raise RowProblem("bad_date")
        s = str(v).strip()
        if _EIGHT_DIGITS.fullmatch(s):
            return date(int(s[:4]), int(s[4:6]), int(s[6:]))
        if _SERIAL_TEXT.fullmatch(s):
            return _EXCEL_EPOCH + timedelta(days=int(float(s)))
        m = _DATE_TEXT.match(s)
        if not m:
            raise RowProblem("bad_date")
        return date(int(m[1]), int(m[2]), int(m[3]))
    except (ValueError, OverflowError) as exc:  # 2024/13/5: "month must be in 1..12"
        if isinstance(exc, RowProblem):
            raise
        raise RowProblem("bad_date") from exc


def parse_amount(v: Any) -> Decimal | None:
    """¥1,234.50 / 1234.5元 / ￥ 1 234 -> Decimal."""
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return Decimal(str(v)).quantize(Decimal("0.01"))
    s = _AMOUNT_JUNK.sub("", str(v))
    if not s:
        return None
    try:
        return Decimal(s).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise RowProblem("bad_amount") from None


def parse_int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return int(v)
    s = _INT_JUNK.sub("", str(v))
    if not s:
        return None
    try:
        return int(Decimal(s))
    except InvalidOperation:
        raise RowProblem("bad_number") from None


def parse_gender(v: Any) -> str | None:
    s = cell_text(v)
    if s is None:
        return None
    low = s.lower()
    if low in ("男", "m", "male", "先生"):
        return "男"
    if low in ("女", "f", "female", "女士"):
        return "女"
    raise RowProblem("bad_gender")


def parse_customer_type(v: Any) -> CustomerType | None:
    s = cell_text(v)
    if s is None:
        return None
    low = s.lower()
    for words, ctype in (
        (("私", "个人", "private"), CustomerType.private),
        (("单位", "公司", "企业", "company", "fleet"), CustomerType.company),
        (("保险", "事故", "insurance"), CustomerType.insurance),
        (("出租", "网约", "taxi"), CustomerType.taxi),
    ):
        if any(w in low for w in words):
            return ctype
    raise RowProblem("bad_customer_type")


def cell_vin(v: Any) -> str | None:
    s = cell_text(v)
    if s is None:
        return None
    s = re.sub(r"[\s\-]", "", s).upper()
    if len(s) > 17:
        raise RowProblem("vin_length", length=len(s))
    return s


def cell_phone(v: Any) -> str | None:
    p = identifiers.normalize_phone(cell_text(v))
    if p and len(p) > 40:
        raise RowProblem("bad_phone")
    return p


def cell_name(v: Any) -> str | None:
    s = cell_text(v)
    if s and len(s) > 120:
        raise RowProblem("name_too_long", max=120)
    return s


def bounded(n: int) -> Callable[[Any], str | None]:
    """A key (customer code, RO number): too long is an error, never silently cut."""

    def parse(v: Any) -> str | None:
        s = cell_text(v)
        if s and len(s) > n:
            raise RowProblem("too_long", max=n)
        return s

    return parse


def cell_mileage(v: Any) -> int | None:
    n = parse_int(v)
    if n is not None and not 0 <= n < 10_000_000:
        raise RowProblem("bad_mileage")
    return n


def cell_amount(v: Any) -> Decimal | None:
    d = parse_amount(v)
    if d is not None and abs(d) >= Decimal("10000000000"):
        raise RowProblem("amount_too_large")
    return d


def limited(n: int) -> Callable[[Any], str | None]:
    def parse(v: Any) -> str | None:
        s = cell_text(v)
        return s[:n] if s else s

    return parse


def cell_category(v: Any) -> str | None:
    return limited(40)(v)
