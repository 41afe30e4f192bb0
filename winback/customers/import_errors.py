"""An import's row errors as data, rendered in the reader's language.

A row error is stored as a stable code plus its parameters (``ImportRowError.reason`` holds
them as a small JSON object, e.g. ``{"code": "duplicate", "first": 2}``; the row number, the
file's column header and the cell's value have their own columns), so one import reads in
Simplified Chinese or English, whoever opens it: the report page, the errors workbook, the API
and the CLI render it with ``describe(reason, locale)``.

Rows stored before this (a plain English sentence in ``reason``) still display: a known
sentence is recognised and translated, anything else is shown as it was.
"""

from __future__ import annotations

import json
import re
from typing import Any

# code -> (Simplified Chinese, English); str.format templates over the error's parameters.
ROW_ERRORS: dict[str, tuple[str, str]] = {
    "required": ("不能为空", "empty: a value is required"),
    "bad_date": ("不是有效的日期（可写 2024-03-05、2024/3/5、2024年3月5日 或 20240305）", "not a date"),
    "bad_amount": ("不是有效的金额", "not an amount"),
    "bad_number": ("不是有效的数字", "not a number"),
    "bad_gender": ("性别应为 男 或 女", "gender must be 男 or 女"),
    "bad_customer_type": (
        "客户类型应为 私家车、单位用车、保险事故车 或 出租车",
        "customer type must be 私家车, 单位用车, 保险事故车 or 出租车",
    ),
    "too_long": ("超过 {max} 个字符", "longer than {max} characters"),
    "name_too_long": ("姓名超过 {max} 个字符", "name longer than {max} characters"),
    "vin_length": ("车架号应为 17 位，此值有 {length} 位", "a VIN has 17 characters, this has {length}"),
    "bad_phone": ("不是有效的电话号码（过长）", "not a phone number (too long)"),
    "bad_mileage": ("里程应在 0 到 9,999,999 公里之间", "mileage must be between 0 and 9,999,999 km"),
    "amount_too_large": ("金额过大", "amount too large"),
    "bad_age": ("年龄应在 1 到 119 之间", "age must be 1-119"),
    "duplicate": ("与本文件第 {first} 行重复，已跳过", "duplicate of row {first} in this file; skipped"),
    "no_customer": (
        "找不到该客户编号或手机号的客户，请先导入客户",
        "no customer with this code/phone; import the customers first",
    ),
    "no_vehicle": (
        "找不到该车架号或车牌的车辆，请先导入车辆",
        "no vehicle with this VIN/plate; import the vehicles first",
    ),
    "empty_amount": (
        "金额为空（免费项目请填 0；若是没有保存结果的公式，请用 Excel 打开并保存文件）",
        (
            "empty amount (write 0 for free work; a formula without a saved value: "
            "open and save the file in Excel)"
        ),
    ),
    "negative_amount": ("金额为负数", "amount is negative"),
    "future_date": ("进厂日期在将来", "visit date is in the future"),
    "bad_value": ("无效的值（{detail}）", "invalid value ({detail})"),
    "field_too_large": ("内容超过 {kib} KiB，未导入该行", "longer than {kib} KiB; the row is not imported"),
    "db_refused": (
        "数据库未能保存该行（详情已记入服务器日志）",
        "the database could not store this row (details in the server log)",
    ),
}
# A warning: the row was imported and this cell left empty (or at its default).
KEPT_EMPTY = ("；已留空导入该行", "; the row is imported with this cell empty")

# The errors workbook: sheet name and headers.
WORKBOOK = {
    "zh": ("未导入的行", ["行号", "列", "原因", "值"]),
    "en": ("Rows not imported", ["Row", "Column", "Reason", "Value"]),
}


class RowProblem(ValueError):
    """Why a cell cannot be imported: a code of ``ROW_ERRORS`` and its parameters. ``str()`` is
    the English sentence, so code that only knows ``ValueError`` still reads something useful."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(render(code, params, "en"))


def encode(code: str, **params: Any) -> str:
    """The stored form of a row error's reason."""
    return json.dumps({"code": code, **params}, ensure_ascii=False, separators=(",", ":"))


# Reasons stored before codes existed (plain English), recognised so they translate too.
_LEGACY = [
    (
        re.compile(
            "^"
            + re.escape(en)
            .replace(r"\{max\}", r"(?P<max>\d+)")
            .replace(r"\{length\}", r"(?P<length>\d+)")
            .replace(r"\{first\}", r"(?P<first>\d+)")
            + "$"
        ),
        code,
    )
    for code, (_zh, en) in ROW_ERRORS.items()
    if code != "bad_value"
]


def decode(reason: str | None) -> tuple[str | None, dict[str, Any]]:
    """``(code, params)`` of a stored reason; ``(None, {"text": reason})`` for one not understood."""
    text = reason or ""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("code") in ROW_ERRORS:
            params = {k: v for k, v in data.items() if k != "code"}
            return data["code"], params
    for pattern, code in _LEGACY:
        m = pattern.match(text)
        if m:
            return code, m.groupdict()
    return None, {"text": text}


def render(code: str, params: dict[str, Any], locale: str) -> str:
    zh, en = ROW_ERRORS[code]
    template = en if locale == "en" else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):  # a parameter missing from an odd stored row: the words without it
        return template


def describe(reason: str | None, locale: str = "zh") -> str:
    """A stored reason in ``locale`` (zh, en); an old free-text reason as it was stored."""
    code, params = decode(reason)
    if code is None:
        return params["text"]
    text = render(code, params, locale)
    if params.get("kept_empty"):
        text += KEPT_EMPTY[1 if locale == "en" else 0]
    return text


def lang_from_env(environ: dict[str, str]) -> str:
    """The CLI's language: English when LC_ALL, LC_MESSAGES or LANG (first set) says English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    return "zh"
