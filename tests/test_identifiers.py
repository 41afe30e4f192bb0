"""The shortcut for plain mobile numbers gives libphonenumber's own answers."""

from __future__ import annotations

import random
import re

import phonenumbers

from winback.customers import identifiers


def _library(raw: str) -> tuple[str, bool]:
    num = phonenumbers.parse(raw, "CN")
    valid = phonenumbers.is_valid_number(num) and num.country_code == 86
    if num.country_code != 86:
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), valid
    national = re.sub(r"\D", "", phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL))
    return national, valid


def test_plain_mobiles_agree_with_the_library() -> None:
    rng = random.Random(20261130)
    # Every 4-digit block start (130..199 x 0..9) and random tails, valid and invalid blocks alike.
    numbers = [
        f"1{a}{b}{rng.randrange(10**8):08d}" for a in range(3, 10) for b in range(10) for _ in range(30)
    ]
    numbers += [f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}" for _ in range(5000)]
    disagreements = []
    for raw in numbers:
        ours = (identifiers.normalize_phone(raw), identifiers.phone_is_valid(raw))
        if ours != _library(raw):
            disagreements.append((raw, ours, _library(raw)))
    assert not disagreements, disagreements[:10]
    # Both answers occur: the sample is not all valid or all invalid blocks.
    assert {identifiers.phone_is_valid(n) for n in numbers} == {True, False}


def test_other_shapes_still_go_through_the_library() -> None:
    assert identifiers.normalize_phone(" 138 1234 5678 ") == "13812345678"
    assert identifiers.normalize_phone("+86 138-1234-5678") == "13812345678"
    assert identifiers.normalize_phone("020-12345678") == "02012345678"
    assert identifiers.phone_is_valid("02012345678")
    assert not identifiers.phone_is_valid("12345")
