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
from winback.customers.models import CustomerType, VehicleGrade


def cell_text(v: Any) -> str | None:
    if type(v) is str:  # the usual case first (every cell of a CSV)
        return v.strip() or None
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


# ---- closed lists: the words DMS exports and people use for each value, in one place ----------
# Matched whole (after trimming and lower-casing); a store adds its own words on the import page
# (``import_value_map``), which are tried first. A value matching nothing is not an error of
# the row: the cell is imported empty with a warning (``import_cells.SOFT_FIELDS``).

GENDER_WORDS: dict[str, tuple[str, ...]] = {
    "男": ("男", "男性", "男士", "先生", "m", "male", "man", "1"),
    "女": ("女", "女性", "女士", "小姐", "太太", "夫人", "f", "female", "woman", "2"),
}

CUSTOMER_TYPE_WORDS: dict[CustomerType, tuple[str, ...]] = {
    CustomerType.private: ("私家车", "私人", "私人用车", "私家", "个人", "个人用车", "自用", "private"),
    CustomerType.company: (
        "单位用车",
        "公务车",
        "公务用车",
        "公车",
        "单位",
        "单位车",
        "公司",
        "公司车",
        "企业",
        "企业用车",
        "集团",
        "集团客户",
        "大客户",
        "company",
        "fleet",
    ),
    CustomerType.insurance: ("保险事故车", "事故车", "保险车", "保险", "保险公司", "insurance", "accident"),
    CustomerType.taxi: ("出租车", "出租", "的士", "网约车", "营运车", "taxi", "cab"),
}
# Words contained in a longer value (单位用车（集团）, 私家车-个人): the type still reads.
_CUSTOMER_TYPE_PARTS: tuple[tuple[tuple[str, ...], CustomerType], ...] = (
    (("私家", "私人", "个人"), CustomerType.private),
    (("单位", "公务", "公司", "企业", "集团"), CustomerType.company),
    (("保险", "事故"), CustomerType.insurance),
    (("出租", "网约", "的士"), CustomerType.taxi),
)

GRADE_WORDS: dict[VehicleGrade, tuple[str, ...]] = {
    VehicleGrade.luxury: ("豪华", "豪华型", "豪华车", "高级", "高端", "luxury", "premium"),
    VehicleGrade.mid: ("中级", "中级车", "中高级", "中型", "中型车", "mid", "medium"),
    VehicleGrade.lower_mid: (
        "中低级",
        "中低端",
        "紧凑型",
        "紧凑级",
        "紧凑",
        "lower_mid",
        "lower mid",
        "compact",
    ),
    VehicleGrade.economy: ("经济型", "经济", "经济车", "小型", "入门", "微型", "economy", "budget"),
}

# Repair-order categories stay the store's own words; these spellings read as the usual ones.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "保养": ("保养", "常规保养", "定期保养", "一般保养", "小保养", "大保养", "maintenance"),
    "维修": ("维修", "一般维修", "机修", "修理", "repair"),
    "事故": ("事故", "事故车维修", "钣喷", "钣金喷漆", "钣金", "喷漆", "accident", "bodywork"),
    "保修": ("保修", "索赔", "三包", "warranty"),
}

# field -> its closed list: value -> words. What a store's value mapping may point at.
VALUE_WORDS: dict[str, dict[Any, tuple[str, ...]]] = {
    "gender": GENDER_WORDS,
    "customer_type": CUSTOMER_TYPE_WORDS,
    "grade": GRADE_WORDS,
    "category": CATEGORY_WORDS,
}


def value_key(v: Any) -> str:
    """How a cell is compared with the words above and with a store's mapping."""
    return "".join(str(v).split()).lower()


def _lookup(words: dict[Any, tuple[str, ...]]) -> dict[str, Any]:
    return {value_key(w): value for value, ws in words.items() for w in ws}


_GENDERS = _lookup(GENDER_WORDS)
_CUSTOMER_TYPES = _lookup(CUSTOMER_TYPE_WORDS)
_GRADES = _lookup(GRADE_WORDS)
_CATEGORIES = _lookup(CATEGORY_WORDS)


def parse_gender(v: Any) -> str | None:
    s = cell_text(v)
    if s is None:
        return None
    found = _GENDERS.get(value_key(s))
    if found is None:
        raise RowProblem("bad_gender")
    return found


def parse_customer_type(v: Any) -> CustomerType | None:
    s = cell_text(v)
    if s is None:
        return None
    key = value_key(s)
    found = _CUSTOMER_TYPES.get(key)
    if found is not None:
        return found
    for words, ctype in _CUSTOMER_TYPE_PARTS:
        if any(w in key for w in words):
            return ctype
    raise RowProblem("bad_customer_type")


def parse_grade(v: Any) -> VehicleGrade | None:
    s = cell_text(v)
    if s is None:
        return None
    found = _GRADES.get(value_key(s))
    if found is None:
        raise RowProblem("bad_grade")
    return found


def cell_category(v: Any) -> str | None:
    """The store's own category word; a usual spelling of a known one reads as it (常规保养 → 保养)."""
    s = cell_text(v)
    if s is None:
        return None
    return _CATEGORIES.get(value_key(s), s[:40])


_VIN_JUNK = re.compile(r"[\s\-]")


def cell_vin(v: Any) -> str | None:
    s = cell_text(v)
    if s is None:
        return None
    s = _VIN_JUNK.sub("", s).upper()
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
