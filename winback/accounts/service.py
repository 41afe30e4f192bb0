"""Stores, staff, log-in and the per-store settings."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from winback import clock
from winback.accounts import passwords, staff_rules
from winback.accounts.models import ApiToken, LoginAttempt, Role, Staff, StaffRole, StaffStore, Store
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import ProcessDefaults, get_settings, rules_over_defaults
from winback.errors import DomainError, Forbidden, InvalidInput, NotFound, validation_problem
from winback.i18n import N_
from winback.paging import PAGE_SIZE, Page, matches, paginate, words

_hasher = PasswordHasher()


def effective_settings(store: Store) -> ProcessDefaults:
    """The store's business rules: the defaults of winback.config, overridden per store."""
    return rules_over_defaults(store.settings)


# The words of the settings' own checks (``config.ProcessDefaults``, which sits below the catalog).
SETTING_RULES = (N_("at_risk_months must be below lost_months"),)


def set_store_setting(*, session: Session, store: Store, key: str, value: Any, actor: Actor) -> Store:
    if key not in ProcessDefaults.model_fields:
        raise InvalidInput(
            "unknown setting '{key}'; known: {known}", key=key, known=", ".join(ProcessDefaults.model_fields)
        )
    merged = {**(store.settings or {}), key: value}
    try:
        validated = effective_settings(Store(settings=merged))  # type: ignore[call-arg]
    except ValidationError as exc:  # one line: the first problem, in the reader's language
        problem = validation_problem(exc.errors()[0]) if exc.errors() else str(exc)
        raise InvalidInput("invalid value for {key}: {exc}", key=key, exc=problem, field=key) from None
    except ValueError as exc:
        raise InvalidInput(
            "invalid value for {key}: {exc}", key=key, exc=" ".join(str(exc).split())
        ) from None
    before = (store.settings or {}).get(key)
    store.settings = {**merged, key: getattr(validated, key)}
    audit_service.record(
        session=session,
        actor=actor,
        action="store.setting_changed",
        entity_type="store",
        entity_id=store.id,
        store_id=store.id,
        changes={key: {"before": before, "after": getattr(validated, key)}},
    )
    return store


def create_store(*, session: Session, code: str, name: str, actor: Actor) -> Store:
    """The store record alone; ``winback.stores.create_store`` also gives it its seeds."""
    store = Store(code=code, name=name, settings={}, created_at=clock.now())
    session.add(store)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="store.created",
        entity_type="store",
        entity_id=store.id,
        store_id=store.id,
        changes={"code": code, "name": name},
    )
    return store


def get_store(*, session: Session, code: str) -> Store:
    store = session.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise NotFound("no store with code '{store_code}'", store_code=code)
    return store


def list_stores(*, session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.code)))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_staff(
    *,
    session: Session,
    store_id: int,
    username: str,
    display_name: str,
    password: str,
    roles: list[Role],
    apprise_url: str | None = None,
    actor: Actor,
) -> Staff:
    _check_password(password, username=username)
    if session.scalar(select(Staff.id).where(Staff.username == username)):
        raise InvalidInput("username '{username}' is taken", username=username, field="username")
    staff = Staff(
        store_id=store_id,
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        apprise_url=apprise_url,
        active=True,
        created_at=clock.now(),
        role_rows=[StaffRole(role=r) for r in roles],
    )
    session.add(staff)
    session.flush()
    audit_service.record(
        session=session,
        actor=actor,
        action="staff.created",
        entity_type="staff",
        entity_id=staff.id,
        store_id=store_id,
        changes={"username": username, "roles": [r.value for r in roles]},
    )
    return staff


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
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    try:
        _hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return staff


def get_staff(*, session: Session, staff_id: int) -> Staff:
    # Every request loads the person logged in: roles and stores in the same statement
    # instead of one more round trip each.
    staff = session.get(Staff, staff_id, options=[joinedload(Staff.role_rows), joinedload(Staff.store_rows)])
    if staff is None:
        raise NotFound("no staff member {staff_id}", staff_id=staff_id)
    return staff


def staff_with_role(*, session: Session, store_id: int, role: Role, active_only: bool = True) -> list[Staff]:
    stmt = (
        select(Staff)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(Staff.store_id == store_id, StaffRole.role == role)
        .order_by(Staff.id)
    )
    if active_only:
        stmt = stmt.where(Staff.active.is_(True))
    return list(session.scalars(stmt).unique())


def list_staff(*, session: Session, store_id: int) -> list[Staff]:
    return list(session.scalars(select(Staff).where(Staff.store_id == store_id).order_by(Staff.id)))


def staff_of_stores(*, session: Session, store_ids: list[int]) -> list[Staff]:
    """Everyone whose home store is one of ``store_ids`` (the admin page)."""
    return list(
        session.scalars(select(Staff).where(Staff.store_id.in_(store_ids)).order_by(Staff.store_id, Staff.id))
    )


