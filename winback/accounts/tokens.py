"""API tokens for integrations (a DMS pushing its exports): created, listed, revoked, and
the person a token acts as. Only a hash of each token is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts import service as staff_admin
from winback.accounts.models import ApiToken, Role, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.errors import Forbidden, InvalidInput, NotFound

TOKEN_PREFIX = "wb_"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(
    *, session: Session, staff_id: int, name: str, actor_staff: Staff
) -> tuple[ApiToken, str]:
    """A new token for ``staff_id`` (an integration account) in that person's home store.
    Returns the row and the token itself, which is shown once and never stored."""
    staff = staff_admin.managed_staff(session, staff_id, actor_staff)
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
