"""Logging in (behind a rate limit kept in the database) and changing one's own password."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts import passwords
from winback.accounts.models import LoginAttempt, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import get_settings
from winback.errors import DomainError, InvalidInput


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


def log_in(*, session: Session, username: str, password: str, address: str) -> Staff | None:
    """``authenticate`` behind the rate limit: failed attempts are kept per account and address
    (in the database, so the limit holds across workers); TooManyAttempts once over the limit.
    The caller commits even when this returns None, so the failure counts."""
    address = (address or "unknown")[:64]
    username = username[:80]
    _check_rate_limit(session, username, address)
    staff = authenticate(session=session, username=username, password=password)
    if staff is None:
        session.add(LoginAttempt(at=clock.now(), username=username, address=address))
        session.flush()
    else:  # the right password: this account's earlier typos no longer count against it
        session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    return staff


def authenticate(*, session: Session, username: str, password: str) -> Staff | None:
    staff = session.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.active:
        passwords.hash_password(password)  # same cost whether or not the user exists
        return None
    if not passwords.matches(staff.password_hash, password):
        return None
    return staff


def change_password(*, session: Session, staff: Staff, old_password: str, new_password: str) -> Staff:
    if not passwords.matches(staff.password_hash, old_password):
        raise InvalidInput("the current password is wrong", field="old_password")
    passwords.check(new_password, username=staff.username, field="password")
    if new_password == old_password:
        raise InvalidInput("choose a new password, not the current one", field="new_password")
    staff.password_hash = passwords.hash_password(new_password)
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
