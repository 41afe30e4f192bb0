"""Care calls: the advisor records how a call went, like a survey attempt."""

from __future__ import annotations

from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.care.models import (
    CALL_KINDS,
    CallOutcome,
    CareItem,
    CareStatus,
    CareTouch,
    TouchChannel,
    TouchStatus,
)
from winback.errors import Conflict, Forbidden, NotFound

# ---- calls --------------------------------------------------------------------------------


def record_call(
    *, session: Session, touch_id: int, outcome: CallOutcome, note: str | None, actor_staff: Staff
) -> CareTouch:
    """The advisor records how a care call went, like a survey attempt. A follow-up call or a
    complaint re-call made fulfils its item; "serviced elsewhere" and "not interested" are kept
    for the report's tally of reasons."""
    touch = session.get(CareTouch, touch_id)
    if touch is None or touch.store_id not in actor_staff.all_store_ids or touch.channel != TouchChannel.call:
        raise NotFound("no care call {touch_id}", touch_id=touch_id)
    mine = touch.advisor_id == actor_staff.id
    if not mine and not actor_staff.has_role(Role.supervisor, Role.manager, Role.admin):
        raise Forbidden("this call is in another advisor's queue")
    if touch.status != TouchStatus.pending:
        raise Conflict("care call {touch_id} is already closed", touch_id=touch_id, code="closed")
    note = (note or "").strip()[:500] or None
    item = session.get(CareItem, touch.item_id)
    touch.outcome, touch.outcome_note = outcome, note
    touch.attempts += 1
    if outcome != CallOutcome.unreachable:
        touch.status, touch.sent_at = TouchStatus.sent, clock.now()
    if item.kind in CALL_KINDS and outcome != CallOutcome.unreachable:
        item.status, item.fulfilled_on = CareStatus.fulfilled, clock.today()
        item.preceding_touch_id = touch.id
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="care.call_recorded",
        entity_type="care_touch",
        entity_id=touch.id,
        store_id=touch.store_id,
        customer_id=item.customer_id,
        changes={"outcome": outcome.value, "note": note, "kind": item.kind.value},
    )
    session.flush()
    return touch
