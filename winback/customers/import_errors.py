"""An import's row errors as data, rendered in the reader's language.

A row error is stored as a stable code plus its parameters (``ImportRowError.reason`` holds
them as a small JSON object, e.g. ``{"code": "duplicate", "first": 2}``; the row number, the
file's column header and the cell's value have their own columns), so one import reads in
Simplified Chinese or English, whoever opens it: the report page, the errors workbook, the API
and the CLI render it with ``describe(reason, locale)``; the words come from the one catalog
(``winback.i18n``), the English texts below being its message ids.

Rows stored before this (a plain English sentence in ``reason``) still display: a known
sentence is recognised and translated, anything else is shown as it was.
"""

from __future__ import annotations

import json
import re
from typing import Any

from winback.i18n import N_, gettext, locale_from_env, translate

# code -> the English text (the message id of the catalog); str.format templates over the
# error's parameters.
ROW_ERRORS: dict[str, str] = {
    "required": N_("empty: a value is required"),
    "bad_date": N_("not a date"),
    "bad_amount": N_("not an amount"),
    "bad_number": N_("not a number"),
    "bad_gender": N_("gender must be 男 or 女"),
    "bad_customer_type": N_("customer type must be 私家车, 单位用车, 保险事故车 or 出租车"),
    "bad_grade": N_("vehicle grade must be 豪华, 中级, 中低级 or 经济型"),
    "too_long": N_("longer than {max} characters"),
    "name_too_long": N_("name longer than {max} characters"),
    "vin_length": N_("a VIN has 17 characters, this has {length}"),
    "bad_phone": N_("not a phone number (too long)"),
    "bad_mileage": N_("mileage must be between 0 and 9,999,999 km"),
    "amount_too_large": N_("amount too large"),
    "bad_age": N_("age must be 1-119"),
    "duplicate": N_("duplicate of row {first} in this file; skipped"),
    "no_customer": N_("no customer with this code/phone; import the customers first"),
    "no_vehicle": N_("no vehicle with this VIN/plate; import the vehicles first"),
    "empty_amount": N_(
        "empty amount (write 0 for free work; a formula without a saved value: open and save the file in Excel)"
    ),
    "negative_amount": N_("amount is negative"),
    "future_date": N_("visit date is in the future"),
    "bad_value": N_("invalid value ({detail})"),
    "field_too_large": N_("longer than {kib} KiB; the row is not imported"),
    "db_refused": N_("the database could not store this row (details in the server log)"),
}
# A warning: the row was imported and this cell left empty (or at its default).
KEPT_EMPTY = ("；已留空导入该行", "; the row is imported with this cell empty")

# The errors workbook: sheet name and headers.
WORKBOOK = (N_("Rows not imported"), [N_("Row"), N_("Column"), N_("Reason"), N_("Value")])


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
    for code, en in ROW_ERRORS.items()
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
    """The words from the catalog; a parameter missing from an odd stored row: the words without it."""
    return translate(ROW_ERRORS[code], locale, **params)


def workbook_titles(locale: str) -> tuple[str, list[str]]:
    """The errors workbook's sheet name and headers in ``locale``."""
    sheet, headers = WORKBOOK
    return gettext(sheet, locale), [gettext(h, locale) for h in headers]


def describe(reason: str | None, locale: str = "zh") -> str:
    """A stored reason in ``locale`` (zh, en); an old free-text reason as it was stored."""
    code, params = decode(reason)
    if code is None:
        return params["text"]
    text = render(code, params, locale)
    if params.get("kept_empty"):
        text += KEPT_EMPTY[1 if locale == "en" else 0]
    return text


lang_from_env = locale_from_env  # the CLI's language (LC_ALL, LC_MESSAGES, LANG; else Chinese)
