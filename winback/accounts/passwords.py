"""Password rules after NIST SP 800-63B (5.1.1.2, memorized secrets): long enough, not the
username, not a common password; no composition rules (no "one digit, one capital").

Spaces are allowed and count once per run ("  " is one character), so a blank password or
one padded with spaces to the length is refused. The common passwords are the vendored list
``common_passwords.txt`` beside this file (its header says where it comes from), compared
without case.
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from winback.config import PASSWORD_MIN_LENGTH
from winback.errors import InvalidInput
from winback.i18n import N_

_hasher = PasswordHasher()

COMMON_LIST = Path(__file__).with_name("common_passwords.txt")

# English message ids; their Chinese texts are in the one catalog (winback/i18n.py).
BLANK = N_("the password must not be blank")
TOO_SHORT = N_("the password must have at least {count} characters")
HAS_USERNAME = N_("the password must not be or contain the username")
TOO_COMMON = N_("this password is one of the most common ones; choose another")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check(password: str, *, username: str | None = None, field: str = "password") -> None:
    """Raise InvalidInput (on ``field``) naming the first rule ``password`` breaks."""
    collapsed = " ".join((password or "").split())
    if not collapsed:
        raise InvalidInput(BLANK, field=field)
    if len(collapsed) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(TOO_SHORT, count=PASSWORD_MIN_LENGTH, field=field)
    name = (username or "").strip().lower()
    if name and name in collapsed.lower():
        raise InvalidInput(HAS_USERNAME, field=field)
    if collapsed.lower() in common_passwords() or collapsed.lower().replace(" ", "") in common_passwords():
        raise InvalidInput(TOO_COMMON, field=field)


# Letters and digits that cannot be mistaken for one another when read aloud or off paper.
_GENERATED_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generate(length: int = 14) -> str:
    """A random first password (about 80 bits), handed out once and changed at the first log-in."""
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(max(length, PASSWORD_MIN_LENGTH)))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from (False for a damaged hash)."""
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return True
