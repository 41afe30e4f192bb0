"""Care calls: the advisor records how a call went, like a survey attempt; what the calls heard
while a cycle's surveys ran goes into that cycle's tally (结果统计) beside the survey reasons."""

from __future__ import annotations

from sqlalchemy import func, select
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
from winback.cycles.models import MonthlyCycle
from winback.errors import Conflict, Forbidden, NotFound

# ---- calls --------------------------------------------------------------------------------


def record_call(
    *, session: Session, touch_id: int, outcome: CallOutcome, note: str | None, actor_staff: Staff
) -> CareTouch:
    """The advisor records how a care call went, like a survey attempt. A follow-up call or a
    complaint re-call made fulfils its item; "serviced elsewhere" and "not interested" are kept
    for the cycle's tally of reasons (``add_to_tally``)."""
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


# ---- into the cycle's tally ---------------------------------------------------------------


def add_to_tally(*, session: Session, cycle_id: int) -> dict[str, int] | None:
    """Count the care calls answered in the cycle's store while its surveys ran (from the cycle's
    start to its tally) by outcome, and keep the counts in the tally as ``care_calls``: active
    customers who say they were serviced elsewhere or are not interested are the early form of
    the reasons the survey asks lost ones. Once set, the counts stay (like the tally itself)."""
    cycle = session.get(MonthlyCycle, cycle_id)
    if cycle is None or cycle.tally is None:
        return None
    if "care_calls" in cycle.tally:
        return cycle.tally["care_calls"]
    until = cycle.tallied_at or clock.now()
    rows = session.execute(
        select(CareTouch.outcome, func.count())
        .where(
            CareTouch.store_id == cycle.store_id,
            CareTouch.channel == TouchChannel.call,
            CareTouch.outcome.is_not(None),
            CareTouch.outcome != CallOutcome.unreachable,
            CareTouch.sent_at >= cycle.started_at,
            CareTouch.sent_at <= until,
        )
        .group_by(CareTouch.outcome)
    ).all()
    counts = {o.value: 0 for o in CallOutcome if o != CallOutcome.unreachable}
    counts.update({outcome.value: int(n) for outcome, n in rows})
    cycle.tally = {**cycle.tally, "care_calls": counts}  # a new dict: the JSON column sees the change
    session.flush()
    return counts
