"""Rectification plan (整改措施制定): draft from the tally, edit, submit, approve, execute."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from winback import clock
from winback.accounts.models import Role, Staff
from winback.accounts.service import staff_with_role
from winback.actor import Actor
from winback.audit import service as audit_service
from winback.customers.models import Customer, ServiceVisit
from winback.cycles import service as cycles
from winback.cycles.models import CycleStage, MonthlyCycle, Target
from winback.errors import Conflict, Forbidden, InvalidInput, NotFound
from winback.notifications import service as notifications
from winback.notifications.messages import Month, Text
from winback.paging import PAGE_SIZE, Page, matches, paginate, paginate_list, text_matches, words
from winback.plans.models import (
    Measure,
    MeasureAttachment,
    MeasureStatus,
    MeasureTemplate,
    PlanStatus,
    RectificationPlan,
    ReturnCallback,
    Voucher,
)
from winback.plans.seeding import seed_measure_library
from winback.surveys.models import ReasonArea, ReasonCode, SurveyStatus, SurveyTask
from winback.surveys.service import require_customer_access

EDITABLE = {PlanStatus.draft, PlanStatus.rejected}
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


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
    _require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=[actor_staff.store_id])
    if plan.status != PlanStatus.approved:
        raise Conflict("only an approved plan is amended; edit the draft instead", code="plan_not_approved")
    latest = current_plan(session=session, cycle_id=plan.cycle_id)
    if latest is not None and latest.id != plan.id:
        raise Conflict(f"version {latest.version} already amends this plan", code="plan_amendment_open")
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
        raise NotFound(f"no plan {plan_id}")
    return plan


# ---- the store's library of typical measures -----------------------------------------------


def measure_library(*, session: Session, store_id: int, active_only: bool = True) -> list[MeasureTemplate]:
    stmt = select(MeasureTemplate).where(MeasureTemplate.store_id == store_id)
    if active_only:
        stmt = stmt.where(MeasureTemplate.active.is_(True))
    return list(session.scalars(stmt.order_by(MeasureTemplate.reason_code, MeasureTemplate.id)))


def english_titles(*, session: Session, store_ids: list[int]) -> dict[str, str]:
    """The store library's English titles by Chinese title: a measure drafted from the library
    keeps the library's title, and English readers see its English title (until it is edited)."""
    rows = session.execute(
        select(MeasureTemplate.title, MeasureTemplate.title_en).where(
            MeasureTemplate.store_id.in_(store_ids), MeasureTemplate.title_en.is_not(None)
        )
    )
    return {title: title_en for title, title_en in rows if title_en}


