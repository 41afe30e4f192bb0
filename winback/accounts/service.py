"""Stores and their settings, staff and their administration. Log-in and password changes are
``accounts/authentication.py``; API tokens ``accounts/tokens.py``."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload, lazyload
from sqlalchemy.orm.util import identity_key

from winback import clock
from winback.accounts import passwords, staff_rules
from winback.accounts.models import Role, Staff, StaffRole, StaffStore, Store
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.config import ProcessDefaults, rules_over_defaults
from winback.errors import Forbidden, InvalidInput, NotFound, validation_problem
from winback.i18n import N_
from winback.paging import PAGE_SIZE, Page, matches, paginate, words


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


def create_staff(
    *,
    session: Session,
    store_id: int,
    username: str,
    display_name: str,
    password: str,
    roles: list[Role],
    apprise_url: str | None = None,
    must_change_password: bool = False,
    actor: Actor,
) -> Staff:
    """A new account. ``must_change_password``: the password was generated or chosen by
    someone else, so its owner must choose their own at the first log-in."""
    _check_password(password, username=username)
    if session.scalar(select(Staff.id).where(Staff.username == username)):
        raise InvalidInput("username '{username}' is taken", username=username, field="username")
    staff = Staff(
        store_id=store_id,
        username=username,
        display_name=display_name,
        password_hash=passwords.hash_password(password),
        apprise_url=apprise_url,
        active=True,
        must_change_password=must_change_password,
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


@functools.cache
def _staff_with_roles() -> Select:
    """Every request loads the person logged in: roles and stores in the same statement instead
    of one more round trip each. Built once, so that SQLAlchemy works out its cache key once,
    not on every request (``Session.get`` with these options: 0.61 ms of CPU; this: 0.44 ms).
    Built at first use, not at import: the loader options configure the mappers, which needs
    every model imported first."""
    return (
        select(Staff)
        .options(joinedload(Staff.role_rows), joinedload(Staff.store_rows))
        .where(Staff.id == bindparam("staff_id"))
    )


def get_staff(*, session: Session, staff_id: int) -> Staff:
    # One already in the session is that one, as Session.get would give it, without a query.
    staff = session.identity_map.get(identity_key(Staff, staff_id))
    if staff is None:
        staff = session.execute(_staff_with_roles(), {"staff_id": staff_id}).unique().scalar_one_or_none()
    if staff is None:
        raise NotFound("no staff member {staff_id}", staff_id=staff_id)
    return staff


def any_administrator(*, session: Session) -> bool:
    """Whether anyone can administer this installation: an active admin in any store. Until
    then the pages offer only the first-run set-up (``winback.roster.first_run``)."""
    stmt = (
        select(Staff.id)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(StaffRole.role == Role.admin, Staff.active.is_(True))
        .limit(1)
    )
    return session.scalar(stmt) is not None


def active_with_role(*, session: Session, staff_id: int, store_id: int, role: Role) -> Staff | None:
    """``staff_id`` if they are an active member of the store holding ``role`` (one of
    ``staff_with_role``), else None: one person checked without reading the whole team."""
    stmt = (
        select(Staff)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(
            Staff.id == staff_id,
            Staff.store_id == store_id,
            StaffRole.role == role,
            Staff.active.is_(True),
        )
        # their roles and further stores are read only if something asks (two statements more)
        .options(lazyload(Staff.role_rows), lazyload(Staff.store_rows))
    )
    return session.scalars(stmt).unique().one_or_none()


def _holding(store_id: Any, role: Any, active_only: bool = True) -> tuple:
    """The people of the store holding ``role`` (joined to their roles): values or bound names."""
    where = (Staff.store_id == store_id, StaffRole.role == role)
    return (*where, Staff.active.is_(True)) if active_only else where


def staff_with_role(*, session: Session, store_id: int, role: Role, active_only: bool = True) -> list[Staff]:
    stmt = (
        select(Staff)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(*_holding(store_id, role, active_only))
        .order_by(Staff.id)
    )
    return list(session.scalars(stmt).unique())


class StaffName(NamedTuple):
    """One person as a form offers them (a choice of advisor): no roles or stores read."""

    id: int
    display_name: str


@functools.cache
def _names_with_role() -> Select:
    return (
        select(Staff.id, Staff.display_name)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(*_holding(bindparam("store_id"), bindparam("role")))
        .order_by(Staff.id)
    )


def names_with_role(*, session: Session, store_id: int, role: Role) -> list[StaffName]:
    """The active people of the store holding ``role``, as choices (``staff_with_role`` as
    names): one statement, where the people as objects cost three (their roles and further
    stores are loaded with each)."""
    return [
        StaffName(*row) for row in session.execute(_names_with_role(), {"store_id": store_id, "role": role})
    ]


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


def managed_staff(session: Session, staff_id: int, actor_staff: Staff) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None or staff.store_id not in actor_staff.all_store_ids:
        raise NotFound("no staff member {staff_id}", staff_id=staff_id)
    if not actor_staff.has_role(Role.admin):
        raise Forbidden("only an admin manages staff")
    return staff


def set_active(*, session: Session, staff_id: int, active: bool, actor_staff: Staff) -> Staff:
    staff = managed_staff(session, staff_id, actor_staff)
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
    staff = managed_staff(session, staff_id, actor_staff)
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
