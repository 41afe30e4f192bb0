"""Logging in (behind a rate limit kept in the database) and changing one's own password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts import passwords
from winback.accounts.models import LoginAttempt, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import get_settings
from winback.errors import Conflict, DomainError, InvalidInput


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"


def _check_rate_limit(session: Session, username: str, address: str) -> None:
    """Per account (``login_max_failures``) and, looser, per address
    (``login_max_failures_per_address``): one person's typos lock only their own account."""
    settings = get_settings()
    since = clock.now() - timedelta(minutes=settings.login_window_minutes)
    for column, value, limit in (
        (LoginAttempt.username, username, settings.login_max_failures),
        (LoginAttempt.address, address, settings.login_max_failures_per_address),
    ):
        failures = session.scalar(
            select(func.count()).select_from(LoginAttempt).where(column == value, LoginAttempt.at >= since)
        )
        if failures >= limit:
            raise TooManyAttempts("Too many failed log-ins; please try again later.")


@dataclass(frozen=True)
class Attempt:
    """A log-in between its steps: who asked, from where, and the stored password hash to
    check against (None when there is no such active person)."""

    username: str
    address: str
    staff_id: int | None = None
    password_hash: str | None = None


def look_up(*, session: Session, username: str, address: str) -> Attempt:
    """A log-in's first step, reading only: the rate limit (TooManyAttempts once over it) and
    the person's stored password hash.

    A log-in is three steps so that the slow one holds no database connection: the caller
    ends this transaction (its connection goes back to the pool), checks the password
    (``check_password``, slow by design) and then records the outcome (``record``) in a new
    short one. Holding a pooled connection through the hashing, a few dozen people logging
    in at once used up the pool."""
    address = (address or "unknown")[:64]
    username = username[:80]
    _check_rate_limit(session, username, address)
    row = session.execute(
        select(Staff.id, Staff.password_hash).where(Staff.username == username, Staff.active)
    ).first()
    if row is None:
        return Attempt(username=username, address=address)
    return Attempt(username=username, address=address, staff_id=row.id, password_hash=row.password_hash)


def check_password(attempt: Attempt, password: str) -> bool:
    """The second step, without the database: whether ``password`` is the person's. Slow by
    design, and as slow for a person who does not exist (a hash is made all the same), so the
    time taken does not tell whether a username exists."""
    if attempt.password_hash is None:
        passwords.hash_password(password)
        return False
    return passwords.matches(attempt.password_hash, password)


def record(*, session: Session, attempt: Attempt, ok: bool) -> Staff | None:
    """The last step: the person logged in, or None. A failure is kept towards the rate limit
    (the caller commits even then, so that it counts); a success clears this account's earlier
    failures. A person deactivated, or whose password changed, since ``look_up`` is refused:
    the password checked is no longer theirs."""
    staff = None
    if ok and attempt.staff_id is not None:  # as stored now, not as an earlier read left it
        staff = session.get(Staff, attempt.staff_id, populate_existing=True)
    if staff is not None and (not staff.active or staff.password_hash != attempt.password_hash):
        staff = None
    if staff is None:
        session.add(LoginAttempt(at=clock.now(), username=attempt.username, address=attempt.address))
        session.flush()
    else:  # the right password: this account's earlier typos no longer count against it
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == attempt.username))
    return staff


@dataclass(frozen=True)
class PasswordChange:
    """A password change checked and hashed, to be applied: the hash it replaces and the new one."""

    old_hash: str
    new_hash: str


def prepare_password_change(*, staff: Staff, old_password: str, new_password: str) -> PasswordChange:
    """The slow part of changing one's password, without the database: the current password
    checked and the new one hashed (two Argon2 runs). The caller holds no pooled connection
    meanwhile (as for a log-in: ``look_up``), then applies it with ``change_password``."""
    if not passwords.matches(staff.password_hash, old_password):
        raise InvalidInput("the current password is wrong", field="old_password")
    passwords.check(new_password, username=staff.username, field="password")
    if new_password == old_password:
        raise InvalidInput("choose a new password, not the current one", field="new_password")
    return PasswordChange(old_hash=staff.password_hash, new_hash=passwords.hash_password(new_password))


def change_password(*, session: Session, staff: Staff, change: PasswordChange) -> Staff:
    """Apply a prepared change: every other session of the person ends, audited. Refused
    (Conflict) when the password changed since it was checked."""
    session.refresh(staff, attribute_names=["password_hash", "session_version"])
    if staff.password_hash != change.old_hash:
        raise Conflict("the password was changed meanwhile; log in again with the new one")
    staff.password_hash = change.new_hash
    staff.must_change_password = False
    staff.session_version += 1  # every session of this person ends (winback.accounts.sessions)
    audit_service.record(
        session=session,
        actor=Actor.person(staff),
        action="staff.password_changed",
        entity_type="staff",
        entity_id=staff.id,
        store_id=staff.store_id,
        changes={},
    )
    return staff