def measure_library_page(
    *,
    session: Session,
    store_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page[MeasureTemplate]:
    """The library page: every template (retired ones too), searched by its title in either language, reason code or effect."""
    stmt = (
        select(MeasureTemplate)
        .where(
            MeasureTemplate.store_id == store_id,
            matches(
                search,
                MeasureTemplate.title,
                MeasureTemplate.title_en,
                MeasureTemplate.reason_code,
                MeasureTemplate.expected_effect,
            ),
        )
        .order_by(MeasureTemplate.reason_code, MeasureTemplate.id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def save_template(
    *,
    session: Session,
    actor_staff: Staff,
    reason_code: str,
    title: str,
    template_id: int | None = None,
    title_en: str | None = None,
    area: ReasonArea | None = None,
    expected_effect: str | None = None,
    expected_value: Decimal | None = None,
    expected_unit: str | None = None,
    estimated_cost: Decimal | None = None,
    active: bool = True,
) -> MeasureTemplate:
    """Add a typical measure to the store's library, or edit one (manager)."""
    _require_manager(actor_staff)
    store_id = actor_staff.store_id
    if template_id is not None:
        existing = session.get(MeasureTemplate, template_id)
        if existing is None or existing.store_id != store_id:
            raise NotFound(f"no measure template {template_id}")
    seed_measure_library(session=session, store_id=store_id)
    rc = session.scalar(
        select(ReasonCode).where(ReasonCode.store_id == store_id, ReasonCode.code == reason_code)
    )
    if rc is None:
        raise InvalidInput(f"unknown reason code {reason_code!r}", field="reason_code")
    if not (title or "").strip():
        raise InvalidInput("a measure needs a title", field="title")
    if estimated_cost is not None and estimated_cost < 0:
        raise InvalidInput("the cost must not be negative", field="estimated_cost")
    clash = session.scalar(
        select(MeasureTemplate.id).where(
            MeasureTemplate.store_id == store_id,
            MeasureTemplate.reason_code == rc.code,
            MeasureTemplate.title == title.strip(),
            MeasureTemplate.id != (template_id or 0),
        )
    )
    if clash is not None:
        raise InvalidInput("the library already has this measure for this reason", field="title")
    if template_id is None:
        t = MeasureTemplate(store_id=store_id, reason_code=rc.code, area=area or rc.area, title=title.strip())
        session.add(t)
        session.flush()
        before = None
    else:
        t = session.get(MeasureTemplate, template_id)
        if t is None or t.store_id != store_id:
            raise NotFound(f"no measure template {template_id}")
        before = {"title": t.title, "active": t.active}
    changes = audit_service.diff(
        t,
        {
            "reason_code": rc.code,
            "area": area or t.area or rc.area,
            "title": title.strip(),
            # None keeps the English title; "" clears it
            "title_en": t.title_en if title_en is None else (title_en.strip() or None),
            "expected_effect": (expected_effect or "").strip() or None,
            "expected_value": expected_value,
            "expected_unit": (expected_unit or "").strip() or None,
            "estimated_cost": estimated_cost,
            "active": active,
        },
    )
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="measure_template.added" if before is None else "measure_template.updated",
        entity_type="store",
        entity_id=store_id,
        store_id=store_id,
        changes={"template_id": t.id, **changes},
    )
    return t


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
    codes = {
        rc.code: rc for rc in session.scalars(select(ReasonCode).where(ReasonCode.store_id == cycle.store_id))
    }
    plan = RectificationPlan(
        store_id=cycle.store_id,
        cycle_id=cycle.id,
        version=1,
        status=PlanStatus.draft,
        created_at=clock.now(),
        summary=None,
    )
    reasons = (cycle.tally or {}).get("reasons", {})
    seed_measure_library(session=session, store_id=cycle.store_id)
    library: dict[str, list[MeasureTemplate]] = {}
    for t in measure_library(session=session, store_id=cycle.store_id):
        library.setdefault(t.reason_code, []).append(t)
    # Most frequent reasons first, so the plan reads in order of weight.
    for code, _count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        rc = codes.get(code)
        if rc is None:
            continue
        for t in library.get(code, []):
            plan.measures.append(
                Measure(
                    store_id=cycle.store_id,
                    area=t.area,
                    title=t.title,
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


def _require_manager(staff: Staff) -> None:
    if not staff.has_role(Role.manager):
        raise Forbidden("only a manager may do this")


def _editable(plan: RectificationPlan) -> None:
    if plan.status not in EDITABLE:
        raise Conflict(f"the plan is {plan.status.value} and can no longer be edited", code="plan_locked")


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
    _require_manager(actor_staff)
    measure = session.get(Measure, measure_id)
    if measure is None or measure.store_id not in actor_staff.all_store_ids:
        raise NotFound(f"no measure {measure_id}")
    _editable(measure.plan)
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


def _reason_codes(session: Session, store_id: int, codes: list[str]) -> list[ReasonCode]:
    codes = [c.strip() for c in codes if c and c.strip()]
    found = list(
        session.scalars(select(ReasonCode).where(ReasonCode.store_id == store_id, ReasonCode.code.in_(codes)))
    )
    unknown = sorted(set(codes) - {r.code for r in found})
    if unknown:
        raise InvalidInput(f"unknown reason code {', '.join(unknown)}", field="reasons")
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
) -> Measure:
    _require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    _editable(plan)
    rc_id = None
    if reason_code:
        rc_id = session.scalar(
            select(ReasonCode.id).where(ReasonCode.store_id == plan.store_id, ReasonCode.code == reason_code)
        )
        if rc_id is None:
            raise InvalidInput(f"unknown reason code {reason_code!r}", field="reason_code")
    measure = Measure(
        store_id=plan.store_id,
        area=area,
        title=title.strip() or "?",
        status=MeasureStatus.todo,
        reason_code_id=rc_id,
    )
    plan.measures.append(measure)
    session.flush()
    measure.lineage_id = measure.id
    if reason_code:
        measure.reasons = _reason_codes(session, plan.store_id, [reason_code])
    update_measure(
        session=session,
        measure_id=measure.id,
        actor_staff=actor_staff,
        owner_id=owner_id,
        due_date=due_date,
        expected_effect=expected_effect,
    )
    return measure


def submit_plan(*, session: Session, plan_id: int, actor_staff: Staff) -> RectificationPlan:
    """Send the plan for the manager's approval (a rejected plan may be submitted again)."""
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    if not actor_staff.has_role(Role.manager, Role.supervisor, Role.admin):
        raise Forbidden("you may not submit plans")
    _editable(plan)
    missing = [m.title for m in plan.measures if m.owner_id is None or m.due_date is None]
    if not plan.measures:
        raise InvalidInput("the plan has no measures")
    if missing:
        raise InvalidInput(f"every measure needs an owner and a due date: {', '.join(missing)}")
    before = plan.status
    plan.status = PlanStatus.submitted
    plan.submitted_at = clock.now()
    plan.submitted_by_id = actor_staff.id
    session.flush()
    cycle = session.get(MonthlyCycle, plan.cycle_id)
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="plan.submitted",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={"status": {"before": before, "after": plan.status}},
    )
    for manager in staff_with_role(session=session, store_id=plan.store_id, role=Role.manager):
        notifications.enqueue(
            session=session,
            recipient=manager,
            kind="plan_submitted",
            dedupe_key=f"plan_submitted:{plan.id}:{manager.id}:{plan.submitted_at.isoformat()}",
            month=Month(cycle.month),
            version=plan.version,
        )
    return plan


def decide_plan(
    *, session: Session, plan_id: int, approve: bool, comment: str | None, actor_staff: Staff
) -> RectificationPlan:
    """The manager's decision (审批): approve, or reject with a comment (required)."""
    _require_manager(actor_staff)
    plan = get_plan(session=session, plan_id=plan_id, store_ids=actor_staff.all_store_ids)
    if plan.status != PlanStatus.submitted:
        raise Conflict(f"the plan is {plan.status.value}, not awaiting approval", code="plan_not_submitted")
    comment = (comment or "").strip() or None
    if not approve and not comment:
        raise InvalidInput("say why the plan is rejected", field="comment")
    before = plan.status
    plan.status = PlanStatus.approved if approve else PlanStatus.rejected
    plan.decided_at = clock.now()
    plan.decided_by_id = actor_staff.id
    plan.decision_comment = comment
    superseded = None
    if approve and plan.amends_id:
        previous = session.get(RectificationPlan, plan.amends_id)
        if previous is not None and previous.status == PlanStatus.approved:
            previous.status = PlanStatus.superseded
            superseded = previous.id
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="plan.approved" if approve else "plan.rejected",
        entity_type="plan",
        entity_id=plan.id,
        store_id=plan.store_id,
        cycle_id=plan.cycle_id,
        changes={
            "status": {"before": before, "after": plan.status},
            "comment": comment,
            "version": plan.version,
            **({"supersedes": superseded} if superseded else {}),
        },
    )
    cycle = session.get(MonthlyCycle, plan.cycle_id)
    if plan.submitted_by_id and plan.submitted_by_id != actor_staff.id:
        submitter = session.get(Staff, plan.submitted_by_id)
        notifications.enqueue(
            session=session,
            recipient=submitter,
            kind="plan_decided",
            dedupe_key=f"plan_decided:{plan.id}:{plan.decided_at.isoformat()}",
            month=Month(cycle.month),
            comment=comment or "",
            decision=Text("已批准", "approved") if approve else Text("被驳回", "rejected"),
        )
    return plan


def execute_plan(*, session: Session, cycle_id: int, actor: Actor) -> dict[str, int]:
    """Start execution (措施执行) of an approved plan: notify owners, set the evaluation date.

    Idempotent: owners already notified are not notified again.
    """
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    plan = plan_in_force(session=session, cycle_id=cycle.id)
    if plan is None:
        return {"notified": 0, "started": 0}
    started = 0
    if cycle.execution_started_at is None:
        cycle.execution_started_at = clock.now()
        cycle.evaluation_due_at = cycle.execution_started_at + relativedelta(
            months=cycle.rules.evaluation_delay_months
        )
        started = 1
    notified = 0
    titles_en = english_titles(session=session, store_ids=[plan.store_id])
    for m in plan.measures:
        if m.notified_at is None and m.owner is not None:
            notifications.enqueue(
                session=session,
                recipient=m.owner,
                kind="measure_assigned",
                dedupe_key=f"measure_assigned:{m.id}",
                title=Text(m.title, titles_en.get(m.title, m.title)),
                due=m.due_date,
            )
            m.notified_at = clock.now()
            notified += 1
    cycles.advance(
        session=session,
        cycle=cycle,
        to=CycleStage.executing,
        actor=actor,
        evaluation_due_at=cycle.evaluation_due_at,
    )
    return {"notified": notified, "started": started}


def set_measure_status(
    *,
    session: Session,
    measure_id: int,
    status: MeasureStatus,
    evidence: str | None,
    actor_staff: Staff,
    attachment: tuple[str, bytes] | None = None,
) -> Measure:
    measure = session.get(Measure, measure_id)
    if measure is None or measure.store_id not in actor_staff.all_store_ids:
        raise NotFound(f"no measure {measure_id}")
    if measure.owner_id != actor_staff.id and not actor_staff.has_role(Role.manager):
        raise Forbidden("only the measure's owner or a manager reports on it")
    if measure.plan.status != PlanStatus.approved:
        raise Conflict("measures are carried out only once the plan is approved, in its version in force")
    if status == MeasureStatus.done and not (evidence or "").strip() and not attachment:
        raise InvalidInput("say what was done (evidence)", field="evidence")
    values = {
        "status": status,
        "evidence": (evidence or "").strip() or measure.evidence,
        "done_at": clock.now() if status == MeasureStatus.done else None,
    }
    changes = audit_service.diff(measure, values)
    if attachment is not None:
        name, data = attachment
        if not data:
            raise InvalidInput("the attached file is empty", field="attachment")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InvalidInput("the attached file is larger than 5 MB", field="attachment")
        digest = hashlib.sha256(data).hexdigest()
        session.add(
            MeasureAttachment(
                measure_id=measure.id,
                filename=(name or "evidence")[-200:],
                sha256=digest,
                size=len(data),
                data=data,
                uploaded_at=clock.now(),
                uploaded_by_id=actor_staff.id,
            )
        )
        changes["attachment"] = {
            "before": None,
            "after": {"filename": name, "sha256": digest, "size": len(data)},
        }
    if changes:
        audit_service.record(
            session=session,
            actor=Actor.person(actor_staff),
            action="measure.status_changed",
            entity_type="plan",
            entity_id=measure.plan_id,
            store_id=measure.store_id,
            cycle_id=measure.plan.cycle_id,
            changes={"measure_id": measure.id, **changes},
        )
    session.flush()
    return measure


def measures_owned_by(*, session: Session, staff_id: int) -> list[Measure]:
    stmt = (
        select(Measure)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(Measure.owner_id == staff_id, RectificationPlan.status == PlanStatus.approved)
        .order_by(Measure.due_date)
    )
    return list(session.scalars(stmt))


def measures_owned_page(
    *,
    session: Session,
    staff_id: int,
    search: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page[Measure]:
    """``measures_owned_by`` a page at a time; ``search`` matches the measure's title."""
    stmt = (
        select(Measure)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(
            Measure.owner_id == staff_id,
            RectificationPlan.status == PlanStatus.approved,
            matches(search, Measure.title),
        )
        .order_by(Measure.due_date, Measure.id)
    )
    return paginate(session, stmt, page=page, page_size=page_size, filtered=bool(words(search)))


def plan_count(*, session: Session, cycle_id: int) -> int:
    return session.scalar(select(func.count()).where(RectificationPlan.cycle_id == cycle_id)) or 0


def attachments_of(*, session: Session, measure_id: int) -> list[MeasureAttachment]:
    return list(
        session.scalars(
            select(MeasureAttachment)
            .where(MeasureAttachment.measure_id == measure_id)
            .order_by(MeasureAttachment.id)
        )
    )


# ---- the daily watcher: measures due soon or overdue ------------------------------------


def remind_measures(*, session: Session, store_id: int, actor: Actor) -> dict[str, int]:
    """Remind owners of measures due soon or overdue (once a day each), and escalate each
    overdue measure to the store's managers once. Idempotent within a day."""
    today = clock.today()
    now = clock.now()
    stmt = (
        select(Measure)
        .join(RectificationPlan, RectificationPlan.id == Measure.plan_id)
        .where(
            Measure.store_id == store_id,
            RectificationPlan.status == PlanStatus.approved,
            Measure.status != MeasureStatus.done,
            Measure.due_date.is_not(None),
            Measure.owner_id.is_not(None),
        )
        .order_by(Measure.due_date, Measure.id)
    )
    reminded = escalated = 0
    overdue_for_managers: list[Measure] = []
    titles_en = english_titles(session=session, store_ids=[store_id])
    for m in session.scalars(stmt):
        days_before = int(session.get(MonthlyCycle, m.plan.cycle_id).rules.measure_reminder_days_before)
        overdue = m.due_date < today
        due_soon = not overdue and (m.due_date - today).days <= days_before
        if (overdue or due_soon) and (
            m.last_reminder_at is None or clock.local(m.last_reminder_at).date() < today
        ):
            notifications.enqueue(
                session=session,
                recipient=m.owner,
                kind="measure_overdue" if overdue else "measure_due_soon",
                dedupe_key=f"measure_reminder:{m.id}:{today.isoformat()}",
                title=Text(m.title, titles_en.get(m.title, m.title)),
                due=m.due_date,
            )
            m.last_reminder_at = now
            m.reminders = (m.reminders or 0) + 1
            reminded += 1
        if overdue and m.escalated_at is None:
            m.escalated_at = now
            overdue_for_managers.append(m)
            escalated += 1
    if overdue_for_managers:
        lines = [
            Text(
                "{title}（{owner}，{due}）",
                "{title} ({owner}, {due})",
                owner=m.owner.display_name,
                title=Text(m.title, titles_en.get(m.title, m.title)),
                due=m.due_date,
            )
            for m in overdue_for_managers
        ]
        for manager in staff_with_role(session=session, store_id=store_id, role=Role.manager):
            notifications.enqueue(
                session=session,
                recipient=manager,
                kind="measures_escalated",
                dedupe_key=f"measures_escalated:{store_id}:{manager.id}:{today.isoformat()}",
                count=len(overdue_for_managers),
                measures=lines,
            )
        for m in overdue_for_managers:
            audit_service.record(
                session=session,
                actor=actor,
                action="measure.escalated",
                entity_type="plan",
                entity_id=m.plan_id,
                store_id=store_id,
                cycle_id=m.plan.cycle_id,
                changes={
                    "measure_id": m.id,
                    "title": m.title,
                    "due_date": m.due_date,
                    "owner_id": m.owner_id,
                },
            )
    session.flush()
    return {"measures_reminded": reminded, "measures_escalated": escalated}


# ---- win-back incentives and the satisfaction callback -----------------------------------


def offer_voucher(
    *,
    session: Session,
    target_id: int,
    actor_staff: Staff,
    amount: Decimal | None = None,
    kind: str = "工时券",
    measure_id: int | None = None,
    expires_on: date | None = None,
) -> Voucher:
    """Record a voucher offered to a target's customer (e.g. 500 yuan of labour)."""
    target = session.get(Target, target_id)
    if target is None or target.store_id not in actor_staff.all_store_ids:
        raise NotFound(f"no target {target_id}")
    if target.holdout:
        raise Conflict("this customer is in the holdout and is not contacted", code="holdout")
    # the customer's own advisor, the supervisor or a manager; never an auditor
    require_customer_access(session=session, viewer=actor_staff, customer_id=target.customer_id, write=True)
    cycle = session.get(MonthlyCycle, target.cycle_id)
    if amount is None:
        amount = Decimal(str(cycle.rules.voucher_default_yuan))
    if amount <= 0:
        raise InvalidInput("the voucher's amount must be positive", field="amount")
    if measure_id is not None:
        m = session.get(Measure, measure_id)
        if m is None or m.plan.cycle_id != target.cycle_id:
            raise InvalidInput("the measure belongs to another cycle", field="measure_id")
    voucher = Voucher(
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        target_id=target.id,
        customer_id=target.customer_id,
        measure_id=measure_id,
        kind=(kind or "工时券").strip()[:60],
        amount=amount,
        offered_at=clock.now(),
        offered_by_id=actor_staff.id,
        expires_on=expires_on,
    )
    session.add(voucher)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="voucher.offered",
        entity_type="customer",
        entity_id=target.customer_id,
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        customer_id=target.customer_id,
        changes={"voucher_id": voucher.id, "kind": voucher.kind, "amount": amount},
    )
    return voucher


def redeem_vouchers(*, session: Session, cycle_id: int, actor: Actor) -> int:
    """Match open vouchers to the first repair order of the vehicle after the offer (before expiry)."""
    count = 0
    open_vouchers = session.execute(
        select(Voucher, Target.vehicle_id)
        .join(Target, Target.id == Voucher.target_id)
        .where(Voucher.cycle_id == cycle_id, Voucher.redeemed_visit_id.is_(None))
    ).all()
    for voucher, vehicle_id in open_vouchers:
        offered_day = clock.local(voucher.offered_at).date()
        stmt = select(ServiceVisit).where(
            ServiceVisit.vehicle_id == vehicle_id, ServiceVisit.visit_date >= offered_day
        )
        if voucher.expires_on:
            stmt = stmt.where(ServiceVisit.visit_date <= voucher.expires_on)
        visit = session.scalars(stmt.order_by(ServiceVisit.visit_date, ServiceVisit.id)).first()
        if visit is None:
            continue
        voucher.redeemed_visit_id = visit.id
        voucher.redeemed_on = visit.visit_date
        audit_service.record(
            session=session,
            actor=actor,
            action="voucher.redeemed",
            entity_type="customer",
            entity_id=voucher.customer_id,
            store_id=voucher.store_id,
            cycle_id=voucher.cycle_id,
            customer_id=voucher.customer_id,
            changes={"voucher_id": voucher.id, "ro_number": visit.ro_number, "amount": voucher.amount},
        )
        count += 1
    session.flush()
    return count


def vouchers_of(*, session: Session, cycle_id: int) -> list[Voucher]:
    return list(session.scalars(select(Voucher).where(Voucher.cycle_id == cycle_id).order_by(Voucher.id)))


def record_callback(
    *, session: Session, target_id: int, satisfaction: int, note: str | None, actor_staff: Staff
) -> ReturnCallback:
    """The follow-up call after a returned customer's visit: satisfaction 1 (poor) to 5 (very good)."""
    target = session.get(Target, target_id)
    if target is None or target.store_id not in actor_staff.all_store_ids:
        raise NotFound(f"no target {target_id}")
    # the customer's own advisor, the supervisor or a manager; never an auditor
    require_customer_access(session=session, viewer=actor_staff, customer_id=target.customer_id, write=True)
    if not 1 <= int(satisfaction) <= 5:
        raise InvalidInput("satisfaction is a score from 1 to 5", field="satisfaction")
    existing = session.scalar(select(ReturnCallback).where(ReturnCallback.target_id == target.id))
    if existing is not None:
        raise Conflict("this customer's callback is already recorded", code="callback_recorded")
    cb = ReturnCallback(
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        target_id=target.id,
        satisfaction=int(satisfaction),
        note=(note or "").strip() or None,
        at=clock.now(),
        by_id=actor_staff.id,
    )
    session.add(cb)
    session.flush()
    audit_service.record(
        session=session,
        actor=Actor.person(actor_staff),
        action="callback.recorded",
        entity_type="customer",
        entity_id=target.customer_id,
        store_id=target.store_id,
        cycle_id=target.cycle_id,
        customer_id=target.customer_id,
        changes={"satisfaction": cb.satisfaction, "note": cb.note},
    )
    return cb


def followups(*, session: Session, cycle_id: int, assignee_id: int | None = None) -> list[dict]:
    """The surveyed customers of a cycle with what happened since: the first repair order after
    the survey, vouchers offered/redeemed, the satisfaction callback (one page for advisors)."""
    stmt = (
        select(
            SurveyTask.target_id,
            SurveyTask.assignee_id,
            SurveyTask.closed_at,
            Target.vehicle_id,
            Customer.name,
            Customer.phone,
        )
        .join(Target, Target.id == SurveyTask.target_id)
        .join(Customer, Customer.id == Target.customer_id)
        .where(SurveyTask.cycle_id == cycle_id, SurveyTask.status == SurveyStatus.done)
        .order_by(SurveyTask.closed_at, SurveyTask.id)
    )
    if assignee_id is not None:
        stmt = stmt.where(SurveyTask.assignee_id == assignee_id)
    rows = session.execute(stmt).all()
    vehicle_ids = [r.vehicle_id for r in rows]
    visits: dict[int, list] = {}
    if vehicle_ids:
        for vid, d in session.execute(
            select(ServiceVisit.vehicle_id, ServiceVisit.visit_date)
            .where(ServiceVisit.vehicle_id.in_(vehicle_ids))
            .order_by(ServiceVisit.visit_date)
        ):
            visits.setdefault(vid, []).append(d)
    vouchers: dict[int, list[Voucher]] = {}
    for v in vouchers_of(session=session, cycle_id=cycle_id):
        vouchers.setdefault(v.target_id, []).append(v)
    callbacks = {
        cb.target_id: cb
        for cb in session.scalars(select(ReturnCallback).where(ReturnCallback.cycle_id == cycle_id))
    }
    names = dict(session.execute(select(Staff.id, Staff.display_name)).all())
    out = []
    for r in rows:
        contact_day = clock.local(r.closed_at).date() if r.closed_at else None
        back = next((d for d in visits.get(r.vehicle_id, []) if contact_day and d > contact_day), None)
        out.append(
            {
                "target_id": r.target_id,
                "customer": r.name,
                "phone": r.phone,
                "advisor_id": r.assignee_id,
                "advisor": names.get(r.assignee_id),
                "contacted_on": contact_day,
                "back_on": back,
                "vouchers": vouchers.get(r.target_id, []),
                "callback": callbacks.get(r.target_id),
            }
        )
    return out


def followups_page(
    *,
    session: Session,
    cycle_id: int,
    assignee_id: int | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page[dict]:
    """A page of ``followups``, searched by customer name or phone or advisor."""
    rows = [
        r
        for r in followups(session=session, cycle_id=cycle_id, assignee_id=assignee_id)
        if text_matches(search, r["customer"], r["phone"], r["advisor"])
    ]
    return paginate_list(rows, page=page, page_size=page_size, filtered=bool(words(search)))
