"""A cycle's plan and its versions (版本): the current one, the one in force, comparing two,
amending an approved plan (修订)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Staff
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.errors import Conflict, InvalidInput, NotFound
from winback.plans.guards import require_manager
from winback.plans.models import (
    Measure,
    PlanStatus,
    RectificationPlan,
)


def current_plan(*, session: Session, cycle_id: int) -> RectificationPlan | None:
    stmt = (
        select(RectificationPlan)
        .where(RectificationPlan.cycle_id == cycle_id)
        .order_by(RectificationPlan.version.desc())
    )
    return session.scalars(stmt).first()


def plan_in_force(*, session: Session, cycle_id: int) -> RectificationPlan | None:
    """The approved version being executed (a draft amendment does not replace it until approved)."""
    stmt = (
        select(RectificationPlan)
        .where(RectificationPlan.cycle_id == cycle_id, RectificationPlan.status == PlanStatus.approved)
        .order_by(RectificationPlan.version.desc())
    )
    return session.scalars(stmt).first()


def plan_versions(*, session: Session, cycle_id: int) -> list[RectificationPlan]:
    stmt = (
        select(RectificationPlan)
        .where(RectificationPlan.cycle_id == cycle_id)
        .order_by(RectificationPlan.version)
    )
    return list(session.scalars(stmt))


COMPARED = (
    "title",
    "area",
    "owner_id",
    "due_date",
    "expected_effect",
    "expected_value",
    "expected_unit",
    "estimated_cost",
)


def _measure_facts(m: Measure) -> dict:
    facts = {k: getattr(m, k) for k in COMPARED}
    facts["area"] = m.area.value
    facts["owner"] = m.owner.username if m.owner else None
    facts["reasons"] = sorted(r.code for r in m.reasons)
    facts["due_date"] = facts["due_date"].isoformat() if facts["due_date"] else None
    for k in ("expected_value", "estimated_cost"):  # one spelling whether loaded or just typed in
        facts[k] = f"{Decimal(facts[k]):.2f}" if facts[k] is not None else None
    return facts


def compare_versions(
    *, session: Session, old_id: int, new_id: int, store_ids: list[int] | None = None
) -> dict:
    """What changed between two versions of a cycle's plan: measures added, removed, changed."""
    old = get_plan(session=session, plan_id=old_id, store_ids=store_ids)
    new = get_plan(session=session, plan_id=new_id, store_ids=store_ids)
    if old.cycle_id != new.cycle_id:
        raise InvalidInput("the two plans belong to different cycles")
    before = {m.lineage_id or m.id: m for m in old.measures}
    after = {m.lineage_id or m.id: m for m in new.measures}
    changed = []
    for key in sorted(set(before) & set(after)):
        a, b = _measure_facts(before[key]), _measure_facts(after[key])
        diff = {k: {"before": a[k], "after": b[k]} for k in a if a[k] != b[k]}
        if diff:
            changed.append({"lineage_id": key, "title": b["title"], "changes": diff})
    return {
        "old": {"id": old.id, "version": old.version, "status": old.status.value},
        "new": {"id": new.id, "version": new.version, "status": new.status.value},
        "added": [_measure_facts(after[k]) | {"lineage_id": k} for k in sorted(set(after) - set(before))],
        "removed": [_measure_facts(before[k]) | {"lineage_id": k} for k in sorted(set(before) - set(after))],
        "changed": changed,
    }


def amend_plan(
    *, session: Session, plan_id: int, actor_staff: Staff, reason: str | None = None
) -> RectificationPlan:
    """A new draft version of an approved plan (修订). The approved version stays in force,
    unchanged, until the amendment is approved; measures keep their lineage and progress."""
    require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=[actor_staff.store_id])
    if plan.status != PlanStatus.approved:
        raise Conflict("only an approved plan is amended; edit the draft instead", code="plan_not_approved")
    latest = current_plan(session=session, cycle_id=plan.cycle_id)
    if latest is not None and latest.id != plan.id:
        raise Conflict(
            "version {version} already amends this plan", version=latest.version, code="plan_amendment_open"
        )
    new = RectificationPlan(
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        version=plan.version + 1,
        status=PlanStatus.draft,
        created_at=clock.now(),
        summary=plan.summary,
        amends_id=plan.id,
    )
    for m in plan.measures:
        new.measures.append(
            Measure(
                store_id=m.store_id,
                area=m.area,
                title=m.title,
                position=m.position,
                reason_code_id=m.reason_code_id,
                owner_id=m.owner_id,
                due_date=m.due_date,
                expected_effect=m.expected_effect,
                expected_value=m.expected_value,
                expected_unit=m.expected_unit,
                estimated_cost=m.estimated_cost,
                status=m.status,
                evidence=m.evidence,
                done_at=m.done_at,
                notified_at=m.notified_at,
                lineage_id=m.lineage_id or m.id,
                reasons=list(m.reasons),
                last_reminder_at=m.last_reminder_at,
                reminders=m.reminders,
                escalated_at=m.escalated_at,
            )
        )
    session.add(new)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="plan.amended",
        entity_type="plan",
        entity_id=new.id,
        store_id=new.store_id,
        cycle_id=new.cycle_id,
        changes={"amends": plan.id, "version": new.version, "reason": (reason or "").strip() or None},
    )
    return new


def get_plan(*, session: Session, plan_id: int, store_ids: list[int] | None = None) -> RectificationPlan:
    plan = session.get(RectificationPlan, plan_id)
    if plan is None or (store_ids is not None and plan.store_id not in store_ids):
        raise NotFound("no plan {plan_id}", plan_id=plan_id)
    return plan


def plan_count(*, session: Session, cycle_id: int) -> int:
    return session.scalar(select(func.count()).where(RectificationPlan.cycle_id == cycle_id)) or 0
