"""A store's churn reasons (流失原因): listing them, by code, and the admin's edits."""

from __future__ import annotations

import functools
import re

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from winback.accounts.models import Role, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.errors import Forbidden, InvalidInput, NotFound
from winback.surveys.models import (
    ReasonArea,
    ReasonCode,
)

OTHER_REASON = "other"
# More chosen codes than this are looked up in the store's whole list (offered_among).
FEW_CODES = 100


def reason_codes(*, session: Session, store_id: int, active_only: bool = True) -> list[ReasonCode]:
    stmt = select(ReasonCode).where(ReasonCode.store_id == store_id)
    if active_only:
        stmt = stmt.where(ReasonCode.active.is_(True))
    return list(session.scalars(stmt.order_by(ReasonCode.sort_order, ReasonCode.id)))


@functools.cache
def _offered_among() -> Select:
    return select(ReasonCode).where(
        ReasonCode.store_id == bindparam("store_id"),
        ReasonCode.active.is_(True),
        ReasonCode.code.in_(bindparam("codes", expanding=True)),
    )


def offered_among(*, session: Session, store_id: int, codes: list[str]) -> dict[str, ReasonCode]:
    """Of ``codes``, the reasons the store offers (active), by code: what a survey may record.
    Only those are read, not the store's whole list (a close names two or three); more codes
    than a store offers reasons (a client's mistake) are checked against the list instead, so
    that no statement binds more values than the database takes."""
    if not codes:
        return {}
    if len(codes) > FEW_CODES:
        offered = {rc.code: rc for rc in reason_codes(session=session, store_id=store_id)}
        return {c: offered[c] for c in codes if c in offered}
    found = session.scalars(_offered_among(), {"store_id": store_id, "codes": list(codes)})
    return {rc.code: rc for rc in found}


def reasons_by_code(*, session: Session, store_ids: list[int]) -> dict[str, ReasonCode]:
    """Every reason of the stores (retired ones too, for old tallies) by code; the first
    store's (the person's home store's) label wins where stores share a code."""
    out: dict[str, ReasonCode] = {}
    for store_id in reversed(store_ids):
        out.update(
            {rc.code: rc for rc in reason_codes(session=session, store_id=store_id, active_only=False)}
        )
    return out


_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def save_reason_code(
    *,
    session: Session,
    actor_staff: Staff,
    label_zh: str,
    label_en: str,
    code: str | None = None,
    reason_id: int | None = None,
    area: ReasonArea | None = None,
    active: bool = True,
) -> ReasonCode:
    """Add a churn reason to the actor's store or edit one (admin or manager), in both languages.

    The code is the stable key (tallies, the measure library and past surveys refer to it), so
    an existing reason keeps its code; its labels, area and whether it is offered may change.
    A reason is retired (``active=False``), never deleted.
    """
    if not actor_staff.has_role(Role.admin, Role.manager):
        raise Forbidden("only the administration or the manager edits the reasons")
    store_id = actor_staff.store_id
    label_zh, label_en = (label_zh or "").strip(), (label_en or "").strip()
    if not label_zh or not label_en:
        raise InvalidInput(
            "a reason needs a Chinese and an English label", field="label_zh" if not label_zh else "label_en"
        )
    if len(label_zh) > 120 or len(label_en) > 120:
        raise InvalidInput("a label has at most 120 characters", field="label_zh")
    if reason_id is not None:
        rc = session.get(ReasonCode, reason_id)
        if rc is None or rc.store_id != store_id:
            raise NotFound("no reason {reason_id}", reason_id=reason_id)
        action = "reason_code.updated"
    else:
        rc = _add_reason(
            session, store_id=store_id, code=code, label_zh=label_zh, label_en=label_en, area=area
        )
        action = "reason_code.added"
    changes = audit_service.diff(
        rc,
        {
            "label_zh": label_zh,
            "label_en": label_en,
            "area": area or rc.area,
            "active": active if reason_id is not None else True,
        },
    )
    session.flush()
    if changes or action == "reason_code.added":
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action=action,
            entity_type="store",
            entity_id=store_id,
            store_id=store_id,
            changes={"reason_code": rc.code, **changes},
        )
    return rc


def _add_reason(
    session: Session,
    *,
    store_id: int,
    code: str | None,
    label_zh: str,
    label_en: str,
    area: ReasonArea | None,
) -> ReasonCode:
    """A new reason at the end of the store's list, once its code is well-formed and unused."""
    code = (code or "").strip().lower()
    if not _CODE.match(code):
        raise InvalidInput(
            "a reason code is 2-40 lower-case letters, digits or _, starting with a letter", field="code"
        )
    if session.scalar(select(ReasonCode.id).where(ReasonCode.store_id == store_id, ReasonCode.code == code)):
        raise InvalidInput("the store already has this reason code", field="code")
    order = session.scalar(select(func.max(ReasonCode.sort_order)).where(ReasonCode.store_id == store_id))
    rc = ReasonCode(
        store_id=store_id,
        code=code,
        label_zh=label_zh,
        label_en=label_en,
        area=area or ReasonArea.other,
        active=True,
        sort_order=(order or 0) + 1,
    )
    session.add(rc)
    session.flush()
    return rc
