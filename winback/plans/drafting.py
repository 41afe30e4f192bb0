"""Drafting the plan from the tally (整改措施制定) and editing its measures."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle
from winback.errors import InvalidInput, NotFound
from winback.plans.guards import editable, require_manager
from winback.plans.measure_library import measure_library_page
from winback.plans.models import (
    Measure,
    MeasureStatus,
    MeasureTemplate,
    PlanStatus,
    RectificationPlan,
)
from winback.plans.seeding import seed_measure_library
from winback.plans.versions import current_plan, get_plan
from winback.surveys.models import ReasonArea, ReasonCode


def draft_plan(*, session: Session, cycle_id: int, actor: Actor) -> RectificationPlan:
    """Draft the cycle's plan from its tally: one suggested measure per reason heard.

    Idempotent: a cycle that already has a plan keeps it.
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    existing = current_plan(session=session, cycle_id=cycle.id)
    if existing is not None:
        cycles.advance(session=session, cycle=cycle, to=CycleStage.planning, actor=actor)
        return existing
    managers = staff_with_role(session=session, store_id=cycle.store_id, role=Role.manager)
    owner_id = managers[0].id if managers else None
    due = clock.today() + timedelta(days=cycle.rules.measure_due_days)
    plan = RectificationPlan(
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        version=1,
        status=PlanStatus.draft,
        created_at=clock.now(),
        summary=None,
    )
    reasons = (cycle.tally or {}).get("reasons", {})
    plan.measures.extend(
        _measures_from_library(session, cycle=cycle, reasons=reasons, owner_id=owner_id, due=due)
    )
    session.add(plan)
    session.flush()
    for m in plan.measures:
        m.lineage_id = m.id
    audit_service.record(
        session=session,
        actor=actor,
        action="plan.drafted",
        entity_type="plan",
        entity_id=plan.id,
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        changes={"measures": [m.title for m in plan.measures], "from_reasons": reasons},
    )
    cycles.advance(session=session, cycle=cycle, to=CycleStage.planning, actor=actor)
    return plan


def _measures_from_library(
    session: Session, *, cycle: MonthlyCycle, reasons: dict[str, int], owner_id: int | None, due: date
) -> list[Measure]:
    """The library's active measures for each reason heard, the most frequent reason first."""
    codes = {
        rc.code: rc for rc in session.scalars(select(ReasonCode).where(ReasonCode.store_id == cycle.store_id))
    }
    seed_measure_library(session=session, store_id=cycle.store_id)
    library: dict[str, list[MeasureTemplate]] = {}
    for t in measure_library_page(session=session, store_id=cycle.store_id, page_size=None, active_only=True):
        library.setdefault(t.reason_code, []).append(t)
    measures: list[Measure] = []
    # Most frequent reasons first, so the plan reads in order of weight.
    for code, _count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        rc = codes.get(code)
        if rc is None:
            continue
        for t in library.get(code, []):
            measures.append(
                Measure(
                    store_id=cycle.store_id,
                    area=t.area,
                    title=t.title,
                    position=len(measures),
                    reason_code_id=rc.id,
                    owner_id=owner_id,
                    due_date=due,
                    expected_effect=t.expected_effect,
                    status=MeasureStatus.todo,
                    reasons=[rc],
                    expected_value=t.expected_value,
                    expected_unit=t.expected_unit,
                    estimated_cost=t.estimated_cost,
                )
            )
    return measures


def update_measure(
    *,
    session: Session,
    measure_id: int,
    actor_staff: Staff,
    title: str | None = None,
    owner_id: int | None = None,
    due_date: date | None = None,
    expected_effect: str | None = None,
    estimated_cost: Decimal | None = None,
    expected_value: Decimal | None = None,
    expected_unit: str | None = None,
    reasons: list[str] | None = None,
) -> Measure:
    measure = _editable_measure(session, measure_id, actor_staff)
    changes = _apply(
        session,
        measure,
        title=title,
        owner_id=owner_id,
        due_date=due_date,
        expected_effect=expected_effect,
        estimated_cost=estimated_cost,
        expected_value=expected_value,
        expected_unit=expected_unit,
        reasons=reasons,
    )
    if changes:
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="measure.updated",
            entity_type="plan",
            entity_id=measure.plan_id,
            store_id=measure.store_id,
            cycle_id=measure.plan.cycle_id,
            changes={"measure_id": measure.id, **changes},
        )
    session.flush()
    session.expire(measure, ["owner", "reason_code"])  # relationships follow the new ids
    return measure


def _apply(
    session: Session,
    measure: Measure,
    *,
    title: str | None = None,
    owner_id: int | None = None,
    due_date: date | None = None,
    expected_effect: str | None = None,
    estimated_cost: Decimal | None = None,
    expected_value: Decimal | None = None,
    expected_unit: str | None = None,
    reasons: list[str] | None = None,
) -> dict:
    """Check and set a measure's fields (None: unchanged); the changes, for the audit trail."""
    values: dict = {}
    if title is not None:
        if not title.strip():
            raise InvalidInput("a measure needs a title", field="title")
        values["title"] = title.strip()
    if owner_id is not None:
        owner = session.get(Staff, owner_id)
        if owner is None or owner.store_id != measure.store_id or not owner.active:
            raise InvalidInput("choose an active staff member of this store as owner", field="owner_id")
        values["owner_id"] = owner_id
        if owner_id != measure.owner_id:
            values["notified_at"] = None  # the new owner is told when the plan (or amendment) is approved
    if due_date is not None:
        if due_date < clock.today():
            raise InvalidInput("the due date lies in the past", field="due_date")
        values["due_date"] = due_date
    if expected_effect is not None:
        values["expected_effect"] = expected_effect.strip() or None
    if estimated_cost is not None:
        if estimated_cost < 0:
            raise InvalidInput("the cost must not be negative", field="estimated_cost")
        values["estimated_cost"] = estimated_cost
    if expected_value is not None:
        values["expected_value"] = expected_value
    if expected_unit is not None:
        values["expected_unit"] = expected_unit.strip() or None
    changes = audit_service.diff(measure, values)
    if reasons is not None:
        chosen = _reason_codes(session, measure.store_id, reasons)
        before_codes = sorted(r.code for r in measure.reasons)
        after_codes = sorted(r.code for r in chosen)
        if before_codes != after_codes:
            measure.reasons = chosen
            changes["reasons"] = {"before": before_codes, "after": after_codes}
    return changes


