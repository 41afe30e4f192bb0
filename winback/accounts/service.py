"""Stores, staff, log-in and the per-store settings."""
from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff, StaffRole, Store
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import ProcessDefaults, get_settings
from winback.errors import InvalidInput, NotFound

_hasher = PasswordHasher()



def effective_settings(store: Store) -> ProcessDefaults:
    """The store's business rules: the defaults of winback.config, overridden per store."""
    base = get_settings().process.model_dump()
    base.update(store.settings or {})
    return ProcessDefaults.model_validate(base)


def set_store_setting(*, session: Session, store: Store, key: str, value: Any, actor: Actor) -> Store:
    if key not in ProcessDefaults.model_fields:
        raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(ProcessDefaults.model_fields)}")
    merged = {**(store.settings or {}), key: value}
    try:
        validated = effective_settings(Store(settings=merged))  # type: ignore[call-arg]
    except ValueError as exc:
        raise InvalidInput(f"invalid value for {key}: {exc}") from None
    before = (store.settings or {}).get(key)
    store.settings = {**merged, key: getattr(validated, key)}
    audit_service.record(
        session=session, actor=actor, action="store.setting_changed", entity_type="store",
        entity_id=store.id, store_id=store.id,
        changes={key: {"before": before, "after": getattr(validated, key)}},
    )
    return store


def create_store(*, session: Session, code: str, name: str, actor: Actor) -> Store:
    from winback.surveys.service import seed_reason_codes

    store = Store(code=code, name=name, settings={}, created_at=clock.now())
    session.add(store)
    session.flush()
    seed_reason_codes(session=session, store_id=store.id)
    audit_service.record(
        session=session, actor=actor, action="store.created", entity_type="store",
        entity_id=store.id, store_id=store.id, changes={"code": code, "name": name},
    )
    return store


def get_store(*, session: Session, code: str) -> Store:
    store = session.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise NotFound(f"no store with code {code!r}")
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
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    if session.scalar(select(Staff.id).where(Staff.username == username)):
        raise InvalidInput(f"username {username!r} is taken", field="username")
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
        session=session, actor=actor, action="staff.created", entity_type="staff",
        entity_id=staff.id, store_id=store_id,
        changes={"username": username, "roles": [r.value for r in roles]},
    )
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
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"no staff member {staff_id}")
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