def staff_page(
    *,
    session: Session,
    store_ids: list[int],
    search: str | None = None,
    page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> Page[Staff]:
    """``staff_of_stores`` a page at a time; ``search`` matches the name or the username."""
    stmt = (
        select(Staff)
        .where(Staff.store_id.in_(store_ids), matches(search, Staff.display_name, Staff.username))
        .order_by(Staff.store_id, Staff.id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


# ---- administration of staff ------------------------------------------------------------


def _check_password(password: str, *, username: str | None = None) -> None:
    passwords.check(password, username=username, field="password")


def change_password(*, session: Session, staff: Staff, old_password: str, new_password: str) -> Staff:
    try:
        _hasher.verify(staff.password_hash, old_password)
    except (VerificationError, InvalidHashError):
        raise InvalidInput("the current password is wrong", field="old_password") from None
    _check_password(new_password, username=staff.username)
    staff.password_hash = hash_password(new_password)
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


LANGUAGES = ("zh", "en")


def set_language(*, session: Session, staff: Staff, locale: str | None) -> Staff:
    """A person's own language: the pages, notifications and exports they get (zh or en);
    None or "" follows the browser's Accept-Language (the pages) and the default (messages)."""
    locale = (locale or "").strip() or None
    if locale is not None and locale not in LANGUAGES:
        raise InvalidInput("choose a language: zh or en", field="locale")
    if staff.locale == locale:
        return staff
    before, staff.locale = staff.locale, locale
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(staff),
        action="staff.language_changed",
        entity_type="staff",
        entity_id=staff.id,
        store_id=staff.store_id,
        changes={"locale": {"before": before, "after": locale}},
    )
    return staff


def _managed_staff(session: Session, staff_id: int, actor_staff: Staff) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None or staff.store_id not in actor_staff.all_store_ids:
        raise NotFound("no staff member {staff_id}", staff_id=staff_id)
    if not actor_staff.has_role(Role.admin):
        raise Forbidden("only an admin manages staff")
    return staff


def set_active(*, session: Session, staff_id: int, active: bool, actor_staff: Staff) -> Staff:
    staff = _managed_staff(session, staff_id, actor_staff)
    if not active:
        staff_rules.check_deactivation(session=session, staff=staff, actor_staff=actor_staff)
    changes = audit_service.diff(staff, {"active": active})
    if changes:
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="staff.activated" if active else "staff.deactivated",
            entity_type="staff",
            entity_id=staff.id,
            store_id=staff.store_id,
            changes=changes,
        )
    return staff


def set_roles(*, session: Session, staff_id: int, roles: list[Role], actor_staff: Staff) -> Staff:
    staff = _managed_staff(session, staff_id, actor_staff)
    wanted = {Role(r) for r in roles}
    if not wanted:
        raise InvalidInput("give at least one role", field="roles")
    if staff.id == actor_staff.id and Role.admin not in wanted:
        raise InvalidInput("you cannot take the admin role from yourself", field="roles")
    if staff.active and Role.admin in staff.roles and Role.admin not in wanted:
        staff_rules.check_last_admin(session=session, staff=staff)
    before = sorted(r.value for r in staff.roles)
    staff.role_rows = [r for r in staff.role_rows if r.role in wanted] + [
        StaffRole(role=r) for r in sorted(wanted - staff.roles, key=lambda r: r.value)
    ]
    after = sorted(r.value for r in wanted)
    if before != after:
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="staff.roles_changed",
            entity_type="staff",
            entity_id=staff.id,
            store_id=staff.store_id,
            changes={"roles": {"before": before, "after": after}},
        )
    session.flush()
    return staff


def add_store_access(*, session: Session, staff_id: int, store_id: int, actor: Actor) -> Staff:
    """Let a person work in a further store of the group (an area manager, a group auditor)."""
    staff = get_staff(session=session, staff_id=staff_id)
    if session.get(Store, store_id) is None:
        raise NotFound("no store {store_id}", store_id=store_id)
    if store_id not in staff.all_store_ids:
        staff.store_rows.append(StaffStore(store_id=store_id))
        session.flush()
        audit_service.record(
            session=session,
            actor=actor,
            action="staff.store_added",
            entity_type="staff",
            entity_id=staff.id,
            store_id=store_id,
            changes={"store_id": store_id},
        )
    return staff


# ---- API tokens for integrations -------------------------------------------------------

TOKEN_PREFIX = "wb_"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(
    *, session: Session, staff_id: int, name: str, actor_staff: Staff
) -> tuple[ApiToken, str]:
    """A new token for ``staff_id`` (an integration account) in that person's home store.
    Returns the row and the token itself, which is shown once and never stored."""
    staff = _managed_staff(session, staff_id, actor_staff)
    name = name.strip()
    if not name:
        raise InvalidInput("give the token a name (e.g. DMS)", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        store_id=staff.store_id,
        staff_id=staff.id,
        name=name[:120],
        token_hash=_token_hash(token),
        prefix=token[:10],
        created_at=clock.now(),
        created_by_id=actor_staff.id,
    )
    session.add(row)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="api_token.created",
        entity_type="api_token",
        entity_id=row.id,
        store_id=row.store_id,
        changes={"name": row.name, "staff_id": staff.id, "prefix": row.prefix},
    )
    return row, token


def revoke_api_token(*, session: Session, token_id: int, actor_staff: Staff) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.store_id not in actor_staff.all_store_ids:
        raise NotFound("no API token {token_id}", token_id=token_id)
    if not actor_staff.has_role(Role.admin):
        raise Forbidden("only an admin manages API tokens")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="api_token.revoked",
            entity_type="api_token",
            entity_id=row.id,
            store_id=row.store_id,
            changes={"name": row.name, "prefix": row.prefix},
        )
    return row


def list_api_tokens(*, session: Session, store_ids: list[int]) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.store_id.in_(store_ids)).order_by(ApiToken.id))
    )


def staff_for_token(*, session: Session, token: str) -> Staff | None:
    """The active staff member a live token acts as, scoped to the token's store; else None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or not row.staff.active:
        return None
    if row.store_id not in row.staff.all_store_ids:
        return None
    row.last_used_at = clock.now()
    staff = row.staff
    staff.token_store_id = row.store_id
    return staff