def _reason_codes(session: Session, store_id: int, codes: list[str]) -> list[ReasonCode]:
    codes = [c.strip() for c in codes if c and c.strip()]
    found = list(
        session.scalars(select(ReasonCode).where(ReasonCode.store_id == store_id, ReasonCode.code.in_(codes)))
    )
    unknown = sorted(set(codes) - {r.code for r in found})
    if unknown:
        raise InvalidInput("unknown reason code {unknown}", unknown=", ".join(unknown), field="reasons")
    return found


def add_measure(
    *,
    session: Session,
    plan_id: int,
    actor_staff: Staff,
    title: str,
    area: ReasonArea,
    owner_id: int,
    due_date: date,
    expected_effect: str | None = None,
    reason_code: str | None = None,
    estimated_cost: Decimal | None = None,
) -> Measure:
    """A measure of the manager's own (a recall campaign, say) at the end of a plan still editable."""
    require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    editable(plan)
    if not title.strip():
        raise InvalidInput("a measure needs a title", field="title")
    rc_id = None
    if reason_code:
        rc_id = session.scalar(
            select(ReasonCode.id).where(ReasonCode.store_id == plan.store_id, ReasonCode.code == reason_code)
        )
        if rc_id is None:
            raise InvalidInput(
                "unknown reason code '{reason_code}'", reason_code=reason_code, field="reason_code"
            )
    measure = Measure(
        store_id=plan.store_id,
        area=area,
        title=title.strip(),
        status=MeasureStatus.todo,
        reason_code_id=rc_id,
        position=max((m.position for m in plan.measures), default=-1) + 1,
    )
    plan.measures.append(measure)
    session.flush()
    measure.lineage_id = measure.id
    if reason_code:
        measure.reasons = _reason_codes(session, plan.store_id, [reason_code])
    values = _apply(
        session,
        measure,
        owner_id=owner_id,
        due_date=due_date,
        expected_effect=expected_effect,
        estimated_cost=estimated_cost,
    )
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="measure.added",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={
            "measure_id": measure.id,
            "title": measure.title,
            "area": area,
            "reason": reason_code,
            **{k: v["after"] for k, v in values.items()},
        },
    )
    session.flush()
    session.expire(measure, ["owner", "reason_code"])
    return measure


def _editable_measure(session: Session, measure_id: int, actor_staff: Staff) -> Measure:
    require_manager(actor_staff)
    measure = session.get(Measure, measure_id)
    if measure is None or measure.store_id not in actor_staff.all_store_ids:
        raise NotFound("no measure {measure_id}", measure_id=measure_id)
    editable(measure.plan)
    return measure


def remove_measure(*, session: Session, measure_id: int, actor_staff: Staff) -> RectificationPlan:
    """Take a measure out of a plan still editable (its draft or rejected version); audited with
    what it was, so the timeline can say what was removed. Returns the plan."""
    measure = _editable_measure(session, measure_id, actor_staff)
    plan = measure.plan
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="measure.removed",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={
            "measure_id": measure.id,
            "title": measure.title,
            "area": measure.area,
            "owner_id": measure.owner_id,
            "due_date": measure.due_date,
            "estimated_cost": measure.estimated_cost,
        },
    )
    plan.measures.remove(measure)  # delete-orphan: the measure and its reason links go
    session.flush()
    return plan


def reorder_measures(
    *, session: Session, plan_id: int, measure_ids: list[int], actor_staff: Staff
) -> RectificationPlan:
    """Put the plan's measures in the given order (every measure of the plan, each once)."""
    require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    editable(plan)
    current = [m.id for m in plan.measures]
    if sorted(measure_ids) != sorted(current):
        raise InvalidInput("name every measure of the plan once, in the new order", field="measure_ids")
    if measure_ids == current:
        return plan
    by_id = {m.id: m for m in plan.measures}
    for position, mid in enumerate(measure_ids):
        by_id[mid].position = position
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="measures.reordered",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={"order": {"before": current, "after": measure_ids}},
    )
    session.flush()
    session.expire(plan, ["measures"])
    return plan


def move_measure(*, session: Session, measure_id: int, up: bool, actor_staff: Staff) -> RectificationPlan:
    """One place up or down in its plan (the page's arrows); at either end nothing moves."""
    measure = _editable_measure(session, measure_id, actor_staff)
    order = [m.id for m in measure.plan.measures]
    i = order.index(measure.id)
    j = i - 1 if up else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    return reorder_measures(
        session=session, plan_id=measure.plan_id, measure_ids=order, actor_staff=actor_staff
    )
