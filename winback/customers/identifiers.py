"""Phone numbers, VINs and plates: normalized and checked (pure functions, no database)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

# ---- phone numbers -----------------------------------------------------------------------

# A mainland mobile number as archives mostly hold it (11 digits, 13x-19x but 179). Such a number is its
# own national form, and libphonenumber decides its validity from its first digits alone
# (the carrier's number block), so the cleanup asks the library once per 7-digit block instead of
# once per customer: 30,000 phones took 9 s through the library, the blocks a few milliseconds.
# ``tests/test_identifiers.py`` checks the shortcut against the library on random numbers.
# 179xx is left to the library: it strips it as an IP-dialling prefix (17951 ...).
_PLAIN_MOBILE = re.compile(r"1(?:[3-68]\d|7[0-8]|9\d)\d{8}")
_BLOCK = 7


def normalize_phone(raw: str | None) -> str | None:
    """Mainland numbers in national form: 13812345678 (mobile), 02012345678 (landline with
    area code). Something libphonenumber cannot parse is kept as typed (without spaces)."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    if _PLAIN_MOBILE.fullmatch(text):
        return text
    try:
        num = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return re.sub(r"\s", "", text) or None
    if num.country_code != 86:
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    return re.sub(r"\D", "", national) or None


def phone_is_valid(phone: str | None) -> bool:
    """A valid Chinese mobile or landline number (libphonenumber's metadata)."""
    if not phone:
        return False
    if _PLAIN_MOBILE.fullmatch(phone):
        return _mobile_block_valid(phone[:_BLOCK])
    return _library_says_valid(phone)


@lru_cache(maxsize=4096)
def _mobile_block_valid(block: str) -> bool:
    return _library_says_valid(block + "0" * (11 - len(block)))


def _library_says_valid(phone: str) -> bool:
    try:
        num = phonenumbers.parse(phone, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(num) and num.country_code == 86


# ---- VINs --------------------------------------------------------------------------------

_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # 17 characters, never I, O or Q
_TRANSLIT = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_is_valid(vin: str | None) -> bool:
    return bool(_VIN.match(vin or ""))


def vin_check_digit_ok(vin: str | None) -> bool | None:
    """ISO 3779 / GB 16735 check digit (position 9). None when the VIN is not even well formed.
    Many Chinese VINs do not use it, so a False only flags the vehicle."""
    if not vin_is_valid(vin):
        return None
    total = sum(_TRANSLIT[ch] * w for ch, w in zip(vin, _WEIGHTS))
    expected = total % 11
    return vin[8] == ("X" if expected == 10 else str(expected))


# ---- plates ------------------------------------------------------------------------------

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Ordinary plates: province, city letter, 5 characters (no I/O); new-energy plates: 6 characters,
# D/F (small cars, first) or D/F last (large vehicles); special endings 学/警/港/澳/挂/领.
_PLATE = re.compile(
    rf"^[{_PROVINCES}][A-HJ-NP-Z]("
    r"[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳领]"
    r"|[DF][A-HJ-NP-Z0-9][0-9]{4}"
    r"|[0-9]{5}[DF]"
    r")$"
)


def normalize_plate(raw: str | None) -> str | None:
    if raw is None:
        return None
    s = re.sub(r"[\s·•\-.]", "", str(raw)).upper()
    return s or None


def plate_is_valid(plate: str | None) -> bool | None:
    if not plate:
        return None
    return bool(_PLATE.match(plate))


# ---- what the archive cleanup last checked -------------------------------------------------


def identifiers_marker(vin: str, plate: str | None) -> str:
    """``vehicles.identifiers_checked``: the VIN and plate as they were checked. The cleanup
    compares it with the vehicle's current ones (the same concatenation in SQL)."""
    return f"{vin}|{plate or ''}"
